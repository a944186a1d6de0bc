//! Every text exists in both languages, and every code the domain can produce has a text.

use liaison_app::i18n::{EN_SOURCE, Lang, ZH_SOURCE, text};
use liaison_app::sync::api::AccountError;
use liaison_domain::sync::client::{Problem, RetryReason};
use liaison_domain::sync::{RejectCode, Seq};
use liaison_domain::{Field, FieldError, OutcomeKind, RedirectChannel};
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
    for key in needed {
        for lang in [Lang::Zh, Lang::En] {
            assert_ne!(text(lang, &key), key, "{key} is missing in {lang:?}");
        }
    }
}
