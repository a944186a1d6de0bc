//! Issue 6 in the back office: the audit log viewer (records in words, the filters sent as the
//! query and kept in the address, older pages by `before`, a 403 in plain words, leaving the
//! page mid-request) and a citizen unmasked item by item (the purpose sent, the answer shown
//! and hidden again, an empty purpose refused without a request, the server's refusals in
//! words, no button for a deputy). Server answers come from the test-held `fetch`.

use leptos::prelude::*;
use liaison_app::components::unmask::UnmaskCitizen;
use liaison_app::i18n::{Lang, text, text_with};
use liaison_app::pages::audit::AuditScreen;
use liaison_app::state::AppState;
use liaison_app::storage::{Store, migrations};
use liaison_app::sync::audit::{
    AUDIT_PAGE, AuditFilters, audit_address, audit_query_string, read_unmask_answer,
};
use liaison_app::sync::office::{OfficeError, office_error_key};
use liaison_domain::audit::AuditRecord;
use liaison_domain::citizen::{Citizen, Consent, Phone};
use liaison_domain::{
    Directory, Field, FieldError, OpinionId, RegionId, Role, Station, StationId, ValidationErrors,
};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

mod common;
use common::dom::mount_with_i18n;
use common::dom::{click, container, find, text_of, type_into, until};
use common::net::HeldFetch;
use common::{office_session, test_source};

wasm_bindgen_test_configure!(run_in_browser);

fn zh(key: &str) -> String {
    text(Lang::Zh, key)
}

/// The app's state over a fresh database, signed in as `role`, with one station known.
async fn app_state(name: &str, role: Role) -> AppState {
    Store::delete_database(name).await.unwrap();
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    let app = AppState::load(store).await;
    app.directory.set(Directory {
        stations: vec![Station {
            id: StationId("st-a".into()),
            region_id: RegionId("r-1".into()),
            name: "幸福里联络站".into(),
            address: String::new(),
        }],
        ..Directory::default()
    });
    app.sync.session.set(Some(office_session(role)));
    app
}

fn record(id: i64, action: &str, detail: serde_json::Value) -> AuditRecord {
    AuditRecord {
        id,
        // 2023-11-14 22:13:20 UTC: 2023-11-15 06:13 in China.
        at_ms: 1_700_000_000_000,
        user_id: "u-2".into(),
        username: "office2".into(),
        display_name: "王办".into(),
        action: action.into(),
        detail,
        station_id: Some("st-a".into()),
    }
}

/// A full first page: a few records of known shapes, then steps down to id 951.
fn first_page() -> Vec<AuditRecord> {
    use serde_json::json;
    let mut page = vec![
        record(
            1000,
            "unmask_personal_data",
            json!({"opinion_id": "x", "purpose": "回访群众", "fields": ["name"]}),
        ),
        record(
            999,
            "export_register",
            json!({"format": "xlsx", "personal": true, "rows": 12}),
        ),
        record(998, "step", json!({"action": "refer"})),
        record(997, "device_revoked", json!({"device_id": "dev-9"})),
        record(996, "brand_new_action", json!({})),
    ];
    page.extend((0..AUDIT_PAGE as i64 - 5).map(|n| record(995 - n, "sign_in", json!({}))));
    page
}

fn rows(parent: &web_sys::HtmlElement) -> Vec<web_sys::Element> {
    let list = parent
        .query_selector_all("#audit-table tr.audit-row")
        .unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<web_sys::Element>().ok())
        .collect()
}

fn state_of(parent: &web_sys::HtmlElement) -> Option<String> {
    find(parent, "#audit-state")?.get_attribute("data-state")
}

