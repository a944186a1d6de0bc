//! Issue 3 acceptance, end to end: tablets (headless Chromium running the release app) sync
//! with the real server binary, through a fault-injecting proxy where the network misbehaves.
//! "Offline" is the server process stopped. What the server holds is read back through its own
//! API, and every test checks the same two things: nothing lost, nothing twice.

use liaison_e2e::proxy::{Fault, Proxy};
use liaison_e2e::tablet::{
    DEPUTY, STAFF, SYNC_WAIT, capture, enroll, sign_in, unlock, wait_synced,
};
use liaison_e2e::{Browser, Driver, Server, api_sign_in, server_opinions, sync_badge as badge};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// The records the tablet lists for its station (the summaries).
async fn tablet_summaries(browser: &Browser, base: &str, expected: usize) -> BTreeSet<String> {
    browser.goto(&format!("{base}/records")).await;
    browser
        .wait_until(
            &format!("{expected} records listed"),
            &format!(
                "return document.querySelectorAll('#records-list li.record').length === {expected}"
            ),
        )
        .await;
    let value = browser
        .js(
            "return [...document.querySelectorAll('#records-list li.record .record-head')]
                 .map(e => e.innerText)",
        )
        .await;
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn summaries_on_server(opinions: &[(String, String)]) -> Vec<String> {
    let mut summaries: Vec<String> = opinions.iter().map(|(_, s)| s.clone()).collect();
    summaries.sort();
    summaries
}

fn sorted(items: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

/// The server, a proxy in front of it, chromedriver, and one tablet signed in as the demo
/// deputy, showing the app from the proxy.
async fn one_tablet() -> (Server, Proxy, Driver, tempfile::TempDir, Browser) {
    let server = Server::start();
    let proxy = Proxy::start(server.port());
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::open(&driver, profile.path()).await;
    sign_in(&browser, &proxy.url(""), DEPUTY).await;
    wait_synced(&browser, "after sign-in").await;
    (server, proxy, driver, profile, browser)
}

#[tokio::test(flavor = "current_thread")]
async fn two_tablets_capture_offline_and_each_ends_with_the_union() {
    let mut server = Server::start();
    let base = server.url("");
    let driver = Driver::start();
    let (profile_a, profile_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Browser::open(&driver, profile_a.path()).await;
    let b = Browser::open(&driver, profile_b.path()).await;

    // Tablet A is enrolled to the station by the station staff; the deputy signs in on both.
    enroll(&a, &base, "幸福里 1 号平板").await;
    sign_in(&a, &base, DEPUTY).await;
    sign_in(&b, &base, DEPUTY).await;
    wait_synced(&a, "A online").await;
    wait_synced(&b, "B online").await;

    // The network goes; both record.
    server.stop();
    let on_a = ["A1 楼道灯坏了", "A2 垃圾清运不及时"];
    let on_b = ["B1 公交站台缺座椅", "B2 菜市场噪音", "B3 小区门禁失灵"];
    for s in on_a {
        capture(&a, s).await;
    }
    for s in on_b {
        capture(&b, s).await;
    }
    assert_eq!(badge(&a).await.1, 2);
    assert_eq!(badge(&b).await.1, 3);
    a.screenshot("sync-two-tablets-offline").await;

    // The network comes back: each tablet finds the server by itself and syncs.
    server.restart();
    wait_synced(&a, "A back online").await;
    wait_synced(&b, "B back online").await;
    // A pushed before B's records were there; its next round brings them.
    a.click("#nav-sync").await;
    a.click("#sync-now").await;
    wait_synced(&a, "A after sync now").await;

    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    let held = server_opinions(&server, &token).await;
    let all: Vec<&str> = on_a.iter().chain(on_b.iter()).copied().collect();
    assert_eq!(
        summaries_on_server(&held),
        sorted(&all),
        "exactly the union"
    );

    for (tablet, name) in [(&a, "A"), (&b, "B")] {
        let listed = tablet_summaries(tablet, &base, all.len()).await;
        for s in &all {
            assert!(
                listed.iter().any(|l| l.contains(s)),
                "tablet {name} lists {s}: {listed:?}"
            );
        }
    }
    a.screenshot("sync-two-tablets-union").await;
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_response_lost_after_the_server_committed_is_resent_without_a_duplicate() {
    let (server, proxy, _driver, _profile, browser) = one_tablet().await;
    proxy.script([Fault::LoseResponse]);
    capture(&browser, "回复丢失的意见").await;
    wait_synced(&browser, "after the lost response").await;
    assert_eq!(proxy.faults_left(), 0, "the fault was met");
    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    let held = server_opinions(&server, &token).await;
    assert_eq!(summaries_on_server(&held), sorted(&["回复丢失的意见"]));
    // It was sent twice (the resend), and stored once.
    let pushes = proxy.pushes();
    assert!(
        pushes.iter().filter(|(_, first, _)| *first == 1).count() >= 2,
        "resent: {pushes:?}"
    );
    browser.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_5xx_storm_then_a_captive_portal_then_recovery_loses_nothing_and_stores_once() {
    let (server, proxy, _driver, _profile, browser) = one_tablet().await;
    proxy.script([
        Fault::Status(503),
        Fault::Status(500),
        Fault::Status(502),
        Fault::CaptivePortal,
        Fault::CaptivePortal,
    ]);
    let summaries = ["风暴中 1", "风暴中 2", "风暴中 3"];
    for s in summaries {
        capture(&browser, s).await;
    }
    // While the storm lasts the tablet says it is waiting and retrying by itself.
    browser
        .wait_until(
            "the retry notice",
            "const b = document.querySelector('#sync-status');
             return !!b && b.dataset.kind === 'waiting' && b.innerText.includes('自动重试')",
        )
        .await;
    browser.screenshot("sync-retrying").await;
    wait_synced(&browser, "after the storm").await;
    assert_eq!(proxy.faults_left(), 0, "every fault was met");
    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    let held = server_opinions(&server, &token).await;
    assert_eq!(summaries_on_server(&held), sorted(&summaries));
    let ids: BTreeSet<&String> = held.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), summaries.len(), "each stored once");
    browser.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_tab_closed_mid_sync_completes_the_sync_after_reopening() {
    let (server, proxy, driver, profile, browser) = one_tablet().await;
    let base = proxy.url("");
    // Every sync request is held for a while: the tablet is closed while its push is in flight.
    proxy.hold_all(Some(Duration::from_secs(3)));
    let summaries = ["关闭前 1", "关闭前 2"];
    for s in summaries {
        capture(&browser, s).await;
    }
    let deadline = Instant::now() + SYNC_WAIT;
    while !proxy.pushes().iter().any(|(_, _, n)| *n > 0) {
        assert!(Instant::now() < deadline, "no push started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    browser.close().await;
    proxy.hold_all(None);

    // A new browser session is locked: the deputy unlocks with the PIN, and the sync goes on.
    let browser = Browser::open(&driver, profile.path()).await;
    browser.goto(&base).await;
    unlock(&browser, "张建国").await;
    wait_synced(&browser, "after reopening").await;
    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    let held = server_opinions(&server, &token).await;
    assert_eq!(summaries_on_server(&held), sorted(&summaries));
    browser.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn with_two_tabs_open_only_one_uploads() {
    let (server, proxy, _driver, _profile, browser) = one_tablet().await;
    let base = proxy.url("");
    // A second tab of the app on the same tablet.
    let first = browser.client.window().await.unwrap();
    let second = browser.client.new_window(true).await.unwrap().handle;
    browser
        .client
        .switch_to_window(second.clone())
        .await
        .unwrap();
    // A new tab is locked until the deputy unlocks it there too.
    browser.goto(&base).await;
    unlock(&browser, "张建国").await;
    browser.goto(&format!("{base}/sync")).await;
    browser.find("#signed-in-as").await;

    // Records wait while the server answers 503 to everything; then pushes are slow, so the two
    // tabs' rounds overlap when both are told to sync at once.
    browser
        .client
        .switch_to_window(first.clone())
        .await
        .unwrap();
    proxy.script(std::iter::repeat_n(Fault::Status(503), 1000));
    for s in ["两个标签页 1", "两个标签页 2", "两个标签页 3"] {
        capture(&browser, s).await;
    }
    proxy.clear_faults();
    proxy.hold_all(Some(Duration::from_secs(2)));
    for window in [&first, &second] {
        browser
            .client
            .switch_to_window(window.clone())
            .await
            .unwrap();
        browser.click("#nav-sync").await;
        browser.click("#sync-now").await;
    }
    browser
        .client
        .switch_to_window(first.clone())
        .await
        .unwrap();
    wait_synced(&browser, "first tab").await;
    proxy.hold_all(None);
    browser
        .client
        .switch_to_window(second.clone())
        .await
        .unwrap();
    wait_synced(&browser, "second tab").await;

    assert_eq!(
        proxy.seqs_pushed_more_than_once(),
        Vec::<(String, u64)>::new(),
        "no mutation was uploaded twice: {:?}",
        proxy.pushes()
    );
    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    assert_eq!(server_opinions(&server, &token).await.len(), 3);
    browser.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn the_server_restarting_mid_sync_loses_nothing() {
    let (mut server, proxy, _driver, _profile, browser) = one_tablet().await;
    proxy.hold_all(Some(Duration::from_secs(2)));
    let summaries = ["重启中 1", "重启中 2"];
    for s in summaries {
        capture(&browser, s).await;
    }
    let deadline = Instant::now() + SYNC_WAIT;
    while proxy.pushes().is_empty() {
        assert!(Instant::now() < deadline, "no push started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The push is in flight (held by the proxy): the server goes down and comes back.
    server.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.hold_all(None);
    server.restart();
    wait_synced(&browser, "after the restart").await;
    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    let held = server_opinions(&server, &token).await;
    assert_eq!(summaries_on_server(&held), sorted(&summaries));
    browser.close().await;
}

/// A record corrected on the tablet while offline: the correction shows at once, a bad one is
/// refused with the field's error and saves nothing, and the server ends with the corrected
/// record, once.
#[tokio::test(flavor = "current_thread")]
async fn a_record_corrected_offline_reaches_the_server_corrected() {
    let (mut server, _proxy, _driver, _profile, browser) = one_tablet().await;
    server.stop();
    capture(&browser, "楼道灯坏了").await;
    browser.click("#nav-records").await;
    browser.click("#records-list li.record .record-open").await;
    browser.click("#record-edit").await;
    browser.find("#record-edit-form").await;
    browser.screenshot("record-edit-form").await;
    browser.fill("#edit-summary", "3 号楼楼道灯坏了").await;
    browser.type_into("#edit-place", "幸福里 3 号楼").await;
    browser.click("#record-edit-save").await;
    browser.find("#record-edit-saved").await;
    browser
        .wait_until(
            "the corrected summary on the record's page",
            "return document.body.innerText.includes('3 号楼楼道灯坏了')",
        )
        .await;
    // The creation and the correction wait.
    browser
        .wait_until(
            "two records waiting",
            "return document.querySelector('#sync-status').dataset.pending === '2'",
        )
        .await;

    // A summary emptied is refused with the field's error; nothing more is queued.
    browser.click("#record-edit").await;
    browser.fill("#edit-summary", " ").await;
    browser.click("#record-edit-save").await;
    browser.find("#record-edit-invalid").await;
    browser.screenshot("record-edit-refused").await;
    assert!(!browser.text("#edit-summary-error").await.is_empty());
    browser.click("#record-edit-cancel").await;
    assert_eq!(badge(&browser).await.1, 2);

    // Saved unchanged: the form closes, nothing more is queued, and nothing is said.
    browser.click("#record-edit").await;
    browser.click("#record-edit-save").await;
    browser
        .wait_until(
            "the form to close",
            "return !document.querySelector('#record-edit-form')",
        )
        .await;
    assert_eq!(
        browser
            .js("return !document.querySelector('#record-edit-saved')")
            .await,
        serde_json::Value::Bool(true)
    );
    assert_eq!(badge(&browser).await.1, 2);

    server.restart();
    wait_synced(&browser, "after the correction").await;
    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    let (status, page) = liaison_e2e::api(
        "POST",
        &server.url("/api/v1/sync/pull"),
        Some(&token),
        Some(&serde_json::json!({"protocol": 1, "cursor": 0, "limit": 500})),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let states: Vec<&serde_json::Value> = page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| &change["state"])
        .filter(|state| state["created"]["value"]["summary"] == "楼道灯坏了")
        .collect();
    assert_eq!(states.len(), 1, "the record once: {page}");
    assert_eq!(states[0]["summary"]["value"], "3 号楼楼道灯坏了");
    assert_eq!(states[0]["place"]["value"], "幸福里 3 号楼");
    browser.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn an_app_version_the_server_no_longer_accepts_is_told_to_update_and_keeps_its_outbox() {
    let mut server = Server::start_with_args(&["--min-app-version", "99.0.0"]);
    let base = server.url("");
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let browser = Browser::open(&driver, profile.path()).await;
    sign_in(&browser, &base, DEPUTY).await;
    let summaries = ["旧版本 1", "旧版本 2"];
    for s in summaries {
        capture(&browser, s).await;
    }
    browser
        .wait_until(
            "the update message",
            "const b = document.querySelector('#sync-status');
             return !!b && b.dataset.kind === 'problem' && b.innerText.includes('更新应用')",
        )
        .await;
    assert_eq!(badge(&browser).await.1, 2, "the outbox is kept");
    browser.screenshot("sync-update-needed").await;
    // Nothing reached the server.
    server.stop();
    server.extra_args.clear();
    server.restart();
    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    assert!(server_opinions(&server, &token).await.is_empty());

    // The server accepts this version again (as after the app's update): everything syncs.
    browser.click("#nav-sync").await;
    browser.click("#sync-now").await;
    wait_synced(&browser, "after the version is accepted").await;
    let held = server_opinions(&server, &token).await;
    assert_eq!(summaries_on_server(&held), sorted(&summaries));
    browser.close().await;
}

/// Two tablets (their own browser profiles), both signed in as the demo deputy. (Keep the driver
/// and the profiles alive for the test's length.)
async fn two_signed_in_tablets(base: &str) -> (Driver, [tempfile::TempDir; 2], Browser, Browser) {
    let driver = Driver::start();
    let profiles = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = Browser::open(&driver, profiles[0].path()).await;
    let b = Browser::open(&driver, profiles[1].path()).await;
    sign_in(&a, base, DEPUTY).await;
    sign_in(&b, base, DEPUTY).await;
    (driver, profiles, a, b)
}

#[tokio::test(flavor = "current_thread")]
async fn a_record_saved_on_one_tablet_reaches_the_other_without_waiting_for_the_poll() {
    let server = Server::start();
    let base = server.url("");
    let (_driver, _profiles, a, b) = two_signed_in_tablets(&base).await;
    wait_synced(&a, "A").await;
    wait_synced(&b, "B").await;
    b.goto(&format!("{base}/records")).await;
    b.find("#records-total").await;

    let saved = Instant::now();
    capture(&a, "推送通知的意见").await;
    // B pulls on the server's change event; its poll would take a minute.
    let deadline = saved + Duration::from_secs(20);
    loop {
        let listed = b
            .js("return document.querySelector('#records-list')?.innerText ?? ''")
            .await;
        if listed
            .as_str()
            .unwrap_or_default()
            .contains("推送通知的意见")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B did not get A's record within 20 s (the poll is {} s)",
            60
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("A's record reached B after {:?}", saved.elapsed());
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_photo_taken_on_one_tablet_is_shown_on_the_other() {
    let server = Server::start();
    let base = server.url("");
    let (_driver, _profiles, a, b) = two_signed_in_tablets(&base).await;

    a.click("#nav-capture").await;
    a.select("#field-category", "parking").await;
    a.type_into("#field-summary", "带照片的意见").await;
    a.click("#outcome-to_be_referred").await;
    let path = liaison_e2e::fixture("photo.png");
    a.find("#field-photos")
        .await
        .send_keys(path.to_str().unwrap())
        .await
        .unwrap();
    a.wait_until(
        "the photo thumbnail",
        "const img = document.querySelector('.capture .thumbs img.photo');
         return !!img && img.complete && img.naturalWidth > 0;",
    )
    .await;
    a.click("#save-opinion").await;
    a.wait_until(
        "the form to be cleared after saving",
        "const s = document.querySelector('#field-summary'); return !!s && s.value === ''",
    )
    .await;
    wait_synced(&a, "A with the photo").await;
    a.goto(&format!("{base}/sync")).await;
    a.find("#sync-line").await;
    assert!(
        a.find_all("#photos-waiting").await.is_empty(),
        "the photo was uploaded"
    );

    // B pulls the record and, when it is opened, fetches the photo from the server.
    b.click("#nav-sync").await;
    b.click("#sync-now").await;
    wait_synced(&b, "B").await;
    b.goto(&format!("{base}/records")).await;
    b.click("#records-list li.record .record-head").await;
    b.wait_until(
        "the photo from the server",
        "const img = document.querySelector('#records-list img.photo');
         return !!img && img.src.startsWith('blob:') && img.complete && img.naturalWidth === 1600;",
    )
    .await;
    b.screenshot("sync-photo-on-other-tablet").await;
    // Kept on B: shown again offline.
    drop(server);
    b.reload().await;
    b.click("#records-list li.record .record-head").await;
    b.wait_until(
        "the photo offline",
        "const img = document.querySelector('#records-list img.photo');
         return !!img && img.complete && img.naturalWidth === 1600;",
    )
    .await;
    a.close().await;
    b.close().await;
}
