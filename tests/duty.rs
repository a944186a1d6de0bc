//! The station duty page (`/duty`) without a server: the roster's 14 China days, the requests it
//! builds, how it reads the server's answers to its writes, which stations and controls an
//! account gets, and the activity form driven through the DOM (its id kept for a resend, the
//! server's field errors next to the fields, a new id once saved).

use leptos::prelude::*;
use liaison_app::i18n::{I18n, Lang, text, text_with};
use liaison_app::pages::duty::{
    ActivityForm, may_keep_roster, may_record_activities, readable_stations, save_error_key,
};
use liaison_app::sync::api::{DeviceRef, SignedInUser};
use liaison_app::sync::duty::{
    ActivityInput, RosterDay, attendance_period, china_day, on_duty, period_query, roster_days,
    same_deputies,
};
use liaison_app::sync::office::{OfficeError, read_no_content_answer, read_stored_answer};
use liaison_domain::followup::{Activity, ActivityKind, Date, RosterEntry};
use liaison_domain::{
    Deputy, DeputyId, Directory, Field, FieldError, Region, Role, Scope, Station, StationId,
    ValidationErrors,
};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

mod common;
use common::dom::{container, find, text_of, type_into, until};

wasm_bindgen_test_configure!(run_in_browser);

fn day(text: &str) -> Date {
    Date::parse(text).unwrap()
}

// 2026-11-27 09:00 in Beijing (01:00 UTC).
const NINE_BEIJING: u64 = 1_795_741_200_000;
const HOUR: u64 = 3_600_000;

#[wasm_bindgen_test]
fn the_roster_shows_fourteen_china_days_from_today() {
    // 23:59 in Beijing is still the 27th; 16:00 UTC the same evening is the 28th there, while
    // a device set to UTC (or Europe) still shows the 27th.
    assert_eq!(
        china_day(NINE_BEIJING + 14 * HOUR + 59 * 60_000),
        day("2026-11-27")
    );
    let after_midnight = NINE_BEIJING + 15 * HOUR + 30 * 60_000;
    assert_eq!(china_day(after_midnight), day("2026-11-28"));

    let days = roster_days(china_day(after_midnight));
    assert_eq!(days.len(), 14);
    assert_eq!(days[0], day("2026-11-28"));
    assert_eq!(days[13], day("2026-12-11"));
    assert!(days.windows(2).all(|w| w[0].days_until(w[1]) == 1));
    // Attendance: today and the six days before it.
    assert_eq!(
        attendance_period(day("2026-11-28")),
        (day("2026-11-22"), day("2026-11-28"))
    );
}

#[wasm_bindgen_test]
fn requests_name_the_station_the_period_and_the_days_roster() {
    assert_eq!(
        period_query(
            &StationId("st a&b".into()),
            Some(day("2026-11-22")),
            Some(day("2026-11-28"))
        ),
        "?station=st%20a%26b&from=2026-11-22&to=2026-11-28"
    );
    assert_eq!(period_query(&"st-1".into(), None, None), "?station=st-1");
    let body = RosterDay {
        station_id: "st-1".into(),
        day: day("2026-11-28"),
        deputy_ids: vec!["d-1".into(), "d-2".into()],
    };
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        serde_json::json!({"station_id": "st-1", "day": "2026-11-28", "deputy_ids": ["d-1", "d-2"]})
    );
    // The day's deputies from the roster, only that station's and that day's.
    let entry = |station: &str, on: &str, deputy: &str| RosterEntry {
        station_id: station.into(),
        day: day(on),
        deputy_id: deputy.into(),
    };
    let entries = [
        entry("st-1", "2026-11-28", "d-1"),
        entry("st-2", "2026-11-28", "d-9"),
        entry("st-1", "2026-11-29", "d-3"),
        entry("st-1", "2026-11-28", "d-2"),
    ];
    let picked = on_duty(&entries, &"st-1".into(), day("2026-11-28"));
    assert_eq!(picked, vec![DeputyId::from("d-1"), DeputyId::from("d-2")]);
    assert!(same_deputies(&picked, &["d-2".into(), "d-1".into()]));
    assert!(!same_deputies(&picked, &["d-1".into()]));
}

fn activity(id: &str) -> Activity {
    Activity {
        id: id.into(),
        station_id: "st-1".into(),
        kind: ActivityKind::Survey,
        title: "调研老旧小区加装电梯".into(),
        day: day("2026-11-27"),
        attendees: vec!["d-1".into()],
        citizens_received: 12,
        note: String::new(),
    }
}

