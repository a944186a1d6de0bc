//! The back office's HTTP calls: the supervision ledger, one item with its history, taking a
//! step, the handling units and the working-day calendar. Unlike the tablet's capture these work
//! online only: a step is taken when the server takes it, whole or not at all.
//!
//! A step carries the id the page made when its form opened ([`StepRequest::id`]), so sending it
//! again after an answer was lost takes it once. Without an answer the page cannot know whether
//! the server took it ([`OfficeError::outcome_unknown`]): it loads the item again and looks.
//!
//! Every call has the sync calls' timeout, and every answer is read by [`read_answer`] the way
//! [`read_push_answer`](liaison_domain::sync::client::read_push_answer) reads a push's: only a
//! 200 in the server's own JSON shape is a success, and only the server's own JSON error is
//! believed (a captive portal's page with a 401 is a network problem, not a sign-out).

use super::api::{bearer, send};
use gloo_net::http::Request;
use liaison_domain::ValidationErrors;
use liaison_domain::followup::{
    Action, HandlingUnit, ItemView, LedgerQuery, LedgerRow, StepRequest, TransitionError,
    WorkCalendar,
};
use liaison_domain::{FollowUpId, OpinionId};
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Why a back-office call did not work, in words the UI translates (`office.error.<code>`),
/// each saying what to do. A refusal by the server (4xx) changed nothing; after no answer, an
/// answer that is not the server's or a 5xx, a write may have been taken all the same (see
/// [`OfficeError::outcome_unknown`]).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum OfficeError {
    /// No answer at all: offline, or the server is down.
    #[error("the server cannot be reached")]
    Unreachable,
    /// An answer that is not the server's (a Wi-Fi sign-in page, a proxy's error page).
    #[error("the answer did not come from the server")]
    NotOurServer,
    /// A 5xx, 408 or 429: try again in a moment. (A 5xx after a write may come after the
    /// server took it.)
    #[error("the server is busy")]
    ServerBusy,
    /// 401: the session expired or was ended.
    #[error("sign in again")]
    SignInNeeded,
    /// 403: this account may not do this here.
    #[error("not allowed")]
    Forbidden,
    /// 404: no such item, or not one this account may see.
    #[error("not found")]
    NotFound,
    /// 422 `not_allowed`: the lifecycle does not allow the step now.
    #[error("the step does not apply: {0}")]
    NotAllowed(TransitionError),
    /// 422 `invalid`: what is wrong with which field.
    #[error("invalid: {0}")]
    Invalid(ValidationErrors),
    /// Any other refusal by the server, with its code.
    #[error("the server refused: {0}")]
    Refused(String),
}

impl OfficeError {
    /// Stable code; the UI translates `office.error.<code>`.
    pub fn code(&self) -> &'static str {
        match self {
            OfficeError::Unreachable => "unreachable",
            OfficeError::NotOurServer => "not_our_server",
            OfficeError::ServerBusy => "server_busy",
            OfficeError::SignInNeeded => "sign_in_needed",
            OfficeError::Forbidden => "forbidden",
            OfficeError::NotFound => "not_found",
            OfficeError::NotAllowed(_) => "not_allowed",
            OfficeError::Invalid(_) => "invalid",
            OfficeError::Refused(_) => "refused",
        }
    }

    /// Whether a write that failed this way may have been taken by the server all the same: no
    /// answer arrived (it may have been lost on the way back), the answer was not the server's
    /// (a proxy may have answered after the server took it), or the server failed (possibly
    /// after committing). The server's own refusals (4xx with its JSON) changed nothing.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            OfficeError::Unreachable | OfficeError::NotOurServer | OfficeError::ServerBusy
        )
    }
}

/// The server's refusal codes ([`OfficeError::Refused`]) that have words of their own,
/// `office.error.<code>`; any other refusal is `office.error.refused`.
pub const WORDED_REFUSALS: [&str; 6] = [
    "too_many_requests",
    "json_too_deep",
    "invalid_filter",
    "invalid_date",
    "invalid_number",
    "personal_data_not_permitted",
];

/// The message for a back-office failure, as every back-office page shows it:
/// `office.error.<code>`, or the server's own code when it has words ([`WORDED_REFUSALS`]).
pub fn office_error_key(error: &OfficeError) -> String {
    match error {
        OfficeError::Refused(code) if WORDED_REFUSALS.contains(&code.as_str()) => {
            format!("office.error.{code}")
        }
        _ => format!("office.error.{}", error.code()),
    }
}

/// What an answer means: the body read as `T` on a 200 in our JSON shape, else why not.
/// `None` for `status` means no answer arrived.
pub fn read_answer<T: DeserializeOwned>(status: Option<u16>, body: &str) -> Result<T, OfficeError> {
    let Some(status) = status else {
        return Err(OfficeError::Unreachable);
    };
    if status == 200 {
        return serde_json::from_str(body).map_err(|_| OfficeError::NotOurServer);
    }
    Err(read_refusal(status, body))
}

/// What the answer to a write that stores something means: the stored thing read as `T` on a
/// 201 (stored now) or 200 (stored before: a resend of the same id) in our JSON shape, else why
/// not (read as [`read_answer`] reads a refusal).
pub fn read_stored_answer<T: DeserializeOwned>(
    status: Option<u16>,
    body: &str,
) -> Result<T, OfficeError> {
    let Some(status) = status else {
        return Err(OfficeError::Unreachable);
    };
    if status == 200 || status == 201 {
        return serde_json::from_str(body).map_err(|_| OfficeError::NotOurServer);
    }
    Err(read_refusal(status, body))
}

