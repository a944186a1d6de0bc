//! Protected tablets (issue 6): who is unlocked, and how an account gets there.
//!
//! Accounts that record on a tablet (deputies and station staff, [`is_protected`]) keep their
//! work sealed with a data key of their own (see [`crate::storage::keyring`]). The first online
//! sign-in on a tablet makes that key and asks for a PIN; later the PIN unlocks it offline, and
//! an online sign-in with the password unlocks it through the server's key for the account on
//! this tablet (after too many wrong PINs, or a forgotten one, a new PIN is chosen then). On a
//! browser that was never enrolled the server keeps no copy, so five wrong PINs do not delete
//! the PIN there (that would lose the account's unsynced work): each further try waits longer.
//! Unlocking puts the key in memory ([`crate::storage::Keys`]) and the session with it; locking
//! (the lock button, [`liaison_domain::protection::IdleLock`], switching account) forgets both.
//!
//! A reload of the tab within the idle time stays unlocked: the key is also wrapped by a resume
//! key kept in that tab's `sessionStorage` (gone with the tab), and that wrapping is stored only
//! until the idle deadline and removed on lock.
//!
//! Office staff, handling units and administrators record nothing on a tablet: their session is
//! kept as before, with no PIN.

use crate::crypto::{self, CryptoError, DataKey, WrappingKey};
use crate::storage::keyring::{PinWrapped, ResumeWrapped};
use crate::storage::{AccountKeys, StorageError, Store};
use crate::sync::api::{self, AccountError, DEVICE_KEY_LEN, Session};
use liaison_domain::Role;
use liaison_domain::protection::{
    AUTO_LOCK_AFTER_MS, AfterWrongPin, KeyDerivation, Pin, PinAttempts, PinError, SALT_LEN,
};

/// What the session token is sealed for in an account's keys.
const SESSION_CONTEXT: &str = "session";
/// The `sessionStorage` key of this tab's resume key.
const RESUME_KEY_ITEM: &str = "liaison.resume_key";
/// Activity moves the resume deadline on at most this often (each move is a write).
pub const RESUME_REFRESH_MS: u64 = 30_000;

/// Whether an account of `role` records on the tablet, and so is protected by a PIN.
pub fn is_protected(role: Role) -> bool {
    matches!(role, Role::Deputy | Role::StationStaff)
}

/// Why an unlock or a PIN did not work, in words the UI translates (`lock.error.<code>`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("wrong PIN; {left} tries left")]
    WrongPin { left: u32 },
    /// Too many wrong PINs: the PIN is gone; the account signs in with its password.
    #[error("too many wrong PINs")]
    PinUsedUp,
    /// Too many wrong PINs where the key has no other copy (a browser never enrolled): the PIN
    /// is kept, and the next try waits this long.
    #[error("too many wrong PINs; try again in {seconds} s")]
    TryLater { seconds: u64 },
    #[error("not a PIN this app accepts: {0}")]
    Pin(#[from] PinError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Account(#[from] AccountError),
}

impl UnlockError {
    pub fn message_key(&self) -> &'static str {
        match self {
            UnlockError::WrongPin { .. } => "lock.error.wrong_pin",
            UnlockError::PinUsedUp => "lock.error.pin_used_up",
            UnlockError::TryLater { .. } => "lock.error.try_later",
            UnlockError::Pin(e) => match e {
                PinError::Length => "error.pin_length",
                PinError::NotDigits => "error.pin_not_digits",
                PinError::TooEasy => "error.pin_too_easy",
                PinError::Mismatch => "error.pin_mismatch",
            },
            UnlockError::Storage(e) => e.message_key(),
            UnlockError::Crypto(_) => "lock.error.crypto",
            UnlockError::Account(e) => e.message_key(),
        }
    }
}

/// What an online sign-in of a protected account leads to.
#[derive(Clone, Debug)]
pub enum AfterSignIn {
    /// Unlocked with the server's key; the account's PIN stands.
    Unlocked,
    /// The account has no PIN on this tablet yet (or used it up): one is chosen now.
    ChoosePin(PinSetup),
    /// The account's key here opens only with its PIN (it was set up on a tablet that was not
    /// enrolled): the PIN is entered now.
    EnterPin,
}

