//! The printable reception register: its table from rows built here (citizens as the server
//! masked them), the page's print header naming the register, the scope and the period it was
//! opened with, its state without a server, and its lines cleared as soon as they are not the
//! heading's. The printed ledger's heading (open-ended dates, filters). Leaving either page while
//! it loads. And every text the statistics pages use, in both languages.

use leptos::prelude::*;
use liaison_app::components::export::export_error_key;
use liaison_app::components::figures::DRILL_DOWN;
use liaison_app::components::period::AddressQuery;
use liaison_app::figures::PeriodPreset;
use liaison_app::i18n::{I18n, Lang, text};
use liaison_app::pages::ledger::LedgerScreen;
use liaison_app::pages::register::{RegisterScreen, RegisterTable};
use liaison_app::state::AppState;
use liaison_app::storage::{Store, migrations};
use liaison_app::sync::api::{Session, SignedInUser};
use liaison_app::sync::office::OfficeError;
use liaison_domain::followup::{Date, RegisterRow, StatusKind};
use liaison_domain::{Directory, OpinionId, OutcomeKind, Role, Station, default_categories};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen_test::*;

mod common;
use common::dom::{container, find, text_of, until};
use common::test_source;

wasm_bindgen_test_configure!(run_in_browser);

async fn office_app(name: &str) -> AppState {
    Store::delete_database(name).await.unwrap();
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    let app = AppState::load(store).await;
    app.directory.set(Directory {
        stations: vec![Station {
            id: "st-a".into(),
            region_id: "r-1".into(),
            name: "幸福里联络站".into(),
            address: String::new(),
        }],
        categories: default_categories(),
        ..Directory::default()
    });
    app.sync.session.set(Some(Session {
        token: "test-token".into(),
        user: SignedInUser {
            id: "user-1".into(),
            username: "staff".into(),
            display_name: "站长".into(),
            role: Role::StationStaff,
            deputy_id: None,
            device: None,
            session_expires_at: 0,
            unit_id: None,
            scopes: vec![liaison_domain::Scope::Station("st-a".into())],
        },
    }));
    app
}

fn line(n: u8, citizen: &str, outcome: OutcomeKind, status: StatusKind) -> RegisterRow {
    RegisterRow {
        opinion_id: OpinionId::new_v7(1_700_000_000_000 + u64::from(n), [n; 10]),
        collected: Date::parse("2026-03-02").unwrap(),
        station_id: "st-a".into(),
        station_name: "幸福里联络站".into(),
        deputy_id: "deputy-1".into(),
        deputy_name: "张建国".into(),
        citizen: citizen.into(),
        category: "parking".into(),
        summary: format!("小区停车难 {n}"),
        place: "幸福里".into(),
        outcome,
        on_site_reply: "已答复".into(),
        status,
    }
}

#[wasm_bindgen_test]
async fn the_register_lists_each_opinion_with_the_citizen_masked() {
    let app = office_app("test-register-table").await;
    let i18n = I18n::load();
    i18n.set(Lang::Zh);
    let rows = vec![
        line(
            1,
            "张* 138****1234",
            OutcomeKind::AnsweredOnSpot,
            StatusKind::AnsweredOnSpot,
        ),
        line(2, "", OutcomeKind::ToBeReferred, StatusKind::Referred),
    ];
    let parent = container();
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <RegisterTable rows=Signal::stored(rows) loading=Signal::stored(false)/> }
    });
    until("the rows", || {
        find(&parent, "#register-table tr.register-row")
    })
    .await;
    let lines = parent
        .query_selector_all("#register-table tbody tr[data-id]")
        .unwrap();
    assert_eq!(lines.length(), 2);
    let first = text_of(&parent, "#register-table tbody tr:nth-child(1)").unwrap();
    for expected in [
        "1",
        "2026-03-02",
        "幸福里联络站",
        "张建国",
        "张* 138****1234",
        "停车难",
        "小区停车难 1",
        &text(Lang::Zh, "outcome.answered_on_spot"),
        "已答复",
    ] {
        assert!(first.contains(expected), "{expected} in {first}");
    }
    assert!(!first.contains("13812341234"), "never the whole phone");
    let second = text_of(&parent, "#register-table tbody tr:nth-child(2)").unwrap();
    assert!(
        second.contains(&text(Lang::Zh, "register.anonymous")),
        "{second}"
    );
    assert!(
        second.contains(&text(Lang::Zh, "status.referred")),
        "{second}"
    );
    // Printed with its header repeated on every page: the columns are in a <thead>.
    assert_eq!(
        parent
            .query_selector_all("#register-table thead th")
            .unwrap()
            .length(),
        10
    );
    parent.remove();
}