fn choose(parent: &web_sys::HtmlElement, selector: &str, value: &str) {
    let select: web_sys::HtmlSelectElement = find(parent, selector).unwrap().unchecked_into();
    select.set_value(value);
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

fn commit(parent: &web_sys::HtmlElement, selector: &str, value: &str) {
    let input: web_sys::HtmlInputElement = find(parent, selector).unwrap().unchecked_into();
    input.set_value(value);
    input
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
fn the_filters_go_as_the_query_and_into_the_address() {
    let none = AuditFilters::default();
    assert_eq!(audit_query_string(&none, None), "?limit=50");
    assert_eq!(audit_address(&none), "/audit");
    let filters = AuditFilters {
        action: "export_ledger".into(),
        actor: " zhang ".into(),
        station: "st-a".into(),
        from: "2026-11-01".into(),
        to: "2026-11-30".into(),
    };
    assert_eq!(
        audit_query_string(&filters, Some(951)),
        "?action=export_ledger&actor=zhang&station=st-a&from=2026-11-01&to=2026-11-30&before=951&limit=50"
    );
    let address = audit_address(&filters);
    assert_eq!(
        address,
        "/audit?action=export_ledger&actor=zhang&station=st-a&from=2026-11-01&to=2026-11-30"
    );
    // A bookmark of that address opens the same view.
    let query: Vec<(String, String)> = address["/audit?".len()..]
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let read = AuditFilters::from_query(|name| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    });
    assert_eq!(
        read,
        AuditFilters {
            actor: "zhang".into(),
            ..filters
        }
    );
    // Text is escaped in the query.
    let odd = AuditFilters {
        actor: "a&b=c".into(),
        ..Default::default()
    };
    assert_eq!(audit_address(&odd), "/audit?actor=a%26b%3Dc");
}

#[wasm_bindgen_test]
fn the_server_codes_the_viewer_and_unmasking_meet_have_words() {
    for code in [
        "too_many_requests",
        "json_too_deep",
        "invalid_filter",
        "invalid_date",
        "invalid_number",
        "personal_data_not_permitted",
    ] {
        let key = office_error_key(&OfficeError::Refused(code.into()));
        assert_eq!(key, format!("office.error.{code}"));
        for lang in [Lang::Zh, Lang::En] {
            assert_ne!(text(lang, &key), key, "{lang:?} {key}");
        }
    }
    let refusal = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"x"}}}}"#);
    // The server's own rate limit: nothing was done; wait.
    assert_eq!(
        liaison_app::sync::office::read_answer::<()>(Some(429), &refusal("too_many_requests")),
        Err(OfficeError::Refused("too_many_requests".into()))
    );
    assert_eq!(
        read_unmask_answer(Some(403), &refusal("personal_data_not_permitted")),
        Err(OfficeError::Refused("personal_data_not_permitted".into()))
    );
    assert_eq!(
        read_unmask_answer(Some(403), &refusal("forbidden")),
        Err(OfficeError::Forbidden)
    );
    assert_eq!(
        read_unmask_answer(Some(404), &refusal("not_found")),
        Err(OfficeError::NotFound)
    );
    assert_eq!(read_unmask_answer(None, ""), Err(OfficeError::Unreachable));
}

