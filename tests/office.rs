//! How the back office reads the server's answers: only a 200 in the server's JSON is a
//! success, only the server's own JSON error is believed, and a refused step says why.

use liaison_app::sync::office::{OfficeError, query_string, read_answer};
use liaison_domain::followup::{
    ActionKind, Date, DeadlineColour, LedgerQuery, StatusKind, TransitionError,
};
use liaison_domain::{Field, FieldError, ValidationErrors};
use wasm_bindgen_test::*;

mod common;

wasm_bindgen_test_configure!(run_in_browser);

fn read(status: Option<u16>, body: &str) -> Result<Vec<String>, OfficeError> {
    read_answer(status, body)
}

#[wasm_bindgen_test]
fn only_the_servers_json_is_a_success() {
    assert_eq!(
        read(Some(200), r#"["a","b"]"#),
        Ok(vec!["a".into(), "b".into()])
    );
    let portal = "<html><body>Welcome to Hotel Wi-Fi</body></html>";
    assert_eq!(read(Some(200), portal), Err(OfficeError::NotOurServer));
    assert_eq!(read(None, ""), Err(OfficeError::Unreachable));
    for status in [500, 502, 503, 408, 429] {
        assert_eq!(read(Some(status), "oops"), Err(OfficeError::ServerBusy));
    }
    // A portal's page with an alarming status is the network's problem, not a sign-out.
    for status in [401, 403, 404, 422] {
        assert_eq!(read(Some(status), portal), Err(OfficeError::NotOurServer));
    }
}

#[wasm_bindgen_test]
fn the_servers_refusals_say_what_to_do() {
    let error = |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"x"}}}}"#);
    assert_eq!(
        read(Some(401), &error("unauthenticated")),
        Err(OfficeError::SignInNeeded)
    );
    assert_eq!(
        read(Some(403), &error("forbidden")),
        Err(OfficeError::Forbidden)
    );
    assert_eq!(
        read(Some(404), &error("not_found")),
        Err(OfficeError::NotFound)
    );
    assert_eq!(
        read(Some(422), &error("unknown_unit")),
        Err(OfficeError::Refused("unknown_unit".into()))
    );
}

#[wasm_bindgen_test]
fn a_refused_step_carries_the_lifecycles_reason_and_field_errors() {
    // Nested in the error object, or beside a flat error code: both are read.
    let nested = r#"{"error":{"code":"not_allowed","message":"no",
        "transition":{"code":"not_in_this_status","action":"conclude","status":"referred"}}}"#;
    let flat = r#"{"error":"not_allowed","message":"no",
        "transition":{"code":"not_in_this_status","action":"conclude","status":"referred"}}"#;
    let expected = OfficeError::NotAllowed(TransitionError::NotInThisStatus {
        action: ActionKind::Conclude,
        status: StatusKind::Referred,
    });
    assert_eq!(read(Some(422), nested), Err(expected.clone()));
    assert_eq!(read(Some(422), flat), Err(expected));
    let mismatch = r#"{"error":{"code":"not_allowed","message":"no","transition":
        {"code":"deadline_mismatch","given":"2026-12-03","expected":"2026-12-04","working_days":5}}}"#;
    assert!(matches!(
        read(Some(422), mismatch),
        Err(OfficeError::NotAllowed(
            TransitionError::DeadlineMismatch { .. }
        ))
    ));
    let mut errors = ValidationErrors::default();
    errors.push(Field::Reply, FieldError::Required);
    let invalid = format!(
        r#"{{"error":{{"code":"invalid","message":"x","errors":{}}}}}"#,
        serde_json::to_string(&errors).unwrap()
    );
    assert_eq!(read(Some(422), &invalid), Err(OfficeError::Invalid(errors)));
}

#[wasm_bindgen_test]
fn the_ledger_query_goes_as_codes_and_dates() {
    assert_eq!(query_string(&LedgerQuery::default()), "");
    let query = LedgerQuery {
        station: Some("station-xingfuli".into()),
        status: Some(StatusKind::InProgress),
        category: Some("parking".into()),
        colour: Some(DeadlineColour::DueSoon),
        from: Date::parse("2026-11-01"),
        to: Date::parse("2026-11-30"),
        ..Default::default()
    };
    let text = query_string(&query);
    assert!(text.starts_with('?'));
    let mut pairs: Vec<&str> = text[1..].split('&').collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            "category=parking",
            "colour=due_soon",
            "from=2026-11-01",
            "station=station-xingfuli",
            "status=in_progress",
            "to=2026-11-30",
        ]
    );
}