/// What choosing a PIN after a sign-in needs: the new session and, on an enrolled tablet, the
/// server's key for the account (kept in memory only for this).
#[derive(Clone, Debug)]
pub struct PinSetup {
    pub session: Session,
    server_key: Option<[u8; DEVICE_KEY_LEN]>,
    /// The data key wrapped by the server's key, when the account already has one here: the
    /// new PIN wraps that same key, so its sealed work still opens.
    existing: Option<Vec<u8>>,
}

/// This tab's resume key: made once per tab, kept in its `sessionStorage`.
fn resume_key_bytes() -> Result<[u8; 32], CryptoError> {
    let storage = web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())
        .ok_or(CryptoError::Unavailable)?;
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    if let Some(bytes) = storage
        .get_item(RESUME_KEY_ITEM)
        .ok()
        .flatten()
        .and_then(|text| engine.decode(text).ok())
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
    {
        return Ok(bytes);
    }
    let bytes = crypto::random::<32>()?;
    storage
        .set_item(RESUME_KEY_ITEM, &engine.encode(bytes))
        .map_err(CryptoError::from)?;
    Ok(bytes)
}

async fn resume_key() -> Result<WrappingKey, CryptoError> {
    WrappingKey::from_bytes(&resume_key_bytes()?).await
}

fn now_ms() -> u64 {
    crate::platform::now_ms()
}

/// The server's key for the signed-in account on this tablet; `None` off an enrolled tablet.
async fn own_server_key(session: &Session) -> Result<Option<[u8; DEVICE_KEY_LEN]>, AccountError> {
    if session.user.device.is_none() {
        return Ok(None);
    }
    let keys = api::device_keys(&session.token, &[]).await?;
    Ok(keys
        .into_iter()
        .find(|(name, _)| *name == session.user.username)
        .map(|(_, key)| key))
}

/// Seals the session into `keys` with the (now unlocked) data key, and puts the account in
/// memory: the end of every way in.
async fn finish_unlock(
    store: &Store,
    mut keys: AccountKeys,
    data_key: DataKey,
    resume_wrapped: Vec<u8>,
    session: Option<&Session>,
) -> Result<(), UnlockError> {
    store.keys().unlock(&keys.username, data_key);
    if let Some(session) = session {
        let plain =
            serde_json::to_vec(session).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        keys.sealed_session = Some(store.seal_for_unlocked(SESSION_CONTEXT, &plain).await?);
        keys.user = session.user.clone();
    }
    keys.resume = Some(ResumeWrapped {
        wrapped: resume_wrapped,
        until_ms: now_ms() + AUTO_LOCK_AFTER_MS,
    });
    if let Err(e) = store.put_account_keys(&keys).await {
        store.keys().lock();
        return Err(e.into());
    }
    Ok(())
}

/// After a successful online sign-in of a protected account.
pub async fn after_sign_in(store: &Store, session: &Session) -> Result<AfterSignIn, UnlockError> {
    let server_key = own_server_key(session).await?;
    let existing = store.account_keys_of(&session.user.username).await?;
    let (Some(keys), Some(server_key)) = (existing.clone(), server_key) else {
        return Ok(match existing {
            Some(keys) if keys.pin.is_some() => AfterSignIn::EnterPin,
            _ => AfterSignIn::ChoosePin(PinSetup {
                session: session.clone(),
                server_key,
                existing: None,
            }),
        });
    };
    let Some(server_wrapped) = keys.server_wrapped.clone() else {
        return Ok(if keys.pin.is_some() {
            AfterSignIn::EnterPin
        } else {
            AfterSignIn::ChoosePin(PinSetup {
                session: session.clone(),
                server_key: Some(server_key),
                existing: None,
            })
        });
    };
    if keys.pin.is_none() {
        return Ok(AfterSignIn::ChoosePin(PinSetup {
            session: session.clone(),
            server_key: Some(server_key),
            existing: Some(server_wrapped),
        }));
    }
    let server = WrappingKey::from_bytes(&server_key).await?;
    let (data_key, resume_wrapped) = server.rewrap(&server_wrapped, &resume_key().await?).await?;
    let mut keys = keys;
    keys.attempts = PinAttempts::default();
    finish_unlock(store, keys, data_key, resume_wrapped, Some(session)).await?;
    Ok(AfterSignIn::Unlocked)
}

