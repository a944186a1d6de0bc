//! Issue 6 acceptance, end to end: every free-text field, filled with script and HTML, is shown
//! as text. A deputy types the payloads into the capture form on an enrolled tablet (whose name is
//! one too); the office, the handling unit and the station staff take steps whose notes, reasons
//! and replies are payloads; the staff record a station event with a payload title and note.
//! Then every page that shows them is opened in the release app in headless Chromium, as each
//! role sees it.
//!
//! What "shown as text" means here, checked on every page:
//! - the payload's literal characters are on the page (`innerText`), where the field is shown
//!   unmasked (the citizen's name and address are masked, so they are checked only for the rest);
//! - no element the payloads would create exists (every payload's elements carry the class
//!   `pwned`), and the `onerror` handlers never ran (`window.__xss` stays undefined).
//!
//! The Content-Security-Policy would stop an injected inline script from running anyway; the
//! element check is what proves the text never became markup.

use liaison_e2e::tablet::{DEPUTY, OFFICE, STAFF, STATION, UNIT, enroll, sign_in, wait_synced};
use liaison_e2e::{Browser, Driver, Server, api, api_sign_in, now_ms, today};
use serde_json::{Value, json};

const UNIT_ID: &str = "unit-demo-housing";

/// A field's payload: a readable tag (to find it on the page), an element with an `onerror`
/// handler, an inline script and plain markup. Every element it would make has class `pwned`.
fn payload(tag: &str) -> String {
    format!(
        "{tag}<img src=x class=pwned onerror=\"window.__xss='{tag}'\">\
         <script class=pwned>window.__xss='{tag}'</script><b class=pwned>粗</b>&amp;"
    )
}

/// A payload short enough for a name (50 characters).
fn short_payload(tag: &str) -> String {
    format!("{tag}<img src=x class=pwned onerror=__xss=1>")
}

/// Checks the page `browser` shows: none of the payloads became markup or ran, and each of
/// `shown` is on the page as the very characters that were typed.
async fn assert_shown_as_text(browser: &Browser, page: &str, shown: &[&str]) {
    let texts = serde_json::to_string(shown).unwrap();
    browser
        .wait_until(
            &format!("{page}: every payload on the page"),
            &format!("const t = document.body.innerText; return {texts}.every(s => t.includes(s))"),
        )
        .await;
    let found = browser
        .js(
            "return [typeof window.__xss, document.querySelectorAll('.pwned').length,
                    document.querySelectorAll('img[src=\"x\"]').length]",
        )
        .await;
    assert_eq!(
        found,
        json!(["undefined", 0, 0]),
        "{page}: a payload became markup or ran ([__xss, .pwned, img[src=x]])"
    );
    browser.screenshot(&format!("hostile-text-{page}")).await;
}