#[wasm_bindgen_test]
fn a_step_is_taken_as_the_signed_in_account() {
    use liaison_app::sync::api::SignedInUser;
    let user: SignedInUser = serde_json::from_str(
        r#"{"id":"u-7","username":"demo-unit","display_name":"区住房和城乡建设局",
            "role":"handling_unit","deputy_id":null,"unit_id":"unit-demo-housing",
            "scopes":[],"device":null,"session_expires_at":1}"#,
    )
    .unwrap();
    let actor = user.actor().expect("the account's id is known");
    assert_eq!(actor.user_id, "u-7");
    assert_eq!(actor.name, "区住房和城乡建设局");
    assert_eq!(actor.role, liaison_domain::Role::HandlingUnit);
    assert_eq!(actor.unit_id, Some("unit-demo-housing".into()));
    // A session kept by an older app has no id: no step is recorded until `/me` tells it.
    let old: SignedInUser = serde_json::from_str(
        r#"{"username":"demo-deputy","display_name":"张建国","role":"deputy",
            "deputy_id":"deputy-demo-zhang","device":null,"session_expires_at":1}"#,
    )
    .unwrap();
    assert_eq!(old.actor(), None);
}

#[wasm_bindgen_test]
fn a_step_goes_with_the_id_its_form_made() {
    use liaison_app::sync::office::step_request;
    use liaison_domain::FollowUpId;
    use liaison_domain::followup::{Action, StepRequest};
    let id = FollowUpId::new_v7(1_700_000_000_000, [7; 10]);
    let request = step_request(id, &Action::Accept);
    let body = serde_json::to_value(&request).unwrap();
    assert_eq!(body["action"], "accept");
    assert_eq!(body["id"], serde_json::to_value(id).unwrap());
    // The server reads it back as the same step: a resend carries the same id.
    let read: StepRequest = serde_json::from_value(body).unwrap();
    assert_eq!(read.id, Some(id));
    assert_eq!(read, step_request(id, &Action::Accept));
}

#[wasm_bindgen_test]
fn only_the_servers_own_refusals_say_a_write_was_not_taken() {
    // No answer, someone else's answer or a server failure: the step may have been taken.
    for error in [
        OfficeError::Unreachable,
        OfficeError::NotOurServer,
        OfficeError::ServerBusy,
    ] {
        assert!(error.outcome_unknown(), "{error:?}");
    }
    for error in [
        OfficeError::SignInNeeded,
        OfficeError::Forbidden,
        OfficeError::NotFound,
        OfficeError::NotAllowed(TransitionError::NotYourUnit),
        OfficeError::Invalid(ValidationErrors::default()),
        OfficeError::Refused("x".into()),
    ] {
        assert!(!error.outcome_unknown(), "{error:?}");
    }
}

#[wasm_bindgen_test]
fn after_a_step_without_answer_the_reloaded_history_tells_whether_it_was_taken() {
    use liaison_app::components::item::StepFailure;
    use liaison_app::pages::item::after_unanswered_step;
    use liaison_domain::followup::{Action, FollowUp, ItemView, Lifecycle};
    use liaison_domain::{FollowUpId, OutcomeKind, Role};
    let opinion = common::opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);
    let sent = FollowUpId::new_v7(1_700_000_000_000, [7; 10]);
    let view = |steps: Vec<FollowUp>| ItemView {
        lifecycle: Lifecycle::replay(&opinion.outcome, &steps),
        opinion: opinion.clone(),
        citizen_masked: None,
        steps,
        colour: None,
        available: Vec::new(),
    };
    let note = |id: FollowUpId| FollowUp {
        id,
        at_ms: 1_700_000_000_000,
        by: common::actor(Role::OfficeStaff),
        action: Action::Note {
            kind: liaison_domain::followup::NoteKind::Reminder,
            text: "提醒".into(),
        },
    };
    // The history holds the step: it was taken, the form closes.
    assert_eq!(
        after_unanswered_step(sent, &Ok(view(vec![note(sent)]))),
        Ok(())
    );
    // Not (yet) in it: it may still have been taken; look before sending again.
    let other = FollowUpId::new_v7(1_700_000_000_000, [8; 10]);
    assert_eq!(
        after_unanswered_step(sent, &Ok(view(vec![note(other)]))),
        Err(StepFailure::Message("item.step_outcome_unknown".into()))
    );
    // Not even the item came back.
    assert_eq!(
        after_unanswered_step(sent, &Err(OfficeError::Unreachable)),
        Err(StepFailure::Message(
            "item.step_outcome_unknown_not_reloaded".into()
        ))
    );
}
