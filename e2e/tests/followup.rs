//! Issue 4 acceptance, end to end: one opinion's whole life across four roles, and attendance
//! recorded offline on two tablets. The release server and the release app in headless
//! Chromium; "offline" is the server process stopped. Each role uses its own browser profile,
//! as each person uses their own device.

use liaison_e2e::tablet::{
    DEPUTY, DEPUTY_ID, OFFICE, STAFF, STATION, UNIT, capture, enroll, sign_in, wait_synced,
};
use liaison_e2e::{Browser, Driver, Server, api_get_ok, api_sign_in, sync_badge as badge};

const UNIT_ID: &str = "unit-demo-housing";

/// The ledger row of `id` as `browser` sees it: `(status, colour)`, after a fresh load.
async fn ledger_row(browser: &Browser, base: &str, id: &str) -> (String, String) {
    browser.goto(&format!("{base}/ledger")).await;
    let row = format!("#ledger-rows tr.ledger-row[data-id=\"{id}\"]");
    browser.find(&row).await;
    let value = browser
        .js(&format!(
            "const r = document.querySelector({});
             return [r.dataset.status, r.dataset.colour || ''];",
            serde_json::to_string(&row).unwrap()
        ))
        .await;
    (
        value[0].as_str().unwrap_or_default().to_owned(),
        value[1].as_str().unwrap_or_default().to_owned(),
    )
}

