//! Version 3: the sync outbox (keyed by seq, `by_state` index on `[state, seq]`) and `sync_meta`
//! (this device's client id, next seq, persisted HLC, pull cursor); see [`crate::storage::outbox`].
//!
//! Opinions captured before sync existed must still reach the server, so the step converts data:
//! every stored opinion gets a pending `CreateOpinion` mutation, in id order (creation order),
//! seqs 1..=n, stamped with the clock ticked at the opinion's creation time. The client id is made
//! here, once per database: the `versionchange` transaction is exclusive, so two tabs cannot both
//! make one.
//!
//! The step is synchronous, so the conversion is a chain of raw requests on the upgrade
//! transaction: `getAll` reads a page of opinions; its `onsuccess` queues the outbox puts and the
//! next page's `getAll` (or, after the last page, the `sync_meta` put). Nothing is awaited outside
//! the transaction, so it stays active throughout; any failure aborts it, and the database stays
//! at version 2, whole.

use super::{Upgrade, js_err};
use crate::storage::outbox::{BY_STATE, META_KEY, OutboxRecord, SyncMeta, to_js};
use crate::storage::{Result, StorageError, stores};
use indexed_db_futures::KeyPath;
use indexed_db_futures::prelude::*;
use liaison_domain::sync::MutationKind;
use liaison_domain::{ClientId, Opinion};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};

/// Opinions read per request: bounds the memory the conversion holds at once.
const PAGE: u32 = 200;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    let outbox = upgrade
        .db
        .create_object_store(stores::OUTBOX)
        .with_key_path(KeyPath::from("seq"))
        .build()?;
    outbox
        .create_index(BY_STATE, KeyPath::from(["state", "seq"]))
        .build()?;
    upgrade.db.create_object_store(stores::SYNC_META).build()?;

    let conversion = Rc::new(Conversion {
        tx: upgrade.tx.clone(),
        meta: RefCell::new(SyncMeta::new(ClientId::new_v7(
            upgrade.now_ms,
            upgrade.random,
        ))),
    });
    read_page(conversion, None)
}

/// The state carried from one page's callback to the next.
struct Conversion {
    tx: web_sys::IdbTransaction,
    meta: RefCell<SyncMeta>,
}

/// Asks for the next page of opinions after `after` (an id), converting it when it arrives.
fn read_page(conversion: Rc<Conversion>, after: Option<JsValue>) -> Result<()> {
    let opinions = conversion
        .tx
        .object_store(stores::OPINIONS)
        .map_err(js_err)?;
    let query = match &after {
        None => JsValue::NULL,
        Some(id) => web_sys::IdbKeyRange::lower_bound_with_open(id, true)
            .map_err(js_err)?
            .into(),
    };
    let request = opinions
        .get_all_with_key_and_limit(&query, PAGE)
        .map_err(js_err)?;
    let on_success = {
        let request = request.clone();
        wasm_bindgen::closure::Closure::once_into_js(move |_: web_sys::Event| {
            if let Err(e) = convert_page(&conversion, &request) {
                web_sys::console::error_1(&format!("outbox conversion failed: {e}").into());
                // Undoes the whole upgrade; opening the database reports the abort.
                let _ = conversion.tx.abort();
            }
        })
    };
    request.set_onsuccess(Some(on_success.unchecked_ref()));
    Ok(())
}

/// Queues a `CreateOpinion` for each opinion of the page, then the next page or, after the last,
/// the `sync_meta` record.
fn convert_page(conversion: &Rc<Conversion>, request: &web_sys::IdbRequest) -> Result<()> {
    let page: js_sys::Array = request.result().map_err(js_err)?.unchecked_into();
    let outbox = conversion.tx.object_store(stores::OUTBOX).map_err(js_err)?;
    let mut last_id = None;
    for value in page.iter() {
        let opinion: Opinion = serde_wasm_bindgen::from_value(value)
            .map_err(|e| StorageError::Corrupt(e.to_string()))?;
        last_id = Some(JsValue::from_str(&opinion.id.to_string()));
        let created_at_ms = opinion.created_at_ms;
        let mutation = conversion.meta.borrow_mut().issue(
            MutationKind::CreateOpinion {
                opinion: Box::new(opinion),
            },
            created_at_ms,
        );
        outbox
            .put(&to_js(&OutboxRecord::pending(mutation))?)
            .map_err(js_err)?;
    }
    if page.length() == PAGE {
        return read_page(Rc::clone(conversion), last_id);
    }
    let meta = to_js(&*conversion.meta.borrow())?;
    conversion
        .tx
        .object_store(stores::SYNC_META)
        .map_err(js_err)?
        .put_with_key(&meta, &JsValue::from_str(META_KEY))
        .map_err(js_err)?;
    Ok(())
}
