//! What a person does with the app, as the tests need it again and again: the demo accounts,
//! signing in, enrolling a tablet, recording an opinion, waiting for sync.

use crate::{Browser, sync_badge};
use std::time::{Duration, Instant};

/// The demo accounts (`--demo`), as `(username, password)`.
pub const DEPUTY: (&str, &str) = ("demo-deputy", "demo-deputy-2026");
/// A second deputy of the demo station, taking turns with [`DEPUTY`] on one tablet.
pub const DEPUTY2: (&str, &str) = ("demo-deputy2", "demo-deputy2-2026");
pub const STAFF: (&str, &str) = ("demo-station", "demo-station-2026");
pub const OFFICE: (&str, &str) = ("demo-office", "demo-office-2026");
pub const UNIT: (&str, &str) = ("demo-unit", "demo-unit-2026");
pub const STATION: &str = "station-xingfuli";
pub const DEPUTY_ID: &str = "deputy-demo-zhang";

/// Long enough for several retries with backoff (0.5–1 s, 1–2 s, 2–4 s, …).
pub const SYNC_WAIT: Duration = Duration::from_secs(90);

/// The PIN every test account chooses on a tablet (deputies and station staff are asked for
/// one at their first sign-in there).
pub const PIN: &str = "275913";

/// Signs in on the sync page, and waits until the app says who is signed in. A deputy or
/// station staff member chooses [`PIN`] at the first sign-in on the tablet, and enters it when
/// the tablet asks for it.
pub async fn sign_in(browser: &Browser, base: &str, (username, password): (&str, &str)) {
    browser.goto(&format!("{base}/sync")).await;
    browser.type_into("#sign-in-username", username).await;
    browser.type_into("#sign-in-password", password).await;
    browser.click("#sign-in").await;
    answer_pin_prompt(browser).await;
    browser.find("#signed-in-as").await;
}

/// After "sign in" was pressed: waits until the app says who is signed in or asks for a PIN,
/// and chooses [`PIN`] (first sign-in on this tablet) or enters it, as asked.
pub async fn answer_pin_prompt(browser: &Browser) {
    browser
        .wait_until(
            "signed in, or asked for a PIN",
            "return !!document.querySelector('#signed-in-as, #pin-setup-form, #pin-enter-form, #unlock-error, #sign-in-error')",
        )
        .await;
    if browser
        .js("return !!document.querySelector('#pin-setup-form')")
        .await
        == true
    {
        browser.type_into("#pin-new", PIN).await;
        browser.type_into("#pin-repeat", PIN).await;
        browser.click("#pin-set").await;
    } else if browser
        .js("return !!document.querySelector('#pin-enter-form')")
        .await
        == true
    {
        browser.type_into("#pin-entry", PIN).await;
        browser.click("#pin-unlock").await;
    }
}

/// Unlocks the tablet as `display_name` with [`PIN`] on the lock screen.
pub async fn unlock(browser: &Browser, display_name: &str) {
    browser.find("#lock-screen").await;
    browser.click_with_text(".lock-account", display_name).await;
    browser.type_into("#lock-pin", PIN).await;
    browser.click("#lock-unlock").await;
    browser
        .wait_until(
            "the lock screen to go",
            "return !document.querySelector('#lock-screen')",
        )
        .await;
}

/// Enrols the tablet to the demo station as the station staff, naming it `name`.
pub async fn enroll(browser: &Browser, base: &str, name: &str) {
    browser.goto(&format!("{base}/sync")).await;
    browser.select("#enroll-station", STATION).await;
    browser.type_into("#enroll-name", name).await;
    browser.type_into("#enroll-username", STAFF.0).await;
    browser.type_into("#enroll-password", STAFF.1).await;
    browser.click("#enroll").await;
    browser.wait_for_text("#device-enrolled", name).await;
}

/// Records one opinion with the fewest fields (the deputy on duty comes from the sign-in),
/// to be referred.
pub async fn capture(browser: &Browser, summary: &str) {
    if browser
        .js("return location.pathname === '/' && !!document.querySelector('#field-summary')")
        .await
        != serde_json::Value::Bool(true)
    {
        browser.click("#nav-capture").await;
    }
    browser.select("#field-category", "parking").await;
    browser.type_into("#field-summary", summary).await;
    browser.click("#outcome-to_be_referred").await;
    browser.click("#save-opinion").await;
    browser
        .wait_until(
            "the form to be cleared after saving",
            "const s = document.querySelector('#field-summary'); return !!s && s.value === ''",
        )
        .await;
}

/// Waits until the tablet says everything is synced, without anyone pressing a button.
pub async fn wait_synced(browser: &Browser, what: &str) {
    let deadline = Instant::now() + SYNC_WAIT;
    loop {
        let (kind, pending) = sync_badge(browser).await;
        if kind == "ok" && pending == 0 {
            return;
        }
        if Instant::now() > deadline {
            browser.screenshot(&format!("not-synced-{what}")).await;
            let text = browser.text("#sync-status").await;
            panic!(
                "{what}: not synced after {SYNC_WAIT:?}: kind {kind}, pending {pending}, {text:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
