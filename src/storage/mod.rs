//! The tablet's local database (IndexedDB). **Only this module touches IndexedDB**; the rest of
//! the app sees plain domain types and [`StorageError`].
//!
//! - [`migrations`]: the versioned schema, one file per step.
//! - [`opinions`]: recorded opinions, the station's list (newest first, filtered, paged).
//! - [`drafts`]: the capture form autosaved while typing, one draft per station and deputy.
//! - [`photos`]: photo blobs, owned first by a draft, then by the opinion.
//! - [`settings`]: small values (cached directory, duty context, language).
//! - [`outbox`]: the sync outbox (numbered mutations, pending or rejected) and `sync_meta` (this
//!   device's client id, next seq, persisted HLC, pull cursor). Each local change records its
//!   mutation in the same transaction as the change itself.
//! - [`server_states`]: the server's state of each record as last pulled; applying a pulled page
//!   (states, the records shown, the pull cursor and the clock in one transaction); the reset.
//! - [`follow_ups`]: each opinion's follow-up history as the tablet shows it (the server's steps
//!   and this tablet's unsynced ones, and the status they lead to); recording a step.
//! - [`attendance`]: duty attendance per station, deputy and day (the server's state and this
//!   tablet's unsynced marks, merged); recording a sign-in or sign-out.
//! - [`keyring`]: each account's data key as stored (wrapped by its PIN key and by the server's
//!   key for it on this tablet), its sealed session, and the keys unlocked in memory
//!   ([`Keys`]).
//!
//! **Personal data at rest** (issue 6). A citizen's name, phone and address are stored only
//! sealed with the data key of the account that recorded them (AES-GCM, [`crate::crypto`]):
//! in a draft (the whole draft is sealed) and in the outbox (the mutation is kept masked, its
//! citizen sealed beside it and put back just before the push). Every record the lists show
//! (`opinions`, `server_states`) is stored with the citizen [masked](liaison_domain::Citizen::masked):
//! the tablet never shows more than the masked citizen, so it keeps no more. Without an unlocked
//! account nothing with personal data is written ([`StorageError::Locked`]).
//!
//! Every write that belongs together runs in one transaction with `durability: "strict"`, so a
//! power cut after "saved" is shown cannot lose it (Chromium defaults to relaxed durability).
//! Sync bookkeeping that is simply redone after a crash (acknowledgements, pulled pages) uses
//! relaxed durability: a flush per batch would cost more than the batch.

pub mod attendance;
pub mod drafts;
pub mod follow_ups;
pub mod keyring;
pub mod migrations;
pub mod opinions;
pub mod outbox;
pub mod photos;
pub mod server_states;
pub mod settings;

use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{
    Transaction, TransactionDurability, TransactionMode, TransactionOptions,
};
use std::fmt;
use std::rc::Rc;
use thiserror::Error;

pub use drafts::DraftKey;
pub use follow_ups::{FollowUpError, LocalItem};
pub use keyring::{AccountKeys, Keys, SealedCitizen};
pub use opinions::{EditError, OpinionPage};
pub use outbox::RejectedMutation;
pub use photos::NewPhoto;

/// The database name used by the app. Tests use their own names.
pub const DB_NAME: &str = "liaison";

/// The Web Lock every page holds (shared) while it opens and upgrades the database.
const OPEN_LOCK: &str = "liaison-db-open";

/// Object store names, in one place.
pub(crate) mod stores {
    pub const OPINIONS: &str = "opinions";
    pub const DRAFTS: &str = "drafts";
    pub const SETTINGS: &str = "settings";
    pub const PHOTOS: &str = "photos";
    pub const OUTBOX: &str = "outbox";
    pub const SYNC_META: &str = "sync_meta";
    pub const SERVER_STATES: &str = "server_states";
    pub const FOLLOW_UPS: &str = "follow_ups";
    pub const ATTENDANCE: &str = "attendance";
    pub const KEYRING: &str = "keyring";
}

/// Where storage takes the time and the randomness for what it makes itself: this device's
/// [`ClientId`](liaison_domain::ClientId) (once, in the v3 upgrade) and the HLC stamps of its
/// mutations. The app uses the browser's clock and `crypto.getRandomValues`; tests inject their
/// own (a clock that goes backwards, fixed bytes).
#[derive(Clone)]
pub struct Source {
    now_ms: Rc<dyn Fn() -> u64>,
    random: Rc<dyn Fn() -> [u8; 10]>,
}

impl Source {
    pub fn new(
        now_ms: impl Fn() -> u64 + 'static,
        random: impl Fn() -> [u8; 10] + 'static,
    ) -> Source {
        Source {
            now_ms: Rc::new(now_ms),
            random: Rc::new(random),
        }
    }