#[wasm_bindgen_test]
async fn the_register_prints_its_title_scope_and_period_and_says_when_the_server_is_missing() {
    let app = office_app("test-register-page").await;
    let i18n = I18n::load();
    i18n.set(Lang::Zh);
    let address = AddressQuery {
        from: Some("2026-03-01".into()),
        to: Some("2026-03-31".into()),
        scope: Some("station:st-a".into()),
        wall: false,
    };
    let parent = container();
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <RegisterScreen address=address/> }
    });
    let header = until("the print header", || find(&parent, "#print-header")).await;
    let printed = header.text_content().unwrap();
    assert!(printed.contains("接待登记簿"), "{printed}");
    assert!(
        printed.contains("幸福里联络站 · 2026-03-01 至 2026-03-31"),
        "{printed}"
    );
    assert!(find(&parent, "#print").is_some());
    assert!(find(&parent, "#register-table").is_some());
    // The pickers took the address's choice.
    let scope: web_sys::HtmlSelectElement =
        wasm_bindgen::JsCast::unchecked_into(find(&parent, "#register-scope").unwrap());
    until("the scope chosen", || {
        (scope.value() == "station:st-a").then_some(())
    })
    .await;
    // The test server has no API: an error, with a retry.
    let page = find(&parent, "#register").unwrap();
    until("the error state", || {
        (page.get_attribute("data-state").as_deref() == Some("error")).then_some(())
    })
    .await;
    assert!(find(&parent, "#register-error").is_some());
    // Station staff may export with personal data (after confirming).
    assert!(find(&parent, "#export-personal").is_some());
    parent.remove();
}

#[wasm_bindgen_test]
fn every_statistics_text_is_in_both_languages() {
    let mut needed: Vec<String> = Vec::new();
    needed.extend(
        PeriodPreset::OFFICE
            .iter()
            .chain(PeriodPreset::TABLET.iter())
            .map(|p| format!("period.{}", p.code())),
    );
    needed.extend(DRILL_DOWN.iter().map(|b| format!("breakdown.{}", b.code())));
    needed.extend(
        [
            "period.error.missing",
            "period.error.ends_before_start",
            "period.error.too_long",
            "exports.error.sign_in",
        ]
        .map(String::from),
    );
    for error in [
        OfficeError::Refused("personal_data_not_permitted".into()),
        OfficeError::Unreachable,
        OfficeError::Forbidden,
        OfficeError::NotOurServer,
        OfficeError::SignInNeeded,
    ] {
        needed.push(export_error_key(&error));
    }
    for key in needed {
        for lang in [Lang::Zh, Lang::En] {
            assert_ne!(text(lang, &key), key, "{key} is missing in {lang:?}");
        }
    }
    assert_eq!(text(Lang::Zh, "exports.xlsx"), "导出 Excel");
    assert_eq!(text(Lang::Zh, "exports.csv"), "导出 CSV");
    assert_eq!(
        text(Lang::Zh, "exports.personal"),
        "包含个人信息（将记入审计日志）"
    );
}

#[wasm_bindgen_test]
async fn leaving_the_register_while_it_loads_breaks_nothing() {
    common::net::watch_panics();
    let panics = common::net::panics();
    let app = office_app("test-register-leave").await;
    let i18n = I18n::load();
    i18n.set(Lang::Zh);
    let held = common::net::HeldFetch::install();
    let parent = container();
    let mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <RegisterScreen/> }
    });
    until("the register asked for", || {
        (held.waiting() >= 1).then_some(())
    })
    .await;
    assert!(
        held.urls()[0].contains("/api/v1/register?"),
        "{:?}",
        held.urls()
    );
    drop(mounted);
    parent.remove();
    held.answer(200, "[]");
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert_eq!(
        common::net::panics(),
        panics,
        "an answer after the page went"
    );
    drop(held);
}

fn table_state(parent: &web_sys::HtmlElement, table: &str) -> Option<String> {
    find(parent, table)?.get_attribute("data-state")
}

fn register_rows(parent: &web_sys::HtmlElement) -> u32 {
    parent
        .query_selector_all("#register-table tr.register-row")
        .unwrap()
        .length()
}