#[wasm_bindgen_test]
fn only_the_servers_own_answers_count_for_duty_writes() {
    let stored = activity("0190f0a0-0000-7000-8000-000000000001");
    let json = serde_json::to_string(&stored).unwrap();
    // 201 stored now, 200 stored before (a resend): both the server's JSON.
    assert_eq!(read_stored_answer(Some(201), &json), Ok(stored.clone()));
    assert_eq!(read_stored_answer(Some(200), &json), Ok(stored));
    let html = "<html><body>Please sign in to the Wi-Fi</body></html>";
    let portal: Result<Activity, _> = read_stored_answer(Some(201), html);
    assert_eq!(portal, Err(OfficeError::NotOurServer));
    let no_answer: Result<Activity, _> = read_stored_answer(None, "");
    assert_eq!(no_answer, Err(OfficeError::Unreachable));
    let portal_401: Result<Activity, _> = read_stored_answer(Some(401), html);
    assert_eq!(portal_401, Err(OfficeError::NotOurServer));
    let busy: Result<Activity, _> = read_stored_answer(Some(502), html);
    assert_eq!(busy, Err(OfficeError::ServerBusy));
    let invalid = r#"{"error":{"code":"invalid","message":"x","errors":[["title",{"code":"required"}],["attendees",{"code":"unknown_choice"}]]}}"#;
    let refused: Result<Activity, _> = read_stored_answer(Some(422), invalid);
    assert_eq!(
        refused,
        Err(OfficeError::Invalid(ValidationErrors(vec![
            (Field::Title, FieldError::Required),
            (Field::Attendees, FieldError::UnknownChoice),
        ])))
    );
    let taken = r#"{"error":{"code":"already_exists","message":"x"}}"#;
    let taken: Result<Activity, _> = read_stored_answer(Some(422), taken);
    assert_eq!(taken, Err(OfficeError::Refused("already_exists".into())));

    // A roster day: 204 with no body is the server's; a portal's 200 page is not.
    assert_eq!(read_no_content_answer(Some(204), ""), Ok(()));
    assert_eq!(
        read_no_content_answer(Some(200), html),
        Err(OfficeError::NotOurServer)
    );
    assert_eq!(
        read_no_content_answer(Some(204), html),
        Err(OfficeError::NotOurServer)
    );
    assert_eq!(
        read_no_content_answer(None, ""),
        Err(OfficeError::Unreachable)
    );
    assert_eq!(
        read_no_content_answer(Some(403), r#"{"error":{"code":"forbidden","message":"x"}}"#),
        Err(OfficeError::Forbidden)
    );
}

#[wasm_bindgen_test]
fn the_activity_form_is_checked_by_the_domains_rules() {
    let station: StationId = "st-1".into();
    let typed = ActivityInput {
        kind: "inspection".into(),
        title: "  视察社区食堂  ".into(),
        day: "2026-11-27".into(),
        attendees: vec!["d-1".into(), "d-2".into(), "d-1".into()],
        citizens: " 12 ".into(),
        note: " 带去群众意见 ".into(),
    };
    let built = typed.build("id-1", &station).unwrap();
    assert_eq!(built.id, "id-1");
    assert_eq!(built.kind, ActivityKind::Inspection);
    assert_eq!(built.title, "视察社区食堂");
    assert_eq!(built.note, "带去群众意见");
    assert_eq!(built.citizens_received, 12);
    assert_eq!(built.attendees, vec![DeputyId::from("d-1"), "d-2".into()]);
    assert_eq!(built.station_id, station);
    // Empty citizens: none received.
    let none = ActivityInput {
        citizens: String::new(),
        ..typed.clone()
    };
    assert_eq!(none.build("id-1", &station).unwrap().citizens_received, 0);

    let wrong = ActivityInput {
        title: "   ".into(),
        day: String::new(),
        citizens: "-3".into(),
        note: "很".repeat(2001),
        ..typed
    };
    let problems = wrong.build("id-1", &station).unwrap_err();
    assert_eq!(
        problems.fields.get(Field::Title),
        Some(&FieldError::Required)
    );
    assert_eq!(
        problems.fields.get(Field::Note),
        Some(&FieldError::TooLong { max: 2000 })
    );
    assert!(problems.day);
    assert!(problems.citizens);
}

fn directory() -> Directory {
    let region = |id: &str, parent: Option<&str>| Region {
        id: id.into(),
        name: id.into(),
        parent_id: parent.map(Into::into),
    };
    let station = |id: &str, region: &str| Station {
        id: id.into(),
        region_id: region.into(),
        name: id.into(),
        address: String::new(),
    };
    Directory {
        regions: vec![region("district", None), region("town", Some("district"))],
        stations: vec![station("st-a", "town"), station("st-b", "district")],
        deputies: vec![Deputy {
            id: "d-1".into(),
            name: "张代表".into(),
            level: String::new(),
            station_ids: vec!["st-b".into()],
        }],
        categories: Vec::new(),
    }
}

fn user(role: Role, scopes: Vec<Scope>) -> SignedInUser {
    SignedInUser {
        id: "u".into(),
        username: "u".into(),
        display_name: "u".into(),
        role,
        deputy_id: None,
        device: None,
        session_expires_at: 0,
        unit_id: None,
        scopes,
    }
}

#[wasm_bindgen_test]
fn an_account_gets_the_stations_it_reads_and_the_controls_it_may_use() {
    let d = directory();
    let a: StationId = "st-a".into();
    let b: StationId = "st-b".into();
    let office = user(Role::OfficeStaff, vec![Scope::Region("district".into())]);
    assert_eq!(readable_stations(&office, &d), vec![a.clone(), b.clone()]);
    assert!(may_keep_roster(&office, &d, &a));
    let staff = user(Role::StationStaff, vec![Scope::Station(a.clone())]);
    assert_eq!(readable_stations(&staff, &d), vec![a.clone()]);
    assert!(may_keep_roster(&staff, &d, &a));
    assert!(!may_keep_roster(&staff, &d, &b));
    // On an enrolled tablet: its station only, as the server decides.
    let on_tablet = SignedInUser {
        device: Some(DeviceRef {
            id: "dev".into(),
            station_id: b.clone(),
        }),
        ..office.clone()
    };
    assert_eq!(readable_stations(&on_tablet, &d), vec![b.clone()]);
    assert!(!may_keep_roster(&on_tablet, &d, &a));
    // A deputy records activities but does not keep the roster.
    let deputy = SignedInUser {
        deputy_id: Some("d-1".into()),
        ..user(Role::Deputy, vec![Scope::Station(b.clone())])
    };
    assert!(may_record_activities(&deputy, &d, &b));
    assert!(!may_keep_roster(&deputy, &d, &b));
    // A session kept before scopes were known: the deputy's station until `GET /me` answers.
    let old = SignedInUser {
        scopes: Vec::new(),
        ..deputy
    };
    assert_eq!(readable_stations(&old, &d), vec![b.clone()]);
    let unit = user(Role::HandlingUnit, vec![Scope::Region("district".into())]);
    assert!(readable_stations(&unit, &d).is_empty());
}

#[wasm_bindgen_test]
fn a_write_without_a_clear_answer_says_to_save_again_not_that_nothing_was_saved() {
    for error in [
        OfficeError::Unreachable,
        OfficeError::NotOurServer,
        OfficeError::ServerBusy,
    ] {
        let key = save_error_key(&error);
        assert!(text(Lang::En, &key).contains("only once"), "{key}");
        assert!(text(Lang::Zh, &key).contains("只会记录一次"), "{key}");
        assert!(
            !text(Lang::En, &key)
                .to_lowercase()
                .contains("nothing was saved")
        );
        assert!(!text(Lang::Zh, &key).contains("没有保存"));
    }
    assert_eq!(
        save_error_key(&OfficeError::Refused("already_exists".into())),
        "duty.save_error.already_exists"
    );
    assert_eq!(
        save_error_key(&OfficeError::Refused("something_else".into())),
        "duty.save_error.refused"
    );
    for lang in [Lang::En, Lang::Zh] {
        for kind in ActivityKind::ALL {
            let key = format!("activity.{}", kind.code());
            assert_ne!(text(lang, &key), key, "{key} missing in {lang:?}");
        }
        for key in [
            "duty.save_error.forbidden",
            "duty.save_error.already_exists",
            "duty.save_error.unknown_station",
        ] {
            assert_ne!(text(lang, key), key, "{key} missing in {lang:?}");
        }
    }
}

#[wasm_bindgen_test]
async fn the_activity_form_resends_its_id_shows_field_errors_and_starts_anew_once_saved() {
    let i18n = I18n::load();
    let lang = i18n.lang.get_untracked();
    let sent = RwSignal::new(Vec::<Activity>::new());
    // The answers the "server" gives, in order.
    let answers: Rc<RefCell<VecDeque<Result<(), OfficeError>>>> =
        Rc::new(RefCell::new(VecDeque::from([
            Err(OfficeError::Unreachable),
            Err(OfficeError::Invalid(ValidationErrors(vec![(
                Field::Title,
                FieldError::TooLong { max: 200 },
            )]))),
            Ok(()),
            Err(OfficeError::ServerBusy),
        ])));
    let deputies = vec![
        Deputy {
            id: "d-1".into(),
            name: "张代表".into(),
            level: String::new(),
            station_ids: vec!["st-1".into()],
        },
        Deputy {
            id: "d-2".into(),
            name: "李代表".into(),
            level: String::new(),
            station_ids: vec!["st-1".into()],
        },
    ];
    let parent = container();
    let queue = Rc::clone(&answers);
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        let queue = Rc::clone(&queue);
        let submit = Action::new_local(move |activity: &Activity| {
            sent.update(|s| s.push(activity.clone()));
            let answer = queue.borrow_mut().pop_front().expect("an answer left");
            let activity = activity.clone();
            async move { answer.map(|()| activity) }
        });
        view! {
            <ActivityForm station=Signal::derive(|| Some(StationId::from("st-1")))
                deputies=Signal::derive(move || deputies.clone()) submit=submit/>
        }
    });
    let sent_count = move |n: usize| move || (sent.with_untracked(Vec::len) == n).then_some(());

    // Nothing typed: the domain's rule next to the title, nothing sent.
    until("the form", || find(&parent, "#activity-save"))
        .await
        .click();
    let required = text(lang, "error.required");
    until("the title error", || {
        text_of(&parent, "#activity-title-error").filter(|t| *t == required)
    })
    .await;
    assert!(sent.with_untracked(Vec::is_empty));

    type_into(&parent, "#activity-title", "集体接待日");
    type_into(&parent, "#activity-citizens", "8");
    find(&parent, "input.activity-attendee[data-deputy='d-2']")
        .unwrap()
        .click();
    let select: web_sys::HtmlSelectElement =
        find(&parent, "#activity-kind").unwrap().unchecked_into();
    select.set_value("survey");
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    // The day is today in China by default.
    let day_input: web_sys::HtmlInputElement =
        find(&parent, "#activity-day").unwrap().unchecked_into();
    assert_eq!(
        day_input.value(),
        china_day(js_sys::Date::now() as u64).to_string()
    );

    // No answer: the message says to press save again; it is recorded once.
    find(&parent, "#activity-save").unwrap().click();
    until("the first send", sent_count(1)).await;
    let unreachable = text(lang, "duty.save_error.unreachable");
    until("the unreachable message", || {
        text_of(&parent, "#activity-error").filter(|t| *t == unreachable)
    })
    .await;
    // Sent again: the same id. The server's field error shows next to the title.
    find(&parent, "#activity-save").unwrap().click();
    until("the resend", sent_count(2)).await;
    let too_long = text_with(lang, "error.too_long", &[("max", "200".into())]);
    until("the server's title error", || {
        text_of(&parent, "#activity-title-error").filter(|t| *t == too_long)
    })
    .await;
    // Again; stored this time: the form clears and the next one is a new activity.
    find(&parent, "#activity-save").unwrap().click();
    until("the third send", sent_count(3)).await;
    until("the saved notice", || find(&parent, "#activity-saved")).await;
    let title: web_sys::HtmlInputElement = until("the cleared title", || {
        find(&parent, "#activity-title").filter(|t| {
            t.clone()
                .unchecked_into::<web_sys::HtmlInputElement>()
                .value()
                .is_empty()
        })
    })
    .await
    .unchecked_into();
    assert!(title.value().is_empty());
    assert!(find(&parent, "#activity-title-error").is_none());
    type_into(&parent, "#activity-title", "视察");
    find(&parent, "#activity-save").unwrap().click();
    until("the fourth send", sent_count(4)).await;

    let sent = sent.get_untracked();
    assert_eq!(sent[0].id, sent[1].id);
    assert_eq!(sent[1].id, sent[2].id);
    assert_ne!(sent[3].id, sent[0].id);
    // Each id is a UUIDv7, as the server requires.
    for a in &sent {
        let id = liaison_domain::OpinionId::parse(&a.id).expect("a UUID");
        assert_eq!(id.0.get_version_num(), 7);
    }
    assert_eq!(sent[0].title, "集体接待日");
    assert_eq!(sent[0].kind, ActivityKind::Survey);
    assert_eq!(sent[0].citizens_received, 8);
    assert_eq!(sent[0].attendees, vec![DeputyId::from("d-2")]);
    assert_eq!(sent[3].title, "视察");
    assert!(sent[3].attendees.is_empty(), "the ticks were cleared");
    assert!(answers.borrow().is_empty());
    parent.remove();
}