#[wasm_bindgen_test]
async fn the_viewer_shows_records_in_words_sends_its_filters_and_pages_older() {
    let app = app_state("test-audit-viewer", Role::OfficeStaff).await;
    let held = HeldFetch::install();
    let parent = container();
    let bookmarked = AuditFilters {
        action: "unmask_personal_data".into(),
        ..Default::default()
    };
    let _mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <AuditScreen filters=bookmarked/> }
    });
    until("the first page asked for", || {
        (held.waiting() == 1).then_some(())
    })
    .await;
    assert!(
        held.urls()[0]
            .trim_end_matches('&')
            .ends_with("/api/v1/audit?action=unmask_personal_data&limit=50"),
        "{:?}",
        held.urls()
    );
    assert_eq!(state_of(&parent).as_deref(), Some("loading"));
    let select: web_sys::HtmlSelectElement =
        find(&parent, "#audit-action").unwrap().unchecked_into();
    assert_eq!(
        select.value(),
        "unmask_personal_data",
        "the bookmark's filter is chosen"
    );
    held.answer(200, &serde_json::to_string(&first_page()).unwrap());
    until("ready", || (state_of(&parent)? == "ready").then_some(())).await;
    let shown = rows(&parent);
    assert_eq!(shown.len(), AUDIT_PAGE);
    let cells = |row: &web_sys::Element| -> Vec<String> {
        let list = row.query_selector_all("td").unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().text_content().unwrap_or_default())
            .collect()
    };
    assert_eq!(shown[0].get_attribute("data-id").as_deref(), Some("1000"));
    assert_eq!(
        shown[0].get_attribute("data-action").as_deref(),
        Some("unmask_personal_data")
    );
    assert_eq!(
        cells(&shown[0]),
        vec![
            "2023-11-15 06:13".to_owned(),
            "王办（office2）".to_owned(),
            zh("audit.action.unmask_personal_data"),
            "幸福里联络站".to_owned(),
            text_with(
                Lang::Zh,
                "audit.detail.unmask",
                &[("purpose", "回访群众".into())]
            ),
        ]
    );
    assert_eq!(
        cells(&shown[1])[4],
        text_with(
            Lang::Zh,
            "audit.detail.export_personal",
            &[("format", "XLSX".into()), ("rows", "12".into())]
        )
    );
    assert_eq!(
        cells(&shown[2])[4],
        text_with(
            Lang::Zh,
            "audit.detail.step",
            &[("action", zh("action.refer"))]
        )
    );
    // A detail without words of its own is shown raw; an action this app does not know, by its
    // code.
    assert_eq!(cells(&shown[3])[4], r#"{"device_id":"dev-9"}"#);
    assert_eq!(cells(&shown[4])[2], "brand_new_action");

    // Older: the records below the last id shown.
    click(&parent, "#audit-more").await;
    until("the older page asked for", || {
        (held.waiting() == 1).then_some(())
    })
    .await;
    assert!(
        held.urls()[0]
            .trim_end_matches('&')
            .ends_with("/api/v1/audit?action=unmask_personal_data&before=951&limit=50"),
        "{:?}",
        held.urls()
    );
    let older = vec![
        record(950, "sign_out", serde_json::json!({})),
        record(949, "lockout", serde_json::json!({"username": "zhang"})),
    ];
    held.answer(200, &serde_json::to_string(&older).unwrap());
    until("the older records", || {
        (rows(&parent).len() == AUDIT_PAGE + 2).then_some(())
    })
    .await;
    assert_eq!(
        rows(&parent)
            .last()
            .unwrap()
            .get_attribute("data-id")
            .as_deref(),
        Some("949")
    );
    assert!(
        find(&parent, "#audit-more").is_none(),
        "a short page is the last"
    );

    // Other filters: asked for again, the table cleared at once.
    choose(&parent, "#audit-action", "");
    choose(&parent, "#audit-station", "st-a");
    commit(&parent, "#audit-actor", "Zhang");
    commit(&parent, "#audit-from", "2026-11-01");
    commit(&parent, "#audit-to", "2026-11-30");
    until("the filtered page asked for", || {
        held.urls()
            .iter()
            .any(|u| {
                u.trim_end_matches('&').ends_with(
                    "/api/v1/audit?actor=Zhang&station=st-a&from=2026-11-01&to=2026-11-30&limit=50",
                )
            })
            .then_some(())
    })
    .await;
    assert!(
        rows(&parent).is_empty(),
        "the previous filters' records are gone"
    );
    held.answer(200, "[]");
    until("ready", || (state_of(&parent)? == "ready").then_some(())).await;
    assert!(find(&parent, "#audit-empty").is_some());
    drop(held);
    parent.remove();
}