    /// The device clock and the browser's cryptographic random source.
    pub fn browser() -> Source {
        Source::new(crate::platform::now_ms, crate::platform::random_bytes)
    }

    pub fn now_ms(&self) -> u64 {
        (self.now_ms)()
    }

    pub fn random(&self) -> [u8; 10] {
        (self.random)()
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Source")
    }
}

/// What can go wrong with local storage, in terms the UI can explain. `Clone` so it can travel
/// through resources and signals.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum StorageError {
    /// IndexedDB cannot be opened at all (private mode, blocked by policy, very old browser).
    #[error("local storage is unavailable: {0}")]
    Unavailable(String),
    /// The device is out of space for this site. Nothing was written.
    #[error("local storage is full")]
    QuotaExceeded,
    /// Another tab holds an older version of the database open.
    #[error("the app is open in another tab with an older version")]
    Blocked,
    /// A stored value could not be read back (should never happen; reported, not hidden).
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// Anything else the browser reported. Nothing was written.
    #[error("local storage failed: {0}")]
    Failed(String),
    /// Personal data would be written or read, and the account it belongs to is not unlocked
    /// (nobody is, or it is another account's). Nothing was written.
    #[error("locked: sign in or unlock to record personal data")]
    Locked,
    /// Sealing or opening failed (WebCrypto unavailable, or data that does not open). Nothing
    /// was written.
    #[error("encryption failed: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
}

impl StorageError {
    /// Translation key of the message shown to the user.
    pub fn message_key(&self) -> &'static str {
        match self {
            StorageError::Unavailable(_) => "storage.unavailable",
            StorageError::QuotaExceeded => "storage.quota_exceeded",
            StorageError::Blocked => "storage.blocked",
            StorageError::Corrupt(_) => "storage.corrupt",
            StorageError::Failed(_) => "storage.failed",
            StorageError::Locked => "storage.locked",
            StorageError::Crypto(_) => "storage.crypto",
        }
    }
}

impl From<indexed_db_futures::error::Error> for StorageError {
    fn from(e: indexed_db_futures::error::Error) -> Self {
        use indexed_db_futures::error::Error as E;
        let text = e.to_string();
        if text.contains("QuotaExceeded") {
            return StorageError::QuotaExceeded;
        }
        match e {
            E::Serialisation(_) => StorageError::Corrupt(text),
            _ => StorageError::Failed(text),
        }
    }
}

