//! Version 5: the photo upload queue. A photo of a saved opinion that has not reached the
//! server carries `upload: "pending"`; the `by_upload` index on that property lists exactly those
//! (records without the property are not in the index), so the sync round finds the next photos
//! to send without scanning every photo. See [`crate::storage::photos`].
//!
//! Photos saved before this version are queued here: a cursor over the photos owned by an
//! opinion (`by_owner` from `opinion:` on) marks each one, inside the upgrade transaction.

use super::{Upgrade, js_err};
use crate::storage::photos::{BY_UPLOAD, UPLOAD, UPLOAD_PENDING};
use crate::storage::{Result, stores};
use wasm_bindgen::JsCast;
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    let photos = upgrade.tx.object_store(stores::PHOTOS).map_err(js_err)?;
    photos
        .create_index_with_str(BY_UPLOAD, UPLOAD)
        .map_err(js_err)?;
    let owned_by_opinions = web_sys::IdbKeyRange::bound(
        &JsValue::from_str("opinion:"),
        &JsValue::from_str("opinion:\u{ffff}"),
    )
    .map_err(js_err)?;
    let request = photos
        .index("by_owner")
        .map_err(js_err)?
        .open_cursor_with_range(&owned_by_opinions)
        .map_err(js_err)?;
    let tx = upgrade.tx.clone();
    let cursor_request = request.clone();
    let on_success = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
        let step = || -> std::result::Result<(), JsValue> {
            let result = cursor_request.result()?;
            if result.is_null() || result.is_undefined() {
                return Ok(()); // done
            }
            let cursor: web_sys::IdbCursorWithValue = result.unchecked_into();
            let record = cursor.value()?;
            js_sys::Reflect::set(&record, &UPLOAD.into(), &UPLOAD_PENDING.into())?;
            cursor.update(&record)?;
            cursor.continue_()
        };
        if let Err(e) = step() {
            web_sys::console::error_1(&format!("photo queue conversion failed: {e:?}").into());
            let _ = tx.abort();
        }
    });
    request.set_onsuccess(Some(on_success.as_ref().unchecked_ref()));
    // Called once per photo until the cursor ends, within this upgrade only.
    on_success.forget();
    Ok(())
}
