//! Version 7: protected tablets (issue 6).
//!
//! - `keyring`, keyed by username: each account's wrapped data key, PIN derivation, wrong-PIN
//!   count, sealed session and resume wrapping; see [`crate::storage::keyring`].
//! - Every stored `opinions` record and `server_states` replica gets its citizen masked
//!   ([`Opinion::with_citizen_masked`], [`OpinionReplica::with_citizen_masked`]): from now on the
//!   tablet keeps only the masked citizen of what it shows. An unsynced capture loses nothing by
//!   it: its outbox mutation still carries the citizen and is pushed as it is (an outbox entry
//!   written before this version cannot be sealed, as no key exists yet; it leaves the tablet
//!   with its push). Drafts written before stay readable in clear until the form saves them
//!   again, sealed.

use super::{Upgrade, js_err};
use crate::storage::outbox::to_js;
use crate::storage::{Result, StorageError, stores};
use indexed_db_futures::prelude::*;
use liaison_domain::Opinion;
use liaison_domain::sync::OpinionReplica;
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    upgrade.db.create_object_store(stores::KEYRING).build()?;
    mask_every(upgrade, stores::OPINIONS, Opinion::with_citizen_masked)?;
    mask_every(
        upgrade,
        stores::SERVER_STATES,
        OpinionReplica::with_citizen_masked,
    )
}

/// Rewrites every record of `store` through `mask`, inside the upgrade transaction: a cursor
/// whose `onsuccess` updates the record it stands on and moves on. A record that does not read
/// aborts the whole upgrade (nothing is half converted).
fn mask_every<T: Serialize + DeserializeOwned + 'static>(
    upgrade: &Upgrade,
    store: &str,
    mask: fn(T) -> T,
) -> Result<()> {
    let request = upgrade
        .tx
        .object_store(store)
        .map_err(js_err)?
        .open_cursor()
        .map_err(js_err)?;
    let tx = upgrade.tx.clone();
    let on_success = {
        let request = request.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            let step = || -> Result<()> {
                let value = request.result().map_err(js_err)?;
                if value.is_null() || value.is_undefined() {
                    return Ok(());
                }
                let cursor: web_sys::IdbCursorWithValue = value.unchecked_into();
                let record: T = serde_wasm_bindgen::from_value(cursor.value().map_err(js_err)?)
                    .map_err(|e| StorageError::Corrupt(e.to_string()))?;
                cursor.update(&to_js(&mask(record))?).map_err(js_err)?;
                cursor.continue_().map_err(js_err)?;
                Ok(())
            };
            if let Err(e) = step() {
                web_sys::console::error_1(&format!("masking stored citizens failed: {e}").into());
                let _ = tx.abort();
            }
        })
    };
    request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
    // The cursor calls back once per record until the transaction ends; the closure must live
    // that long, and an upgrade happens once per page load.
    on_success.forget();
    Ok(())
}
