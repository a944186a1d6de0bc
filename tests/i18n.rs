//! Every text exists in both languages, and every code the domain can produce has a text.

use liaison_app::i18n::{EN_SOURCE, Lang, ZH_SOURCE, text};
use liaison_app::sync::api::AccountError;
use liaison_app::sync::office::OfficeError;
use liaison_domain::followup::{
    ActionKind, AttendanceError, DeadlineColour, Evaluation, FeedbackMethod, NoteKind, StatusKind,
    TransitionError,
};
use liaison_domain::sync::client::{Problem, RetryReason};
use liaison_domain::sync::{RejectCode, Seq};
use liaison_domain::{Field, FieldError, OutcomeKind, RedirectChannel, Role};
use std::collections::BTreeMap;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn keys(source: &str) -> Vec<String> {
    let map: BTreeMap<String, String> = serde_json::from_str(source).expect("valid JSON");
    assert!(map.values().all(|v| !v.trim().is_empty()), "no empty texts");
    map.into_keys().collect()
}

#[wasm_bindgen_test]
fn both_languages_have_the_same_keys() {
    assert_eq!(keys(ZH_SOURCE), keys(EN_SOURCE));
}

#[wasm_bindgen_test]
fn every_domain_code_has_a_text_in_both_languages() {
    let mut needed: Vec<String> = Vec::new();
    let fields = [
        Field::Station,
        Field::Deputy,
        Field::Category,
        Field::Summary,
        Field::Details,
        Field::Place,
        Field::CitizenName,
        Field::CitizenPhone,
        Field::CitizenAddress,
        Field::Consent,
        Field::OnSiteReply,
        Field::Outcome,
        Field::Channel,
        Field::Photos,
        Field::Note,
        Field::Reason,
        Field::Reply,
        Field::Unit,
        Field::WorkingDays,
        Field::Due,
        Field::Title,
        Field::Attendees,
        Field::Purpose,
    ];
    needed.extend(fields.iter().map(|f| format!("field.{}", f.name())));
    let errors = [
        FieldError::Required,
        FieldError::TooLong { max: 1 },
        FieldError::PhoneInvalid,
        FieldError::UnknownChoice,
        FieldError::AnonymousWithPersonalData,
        FieldError::ConsentMissing,
        FieldError::TooMany { max: 1 },
        FieldError::OutOfRange { min: 1, max: 2 },
        FieldError::ControlCharacter,
    ];
    needed.extend(errors.iter().map(|e| format!("error.{}", e.code())));
    needed.extend(
        OutcomeKind::ALL
            .iter()
            .map(|o| format!("outcome.{}", o.code())),
    );
    needed.extend(
        RedirectChannel::ALL
            .iter()
            .map(|c| format!("channel.{}", c.code())),
    );
    // What sync can report: refusals of single mutations, passing troubles, and problems that
    // need a person.
    let rejects = [
        RejectCode::Invalid,
        RejectCode::NotFound,
        RejectCode::Deleted,
        RejectCode::AlreadyExists,
        RejectCode::Forbidden,
        RejectCode::Malformed,
        RejectCode::NotAllowed,
        RejectCode::Unknown,
    ];
    needed.extend(rejects.iter().map(|r| format!("reject.{}", r.code())));
    let retries = [
        RetryReason::Unreachable,
        RetryReason::ServerBusy,
        RetryReason::NotOurServer,
    ];
    needed.extend(retries.iter().map(|r| format!("sync.retry.{}", r.code())));
    let problems = [
        Problem::SignInNeeded,
        Problem::UpdateNeeded { minimum: None },
        Problem::ServerMissingData { expected: Seq(1) },
        Problem::ClientMismatch,
        Problem::MutationTooLarge,
        Problem::Refused {
            code: "x".into(),
            message: "x".into(),
        },
    ];
    needed.extend(
        problems
            .iter()
            .map(|p| format!("sync.problem.{}", p.code())),
    );
    let account_errors = [
        AccountError::InvalidCredentials,
        AccountError::DeviceNotEnrolled,
        AccountError::Forbidden,
        AccountError::Refused("x".into()),
        AccountError::Refused("invalid_device_name".into()),
        AccountError::Refused("unknown_station".into()),
        AccountError::Unreachable,
    ];
    needed.extend(account_errors.iter().map(|e| e.message_key().to_owned()));
    needed.extend(["sync.storage_full", "sync.storage_failed"].map(String::from));
    needed.extend(follow_up_keys());
    for key in needed {
        for lang in [Lang::Zh, Lang::En] {
            assert_ne!(text(lang, &key), key, "{key} is missing in {lang:?}");
        }
    }
}

