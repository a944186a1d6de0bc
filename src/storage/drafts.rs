//! The capture form, autosaved while the deputy types. One draft per account, station and
//! deputy on duty, so on a shared tablet each account finds its own half-typed form and never
//! another's. A draft is stored sealed whole with its account's data key (a draft is mostly
//! personal data), under `account|station/deputy`; it opens only while that account is unlocked.
//! A draft an app before version 7 left in clear (under `station/deputy`) is still read, by
//! whoever is unlocked, and replaced by a sealed one at the next save.

use super::photos::{self, PhotoOwner};
use super::{Result, StorageError, Store, stores};
use indexed_db_futures::prelude::*;
use liaison_domain::{DutyContext, OpinionDraft};
use serde::{Deserialize, Serialize};

/// Which draft: `station/deputy`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DraftKey(String);

impl DraftKey {
    pub fn for_context(context: &DutyContext) -> DraftKey {
        DraftKey(format!("{}/{}", context.station_id, context.deputy_id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A draft as an app before version 7 stored it, in clear.
#[derive(Serialize, Deserialize)]
struct StoredDraft {
    draft: OpinionDraft,
    saved_at_ms: u64,
}

/// A draft sealed by the account `by`.
#[derive(Serialize, Deserialize)]
struct SealedDraft {
    by: String,
    sealed: Vec<u8>,
    saved_at_ms: u64,
}

/// Where `account`'s draft of `key` is stored; the sealing is bound to it too.
pub(super) fn sealed_key(account: &str, key: &DraftKey) -> String {
    format!("{account}|{}", key.as_str())
}

impl Store {
    /// Saves (replaces) the draft, sealed by the unlocked account ([`StorageError::Locked`] when
    /// nobody is). A blank form deletes it instead, so that an emptied form does not come back.
    pub async fn save_draft(
        &self,
        key: &DraftKey,
        draft: &OpinionDraft,
        now_ms: u64,
    ) -> Result<()> {
        let account = self.keys.unlocked().ok_or(StorageError::Locked)?;
        let stored_key = sealed_key(&account, key);
        let sealed = if draft.is_blank() {
            None
        } else {
            let plain =
                serde_json::to_vec(draft).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            let (by, sealed) = self
                .keys
                .seal(&format!("draft/{stored_key}"), &plain)
                .await?;
            Some(SealedDraft {
                by,
                sealed,
                saved_at_ms: now_ms,
            })
        };
        let tx = self.write_tx(&[stores::DRAFTS])?;
        let store = tx.object_store(stores::DRAFTS)?;
        // A clear draft from before version 7 goes either way.
        store.delete(key.as_str()).primitive()?.await?;
        match sealed {
            None => store.delete(stored_key.as_str()).primitive()?.await?,
            Some(sealed) => {
                store
                    .put(&sealed)
                    .with_key(stored_key.clone())
                    .serde()?
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The unlocked account's draft of `key`; `None` when there is none or nobody is unlocked.
    pub async fn load_draft(&self, key: &DraftKey) -> Result<Option<OpinionDraft>> {
        let Some(account) = self.keys.unlocked() else {
            return Ok(None);
        };
        let stored_key = sealed_key(&account, key);
        let tx = self.read_tx(&[stores::DRAFTS])?;
        let store = tx.object_store(stores::DRAFTS)?;
        let sealed: Option<SealedDraft> = store.get(stored_key.as_str()).serde()?.await?;
        let legacy: Option<StoredDraft> = match &sealed {
            Some(_) => None,
            None => store.get(key.as_str()).serde()?.await.ok().flatten(),
        };
        drop(store);
        drop(tx);
        if let Some(sealed) = sealed {
            let Some(plain) = self
                .keys
                .open(&sealed.by, &format!("draft/{stored_key}"), &sealed.sealed)
                .await?
            else {
                return Ok(None);
            };
            let draft =
                serde_json::from_slice(&plain).map_err(|e| StorageError::Corrupt(e.to_string()))?;
            return Ok(Some(draft));
        }
        Ok(legacy.map(|s| s.draft))
    }

    /// Throws the unlocked account's draft away together with the photos taken for it.
    pub async fn discard_draft(&self, key: &DraftKey) -> Result<()> {
        let account = self.keys.unlocked();
        let tx = self.write_tx(&[stores::DRAFTS, stores::PHOTOS])?;
        let drafts = tx.object_store(stores::DRAFTS)?;
        drafts.delete(key.as_str()).primitive()?.await?;
        if let Some(account) = account {
            drafts
                .delete(sealed_key(&account, key).as_str())
                .primitive()?
                .await?;
        }
        photos::delete_owned_by(
            &tx.object_store(stores::PHOTOS)?,
            &PhotoOwner::Draft(key.clone()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