async fn step(server: &Server, token: &str, id: &str, action: Value) {
    let (status, body) = api(
        "POST",
        &server.url(&format!("/api/v1/opinions/{id}/steps")),
        Some(token),
        Some(&action),
    )
    .await;
    assert!(
        status == 200 || status == 201,
        "step {action} on {id}: {status} {body}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn script_and_html_in_every_free_text_field_show_as_text() {
    let server = Server::start();
    let base = server.url("");
    let base = base.trim_end_matches('/');
    let driver = Driver::start();
    let profiles: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();

    // The tablet's name is a payload too: the staff type it when they enrol the tablet.
    let device = short_payload("平板名");
    let tablet = Browser::open(&driver, profiles[0].path()).await;
    enroll(&tablet, base, &device).await;
    assert_shown_as_text(&tablet, "enrolment", &[&device]).await;
    sign_in(&tablet, base, DEPUTY).await;
    wait_synced(&tablet, "tablet online").await;

    // The deputy records an opinion with a payload in every text field of the form.
    let summary = payload("摘要");
    let details = payload("详情");
    let place = payload("地点");
    let name = short_payload("姓名");
    let address = payload("住址");
    let reply_on_site = payload("现场答复");
    tablet.click("#nav-capture").await;
    tablet.select("#field-category", "parking").await;
    tablet.type_into("#field-summary", &summary).await;
    tablet.type_into("#field-details", &details).await;
    tablet.type_into("#field-place", &place).await;
    if tablet
        .js("return document.querySelector('#field-anonymous').checked")
        .await
        == Value::Bool(true)
    {
        tablet.click("#field-anonymous").await;
    }
    tablet.type_into("#field-citizen_name", &name).await;
    tablet
        .type_into("#field-citizen_phone", "13812345678")
        .await;
    tablet.type_into("#field-citizen_address", &address).await;
    tablet.click("#field-consent").await;
    tablet
        .type_into("#field-on_site_reply", &reply_on_site)
        .await;
    tablet.click("#outcome-to_be_referred").await;
    tablet.click("#save-opinion").await;
    tablet
        .wait_until(
            "the form to be cleared after saving",
            "const s = document.querySelector('#field-summary'); return !!s && s.value === ''",
        )
        .await;
    wait_synced(&tablet, "the opinion synced").await;
    tablet.goto(&format!("{base}/records")).await;
    assert_shown_as_text(&tablet, "tablet-records", &["摘要<img src=x"]).await;
    let id = tablet
        .js("return document.querySelector('#records-list li.record').dataset.id")
        .await
        .as_str()
        .expect("the record's id")
        .to_owned();

    // Its follow-up, each free text a payload: referral note, return reason, supervision note,
    // the unit's reply, the feedback's and the evaluation's notes.
    let office = api_sign_in(&server, OFFICE.0, OFFICE.1).await;
    let unit = api_sign_in(&server, UNIT.0, UNIT.1).await;
    let staff = api_sign_in(&server, STAFF.0, STAFF.1).await;
    let refer = |note: &str| {
        json!({"action": "refer", "unit_id": UNIT_ID, "unit_name": "区住建局",
               "working_days": 10, "due": today().add_days(14), "note": note})
    };
    let refer_note = payload("交办说明");
    let return_reason = payload("退回理由");
    let second_refer_note = payload("再交办");
    let reminder = payload("催办记录");
    let unit_reply = payload("办理答复");
    let feedback_note = payload("反馈情况");
    let evaluation_note = payload("评价说明");
    step(&server, &office, &id, refer(&refer_note)).await;
    step(
        &server,
        &unit,
        &id,
        json!({"action": "return", "reason": return_reason}),
    )
    .await;
    step(&server, &office, &id, refer(&second_refer_note)).await;
    step(
        &server,
        &office,
        &id,
        json!({"action": "note", "kind": "reminder", "text": reminder}),
    )
    .await;
    step(&server, &unit, &id, json!({"action": "accept"})).await;
    step(
        &server,
        &unit,
        &id,
        json!({"action": "conclude", "conclusion": {"kind": "resolved"}, "reply": unit_reply}),
    )
    .await;
    step(
        &server,
        &staff,
        &id,
        json!({"action": "feed_back", "method": "phone", "on": today(), "note": feedback_note}),
    )
    .await;
    step(
        &server,
        &staff,
        &id,
        json!({"action": "evaluate", "evaluation": "satisfied", "note": evaluation_note}),
    )
    .await;

    // A station event whose title and note are payloads.
    let event_title = short_payload("活动");
    let event_note = payload("活动备注");
    let activity = json!({
        "id": liaison_domain::OpinionId::new_v7(now_ms(), [9; 10]).to_string(),
        "station_id": STATION,
        "kind": "collective_reception",
        "title": event_title,
        "day": today(),
        "attendees": [liaison_e2e::tablet::DEPUTY_ID],
        "citizens_received": 3,
        "note": event_note,
    });
    let (status, body) = api(
        "POST",
        &server.url("/api/v1/activities"),
        Some(&staff),
        Some(&activity),
    )
    .await;
    assert_eq!(status, 201, "activity: {body}");

    let history: Vec<&str> = vec![
        &refer_note,
        &return_reason,
        &second_refer_note,
        &reminder,
        &unit_reply,
        &feedback_note,
        &evaluation_note,
    ];
    let opinion_texts: Vec<&str> = vec![&summary, &details, &place, &reply_on_site];
    let everything: Vec<&str> = opinion_texts
        .iter()
        .chain(history.iter())
        .copied()
        .collect();

    // The tablet's own page of the record, offline-capable, after pulling the steps.
    tablet.click("#nav-sync").await;
    tablet.click("#sync-now").await;
    wait_synced(&tablet, "the steps pulled").await;
    tablet.goto(&format!("{base}/records/{id}")).await;
    tablet
        .wait_for_data("#item-status", "status", "evaluated")
        .await;
    assert_shown_as_text(&tablet, "tablet-record", &everything).await;

    // The back office: the item page, the ledger, the register, the station's events.
    let office_browser = Browser::open(&driver, profiles[1].path()).await;
    sign_in(&office_browser, base, OFFICE).await;
    office_browser.goto(&format!("{base}/items/{id}")).await;
    office_browser
        .wait_for_data("#item-status", "status", "evaluated")
        .await;
    assert_shown_as_text(&office_browser, "office-item", &everything).await;
    office_browser.goto(&format!("{base}/ledger")).await;
    assert_shown_as_text(&office_browser, "office-ledger", &[&summary]).await;
    office_browser.goto(&format!("{base}/register")).await;
    let day = today().to_string();
    office_browser.set_value("#register-from", &day).await;
    office_browser.set_value("#register-to", &day).await;
    assert_shown_as_text(&office_browser, "office-register", &[&summary]).await;
    office_browser.goto(&format!("{base}/duty")).await;
    office_browser.select("#duty-page-station", STATION).await;
    assert_shown_as_text(&office_browser, "office-duty", &[&event_title, &event_note]).await;

    // The handling unit's view of the item.
    let unit_browser = Browser::open(&driver, profiles[2].path()).await;
    sign_in(&unit_browser, base, UNIT).await;
    unit_browser.goto(&format!("{base}/items/{id}")).await;
    unit_browser
        .wait_for_data("#item-status", "status", "evaluated")
        .await;
    assert_shown_as_text(&unit_browser, "unit-item", &opinion_texts[..1]).await;

    for browser in [tablet, office_browser, unit_browser] {
        browser.close().await;
    }
}