/// The ids of every row of the ledger `browser` sees.
async fn ledger_ids(browser: &Browser, base: &str) -> Vec<String> {
    browser.goto(&format!("{base}/ledger")).await;
    browser.find("#ledger-rows").await;
    // The rows arrive from the server after the table is drawn.
    browser
        .wait_until(
            "the ledger to load",
            "return !document.querySelector('#ledger-rows [aria-busy=\"true\"]')",
        )
        .await;
    let value = browser
        .js("return [...document.querySelectorAll('#ledger-rows tr.ledger-row')].map(r => r.dataset.id)")
        .await;
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Opens the back office's page of the item and waits for its status.
async fn open_item(browser: &Browser, base: &str, id: &str, status: &str) {
    browser.goto(&format!("{base}/items/{id}")).await;
    browser
        .wait_for_data("#item-status", "status", status)
        .await;
}

/// Opens the tablet's page of the record and waits for its status.
async fn open_record(browser: &Browser, base: &str, id: &str, status: &str) {
    browser.goto(&format!("{base}/records/{id}")).await;
    browser
        .wait_for_data("#item-status", "status", status)
        .await;
}

/// Takes a step through its form: presses `#step-<action>`, lets `fill` fill the form, submits,
/// and waits for the status it leads to.
async fn step<F, Fut>(browser: &Browser, action: &str, then: &str, fill: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    browser.click(&format!("#step-{action}")).await;
    browser.find("#step-submit").await;
    fill().await;
    browser.click("#step-submit").await;
    browser.wait_for_data("#item-status", "status", then).await;
}

async fn refer(browser: &Browser) {
    step(browser, "refer", "referred", || async {
        browser.select("#step-unit", UNIT_ID).await;
        browser.fill("#step-working-days", "5").await;
        // The due date is computed at once from the server's working-day calendar.
        browser
            .wait_until(
                "the due date",
                "const d = document.querySelector('#step-due');
                 return !!d && /\\d{4}-\\d{2}-\\d{2}/.test(d.innerText)",
            )
            .await;
    })
    .await;
    browser
        .wait_for_data("#item-due", "colour", "on_time")
        .await;
}

async fn accept_and_conclude(browser: &Browser, reply: &str) {
    step(browser, "accept", "in_progress", || async {}).await;
    step(browser, "conclude", "concluded", || async {
        browser.select("#step-conclusion", "resolved").await;
        browser.type_into("#step-reply", reply).await;
    })
    .await;
}

/// Feedback and the citizen's evaluation, recorded on the tablet at a return visit.
async fn feed_back_and_evaluate(tablet: &Browser, evaluation: &str, then: &str) {
    step(tablet, "feed_back", "fed_back", || async {
        tablet.select("#step-feedback-method", "in_person").await;
    })
    .await;
    step(tablet, "evaluate", then, || async {
        tablet.select("#step-evaluation", evaluation).await;
    })
    .await;
}

/// The actions of the history as the page lists them, oldest first.
async fn history(browser: &Browser) -> Vec<String> {
    let value = browser
        .js("return [...document.querySelectorAll('#item-steps li.step')].map(s => s.dataset.action)")
        .await;
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

async fn sync_now(tablet: &Browser) {
    tablet.click("#nav-sync").await;
    tablet.click("#sync-now").await;
    wait_synced(tablet, "after sync now").await;
}

#[tokio::test(flavor = "current_thread")]
async fn one_opinions_whole_life_across_four_roles() {
    let mut server = Server::start();
    let base = server.url("");
    let driver = Driver::start();
    let profiles: Vec<_> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let tablet = Browser::open(&driver, profiles[0].path()).await;

    // Station staff enrol the tablet; the deputy on duty signs in.
    enroll(&tablet, &base, "幸福里 1 号平板").await;
    sign_in(&tablet, &base, DEPUTY).await;
    wait_synced(&tablet, "tablet online").await;

    // 1. Captured offline: the one that will be referred, and one that will not.
    server.stop();
    capture(&tablet, "3 号楼路灯不亮").await;
    capture(&tablet, "菜市场周末噪音").await;
    assert_eq!(badge(&tablet).await.1, 2);
    server.restart();
    wait_synced(&tablet, "captured and synced").await;
    tablet.goto(&format!("{base}/records")).await;
    tablet
        .wait_until(
            "two records",
            "return document.querySelectorAll('#records-list li.record').length === 2",
        )
        .await;
    let ids = tablet
        .js(
            "return [...document.querySelectorAll('#records-list li.record')]
                 .filter(r => r.innerText.includes('路灯')).map(r => r.dataset.id)",
        )
        .await;
    let id = ids[0].as_str().expect("the record's id").to_owned();
    tablet
        .wait_for_data(
            &format!("#records-list li.record[data-id=\"{id}\"] .record-status"),
            "status",
            "registered",
        )
        .await;

    // 2. The office refers it to the housing bureau, 5 working days.
    let office = Browser::open(&driver, profiles[1].path()).await;
    sign_in(&office, &base, OFFICE).await;
    assert_eq!(
        ledger_row(&office, &base, &id).await,
        ("registered".into(), String::new())
    );
    assert!(
        office.find_all("#duty-station").await.is_empty(),
        "the back office's pages do not ask for the deputy on duty"
    );
    open_item(&office, &base, &id, "registered").await;
    refer(&office).await;
    office.screenshot("followup-referred").await;
    assert_eq!(
        ledger_row(&office, &base, &id).await,
        ("referred".into(), "on_time".into())
    );

    // 3. The unit sees only what is referred to it; it accepts and concludes.
    let unit = Browser::open(&driver, profiles[2].path()).await;
    sign_in(&unit, &base, UNIT).await;
    assert_eq!(
        ledger_ids(&unit, &base).await,
        vec![id.clone()],
        "a unit sees only its items"
    );
    open_item(&unit, &base, &id, "referred").await;
    accept_and_conclude(&unit, "已更换 3 号楼路灯").await;
    assert_eq!(
        ledger_row(&office, &base, &id).await.0,
        "concluded",
        "the ledger shows the conclusion"
    );

    // 4. At a return visit, offline, the tablet records the feedback and a dissatisfied
    //    evaluation: the item reopens.
    sync_now(&tablet).await;
    open_record(&tablet, &base, &id, "concluded").await;
    server.stop();
    feed_back_and_evaluate(&tablet, "dissatisfied", "reopened").await;
    assert_eq!(badge(&tablet).await.1, 2, "two steps wait for the network");
    tablet.screenshot("followup-reopened-offline").await;
    server.restart();
    wait_synced(&tablet, "feedback synced").await;
    assert_eq!(ledger_row(&office, &base, &id).await.0, "reopened");

    // 5. Referred again, concluded again.
    open_item(&office, &base, &id, "reopened").await;
    refer(&office).await;
    open_item(&unit, &base, &id, "referred").await;
    accept_and_conclude(&unit, "已更换灯杆线路，夜间巡查正常").await;
    assert_eq!(ledger_row(&office, &base, &id).await.0, "concluded");

    // 6. Offline again, the citizen is told and is satisfied.
    sync_now(&tablet).await;
    open_record(&tablet, &base, &id, "concluded").await;
    server.stop();
    feed_back_and_evaluate(&tablet, "satisfied", "evaluated").await;
    server.restart();
    wait_synced(&tablet, "evaluation synced").await;
    assert_eq!(ledger_row(&office, &base, &id).await.0, "evaluated");

    // 7. The station staff archive it.
    let staff = Browser::open(&driver, profiles[3].path()).await;
    sign_in(&staff, &base, STAFF).await;
    open_item(&staff, &base, &id, "evaluated").await;
    step(&staff, "archive", "archived", || async {}).await;
    assert_eq!(ledger_row(&office, &base, &id).await.0, "archived");

    // Every step is in the history, on the back office and on the tablet.
    let expected = [
        "refer",
        "accept",
        "conclude",
        "feed_back",
        "evaluate",
        "refer",
        "accept",
        "conclude",
        "feed_back",
        "evaluate",
        "archive",
    ];
    open_item(&office, &base, &id, "archived").await;
    assert_eq!(history(&office).await, expected);
    office.screenshot("followup-archived-history").await;
    sync_now(&tablet).await;
    open_record(&tablet, &base, &id, "archived").await;
    assert_eq!(history(&tablet).await, expected);
    assert!(
        tablet.find_all("[id^=\"step-\"]").await.is_empty(),
        "nothing more to do once archived"
    );

    // The other record was never referred: the unit's ledger still holds only this one.
    let token = api_sign_in(&server, UNIT.0, UNIT.1).await;
    let ledger = api_get_ok(&server, &token, "/api/v1/ledger").await;
    assert_eq!(ledger.as_array().map(Vec::len), Some(1), "{ledger}");

    for browser in [tablet, office, unit, staff] {
        browser.close().await;
    }
}

/// Today's attendance at the demo station as the tablet lists it: `(deputy, in, out)`.
async fn tablet_attendance(tablet: &Browser) -> Vec<(String, String, String)> {
    let value = tablet
        .js(
            "return [...document.querySelectorAll('#duty-attendance li.attendance')]
                 .map(a => [a.dataset.deputy, a.dataset.in || '', a.dataset.out || ''])",
        )
        .await;
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let s = |i: usize| row[i].as_str().unwrap_or_default().to_owned();
            (s(0), s(1), s(2))
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn attendance_recorded_offline_on_two_tablets_converges_without_duplicates() {
    let mut server = Server::start();
    let base = server.url("");
    let driver = Driver::start();
    let profiles = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let a = Browser::open(&driver, profiles[0].path()).await;
    let b = Browser::open(&driver, profiles[1].path()).await;
    enroll(&a, &base, "幸福里 1 号平板").await;
    sign_in(&a, &base, DEPUTY).await;
    enroll(&b, &base, "幸福里 2 号平板").await;
    sign_in(&b, &base, DEPUTY).await;
    wait_synced(&a, "A online").await;
    wait_synced(&b, "B online").await;

    // Offline, the deputy signs in for duty on A, then again on B (A's battery died); signs
    // out on B.
    server.stop();
    for tablet in [&a, &b] {
        tablet.click("#nav-capture").await;
        tablet.click("#duty-sign-in").await;
        tablet
            .wait_until(
                "the sign-in to show",
                "const a = document.querySelector('#duty-attendance li.attendance');
                 return !!a && a.dataset.in !== ''",
            )
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.click("#duty-sign-out").await;
    b.wait_until(
        "the sign-out to show",
        "const a = document.querySelector('#duty-attendance li.attendance');
         return !!a && a.dataset.out !== ''",
    )
    .await;
    let a_in = tablet_attendance(&a).await[0].1.clone();

    server.restart();
    wait_synced(&a, "A back").await;
    wait_synced(&b, "B back").await;
    sync_now(&a).await;
    sync_now(&b).await;

    // The server holds one record for the deputy today: A's sign-in (the earlier), B's sign-out.
    let token = api_sign_in(&server, STAFF.0, STAFF.1).await;
    let rows = api_get_ok(
        &server,
        &token,
        &format!("/api/v1/attendance?station={STATION}"),
    )
    .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "one record, not one per tablet: {rows:?}");
    assert_eq!(rows[0]["deputy_id"], DEPUTY_ID);
    assert_eq!(
        rows[0]["signed_in_at_ms"].as_u64().map(|v| v.to_string()),
        Some(a_in.clone()),
        "the earliest sign-in wins"
    );
    assert!(rows[0]["signed_out_at_ms"].as_u64().is_some());

    // Both tablets show the same single record.
    for tablet in [&a, &b] {
        tablet.click("#nav-capture").await;
        tablet
            .wait_until(
                "the merged attendance",
                &format!(
                    "const l = [...document.querySelectorAll('#duty-attendance li.attendance')];
                     return l.length === 1 && l[0].dataset.in === '{a_in}' && l[0].dataset.out !== ''"
                ),
            )
            .await;
    }
    assert_eq!(tablet_attendance(&a).await, tablet_attendance(&b).await);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "current_thread")]
async fn station_staff_keep_the_roster_and_record_an_event_with_its_attendees() {
    let server = Server::start();
    let base = server.url("");
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let staff = Browser::open(&driver, profile.path()).await;
    sign_in(&staff, &base, STAFF).await;
    staff.click("#nav-duty").await;
    staff.select("#duty-page-station", STATION).await;
    staff
        .wait_until(
            "14 days of roster",
            "return document.querySelectorAll('#roster li.roster-day').length === 14",
        )
        .await;

    // Today: the deputy 张建国 on duty.
    let today = liaison_e2e::today().to_string();
    let day = format!("#roster li.roster-day[data-day=\"{today}\"]");
    staff
        .click(&format!(
            "{day} input.roster-pick[data-deputy=\"{DEPUTY_ID}\"]"
        ))
        .await;
    staff.click(&format!("#roster-save-{today}")).await;
    staff
        .wait_for_data(&format!("{day} .roster-status"), "state", "saved")
        .await;
    let token = api_sign_in(&server, OFFICE.0, OFFICE.1).await;
    let roster = api_get_ok(
        &server,
        &token,
        &format!("/api/v1/roster?station={STATION}&from={today}&to={today}"),
    )
    .await;
    assert_eq!(roster.as_array().map(Vec::len), Some(1), "{roster}");
    assert_eq!(roster[0]["deputy_id"], DEPUTY_ID);

    // A collective reception with its attendee and the citizens received.
    staff.select("#activity-kind", "collective_reception").await;
    staff.type_into("#activity-title", "十一月集体接待日").await;
    staff
        .click(&format!(
            "#activity-attendees input.activity-attendee[value=\"{DEPUTY_ID}\"]"
        ))
        .await;
    staff.fill("#activity-citizens", "23").await;
    staff.click("#activity-save").await;
    staff.find("#activity-saved").await;
    staff
        .wait_until(
            "the event listed",
            "return [...document.querySelectorAll('#activities li.activity')]
                 .some(a => a.innerText.includes('十一月集体接待日'))",
        )
        .await;
    staff.screenshot("duty-page").await;
    let activities = api_get_ok(
        &server,
        &token,
        &format!("/api/v1/activities?station={STATION}"),
    )
    .await;
    let list = activities.as_array().unwrap();
    assert_eq!(list.len(), 1, "recorded once: {activities}");
    assert_eq!(list[0]["attendees"], serde_json::json!([DEPUTY_ID]));
    assert_eq!(list[0]["citizens_received"], 23);
    staff.close().await;
}
