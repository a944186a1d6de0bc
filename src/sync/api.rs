//! The server's HTTP API as the tablet calls it: sign-in and sign-out, who is signed in, device
//! enrolment, push and pull, photo upload and fetch (the back office's calls are in
//! [`super::office`]). Every call has a timeout (a request stuck on a dying Wi-Fi must not stall sync for
//! good), and sync calls hand the raw status and body to the domain's
//! [`read_push_answer`] / [`read_pull_answer`], which decide what they mean.

use crate::storage::photos::PendingPhoto;
use gloo_net::http::{Request, RequestBuilder};
use liaison_domain::followup::Actor;
use liaison_domain::sync::client::{
    PhotoAnswer, PullAnswer, PushAnswer, read_photo_answer, read_pull_answer, read_push_answer,
};
use liaison_domain::sync::{Cursor, MAX_PULL_LIMIT, PROTOCOL_VERSION, PullRequest, PushRequest};
use liaison_domain::{DeputyId, Role, Scope, StationId, UnitId};
use liaison_domain::{OpinionId, PhotoId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The app's version, sent with every push; the server refuses versions below its minimum.
pub const APP_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How long one request may take before it counts as unanswered.
const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// A signed-in session, kept on the tablet so sync goes on after a reload or offline restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    pub user: SignedInUser,
}

/// Who is signed in, as the server described them at sign-in (refreshed from `GET /me` when
/// the server answers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedInUser {
    /// The account's id: follow-up steps recorded on the tablet carry it, and the server takes a
    /// step only from the account it names. Empty in a session kept by an older app version
    /// until `GET /me` fills it in.
    #[serde(default)]
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub deputy_id: Option<DeputyId>,
    pub device: Option<DeviceRef>,
    pub session_expires_at: i64,
    /// The handling unit of a unit account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<UnitId>,
    /// Where the account may act (regions or stations): which stations the duty page offers.
    /// Empty in a session kept by an older app version until `GET /me` fills it in.
    #[serde(default)]
    pub scopes: Vec<Scope>,
}

impl SignedInUser {
    /// Who takes a follow-up step recorded with this session; `None` until the account's id is
    /// known (see [`SignedInUser::id`]).
    pub fn actor(&self) -> Option<Actor> {
        (!self.id.is_empty()).then(|| Actor {
            user_id: self.id.clone(),
            name: self.display_name.clone(),
            role: self.role,
            unit_id: self.unit_id.clone(),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRef {
    pub id: String,
    pub station_id: StationId,
}

/// This tablet's enrolment: the token it signs in with, bound to one station.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrollment {
    pub id: String,
    pub station_id: StationId,
    pub name: String,
    pub device_token: String,
}

/// Why a sign-in or enrolment did not work, in words the UI translates (`account.error.<code>`).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum AccountError {
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("this tablet's enrolment was revoked")]
    DeviceNotEnrolled,
    #[error("not allowed")]
    Forbidden,
    #[error("the server refused: {0}")]
    Refused(String),
    #[error("the server cannot be reached")]
    Unreachable,
}

impl AccountError {
    pub fn message_key(&self) -> &'static str {
        match self {
            AccountError::InvalidCredentials => "account.error.invalid_credentials",
            AccountError::DeviceNotEnrolled => "account.error.device_not_enrolled",
            AccountError::Forbidden => "account.error.forbidden",
            AccountError::Refused(code) => match code.as_str() {
                "invalid_device_name" => "account.error.invalid_device_name",
                "unknown_station" => "account.error.unknown_station",
                "too_many_sign_ins" => "account.error.too_many_sign_ins",
                _ => "account.error.refused",
            },
            AccountError::Unreachable => "account.error.unreachable",
        }
    }
}

/// Sends a request with the timeout; `None` when no answer arrived.
pub(crate) async fn send(builder: RequestBuilder, body: Option<String>) -> Option<(u16, String)> {
    let controller = web_sys::AbortController::new().ok()?;
    let builder = builder.abort_signal(Some(&controller.signal()));
    let request = match body {
        Some(body) => builder
            .header("Content-Type", "application/json")
            .body(body)
            .ok()?,
        None => builder.build().ok()?,
    };
    let timeout = gloo_timers::callback::Timeout::new(REQUEST_TIMEOUT_MS, move || {
        controller.abort();
    });
    let response = request.send().await.ok();
    let answer = match response {
        Some(response) => {
            let status = response.status();
            let text = response.text().await.ok()?;
            Some((status, text))
        }
        None => None,
    };
    drop(timeout);
    answer
}