/// Chooses the account's PIN (typed twice) and unlocks: wraps the account's existing data key
/// anew, or makes its first one.
pub async fn choose_pin(
    store: &Store,
    setup: &PinSetup,
    typed: &str,
    repeated: &str,
) -> Result<(), UnlockError> {
    let pin = Pin::choose(typed, repeated)?;
    let derivation = KeyDerivation::new(crypto::random::<SALT_LEN>()?);
    let pin_key = WrappingKey::from_pin(&pin, &derivation).await?;
    let resume = resume_key().await?;
    let server = match &setup.server_key {
        Some(bytes) => Some(WrappingKey::from_bytes(bytes).await?),
        None => None,
    };
    let (data_key, pin_wrapped, server_wrapped, resume_wrapped) = match (&server, &setup.existing) {
        (Some(server), Some(existing)) => {
            let (_, pin_wrapped) = server.rewrap(existing, &pin_key).await?;
            let (data_key, resume_wrapped) = pin_key.rewrap(&pin_wrapped, &resume).await?;
            (
                data_key,
                pin_wrapped,
                Some(existing.clone()),
                resume_wrapped,
            )
        }
        _ => {
            let mut wrappers = vec![&pin_key, &resume];
            if let Some(server) = &server {
                wrappers.push(server);
            }
            let (data_key, mut wrapped) = DataKey::generate(&wrappers).await?;
            let server_wrapped = (wrapped.len() == 3).then(|| wrapped.remove(2));
            let resume_wrapped = wrapped.remove(1);
            (data_key, wrapped.remove(0), server_wrapped, resume_wrapped)
        }
    };
    let keys = AccountKeys {
        username: setup.session.user.username.clone(),
        user: setup.session.user.clone(),
        pin: Some(PinWrapped {
            derivation,
            wrapped: pin_wrapped,
        }),
        server_wrapped,
        attempts: PinAttempts::default(),
        sealed_session: None,
        resume: None,
    };
    finish_unlock(store, keys, data_key, resume_wrapped, Some(&setup.session)).await
}

/// Unlocks `username` with its PIN, offline. A new session (after an online sign-in that
/// asked for the PIN) replaces the sealed one. Returns the account's session, if it has one.
pub async fn unlock_with_pin(
    store: &Store,
    username: &str,
    typed: &str,
    new_session: Option<&Session>,
) -> Result<Option<Session>, UnlockError> {
    let pin = Pin::entered(typed)?;
    let Some(mut keys) = store.account_keys_of(username).await? else {
        return Err(UnlockError::PinUsedUp);
    };
    // Where the key has no other copy, a PIN used up is kept, and a try waits its turn (checked
    // before the key derivation, so that waiting is not skipped).
    let now = now_ms();
    let wait = keys.attempts.wait_ms(now);
    if keys.server_wrapped.is_none() && wait > 0 {
        return Err(UnlockError::TryLater {
            seconds: wait.div_ceil(1000),
        });
    }
    let Some(pin_wrapped) = keys.pin.clone() else {
        return Err(UnlockError::PinUsedUp);
    };
    let derivation = pin_wrapped
        .derivation
        .clone()
        .checked()
        .map_err(|_| UnlockError::PinUsedUp)?;
    let pin_key = WrappingKey::from_pin(&pin, &derivation).await?;
    let resume = resume_key().await?;
    let (data_key, resume_wrapped) = match pin_key.rewrap(&pin_wrapped.wrapped, &resume).await {
        Ok(opened) => opened,
        Err(CryptoError::WrongKey) => {
            let after = keys.attempts.failed(now);
            let error = match after {
                AfterWrongPin::TryAgain { left } => UnlockError::WrongPin { left },
                // The server keeps a copy: the password and a new PIN open the same key.
                AfterWrongPin::DeleteKey if keys.server_wrapped.is_some() => {
                    keys.pin = None;
                    UnlockError::PinUsedUp
                }
                // No other copy: deleting it would lose this account's unsynced work for good.
                AfterWrongPin::DeleteKey => UnlockError::TryLater {
                    seconds: keys.attempts.wait_ms(now).div_ceil(1000),
                },
            };
            store.put_account_keys(&keys).await?;
            return Err(error);
        }
        Err(e) => return Err(e.into()),
    };
    keys.attempts.succeeded();
    let sealed_session = keys.sealed_session.clone();
    finish_unlock(store, keys, data_key, resume_wrapped, new_session).await?;
    if let Some(session) = new_session {
        return Ok(Some(session.clone()));
    }
    let Some(sealed) = sealed_session else {
        return Ok(None);
    };
    let plain = store.open_for_unlocked(SESSION_CONTEXT, &sealed).await?;
    Ok(serde_json::from_slice(&plain).ok())
}

