//! The local schema, one file per version step. A step only ever adds or converts; it never
//! drops user data (records, drafts, photos, the sync outbox). Each step runs inside
//! the browser's `versionchange` transaction, so an interrupted upgrade leaves the previous
//! version intact.
//!
//! Steps so far: `v1_initial` (opinions, drafts, settings), `v2_photos_and_filters` (photo blobs,
//! category and outcome indexes on existing opinions), `v3_outbox` (the sync outbox and
//! `sync_meta`; converts every stored opinion into a pending `CreateOpinion` mutation),
//! `v4_server_states` (the server's state of each record as last pulled), `v5_photo_uploads`
//! (the queue of photos not yet on the server; queues the photos of saved opinions),
//! `v6_follow_ups_and_attendance` (each opinion's follow-up history as shown, and duty
//! attendance; sets the pull cursor back to the start so that the steps and attendance an older
//! app skipped are pulled), `v7_keyring` (each account's wrapped keys; the citizen of every
//! stored record is masked right after, see `Store::mask_stored_citizens`).
//!
//! A step is synchronous; one that converts data issues its IndexedDB requests with `web_sys` on
//! [`Upgrade::tx`] and chains them through their `onsuccess` callbacks, so the whole conversion
//! runs inside the `versionchange` transaction and a failure (`tx.abort()`) rolls it all back.
//!
//! To add version N: write `vN_<what>.rs` with `pub fn apply(upgrade: &Upgrade) -> Result<()>`,
//! add it to [`STEPS`], bump [`CURRENT_VERSION`], and extend the upgrade test in
//! `tests/storage.rs` with data written at version N-1.

mod v1_initial;
mod v2_photos_and_filters;
mod v3_outbox;
mod v4_server_states;
mod v5_photo_uploads;
mod v6_follow_ups_and_attendance;
mod v7_keyring;

use super::{Result, Source, StorageError};
use indexed_db_futures::database::Database;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

/// The schema version this build of the app expects.
pub const CURRENT_VERSION: u32 = 7;

/// What a step gets: the database (to create stores) and the upgrade transaction (to change
/// stores that already exist: indexes, data conversion), and the time and random bytes a step may
/// need to make something (v3: this device's client id).
pub struct Upgrade<'a> {
    pub db: &'a Database,
    pub tx: &'a web_sys::IdbTransaction,
    pub now_ms: u64,
    pub random: [u8; 10],
}

type Step = fn(&Upgrade) -> Result<()>;

/// Step `i` takes the schema from version `i` to `i + 1`.
const STEPS: [Step; CURRENT_VERSION as usize] = [
    v1_initial::apply,
    v2_photos_and_filters::apply,
    v3_outbox::apply,
    v4_server_states::apply,
    v5_photo_uploads::apply,
    v6_follow_ups_and_attendance::apply,
    v7_keyring::apply,
];

/// Opens `name` at `version`, upgrading it step by step. `on_blocked` is called if the upgrade
/// has to wait for another connection (another tab) that does not close on `versionchange`; the
/// open keeps waiting and completes once that connection is gone.
pub(super) async fn open(
    name: &str,
    version: u32,
    source: &Source,
    on_blocked: impl FnOnce() + 'static,
) -> Result<Database> {
    assert!(
        (1..=CURRENT_VERSION).contains(&version),
        "unknown schema version {version}"
    );
    // indexed_db_futures hands the upgrade callback the database but not the `versionchange`
    // transaction, which is needed to add an index to an existing store. The transaction hangs
    // off the open request, so keep a handle to the request for the callback.
    let request_slot: Rc<RefCell<Option<web_sys::IdbOpenDbRequest>>> = Rc::default();
    let slot = Rc::clone(&request_slot);
    let (now_ms, random) = (source.now_ms(), source.random());
    let request = Database::open(name)
        .with_version(version)
        // Blocked is not a failure: the browser keeps the request queued and runs the upgrade
        // as soon as the other connection closes, so only the person is told (they can close
        // or reload that tab); the open is neither aborted nor retried, and nothing is deleted.
        .with_on_blocked(move |_| {
            on_blocked();
            Ok(())
        })
        .with_on_upgrade_needed(move |event, db| {
            let from = event.old_version() as u32;
            let to = event.new_version().map_or(version, |v| v as u32);
            let request = slot.borrow();
            let tx = request
                .as_ref()
                .and_then(|r| r.transaction())
                .ok_or(indexed_db_futures::error::UnexpectedDataError::TransactionAborted)?;
            let upgrade = Upgrade {
                db: &db,
                tx: &tx,
                now_ms,
                random,
            };
            for step in &STEPS[from as usize..to as usize] {
                step(&upgrade).map_err(|e| {
                    web_sys::console::error_1(&format!("schema upgrade failed: {e}").into());
                    indexed_db_futures::error::UnexpectedDataError::TransactionAborted
                })?;
            }
            Ok(())
        })
        .build()
        .map_err(StorageError::from)?;
    *request_slot.borrow_mut() = Some(request.as_sys().clone());
    let db = request.await?;
    Ok(db)
}

/// Turns a raw IndexedDB exception from `web_sys` into our error.
pub(crate) fn js_err(e: wasm_bindgen::JsValue) -> StorageError {
    StorageError::Failed(format!("{e:?}"))
}

/// Builds a key path of several properties (a compound index).
pub(crate) fn compound(paths: &[&str]) -> wasm_bindgen::JsValue {
    paths
        .iter()
        .map(|p| wasm_bindgen::JsValue::from_str(p))
        .collect::<js_sys::Array>()
        .into()
}