pub(crate) fn bearer(builder: RequestBuilder, token: &str) -> RequestBuilder {
    builder.header("Authorization", &format!("Bearer {token}"))
}

/// The `code` of the server's `{"error": {"code": ...}}` answer.
fn error_code(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(value.get("error")?.get("code")?.as_str()?.to_owned())
}

/// Signs in; with `device_token` the session is bound to this enrolled tablet.
pub async fn sign_in(
    username: &str,
    password: &str,
    device_token: Option<&str>,
) -> Result<Session, AccountError> {
    let body = serde_json::json!({
        "username": username,
        "password": password,
        "device_token": device_token,
    });
    let (status, text) = send(Request::post("/api/v1/session"), Some(body.to_string()))
        .await
        .ok_or(AccountError::Unreachable)?;
    match status {
        201 | 200 => serde_json::from_str(&text).map_err(|_| AccountError::Unreachable),
        _ => Err(match error_code(&text).as_deref() {
            Some("invalid_credentials") => AccountError::InvalidCredentials,
            Some("device_not_enrolled") => AccountError::DeviceNotEnrolled,
            Some(code) => AccountError::Refused(code.to_owned()),
            None => AccountError::Unreachable,
        }),
    }
}

/// Who the session belongs to now (`GET /me`): the account's id, name, role and unit.
pub async fn me(token: &str) -> Result<SignedInUser, AccountError> {
    let (status, text) = send(bearer(Request::get("/api/v1/me"), token), None)
        .await
        .ok_or(AccountError::Unreachable)?;
    match status {
        200 => serde_json::from_str(&text).map_err(|_| AccountError::Unreachable),
        401 | 403 => Err(AccountError::Forbidden),
        _ => Err(match error_code(&text) {
            Some(code) => AccountError::Refused(code),
            None => AccountError::Unreachable,
        }),
    }
}

/// Ends the session on the server. Best effort: the tablet forgets the token either way.
pub async fn sign_out(token: &str) {
    let _ = send(bearer(Request::delete("/api/v1/session"), token), None).await;
}

/// Where this tablet's enrolment stands, as the server tells the holder of its device token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    Enrolled,
    /// Revoked (reported lost, or retired): the tablet deletes its local data.
    Revoked,
    /// The server does not know the token (its data was replaced): forget the enrolment, keep
    /// the data.
    Unknown,
}

/// Asks the server whether this tablet is still enrolled (`POST /devices/status`, no session
/// needed, so a locked or signed-out tablet asks too). `None`: no usable answer (offline, a
/// captive portal): nothing is decided on that.
pub async fn device_status(device_token: &str) -> Option<DeviceState> {
    #[derive(Deserialize)]
    struct Answer {
        state: DeviceState,
    }
    let body = serde_json::json!({ "device_token": device_token });
    let (status, text) = send(
        Request::post("/api/v1/devices/status"),
        Some(body.to_string()),
    )
    .await?;
    if status != 200 {
        return None;
    }
    serde_json::from_str::<Answer>(&text).ok().map(|a| a.state)
}

/// Bytes of a device key (an AES-256 key).
pub const DEVICE_KEY_LEN: usize = 32;

/// The server's keys for accounts on this tablet (`POST /device-keys`): the signed-in account's
/// (made on its first ask) and those of `others` that signed in here before, by username. Only
/// a session on an enrolled tablet gets any.
pub async fn device_keys(
    token: &str,
    others: &[String],
) -> Result<Vec<(String, [u8; DEVICE_KEY_LEN])>, AccountError> {
    #[derive(Deserialize)]
    struct Key {
        username: String,
        key: String,
    }
    #[derive(Deserialize)]
    struct Answer {
        keys: Vec<Key>,
    }
    let body = serde_json::json!({ "usernames": others });
    let (status, text) = send(
        bearer(Request::post("/api/v1/device-keys"), token),
        Some(body.to_string()),
    )
    .await
    .ok_or(AccountError::Unreachable)?;
    match status {
        200 => {
            use base64::Engine;
            let answer: Answer =
                serde_json::from_str(&text).map_err(|_| AccountError::Unreachable)?;
            Ok(answer
                .keys
                .into_iter()
                .filter_map(|k| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(k.key)
                        .ok()?;
                    Some((k.username, bytes.try_into().ok()?))
                })
                .collect())
        }
        401 => Err(AccountError::Forbidden),
        _ => Err(match error_code(&text) {
            Some(code) => AccountError::Refused(code),
            None => AccountError::Unreachable,
        }),
    }
}