/// After a reload of this tab within the idle time: the account that was unlocked, unlocked
/// again with the tab's resume key, and its session. `None` when there is none (a new tab, or
/// the deadline passed: its resume wrapping is then removed).
pub async fn resume(store: &Store) -> Option<(AccountKeys, Option<Session>)> {
    let accounts = store.account_keys().await.ok()?;
    let now = now_ms();
    let mut candidate = None;
    for mut keys in accounts {
        match &keys.resume {
            Some(resume) if resume.until_ms > now && candidate.is_none() => candidate = Some(keys),
            Some(_) => {
                keys.resume = None;
                let _ = store.put_account_keys(&keys).await;
            }
            None => {}
        }
    }
    let keys = candidate?;
    let wrapped = keys.resume.as_ref()?.wrapped.clone();
    let data_key = resume_key().await.ok()?.unwrap(&wrapped).await.ok()?;
    store.keys().unlock(&keys.username, data_key);
    let session = match &keys.sealed_session {
        Some(sealed) => store
            .open_for_unlocked(SESSION_CONTEXT, sealed)
            .await
            .ok()
            .and_then(|plain| serde_json::from_slice(&plain).ok()),
        None => None,
    };
    Some((keys, session))
}

/// The unlocked account was active: moves its resume deadline on (at most every
/// [`RESUME_REFRESH_MS`]).
pub async fn extend_resume(store: &Store) {
    let Some(username) = store.keys().unlocked() else {
        return;
    };
    let Ok(Some(mut keys)) = store.account_keys_of(&username).await else {
        return;
    };
    let until = now_ms() + AUTO_LOCK_AFTER_MS;
    if let Some(resume) = &mut keys.resume
        && until >= resume.until_ms + RESUME_REFRESH_MS
    {
        resume.until_ms = until;
        let _ = store.put_account_keys(&keys).await;
    }
}

/// Locks: forgets every key in memory and the unlocked account's resume wrapping.
pub async fn lock(store: &Store) {
    let unlocked = store.keys().unlocked();
    store.keys().lock();
    if let Some(username) = unlocked
        && let Ok(Some(mut keys)) = store.account_keys_of(&username).await
    {
        keys.resume = None;
        let _ = store.put_account_keys(&keys).await;
    }
}

/// Signs the unlocked account out of this tablet: its sealed session goes (its PIN stays, so
/// it can still unlock its drafts offline), then it is locked.
pub async fn forget_session(store: &Store) {
    if let Some(username) = store.keys().unlocked()
        && let Ok(Some(mut keys)) = store.account_keys_of(&username).await
    {
        keys.sealed_session = None;
        let _ = store.put_account_keys(&keys).await;
    }
    lock(store).await;
}

/// Before a push: the keys of locked accounts whose sealed work waits in the outbox, from the
/// server (only a session on this enrolled tablet gets them), unwrapped into memory for the
/// push ([`crate::storage::Keys::forget_others`] afterwards). Quiet on failure: their work
/// then waits for them.
pub async fn open_waiting_work(store: &Store, session: &Session) {
    if session.user.device.is_none() {
        return;
    }
    let Ok(waiting) = store.outbox_accounts_locked().await else {
        return;
    };
    if waiting.is_empty() {
        return;
    }
    let Ok(server_keys) = api::device_keys(&session.token, &waiting).await else {
        return;
    };
    for (username, key) in server_keys {
        if !waiting.contains(&username) {
            continue;
        }
        let Ok(Some(keys)) = store.account_keys_of(&username).await else {
            continue;
        };
        let Some(wrapped) = keys.server_wrapped else {
            continue;
        };
        if let Ok(wrapping) = WrappingKey::from_bytes(&key).await
            && let Ok(data_key) = wrapping.unwrap(&wrapped).await
        {
            store.keys().add_for_push(&username, data_key);
        }
    }
}
