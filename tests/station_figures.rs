//! The station's figures from the tablet's own records, with no server: opinions, their local
//! follow-up steps and attendance stored in real IndexedDB through the storage API, counted by
//! the domain's `count` (the function the server's SQL is tested against), and shown by the
//! `/station-figures` page.

use leptos::prelude::*;
use liaison_app::figures::station_figures;
use liaison_app::i18n::{I18n, Lang};
use liaison_app::pages::station_figures::StationFiguresScreen;
use liaison_app::state::AppState;
use liaison_app::storage::{Store, migrations};
use liaison_domain::figures::{Figure, OpinionFacts, Period, count};
use liaison_domain::followup::{Action, AttendanceKey, AttendanceMark, Conclusion, Date, Mark};
use liaison_domain::{OutcomeKind, Role};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

mod common;
use common::dom::{container, find, until};
use common::{actor, context, opinion, step, test_source};

wasm_bindgen_test_configure!(run_in_browser);

fn d(text: &str) -> Date {
    Date::parse(text).unwrap()
}

/// 2023-11-16 10:00 China time, in ms.
const NEXT_DAY_MS: u64 = 1_700_100_000_000;

/// A store holding, at station `st-a`: one opinion answered on the spot, one referred (office
/// staff) and concluded the next day (its unit), one waiting to be referred; one opinion at
/// `st-b`; sign-ins of two deputies in November and one in December, a sign-out only, and one at
/// `st-b`. Every opinion was recorded on 2023-11-15 (China time).
async fn station_with_records(name: &str) -> Store {
    Store::delete_database(name).await.unwrap();
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    let answered = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    let referred = opinion(2, "st-a", "parking", OutcomeKind::ToBeReferred);
    let waiting = opinion(3, "st-a", "roads_lighting", OutcomeKind::ToBeReferred);
    let elsewhere = opinion(4, "st-b", "parking", OutcomeKind::AnsweredOnSpot);
    common::unlock(&store, "deputy").await;
    for o in [&answered, &referred, &waiting, &elsewhere] {
        store.save_opinion(o, None).await.unwrap();
    }
    let office = actor(Role::OfficeStaff);
    let unit = actor(Role::HandlingUnit);
    let steps = [
        step(
            1,
            office,
            Action::Refer {
                unit_id: "unit-1".into(),
                unit_name: "区住建局".into(),
                working_days: 5,
                due: d("2023-11-22"),
                note: String::new(),
            },
            1_700_000_300_000,
        ),
        step(2, unit.clone(), Action::Accept, 1_700_000_400_000),
        step(
            3,
            unit,
            Action::Conclude {
                conclusion: Conclusion::Resolved,
                reply: "已划定车位".into(),
            },
            NEXT_DAY_MS,
        ),
    ];
    for s in &steps {
        store.record_follow_up(referred.id, s).await.unwrap();
    }
    let mark = |station: &str, deputy: &str, day: &str, mark: Mark| AttendanceMark {
        key: AttendanceKey {
            station_id: station.into(),
            deputy_id: deputy.into(),
            day: d(day),
        },
        mark,
        at_ms: 1_700_000_500_000,
    };
    for m in [
        mark("st-a", "deputy-1", "2023-11-15", Mark::SignIn),
        mark("st-a", "deputy-1", "2023-11-15", Mark::SignOut),
        mark("st-a", "deputy-2", "2023-11-16", Mark::SignIn),
        mark("st-a", "deputy-1", "2023-12-01", Mark::SignIn),
        mark("st-a", "deputy-3", "2023-11-20", Mark::SignOut),
        mark("st-b", "deputy-9", "2023-11-15", Mark::SignIn),
    ] {
        store.mark_attendance(&m).await.unwrap();
    }
    store
}

fn november() -> Period {
    Period::new(d("2023-11-01"), d("2023-11-30")).unwrap()
}

