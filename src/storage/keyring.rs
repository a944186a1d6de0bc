//! Each account's keys on this tablet (issue 6), and the keys unlocked in memory.
//!
//! The `keyring` store (v7) holds one [`AccountKeys`] per account that signed in here, keyed by
//! username. Its data key is there only wrapped: by the key derived from the PIN (offline
//! unlock), by the key the server keeps for the account on this tablet (an online sign-in when
//! the PIN is forgotten or used up, and pushing the account's work while it is locked), and,
//! while the account is unlocked, by the open tab's resume key (a reload within the idle time
//! does not ask for the PIN again). The session token is there only sealed with the data key.
//! None of it opens without a PIN, the server, or the open tab.
//!
//! [`Keys`] are the data keys unlocked in memory: the unlocked account's, which seals what is
//! recorded now and opens its drafts, and, for the length of a push, the keys of locked accounts
//! whose work waits in the outbox.

use super::{Result, StorageError, Store, stores};
use crate::crypto::DataKey;
use crate::sync::api::SignedInUser;
use indexed_db_futures::prelude::*;
use liaison_domain::Citizen;
use liaison_domain::protection::{KeyDerivation, PinAttempts};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The data key wrapped by the PIN's key, with how that key is derived (nothing here is secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinWrapped {
    pub derivation: KeyDerivation,
    pub wrapped: Vec<u8>,
}

/// The data key wrapped by the open tab's resume key (in that tab's `sessionStorage` only),
/// usable until `until_ms` (the idle lock's deadline, moved on by activity).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeWrapped {
    pub wrapped: Vec<u8>,
    pub until_ms: u64,
}

/// One account's keys on this tablet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountKeys {
    pub username: String,
    /// Who the account is, as the server said at the last online sign-in (the lock screen's
    /// names, the records an account sees).
    pub user: SignedInUser,
    /// `None` after too many wrong PINs: the account signs in online with its password.
    pub pin: Option<PinWrapped>,
    /// `None` on a tablet that was not enrolled when the account set its PIN.
    pub server_wrapped: Option<Vec<u8>>,
    pub attempts: PinAttempts,
    /// The session token sealed with the data key (`None` once signed out).
    pub sealed_session: Option<Vec<u8>>,
    pub resume: Option<ResumeWrapped>,
}

/// A citizen's personal data sealed with the data key of the account `by`, bound to the
/// record's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCitizen {
    pub by: String,
    pub sealed: Vec<u8>,
}

/// The data keys unlocked in memory. Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct Keys(Rc<RefCell<UnlockedKeys>>);

#[derive(Debug, Default)]
struct UnlockedKeys {
    /// The account using the tablet now.
    unlocked: Option<String>,
    keys: HashMap<String, DataKey>,
}

impl Keys {
    /// `username` uses the tablet now: what is recorded is sealed with `key`. Every other key
    /// is forgotten.
    pub fn unlock(&self, username: &str, key: DataKey) {
        let mut inner = self.0.borrow_mut();
        inner.keys.clear();
        inner.keys.insert(username.to_owned(), key);
        inner.unlocked = Some(username.to_owned());
    }

    /// Forgets every key: nothing with personal data can be read or written until an unlock.
    pub fn lock(&self) {
        let mut inner = self.0.borrow_mut();
        inner.keys.clear();
        inner.unlocked = None;
    }

    /// Who is unlocked.
    pub fn unlocked(&self) -> Option<String> {
        self.0.borrow().unlocked.clone()
    }

    /// Another (locked) account's key, to open its work for a push. [`Keys::forget_others`]
    /// afterwards.
    pub fn add_for_push(&self, username: &str, key: DataKey) {
        self.0.borrow_mut().keys.insert(username.to_owned(), key);
    }

    /// Forgets every key but the unlocked account's.
    pub fn forget_others(&self) {
        let mut inner = self.0.borrow_mut();
        let unlocked = inner.unlocked.clone();
        inner.keys.retain(|name, _| Some(name) == unlocked.as_ref());
    }

    pub fn has_key_of(&self, username: &str) -> bool {
        self.0.borrow().keys.contains_key(username)
    }

