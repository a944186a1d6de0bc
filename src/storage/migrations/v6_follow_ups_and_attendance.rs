//! Version 6: the follow-up loop. Two new stores, and a full pull:
//!
//! - `follow_ups`, keyed by the opinion id: the opinion's follow-up history as the tablet shows
//!   it (the server's steps with this tablet's unsynced ones on top, and the status they lead
//!   to); see [`crate::storage::follow_ups`]. An opinion without steps has no record: its status
//!   is its intake decision's.
//! - `attendance`, keyed by `station|deputy|day`: one deputy's duty attendance on one day, the
//!   server's state and what the tablet shows (that state with its unsynced marks merged); the
//!   `by_station_day` index (`[station_id, day]`) lists a station's attendance on a day. See
//!   [`crate::storage::attendance`].
//! - The pull cursor in `sync_meta` goes back to the start. An app before this version read
//!   pulled states without their steps and skipped attendance altogether, yet moved its cursor
//!   past them: only a pull from the start brings them. Applying a page again is idempotent (the
//!   state is put again and the record rebuilt from it with the pending mutations on top), and
//!   the rest of `sync_meta` (client id, next seq, clock) and the outbox stay as they are, so no
//!   unsynced work is touched.
//!
//! A database at version 5 holds neither steps nor marks (the app could not record them), so
//! there is nothing else to convert.

use super::{Upgrade, js_err};
use crate::storage::attendance::BY_STATION_DAY;
use crate::storage::outbox::{META_KEY, SyncMeta, to_js};
use crate::storage::{Result, StorageError, stores};
use indexed_db_futures::KeyPath;
use indexed_db_futures::prelude::*;
use liaison_domain::sync::Cursor;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    upgrade
        .db
        .create_object_store(stores::FOLLOW_UPS)
        .with_key_path(KeyPath::from("id"))
        .build()?;
    let attendance = upgrade
        .db
        .create_object_store(stores::ATTENDANCE)
        .with_key_path(KeyPath::from("id"))
        .build()?;
    attendance
        .create_index(BY_STATION_DAY, KeyPath::from(["station_id", "day"]))
        .build()?;
    pull_again_from_the_start(upgrade)
}

/// Sets the pull cursor back to the start, inside the upgrade transaction: a `get` of the
/// `sync_meta` record whose `onsuccess` puts it back with [`Cursor::START`].
///
/// Upgrading from before version 3 there is no record yet when this `get` runs (v3 writes it
/// once its conversion has read every opinion, in a later request); it is then left alone, and
/// the record v3 writes starts at the beginning anyway.
fn pull_again_from_the_start(upgrade: &Upgrade) -> Result<()> {
    let meta_store = upgrade.tx.object_store(stores::SYNC_META).map_err(js_err)?;
    let request = meta_store
        .get(&JsValue::from_str(META_KEY))
        .map_err(js_err)?;
    let tx = upgrade.tx.clone();
    let on_success = {
        let request = request.clone();
        Closure::once_into_js(move |_: web_sys::Event| {
            let reset = || -> Result<()> {
                let value = request.result().map_err(js_err)?;
                if value.is_undefined() || value.is_null() {
                    return Ok(());
                }
                let mut meta: SyncMeta = serde_wasm_bindgen::from_value(value)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                meta.pull_cursor = Cursor::START;
                tx.object_store(stores::SYNC_META)
                    .map_err(js_err)?
                    .put_with_key(&to_js(&meta)?, &JsValue::from_str(META_KEY))
                    .map_err(js_err)?;
                Ok(())
            };
            if let Err(e) = reset() {
                web_sys::console::error_1(&format!("pull cursor reset failed: {e}").into());
                // Undoes the whole upgrade; opening the database reports the abort.
                let _ = tx.abort();
            }
        })
    };
    request.set_onsuccess(Some(on_success.unchecked_ref()));
    Ok(())
}