impl From<indexed_db_futures::error::OpenDbError> for StorageError {
    fn from(e: indexed_db_futures::error::OpenDbError) -> Self {
        let text = e.to_string();
        if text.contains("QuotaExceeded") {
            StorageError::QuotaExceeded
        } else if text.to_lowercase().contains("blocked") {
            StorageError::Blocked
        } else {
            StorageError::Unavailable(text)
        }
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// An open local database. Cheap to clone (it is a handle).
#[derive(Clone, Debug)]
pub struct Store {
    db: Database,
    source: Source,
    /// The data keys unlocked in memory (shared by every clone of this handle).
    keys: Keys,
}

impl Store {
    /// Opens the app's database, migrating it to the current schema. `on_blocked` is called
    /// when the upgrade waits for another tab that holds the database open and does not let go
    /// (an older app version, or a page stuck mid-upgrade); the open keeps waiting and completes
    /// by itself once that tab closes or reloads.
    pub async fn open(on_blocked: impl FnOnce() + 'static) -> Result<Store> {
        Self::open_with_on_blocked(
            DB_NAME,
            migrations::CURRENT_VERSION,
            Source::browser(),
            on_blocked,
        )
        .await
    }

    /// Opens (and migrates) a database by name; tests use fresh names.
    pub async fn open_named(name: &str) -> Result<Store> {
        Self::open_with(name, migrations::CURRENT_VERSION, Source::browser()).await
    }

    /// Opens a database migrated only up to `version`. For upgrade tests, which need a database
    /// exactly as an older release left it.
    pub async fn open_at_version(name: &str, version: u32) -> Result<Store> {
        Self::open_with(name, version, Source::browser()).await
    }

    /// Opens a database migrated up to `version`, taking time and randomness from `source`
    /// (tests: a controlled clock).
    pub async fn open_with(name: &str, version: u32, source: Source) -> Result<Store> {
        Self::open_with_on_blocked(name, version, source, || {}).await
    }

    /// [`Store::open_with`], calling `on_blocked` if the upgrade has to wait for another
    /// connection that does not close (see [`Store::open`]).
    pub async fn open_with_on_blocked(
        name: &str,
        version: u32,
        source: Source,
        on_blocked: impl FnOnce() + 'static,
    ) -> Result<Store> {
        // A page left meanwhile may be frozen with the upgrade half done; the lock lets a later
        // page have it evicted (see `web_locks`).
        crate::web_locks::while_opening(OPEN_LOCK, async move {
            let db = migrations::open(name, version, &source, on_blocked).await?;
            let store = Store {
                db,
                source,
                keys: Keys::default(),
            };
            if version >= 7 {
                store.mask_stored_citizens().await?;
            }
            Ok(store)
        })
        .await
    }

    /// Closes the connection so that a newer version can be opened (upgrade tests, app update).
    pub fn close(self) {
        self.db.close();
    }

    /// Deletes a whole database. Used by tests to start clean.
    pub async fn delete_database(name: &str) -> Result<()> {
        Database::delete_by_name(name)?
            .await
            .map_err(StorageError::from)?;
        Ok(())
    }

    /// Calls `on_newer` when another tab opens this database at a newer schema version (the app
    /// was updated there). That tab waits until this connection closes: the caller writes what
    /// is pending, then calls [`Store::close`] and reloads into the new version.
    pub fn on_newer_version(&self, on_newer: impl FnOnce() + 'static) {
        use indexed_db_futures::internals::SystemRepr;
        use wasm_bindgen::JsCast;
        let handler =
            wasm_bindgen::closure::Closure::once_into_js(move |_: web_sys::Event| on_newer());
        let db: &web_sys::IdbDatabase = self.db.as_sys();
        db.set_onversionchange(Some(handler.unchecked_ref()));
    }

    /// Masks the citizen of every record an app before version 7 stored in clear (`opinions`
    /// and `server_states`), once: a settings flag says it is done. Unsynced captures lose
    /// nothing: their outbox mutations (written in clear before version 7, when no key existed)
    /// still carry the citizen and are pushed as they are.
    async fn mask_stored_citizens(&self) -> Result<()> {
        const DONE: &str = "citizens_masked";
        let tx = self.write_tx(&[stores::OPINIONS, stores::SERVER_STATES, stores::SETTINGS])?;
        let settings = tx.object_store(stores::SETTINGS)?;
        let done: Option<bool> = settings.get(DONE).serde()?.await?;
        if done == Some(true) {
            return Ok(());
        }
        let opinions = tx.object_store(stores::OPINIONS)?;
        let all: Vec<liaison_domain::Opinion> = opinions
            .get_all()
            .serde()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        for opinion in all.into_iter().filter(|o| o.citizen.masked() != o.citizen) {
            opinions.put(opinion.with_citizen_masked()).serde()?.await?;
        }
        let states = tx.object_store(stores::SERVER_STATES)?;
        let all: Vec<liaison_domain::sync::OpinionReplica> = states
            .get_all()
            .serde()?
            .await?
            .collect::<std::result::Result<_, _>>(
        )?;
        for state in all {
            let masked = state.clone().with_citizen_masked();
            if masked != state {
                states.put(masked).serde()?.await?;
            }
        }
        settings
            .put(true)
            .with_key(DONE.to_owned())
            .serde()?
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The data keys unlocked in memory: who seals what is recorded now, and whose sealed work
    /// can be opened to be pushed.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The schema version the connection is at.
    pub fn version(&self) -> u32 {
        self.db.version() as u32
    }

    /// A read-write transaction over `stores` that the browser flushes to disk before it reports
    /// success.
    fn write_tx(&self, stores: &[&str]) -> Result<Transaction<'_>> {
        self.write_tx_with(stores, TransactionDurability::Strict)
    }

    /// A read-write transaction the browser may report before it reaches the disk. Only for
    /// writes that a crash may lose harmlessly because they are redone: a push answer's
    /// acknowledgements (the entries are pushed again and the server skips them) and a pulled
    /// page with its cursor (pulled again). Never for what a deputy typed.
    fn write_tx_relaxed(&self, stores: &[&str]) -> Result<Transaction<'_>> {
        self.write_tx_with(stores, TransactionDurability::Relaxed)
    }

    fn write_tx_with(
        &self,
        stores: &[&str],
        durability: TransactionDurability,
    ) -> Result<Transaction<'_>> {
        Ok(self
            .db
            .transaction(stores.to_vec())
            .with_mode(TransactionMode::Readwrite)
            .with_options(TransactionOptions::new().with_durability(durability))
            .build()?)
    }

    fn read_tx(&self, stores: &[&str]) -> Result<Transaction<'_>> {
        Ok(self.db.transaction(stores.to_vec()).build()?)
    }
}