    fn key_of(&self, username: &str) -> Option<DataKey> {
        self.0.borrow().keys.get(username).cloned()
    }

    /// The unlocked account and its key.
    fn sealer(&self) -> Option<(String, DataKey)> {
        let inner = self.0.borrow();
        let name = inner.unlocked.clone()?;
        let key = inner.keys.get(&name)?.clone();
        Some((name, key))
    }

    /// Seals `plain` with the unlocked account's key, bound to `context`.
    pub(super) async fn seal(&self, context: &str, plain: &[u8]) -> Result<(String, Vec<u8>)> {
        let (by, key) = self.sealer().ok_or(StorageError::Locked)?;
        let sealed = key.seal(context.as_bytes(), plain).await?;
        Ok((by, sealed))
    }

    /// Opens what `by` sealed for `context`; `None` when `by`'s key is not unlocked.
    pub(super) async fn open(
        &self,
        by: &str,
        context: &str,
        sealed: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        match self.key_of(by) {
            Some(key) => Ok(Some(key.open(context.as_bytes(), sealed).await?)),
            None => Ok(None),
        }
    }
}

/// What a citizen's sealing is bound to: the record it belongs to.
fn citizen_context(record_id: &str) -> String {
    format!("citizen/{record_id}")
}

/// The citizen sealed by the unlocked account, or `None` when it carries no personal data
/// (nothing to protect; no unlock needed). [`StorageError::Locked`] when nobody is unlocked.
pub(super) async fn seal_citizen(
    keys: &Keys,
    record_id: &str,
    citizen: &Citizen,
) -> Result<Option<SealedCitizen>> {
    if !citizen.has_personal_data() {
        return Ok(None);
    }
    let plain = serde_json::to_vec(citizen).map_err(|e| StorageError::Corrupt(e.to_string()))?;
    let (by, sealed) = keys.seal(&citizen_context(record_id), &plain).await?;
    Ok(Some(SealedCitizen { by, sealed }))
}

/// The citizen inside `sealed`; `None` when its account's key is not unlocked.
pub(super) async fn open_citizen(
    keys: &Keys,
    record_id: &str,
    sealed: &SealedCitizen,
) -> Result<Option<Citizen>> {
    let Some(plain) = keys
        .open(&sealed.by, &citizen_context(record_id), &sealed.sealed)
        .await?
    else {
        return Ok(None);
    };
    serde_json::from_slice(&plain)
        .map(Some)
        .map_err(|e| StorageError::Corrupt(e.to_string()))
}

impl Store {
    /// Every account with keys on this tablet, by username.
    pub async fn account_keys(&self) -> Result<Vec<AccountKeys>> {
        let tx = self.read_tx(&[stores::KEYRING])?;
        let all: Vec<AccountKeys> = tx
            .object_store(stores::KEYRING)?
            .get_all()
            .serde()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        Ok(all)
    }

    pub async fn account_keys_of(&self, username: &str) -> Result<Option<AccountKeys>> {
        let tx = self.read_tx(&[stores::KEYRING])?;
        let found: Option<AccountKeys> = tx
            .object_store(stores::KEYRING)?
            .get(username)
            .serde()?
            .await?;
        Ok(found)
    }

    /// Stores (replaces) an account's keys, durably: a lost write of a new PIN would leave
    /// records sealed with a key nothing opens.
    pub async fn put_account_keys(&self, keys: &AccountKeys) -> Result<()> {
        let tx = self.write_tx(&[stores::KEYRING])?;
        tx.object_store(stores::KEYRING)?
            .put(keys)
            .with_key(keys.username.clone())
            .serde()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Seals `plain` with the unlocked account's key (the session token kept with its keys).
    pub async fn seal_for_unlocked(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>> {
        Ok(self.keys.seal(context, plain).await?.1)
    }

    /// Opens what the unlocked account sealed for `context`.
    pub async fn open_for_unlocked(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let by = self.keys.unlocked().ok_or(StorageError::Locked)?;
        self.keys
            .open(&by, context, sealed)
            .await?
            .ok_or(StorageError::Locked)
    }
}