/// What the follow-up loop shows: statuses, steps and their data, refusals, deadline colours,
/// roles (who took a step), back-office failures and attendance.
fn follow_up_keys() -> Vec<String> {
    let mut needed: Vec<String> = Vec::new();
    needed.extend(
        StatusKind::ALL
            .iter()
            .map(|s| format!("status.{}", s.code())),
    );
    needed.extend(
        ActionKind::ALL
            .iter()
            .map(|a| format!("action.{}", a.code())),
    );
    let date = liaison_domain::followup::Date::parse("2026-11-27").unwrap();
    let transitions = [
        TransitionError::NotInThisStatus {
            action: ActionKind::Refer,
            status: StatusKind::Archived,
        },
        TransitionError::RoleMayNot {
            role: Role::Deputy,
            action: ActionKind::Refer,
        },
        TransitionError::NotYourUnit,
        TransitionError::ExtensionNotLater { current: date },
        TransitionError::DeadlineMismatch {
            given: date,
            expected: date,
            working_days: 1,
        },
        TransitionError::IntakeDecisionLocked,
        TransitionError::FollowUpBegun,
        TransitionError::ClockWrong,
        TransitionError::Invalid {
            errors: Default::default(),
        },
    ];
    needed.extend(
        transitions
            .iter()
            .map(|t| format!("transition.{}", t.code())),
    );
    needed.extend(
        Evaluation::ALL
            .iter()
            .map(|e| format!("evaluation.{}", e.code())),
    );
    let conclusions = [
        liaison_domain::followup::Conclusion::Resolved,
        liaison_domain::followup::Conclusion::Planned,
        liaison_domain::followup::Conclusion::CannotBeSolved {
            reason: String::new(),
        },
    ];
    needed.extend(
        conclusions
            .iter()
            .map(|c| format!("conclusion.{}", c.code())),
    );
    needed.extend(
        FeedbackMethod::ALL
            .iter()
            .map(|m| format!("feedback_method.{}", m.code())),
    );
    needed.extend(NoteKind::ALL.iter().map(|n| format!("note.{}", n.code())));
    let colours = [
        DeadlineColour::OnTime,
        DeadlineColour::DueSoon,
        DeadlineColour::Overdue,
    ];
    needed.extend(colours.iter().map(|c| format!("deadline.{}", c.code())));
    needed.extend(Role::ALL.iter().map(|r| format!("role.{}", r.as_str())));
    needed.extend([AttendanceError::WrongDay].iter().map(|e| {
        format!(
            "attendance.{}",
            serde_json::to_value(e).unwrap().as_str().unwrap()
        )
    }));
    let office_errors = [
        OfficeError::Unreachable,
        OfficeError::NotOurServer,
        OfficeError::ServerBusy,
        OfficeError::SignInNeeded,
        OfficeError::Forbidden,
        OfficeError::NotFound,
        OfficeError::NotAllowed(TransitionError::NotYourUnit),
        OfficeError::Invalid(Default::default()),
        OfficeError::Refused("x".into()),
    ];
    needed.extend(
        office_errors
            .iter()
            .map(|e| format!("office.error.{}", e.code())),
    );
    // The server's refusals with words of their own, and the audit log's actions.
    needed.extend(
        liaison_app::sync::office::WORDED_REFUSALS
            .iter()
            .map(|code| format!("office.error.{code}")),
    );
    needed.extend(
        liaison_domain::audit::actions::ALL
            .iter()
            .map(|code| format!("audit.action.{code}")),
    );
    // A step sent without a clear answer, reloaded or not.
    needed.extend(
        [
            "item.step_outcome_unknown",
            "item.step_outcome_unknown_not_reloaded",
        ]
        .map(String::from),
    );
    // Signing out while entries wait to be sent.
    needed.extend(
        [
            "account.sign_out_entries_waiting",
            "account.sign_out_photos_waiting",
            "account.sign_out_kept",
            "account.sign_out_confirm",
            "account.sign_out_cancel",
        ]
        .map(String::from),
    );
    // The confirmations of the steps that have no fields.
    needed.extend(
        ["accept", "archive"]
            .iter()
            .map(|a| format!("item.confirm.{a}")),
    );
    needed
}

/// After a write without a clear answer the server may have taken it: no text shown then says
/// that nothing was saved (only the server's own refusals may).
#[wasm_bindgen_test]
fn no_text_for_an_unanswered_write_says_nothing_was_saved() {
    let unknown: Vec<String> = [
        OfficeError::Unreachable,
        OfficeError::NotOurServer,
        OfficeError::ServerBusy,
    ]
    .iter()
    .inspect(|e| assert!(e.outcome_unknown()))
    .map(|e| format!("office.error.{}", e.code()))
    .chain(
        [
            "item.step_outcome_unknown",
            "item.step_outcome_unknown_not_reloaded",
        ]
        .map(String::from),
    )
    .collect();
    for key in &unknown {
        for (lang, words) in [(Lang::En, "nothing was saved"), (Lang::Zh, "没有保存")] {
            let said = text(lang, key).to_lowercase();
            assert!(!said.contains(words), "{key} in {lang:?}: {said}");
        }
    }
    for key in [
        "item.step_outcome_unknown",
        "item.step_outcome_unknown_not_reloaded",
    ] {
        assert!(text(Lang::En, key).contains("may have been saved"));
        assert!(text(Lang::Zh, key).contains("可能已经保存"));
    }
    // A refusal by the server still says so.
    assert!(
        text(Lang::En, "office.error.not_allowed")
            .to_lowercase()
            .contains("nothing was saved")
    );
}
