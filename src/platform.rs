//! Small wrappers over browser APIs that the rest of the app needs: time, random ids, online
//! state, persistent storage. Kept here so components read as plain Rust.

use liaison_domain::followup::{CHINA_UTC_OFFSET_MINUTES, Date};
use liaison_domain::{FollowUpId, OpinionId, PhotoId};
use wasm_bindgen::JsCast;

/// Milliseconds since the Unix epoch, from the device clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// 10 bytes from the browser's cryptographic random source (`crypto.getRandomValues`).
pub fn random_bytes() -> [u8; 10] {
    let mut bytes = [0u8; 10];
    let crypto = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .expect("crypto is available");
    crypto
        .get_random_values_with_u8_array(&mut bytes)
        .expect("getRandomValues works");
    bytes
}

pub fn new_opinion_id() -> OpinionId {
    OpinionId::new_v7(now_ms(), random_bytes())
}

pub fn new_photo_id() -> PhotoId {
    PhotoId::new_v7(now_ms(), random_bytes())
}

pub fn new_follow_up_id() -> FollowUpId {
    FollowUpId::new_v7(now_ms(), random_bytes())
}

/// Today's date where the stations are (China time), whatever zone the device is set to:
/// deadlines and duty days are counted in it.
pub fn today_in_china() -> Date {
    Date::from_unix_ms(
        i64::try_from(now_ms()).unwrap_or(i64::MAX),
        CHINA_UTC_OFFSET_MINUTES,
    )
}

pub fn is_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Asks the browser not to evict our data under storage pressure. Best effort: browsers may
/// say no (Chromium grants it to installed or often-used sites).
pub fn request_persistent_storage() {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Ok(promise) = window.navigator().storage().persist() {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        });
    }
}

/// Formats a Unix time in milliseconds as local `YYYY-MM-DD HH:MM`.
pub fn format_time(ms: u64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// Formats a Unix time in milliseconds as `YYYY-MM-DD HH:MM` in China time (where the stations
/// are), whatever zone the device is set to: what printed registers and ledgers say.
pub fn format_china_time(ms: u64) -> String {
    let ms = i64::try_from(ms).unwrap_or(i64::MAX);
    let day = Date::from_unix_ms(ms, CHINA_UTC_OFFSET_MINUTES);
    let local_minutes = ms
        .saturating_add(i64::from(CHINA_UTC_OFFSET_MINUTES) * 60_000)
        .div_euclid(60_000)
        .rem_euclid(24 * 60);
    format!("{day} {:02}:{:02}", local_minutes / 60, local_minutes % 60)
}

/// Formats a Unix time in milliseconds as local `HH:MM` (a time on a day already shown).
pub fn format_clock(ms: u64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

/// An object URL for showing a blob in an `<img>`; revoke it when the image goes away.
pub fn object_url(blob: &web_sys::Blob) -> Option<String> {
    web_sys::Url::create_object_url_with_blob(blob).ok()
}

pub fn revoke_object_url(url: &str) {
    let _ = web_sys::Url::revoke_object_url(url);
}

/// The value of an `<input>` or `<textarea>` that fired an event.
pub fn event_checked(ev: &web_sys::Event) -> bool {
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        .is_some_and(|i| i.checked())
}

/// How much this site stores and may store, in bytes (`navigator.storage.estimate()`), and
/// whether the browser granted persistent storage. `None` where the browser does not say.
pub async fn storage_estimate() -> Option<StorageEstimate> {
    use wasm_bindgen_futures::JsFuture;
    let storage = web_sys::window()?.navigator().storage();
    let estimate = JsFuture::from(storage.estimate().ok()?).await.ok()?;
    let number = |name: &str| {
        js_sys::Reflect::get(&estimate, &name.into())
            .ok()
            .and_then(|v| v.as_f64())
    };
    let persisted = match storage.persisted() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        Err(_) => false,
    };
    Some(StorageEstimate {
        usage: number("usage")?,
        quota: number("quota")?,
        persisted,
    })
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StorageEstimate {
    pub usage: f64,
    pub quota: f64,
    pub persisted: bool,
}

impl StorageEstimate {
    /// Used share of the quota, 0.0 to 1.0.
    pub fn used_share(&self) -> f64 {
        if self.quota > 0.0 {
            (self.usage / self.quota).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }
}

/// Offers `text` as a file download named `file_name` (the "save to a file" of the unsynced
/// records: JSON).
pub fn download_text(file_name: &str, text: &str) -> Option<()> {
    download_bytes(file_name, "application/json", text.as_bytes())
}

/// Offers `bytes` as a file download named `file_name` (an Excel or CSV export, or the JSON of
/// [`download_text`]).
pub fn download_bytes(file_name: &str, mime: &str, bytes: &[u8]) -> Option<()> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).ok()?;
    let document = web_sys::window()?.document()?;
    let anchor: web_sys::HtmlAnchorElement = document.create_element("a").ok()?.dyn_into().ok()?;
    anchor.set_href(&url);
    anchor.set_download(file_name);
    anchor.click();
    // Revoked a moment later: some browsers (Safari) start reading the download only after the
    // click returns, and a URL revoked at once gives them an empty file.
    gloo_timers::callback::Timeout::new(10_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Some(())
}

/// Opens the browser's print dialog (the printable register and ledger).
pub fn print() {
    if let Some(window) = web_sys::window() {
        let _ = window.print();
    }
}

/// The bytes of a blob (a stored photo, to hash and send it).
pub async fn blob_bytes(blob: &web_sys::Blob) -> Option<Vec<u8>> {
    let buffer = wasm_bindgen_futures::JsFuture::from(blob.array_buffer())
        .await
        .ok()?;
    Some(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// `localStorage` flag left by a revoked tablet that deleted its data, so that the fresh start
/// says why everything is gone (see `AppState::wipe_revoked_tablet`).
pub const WIPED_FLAG: &str = "liaison.revoked_and_wiped";

/// Whether a `localStorage` flag of the app is set (`"1"`).
pub fn local_flag(key: &str) -> bool {
    local_storage()
        .and_then(|s| s.get_item(key).ok().flatten())
        .is_some_and(|v| v == "1")
}

/// Sets or clears a `localStorage` flag of the app. Quiet when storage is unavailable.
pub fn set_local_flag(key: &str, on: bool) {
    if let Some(storage) = local_storage() {
        let _ = if on {
            storage.set_item(key, "1")
        } else {
            storage.remove_item(key)
        };
    }
}

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}