/// Enrols this tablet to `station` with a station staff member's session.
pub async fn enroll(
    token: &str,
    station: &StationId,
    name: &str,
) -> Result<Enrollment, AccountError> {
    let body = serde_json::json!({ "station_id": station, "name": name });
    let (status, text) = send(
        bearer(Request::post("/api/v1/devices"), token),
        Some(body.to_string()),
    )
    .await
    .ok_or(AccountError::Unreachable)?;
    match status {
        201 | 200 => serde_json::from_str(&text).map_err(|_| AccountError::Unreachable),
        401 | 403 => Err(AccountError::Forbidden),
        _ => Err(match error_code(&text) {
            Some(code) => AccountError::Refused(code),
            None => AccountError::Unreachable,
        }),
    }
}

/// Pushes a batch of the outbox.
pub async fn push(token: &str, request: &PushRequest) -> PushAnswer {
    let Ok(body) = serde_json::to_string(request) else {
        return read_push_answer(None, "");
    };
    push_body(token, body).await
}

/// Pushes a batch already serialised (a [`PushRequest`] as JSON).
pub async fn push_body(token: &str, body: String) -> PushAnswer {
    match send(
        bearer(Request::post("/api/v1/sync/push"), token),
        Some(body),
    )
    .await
    {
        Some((status, text)) => read_push_answer(Some(status), &text),
        None => read_push_answer(None, ""),
    }
}

/// Uploads one queued photo whose content hashes to `sha256` (hex).
pub async fn upload_photo(token: &str, photo: &PendingPhoto, sha256: &str) -> PhotoAnswer {
    let url = format!(
        "/api/v1/photos/{}?opinion={}&sha256={sha256}",
        photo.id, photo.opinion_id
    );
    let Ok(controller) = web_sys::AbortController::new() else {
        return read_photo_answer(None, "", sha256);
    };
    let request = bearer(Request::put(&url), token)
        .header("Content-Type", &photo.mime)
        .abort_signal(Some(&controller.signal()))
        .body(wasm_bindgen::JsValue::from(photo.blob.clone()));
    let Ok(request) = request else {
        return read_photo_answer(None, "", sha256);
    };
    let timeout = gloo_timers::callback::Timeout::new(REQUEST_TIMEOUT_MS, move || {
        controller.abort();
    });
    let answer = match request.send().await {
        Ok(response) => {
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            read_photo_answer(Some(status), &text, sha256)
        }
        Err(_) => read_photo_answer(None, "", sha256),
    };
    drop(timeout);
    answer
}

/// Fetches a photo of `opinion` taken on another tablet; `None` when it cannot be had now.
pub async fn fetch_photo(token: &str, opinion: OpinionId, id: PhotoId) -> Option<web_sys::Blob> {
    let controller = web_sys::AbortController::new().ok()?;
    let request = bearer(
        Request::get(&format!("/api/v1/photos/{id}?opinion={opinion}")),
        token,
    )
    .abort_signal(Some(&controller.signal()))
    .build()
    .ok()?;
    let timeout = gloo_timers::callback::Timeout::new(REQUEST_TIMEOUT_MS, move || {
        controller.abort();
    });
    let response = request.send().await.ok()?;
    let mime = response
        .headers()
        .get("content-type")
        .filter(|t| t.starts_with("image/"))?;
    if !response.ok() {
        return None;
    }
    let bytes = response.binary().await.ok()?;
    drop(timeout);
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(&mime);
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).ok()
}

/// Pulls the next page of changes after `cursor`.
pub async fn pull(token: &str, cursor: Cursor) -> PullAnswer {
    let request = PullRequest {
        protocol: PROTOCOL_VERSION,
        cursor,
        limit: MAX_PULL_LIMIT,
    };
    let Ok(body) = serde_json::to_string(&request) else {
        return read_pull_answer(None, "");
    };
    match send(
        bearer(Request::post("/api/v1/sync/pull"), token),
        Some(body),
    )
    .await
    {
        Some((status, text)) => read_pull_answer(Some(status), &text),
        None => read_pull_answer(None, ""),
    }
}