#[wasm_bindgen_test]
async fn a_role_the_server_refuses_is_told_it_may_not_read_the_log() {
    let app = app_state("test-audit-forbidden", Role::OfficeStaff).await;
    let held = HeldFetch::install();
    let parent = container();
    let _mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <AuditScreen/> }
    });
    until("asked", || (held.waiting() == 1).then_some(())).await;
    held.answer(403, r#"{"error":{"code":"forbidden","message":"x"}}"#);
    until("forbidden", || {
        (state_of(&parent)? == "forbidden").then_some(())
    })
    .await;
    assert_eq!(
        text_of(&parent, "#audit-error p").unwrap(),
        zh("audit.forbidden")
    );
    assert!(find(&parent, "#audit-retry").is_none());
    assert!(rows(&parent).is_empty());
    drop(held);
    parent.remove();
}

#[wasm_bindgen_test]
async fn leaving_the_viewer_while_it_loads_breaks_nothing() {
    common::net::watch_panics();
    let panics = common::net::panics();
    let app = app_state("test-audit-leave", Role::Admin).await;
    let held = HeldFetch::install();
    let parent = container();
    let mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <AuditScreen/> }
    });
    until("asked", || (held.waiting() == 1).then_some(())).await;
    drop(mounted);
    parent.remove();
    held.answer(200, &serde_json::to_string(&first_page()).unwrap());
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert_eq!(
        common::net::panics(),
        panics,
        "an answer after the page went"
    );
    drop(held);
}

fn opinion_id() -> OpinionId {
    OpinionId::new_v7(1_700_000_000_000, [3; 10])
}

fn citizen() -> Citizen {
    Citizen {
        anonymous: false,
        name: Some("张三丰".into()),
        phone: Phone::parse("138 1234 5678"),
        address: Some("幸福里 3 号楼 201".into()),
        consent: Some(Consent {
            notice_version: "2026-11-v1".into(),
            given_at_ms: 1_700_000_000_000,
        }),
    }
}

async fn mount_unmask(
    name: &str,
    role: Role,
    has_personal_data: bool,
) -> (
    web_sys::HtmlElement,
    leptos::mount::UnmountHandle<impl leptos::tachys::view::Mountable>,
) {
    let app = app_state(name, role).await;
    let parent = container();
    let mounted = mount_with_i18n(&parent, move || {
        provide_context(app);
        view! { <UnmaskCitizen opinion=opinion_id() has_personal_data=has_personal_data/> }
    });
    (parent, mounted)
}

#[wasm_bindgen_test]
async fn the_citizen_is_unmasked_for_a_purpose_and_masked_again() {
    let held = HeldFetch::install();
    let (parent, _mounted) = mount_unmask("test-unmask-flow", Role::OfficeStaff, true).await;
    click(&parent, "#unmask").await;
    until("the dialog", || find(&parent, "#unmask-purpose")).await;

    // No purpose: refused here, nothing sent.
    type_into(&parent, "#unmask-purpose", "   ");
    click(&parent, "#unmask-submit").await;
    let error = until("the purpose's error", || text_of(&parent, "#unmask-error")).await;
    assert_eq!(error, zh("error.required"));
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert_eq!(held.waiting(), 0, "{:?}", held.urls());

    type_into(&parent, "#unmask-purpose", " 回访群众 ");
    click(&parent, "#unmask-submit").await;
    until("the unmasking asked for", || {
        (held.waiting() == 1).then_some(())
    })
    .await;
    assert!(
        held.urls()[0]
            .trim_end_matches('&')
            .ends_with(&format!("/api/v1/opinions/{}/personal-data", opinion_id())),
        "{:?}",
        held.urls()
    );
    let body = until("the body read", || held.bodies()[0].clone()).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"purpose": "回访群众"})
    );
    assert!(find(&parent, "#unmask-error").is_none());
    held.answer(
        200,
        &serde_json::json!({"opinion_id": opinion_id(), "citizen": citizen()}).to_string(),
    );
    let name = until("the name", || text_of(&parent, "#unmasked-name")).await;
    assert_eq!(name, "张三丰");
    assert_eq!(text_of(&parent, "#unmasked-phone").unwrap(), "13812345678");
    assert_eq!(
        text_of(&parent, "#unmasked-address").unwrap(),
        "幸福里 3 号楼 201"
    );
    assert_eq!(
        text_of(&parent, "#unmask-recorded").unwrap(),
        zh("unmask.recorded")
    );
    assert!(
        find(&parent, "#unmask-purpose").is_none(),
        "the dialog closed"
    );

    // Hidden again: the mask is back, and the button.
    click(&parent, "#unmask-hide").await;
    until("the button again", || find(&parent, "#unmask")).await;
    assert!(find(&parent, "#unmasked-name").is_none());
    assert!(!parent.inner_html().contains("13812345678"));

    // The cancel button closes the dialog without asking.
    click(&parent, "#unmask").await;
    click(&parent, "#unmask-cancel").await;
    until("closed", || find(&parent, "#unmask")).await;
    assert_eq!(held.waiting(), 0);
    drop(held);
    parent.remove();
}