/// What the answer to a write without a body (`204 No Content`) means. Only a 204 with an empty
/// body is the server's: a Wi-Fi portal answers 200 (or a redirect) with its own page. The
/// caller still reads the result back (a `GET` in our JSON shape) before saying it is saved.
pub fn read_no_content_answer(status: Option<u16>, body: &str) -> Result<(), OfficeError> {
    let Some(status) = status else {
        return Err(OfficeError::Unreachable);
    };
    match status {
        204 if body.trim().is_empty() => Ok(()),
        200..=299 => Err(OfficeError::NotOurServer),
        _ => Err(read_refusal(status, body)),
    }
}

/// A non-200 answer. The server's error shape is `{"error": {"code", "message", ...detail}}`;
/// a flat `{"error": "<code>", "message", ...detail}` is read the same way.
pub fn read_refusal(status: u16, body: &str) -> OfficeError {
    // The server's own rate limit says so in its JSON: nothing was done, wait a little. Any
    // other 429 (a proxy's) is a busy server whose outcome is unknown.
    if status == 429 && refusal_code(body).as_deref() == Some("too_many_requests") {
        return OfficeError::Refused("too_many_requests".into());
    }
    if status >= 500 || status == 408 || status == 429 {
        return OfficeError::ServerBusy;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(body) else {
        return OfficeError::NotOurServer;
    };
    let (code, detail) = match value.get("error") {
        Some(serde_json::Value::Object(detail)) => (
            detail.get("code").and_then(|c| c.as_str()),
            serde_json::Value::Object(detail.clone()),
        ),
        Some(serde_json::Value::String(code)) => (Some(code.as_str()), value.clone()),
        _ => (None, serde_json::Value::Null),
    };
    let Some(code) = code else {
        return OfficeError::NotOurServer;
    };
    let part = |name: &str| detail.get(name).or_else(|| value.get(name)).cloned();
    match (status, code) {
        (401, _) => OfficeError::SignInNeeded,
        (403, _) => OfficeError::Forbidden,
        (404, _) => OfficeError::NotFound,
        (_, "not_allowed") => part("transition")
            .and_then(|t| serde_json::from_value(t).ok())
            .map_or_else(
                || OfficeError::Refused(code.to_owned()),
                OfficeError::NotAllowed,
            ),
        (_, "invalid") => part("errors")
            .and_then(|e| serde_json::from_value(e).ok())
            .map_or_else(
                || OfficeError::Refused(code.to_owned()),
                OfficeError::Invalid,
            ),
        _ => OfficeError::Refused(code.to_owned()),
    }
}

/// The `code` of the server's JSON error (`{"error": {"code"}}` or `{"error": "<code>"}`).
fn refusal_code(body: &str) -> Option<String> {
    let value = serde_json::from_str::<serde_json::Value>(body).ok()?;
    let error = value.get("error")?;
    error
        .get("code")
        .or(Some(error))
        .and_then(|c| c.as_str())
        .map(str::to_owned)
}

pub(crate) async fn get<T: DeserializeOwned>(token: &str, url: &str) -> Result<T, OfficeError> {
    match send(bearer(Request::get(url), token), None).await {
        Some((status, text)) => read_answer(Some(status), &text),
        None => read_answer(None, ""),
    }
}

/// The handling units the account may refer to (`GET /units`).
pub async fn units(token: &str) -> Result<Vec<HandlingUnit>, OfficeError> {
    get(token, "/api/v1/units").await
}

/// The working-day calendar deadlines are counted on (`GET /calendar`).
pub async fn calendar(token: &str) -> Result<WorkCalendar, OfficeError> {
    get(token, "/api/v1/calendar").await
}

/// The ledger's rows for `query`, as the server sorts them (overdue first).
pub async fn ledger(token: &str, query: &LedgerQuery) -> Result<Vec<LedgerRow>, OfficeError> {
    get(token, &format!("/api/v1/ledger{}", query_string(query))).await
}

/// One item with its history and the steps this account may take now.
pub async fn item(token: &str, id: OpinionId) -> Result<ItemView, OfficeError> {
    get(token, &format!("/api/v1/opinions/{id}")).await
}

/// The body of a step taken online: the step's id (made when its form opened, the same on
/// every resend) and what it does.
pub fn step_request(step_id: FollowUpId, action: &Action) -> StepRequest {
    StepRequest {
        id: Some(step_id),
        action: action.clone(),
    }
}

/// Takes the step `step_id` on an item; the answer is the item after it. Sending the same
/// `step_id` again takes the step once.
pub async fn take_step(
    token: &str,
    id: OpinionId,
    step_id: FollowUpId,
    action: &Action,
) -> Result<ItemView, OfficeError> {
    let request = step_request(step_id, action);
    let Ok(body) = serde_json::to_string(&request) else {
        return Err(OfficeError::Refused("unserialisable".into()));
    };
    match send(
        bearer(
            Request::post(&format!("/api/v1/opinions/{id}/steps")),
            token,
        ),
        Some(body),
    )
    .await
    {
        Some((status, text)) => read_answer(Some(status), &text),
        None => read_answer(None, ""),
    }
}

/// `?station=…&status=…` from the query's set filters (their JSON forms: codes and
/// `YYYY-MM-DD` dates); empty when none is set.
pub fn query_string(query: &LedgerQuery) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(query) else {
        return String::new();
    };
    let pairs: Vec<String> = fields
        .iter()
        .filter_map(|(name, value)| Some((name, value.as_str()?)))
        .map(|(name, value)| {
            format!(
                "{name}={}",
                String::from(js_sys::encode_uri_component(value))
            )
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}