#[wasm_bindgen_test]
async fn the_station_figures_are_the_domains_count_over_the_local_records() {
    let store = station_with_records("test-station-figures-count").await;
    let items = store.station_items(&"st-a".into()).await.unwrap();
    assert_eq!(items.len(), 3, "st-a's records only");
    assert_eq!(items[1].steps.len(), 3, "with their local steps");
    let attendance = store
        .attendance_between(&"st-a".into(), d("2023-11-01"), d("2023-11-30"))
        .await
        .unwrap();
    assert_eq!(attendance.len(), 3, "November at st-a, one a sign-out only");

    let figures = station_figures(&items, &attendance, &november(), d("2023-11-30"));
    let shown = |f: Figure| figures.display(f);
    assert_eq!(shown(Figure::OpinionsCollected), "3");
    assert_eq!(
        shown(Figure::CitizensReceived),
        "3",
        "no events on the tablet"
    );
    assert_eq!(shown(Figure::AnsweredOnTheSpot), "1");
    assert_eq!(shown(Figure::Referred), "1");
    assert_eq!(shown(Figure::Concluded), "1");
    assert_eq!(shown(Figure::Overdue), "0");
    assert_eq!(shown(Figure::HandlingRate), "100.0%");
    assert_eq!(shown(Figure::SatisfactionRate), "—", "nothing evaluated");
    assert_eq!(
        shown(Figure::DutyShifts),
        "2",
        "a sign-out alone is no shift"
    );
    assert_eq!(shown(Figure::DeputiesOnDuty), "2");

    // Exactly the domain's count over the derived facts: no second implementation.
    let facts: Vec<OpinionFacts> = items
        .iter()
        .map(|i| OpinionFacts::derive(&i.opinion, &i.steps))
        .collect();
    let attendance_facts: Vec<_> = attendance
        .iter()
        .filter_map(liaison_domain::figures::AttendanceFact::of)
        .collect();
    assert_eq!(
        figures,
        count(&facts, &attendance_facts, &[], &november(), d("2023-11-30"))
    );

    // The day of the conclusion alone: concluded, not collected; nobody signed in twice.
    let next_day = Period::new(d("2023-11-16"), d("2023-11-16")).unwrap();
    let attendance = store
        .attendance_between(&"st-a".into(), next_day.from, next_day.to)
        .await
        .unwrap();
    let figures = station_figures(&items, &attendance, &next_day, d("2023-11-30"));
    assert_eq!(figures.opinions_collected, 0);
    assert_eq!(figures.concluded, 1);
    assert_eq!(figures.referred, 0);
    assert_eq!(figures.duty_shifts, 1);
    store.close();
}

fn set_date(parent: &web_sys::HtmlElement, selector: &str, value: &str) {
    let input: web_sys::HtmlInputElement = find(parent, selector).unwrap().unchecked_into();
    input.set_value(value);
    input
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn the_page_shows_the_stations_figures_for_the_period_chosen_offline() {
    let store = station_with_records("test-station-figures-page").await;
    let app = AppState::load(store).await;
    app.duty.set(Some(context("st-a")));
    let i18n = I18n::load();
    i18n.set(Lang::Zh);
    let parent = container();
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <StationFiguresScreen/> }
    });
    let page = until("the page", || find(&parent, "#station-figures")).await;
    // This month (today, years after the records): nothing.
    until("this month's figures", || {
        find(&parent, "#station-figure-opinions_collected")
            .filter(|c| c.get_attribute("data-value").as_deref() == Some("0"))
    })
    .await;
    assert_eq!(page.get_attribute("data-state").as_deref(), Some("ready"));
    let note = find(&parent, "#station-figures-note")
        .unwrap()
        .text_content()
        .unwrap();
    assert!(note.contains("本平板"), "{note}");

    // November 2023, typed in: the period becomes custom.
    set_date(&parent, "#station-figures-from", "2023-11-01");
    set_date(&parent, "#station-figures-to", "2023-11-30");
    let card = until("November's figures", || {
        find(&parent, "#station-figure-opinions_collected")
            .filter(|c| c.get_attribute("data-value").as_deref() == Some("3"))
    })
    .await;
    assert!(card.text_content().unwrap().contains('3'));
    let value = |code: &str| {
        find(&parent, &format!("#station-figure-{code}"))
            .and_then(|c| c.get_attribute("data-value"))
            .unwrap()
    };
    assert_eq!(value("answered_on_the_spot"), "1");
    assert_eq!(value("referred"), "1");
    assert_eq!(value("concluded"), "1");
    assert_eq!(value("duty_shifts"), "2");
    assert_eq!(value("deputies_on_duty"), "2");
    assert_eq!(value("handling_rate"), "100.0%");
    assert_eq!(value("satisfaction_rate"), "—");
    let period: web_sys::HtmlSelectElement = find(&parent, "#station-figures-period")
        .unwrap()
        .unchecked_into();
    assert_eq!(period.value(), "custom");

    // A period that ends before it starts is refused, and said so.
    set_date(&parent, "#station-figures-from", "2023-12-01");
    until("the period's problem", || {
        find(&parent, "#station-figures-period-error")
    })
    .await;
    parent.remove();
}

#[wasm_bindgen_test]
async fn leaving_the_station_figures_while_they_are_counted_breaks_nothing() {
    common::net::watch_panics();
    let panics = common::net::panics();
    let store = station_with_records("test-station-figures-leave").await;
    let app = AppState::load(store).await;
    app.duty.set(Some(context("st-a")));
    let i18n = I18n::load();
    i18n.set(Lang::Zh);
    let parent = container();
    let mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <StationFiguresScreen/> }
    });
    let page = until("the page", || find(&parent, "#station-figures")).await;
    assert_eq!(page.get_attribute("data-state").as_deref(), Some("loading"));
    // Gone while the records are read; a record changing afterwards asks nothing of it.
    leptos::task::tick().await;
    drop(mounted);
    parent.remove();
    app.records_version.update(|v| *v += 1);
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert_eq!(common::net::panics(), panics, "counted after the page went");
}
