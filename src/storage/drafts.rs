//! The capture form, autosaved while the deputy types. One draft per station and deputy, so on a
//! shared tablet each deputy finds their own half-typed form and never another's.

use super::photos::{self, PhotoOwner};
use super::{Result, Store, stores};
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

#[derive(Serialize, Deserialize)]
struct StoredDraft {
    draft: OpinionDraft,
    saved_at_ms: u64,
}

impl Store {
    /// Saves (replaces) the draft. A blank form deletes it instead, so that an emptied form
    /// does not come back.
    pub async fn save_draft(
        &self,
        key: &DraftKey,
        draft: &OpinionDraft,
        now_ms: u64,
    ) -> Result<()> {
        let tx = self.write_tx(&[stores::DRAFTS])?;
        let store = tx.object_store(stores::DRAFTS)?;
        if draft.is_blank() {
            store.delete(key.as_str()).primitive()?.await?;
        } else {
            let stored = StoredDraft {
                draft: draft.clone(),
                saved_at_ms: now_ms,
            };
            store
                .put(&stored)
                .with_key(key.as_str().to_owned())
                .serde()?
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn load_draft(&self, key: &DraftKey) -> Result<Option<OpinionDraft>> {
        let tx = self.read_tx(&[stores::DRAFTS])?;
        let store = tx.object_store(stores::DRAFTS)?;
        let stored: Option<StoredDraft> = store.get(key.as_str()).serde()?.await?;
        Ok(stored.map(|s| s.draft))
    }

    /// Throws the draft away together with the photos taken for it.
    pub async fn discard_draft(&self, key: &DraftKey) -> Result<()> {
        let tx = self.write_tx(&[stores::DRAFTS, stores::PHOTOS])?;
        tx.object_store(stores::DRAFTS)?
            .delete(key.as_str())
            .primitive()?
            .await?;
        photos::delete_owned_by(
            &tx.object_store(stores::PHOTOS)?,
            &PhotoOwner::Draft(key.clone()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