#[wasm_bindgen_test]
async fn the_servers_refusals_of_an_unmasking_are_said_in_words() {
    let held = HeldFetch::install();
    let (parent, _mounted) = mount_unmask("test-unmask-refused", Role::StationStaff, true).await;
    let ask = |purpose: &'static str| {
        let parent = parent.clone();
        async move {
            if find(&parent, "#unmask-purpose").is_none() {
                click(&parent, "#unmask").await;
            }
            until("the dialog", || find(&parent, "#unmask-purpose")).await;
            type_into(&parent, "#unmask-purpose", purpose);
            click(&parent, "#unmask-submit").await;
        }
    };
    ask("核实身份").await;
    until("asked", || (held.waiting() == 1).then_some(())).await;
    held.answer(
        403,
        r#"{"error":{"code":"personal_data_not_permitted","message":"x"}}"#,
    );
    let error = until("the 403's words", || text_of(&parent, "#unmask-error")).await;
    assert_eq!(error, zh("office.error.personal_data_not_permitted"));
    assert!(find(&parent, "#unmasked-name").is_none());

    // The server's own check of the purpose, next to it.
    ask("核实身份").await;
    until("asked", || (held.waiting() == 1).then_some(())).await;
    let mut errors = ValidationErrors::default();
    errors.push(Field::Purpose, FieldError::ControlCharacter);
    held.answer(
        422,
        &serde_json::json!({"error": {"code": "invalid", "message": "x", "errors": errors}})
            .to_string(),
    );
    until("the purpose's error", || {
        (text_of(&parent, "#unmask-error")? == zh("error.control_character")).then_some(())
    })
    .await;

    ask("核实身份").await;
    until("asked", || (held.waiting() == 1).then_some(())).await;
    held.answer(404, r#"{"error":{"code":"not_found","message":"x"}}"#);
    until("the 404's words", || {
        (text_of(&parent, "#unmask-error")? == zh("office.error.not_found")).then_some(())
    })
    .await;
    drop(held);
    parent.remove();
}

#[wasm_bindgen_test]
async fn a_deputy_gets_no_unmask_button_nor_does_an_item_without_personal_data() {
    let (parent, _mounted) = mount_unmask("test-unmask-deputy", Role::Deputy, true).await;
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert!(find(&parent, "#unmask").is_none());
    parent.remove();
    let (parent, _mounted) = mount_unmask("test-unmask-nothing", Role::OfficeStaff, false).await;
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert!(find(&parent, "#unmask").is_none());
    parent.remove();
    // The control: staff with a masked citizen get it.
    let (parent, _mounted) = mount_unmask("test-unmask-staff", Role::Admin, true).await;
    until("the button", || find(&parent, "#unmask")).await;
    parent.remove();
}