#[wasm_bindgen_test]
async fn another_period_or_a_failure_clears_the_register_so_it_never_prints_under_another_heading()
{
    let app = office_app("test-register-clears").await;
    let i18n = I18n::load();
    i18n.set(Lang::Zh);
    let held = common::net::HeldFetch::install();
    let address = AddressQuery {
        from: Some("2026-03-01".into()),
        to: Some("2026-03-31".into()),
        scope: Some("station:st-a".into()),
        wall: false,
    };
    let parent = container();
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <RegisterScreen address=address/> }
    });
    let lines = serde_json::to_string(&vec![
        line(
            1,
            "张* 138****1234",
            OutcomeKind::AnsweredOnSpot,
            StatusKind::AnsweredOnSpot,
        ),
        line(2, "", OutcomeKind::ToBeReferred, StatusKind::Referred),
    ])
    .unwrap();
    until("the register asked for", || {
        (held.waiting() == 1).then_some(())
    })
    .await;
    assert_eq!(
        table_state(&parent, "#register-table").as_deref(),
        Some("loading"),
        "a table still loading prints no lines"
    );
    held.answer(200, &lines);
    until("the lines", || (register_rows(&parent) == 2).then_some(())).await;
    assert_eq!(
        table_state(&parent, "#register-table").as_deref(),
        Some("ready")
    );
    // The count says what it counts: the rows of this table.
    assert_eq!(
        text_of(&parent, "#register-count").as_deref(),
        Some("本表共 2 行")
    );

    // Another period: the lines go at once, under the new heading.
    common::dom::type_into(&parent, "#register-from", "2026-02-01");
    until("the lines gone", || {
        (register_rows(&parent) == 0).then_some(())
    })
    .await;
    assert_eq!(
        table_state(&parent, "#register-table").as_deref(),
        Some("loading")
    );
    assert!(
        text_of(&parent, "#print-header")
            .unwrap()
            .contains("2026-02-01 至 2026-03-31")
    );
    until("the new period asked for", || {
        (held.waiting() == 1).then_some(())
    })
    .await;
    assert!(
        held.urls()[0].contains("from=2026-02-01"),
        "{:?}",
        held.urls()
    );
    // It fails: no lines, an error.
    held.answer(503, "busy");
    until("the error", || find(&parent, "#register-error")).await;
    assert_eq!(register_rows(&parent), 0);
    assert_eq!(
        table_state(&parent, "#register-table").as_deref(),
        Some("error")
    );
    // Tried again: the lines of this period.
    common::dom::click(&parent, "#register-retry").await;
    until("asked again", || (held.waiting() == 1).then_some(())).await;
    held.answer(200, &lines);
    until("the lines", || (register_rows(&parent) == 2).then_some(())).await;
    assert!(find(&parent, "#register-error").is_none());
    drop(held);
    parent.remove();
}

/// What the ledger's test server answers: the units, the calendar, and an empty ledger.
fn ledger_answer(url: &str) -> (u16, String) {
    if url.contains("/api/v1/ledger") || url.contains("/api/v1/units") {
        (200, "[]".into())
    } else {
        (
            404,
            r#"{"error":{"code":"not_found","message":"x"}}"#.into(),
        )
    }
}

fn choose(parent: &web_sys::HtmlElement, selector: &str, value: &str) {
    let select: web_sys::HtmlSelectElement =
        wasm_bindgen::JsCast::unchecked_into(find(parent, selector).unwrap());
    select.set_value(value);
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

fn set_date(parent: &web_sys::HtmlElement, selector: &str, value: &str) {
    let input: web_sys::HtmlInputElement =
        wasm_bindgen::JsCast::unchecked_into(find(parent, selector).unwrap());
    input.set_value(value);
    input
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn the_printed_ledger_says_its_open_ended_dates_and_every_filter_and_leaving_it_breaks_nothing()
 {
    common::net::watch_panics();
    let panics = common::net::panics();
    let app = office_app("test-ledger-print").await;
    let i18n = I18n::load();
    i18n.set(Lang::Zh);
    let held = common::net::HeldFetch::install();
    let parent = container();
    let mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <LedgerScreen/> }
    });
    let subtitle = || text_of(&parent, "#print-header .print-subtitle").unwrap_or_default();
    until("the ledger asked for", || {
        held.urls()
            .iter()
            .any(|u| u.contains("/api/v1/ledger"))
            .then_some(())
    })
    .await;
    assert_eq!(
        table_state(&parent, "#ledger-rows").as_deref(),
        Some("loading")
    );
    held.answer_each(ledger_answer);
    until("ready", || {
        (table_state(&parent, "#ledger-rows")? == "ready").then_some(())
    })
    .await;
    assert_eq!(subtitle(), "全部联络站 · 全部日期");

    set_date(&parent, "#ledger-from", "2026-03-01");
    until("from a day on", || {
        (subtitle() == "全部联络站 · 自 2026-03-01 起").then_some(())
    })
    .await;
    choose(&parent, "#ledger-status", "referred");
    choose(&parent, "#ledger-colour", "overdue");
    choose(&parent, "#ledger-category", "parking");
    let expected = format!(
        "全部联络站 · 自 2026-03-01 起 · 状态：{} · 类别：停车难 · 督办颜色：{}",
        text(Lang::Zh, "status.referred"),
        text(Lang::Zh, "deadline.overdue")
    );
    until("every filter printed", || {
        (subtitle() == expected).then_some(())
    })
    .await;
    set_date(&parent, "#ledger-from", "");
    set_date(&parent, "#ledger-to", "2026-03-31");
    until("up to a day", || {
        subtitle()
            .starts_with("全部联络站 · 至 2026-03-31 · ")
            .then_some(())
    })
    .await;
    // A request under way as the page goes: its answer comes later and does nothing.
    until("the ledger asked for again", || {
        held.urls()
            .iter()
            .any(|u| u.contains("to=2026-03-31"))
            .then_some(())
    })
    .await;
    assert_eq!(
        table_state(&parent, "#ledger-rows").as_deref(),
        Some("loading")
    );
    drop(mounted);
    parent.remove();
    held.answer_each(ledger_answer);
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert_eq!(
        common::net::panics(),
        panics,
        "an answer after the page went"
    );
    drop(held);
}
