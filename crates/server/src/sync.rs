//! The sync routes, nested under `/api/v1`, both answering 401 without a live bearer token (the
//! pull through the [`Auth`] extractor; the push reads its session in one statement with its
//! client check, [`Db::push_session`](crate::Db::push_session)):
//!
//! - `POST /sync/push` ([`PushRequest`] → [`PushResponse`]): the protocol and app version are
//!   checked first ([`check_compat`]: 426 `protocol_unsupported` / `app_too_old` with the
//!   supported protocol or the minimum version; the tablet keeps its outbox and asks for an
//!   update). A session on an enrolled device binds the push's client id to that device (the
//!   first push records it, another client id later is 409 `client_mismatch`); a session without
//!   a device may push with its own client id, but not with one bound to a device nor with the
//!   server's own client of an account (see [`crate::followup`]). Then
//!   [`Db::push`](crate::Db::push) takes the batch with the session's authority
//!   ([`SessionAuthority`]): a mutation for a station the user may not write
//!   ([`can_write_station`]; on a device, only the device's station), a follow-up step recorded
//!   under another account (on a shared tablet: one that never signed in on it), a deputy's
//!   mark of another deputy's attendance off a tablet, are rejected `forbidden` inside the 200
//!   answer, recorded and their seq consumed, never applied.
//! - `POST /sync/pull` ([`PullRequest`] → [`PullResponse`]): the stations passed to
//!   [`Db::pull`](crate::Db::pull) are exactly those the user may read
//!   ([`can_read_station`](liaison_domain::account::can_read_station); on a device, only the
//!   device's station); the changes are their opinions (with the follow-up
//!   steps; the citizen masked, [`PullResponse::with_citizens_masked`]: the clear personal data
//!   is read only one record at a time, for a stated purpose, audited) and attendance records. A handling unit reads no station, so it gets nothing (it
//!   works online, see [`crate::followup`]).
//!
//! Whole-push refusals answer `{"error": {"code", "message", ...detail}}` with the detail of the
//! [`PushError`]: `gap` 409 (`expected`), `batch_too_large` 413 (`max`), `malformed` and
//! `kind_version_unsupported` 422, `app_too_old` / `protocol_unsupported` 426. Nothing of a
//! refused push is stored. Database errors are 500 through [`AppError`] (logged, generic).
//!
//! **Body size.** Both routes share the server-wide limit ([`Settings::body_limit`], 1 MiB). A
//! typical opinion is about 640 bytes of JSON as a `CreateOpinion` mutation, so a full push of
//! [`MAX_PUSH_MUTATIONS`] (200) is about 125 KiB, an eighth of the limit (test
//! `a_full_push_of_typical_opinions_fits_the_body_limit`); no route-specific limit is needed.
//! Opinions filled to every length limit (~23 KiB each) could exceed it at about 45 per push;
//! the tablet then gets 413 and halves its batch, as the protocol prescribes.
//!
//! [`Settings::body_limit`]: crate::Settings::body_limit
//! [`MAX_PUSH_MUTATIONS`]: liaison_domain::sync::MAX_PUSH_MUTATIONS

use crate::access::{SessionAuthority, Viewer};
use crate::auth::{Auth, Bearer, now_ms, token_hash};
use crate::db::PushFailure;
use crate::db::accounts::ClientBinding;
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use liaison_domain::account::can_write_station;
use liaison_domain::sync::{
    MutationKind, PROTOCOL_VERSION, PullRequest, PullResponse, PushError, PushRequest,
    PushResponse, check_compat,
};
use liaison_domain::{Directory, StationId};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sync/push", post(push))
        .route("/sync/pull", post(pull))
}

/// Why a sync request was refused as a whole.
#[derive(Debug)]
pub enum SyncError {
    /// The protocol refuses the push (or the pull's protocol); carries its detail.
    Refused(PushError),
    /// The device is bound to another sync client, or the client to another device.
    ClientMismatch,
    /// Everything else: unauthenticated, database errors.
    App(AppError),
}

impl From<AppError> for SyncError {
    fn from(error: AppError) -> Self {
        SyncError::App(error)
    }
}

impl From<sqlx::Error> for SyncError {
    fn from(error: sqlx::Error) -> Self {
        SyncError::App(AppError::Database(error))
    }
}

impl From<PushFailure> for SyncError {
    fn from(failure: PushFailure) -> Self {
        match failure {
            PushFailure::Refused(error) => SyncError::Refused(error),
            PushFailure::Database(error) => error.into(),
        }
    }
}

/// The HTTP status of a whole-push refusal.
pub fn push_error_status(error: &PushError) -> StatusCode {
    match error {
        PushError::Gap { .. } => StatusCode::CONFLICT,
        PushError::AppTooOld { .. } | PushError::ProtocolUnsupported { .. } => {
            StatusCode::UPGRADE_REQUIRED
        }
        PushError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        PushError::KindVersionUnsupported { .. } | PushError::Malformed { .. } => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
    }
}

impl IntoResponse for SyncError {
    fn into_response(self) -> Response {
        let (status, error) = match self {
            SyncError::App(error) => return error.into_response(),
            SyncError::ClientMismatch => (
                StatusCode::CONFLICT,
                json!({
                    "code": "client_mismatch",
                    "message": "This device syncs with another client id",
                }),
            ),
            SyncError::Refused(error) => {
                let status = push_error_status(&error);
                // `PushError` serialises as `{"error": "<code>", ...detail}`.
                let mut detail = match serde_json::to_value(&error) {
                    Ok(Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                let code = detail.remove("error").unwrap_or(Value::Null);
                detail.insert("code".into(), code);
                detail.insert("message".into(), Value::String(error.to_string()));
                (status, Value::Object(detail))
            }
        };
        (status, Json(json!({ "error": error }))).into_response()
    }
}

/// The stations this session may write: the user's role and scopes, and on an enrolled device
/// only the device's station (a shared tablet records for its own station).
pub(crate) fn may_write(auth: &Auth, hierarchy: &Directory, station: &StationId) -> bool {
    auth.device
        .as_ref()
        .is_none_or(|d| &d.station_id == station)
        && can_write_station(auth.role, &auth.scopes, station, hierarchy)
}

/// May this session read the station's records? By the same rule as [`may_write`] (written
/// once in [`Viewer::may_read`], which also judges the author of a step pushed from a shared
/// tablet).
pub(crate) fn may_read(auth: &Auth, hierarchy: &Directory, station: &StationId) -> bool {
    Viewer::of(auth).may_read(hierarchy, station)
}

/// The stations this session may read ([`may_read`]).
pub(crate) fn readable_stations(auth: &Auth, hierarchy: &Directory) -> Vec<StationId> {
    hierarchy
        .stations
        .iter()
        .map(|s| &s.id)
        .filter(|station| may_read(auth, hierarchy, station))
        .cloned()
        .collect()
}

fn no_store<T: IntoResponse>(body: T) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /api/v1/sync/push`.
async fn push(
    State(state): State<AppState>,
    Bearer(token): Bearer,
    Json(request): Json<PushRequest>,
) -> Result<Response, SyncError> {
    // Every statement here runs for each push on the pool that every request shares, ahead of
    // the push's group, so they are few: the session, the client check and the directory's
    // version in one; the station hierarchy from memory while that version stands
    // (`Db::station_hierarchy_at`); the cursor to announce from the group's commit
    // (BENCHMARKS.md, Sync).
    let client = request.client_id.to_string();
    let (auth, checked) = state
        .db
        .push_session(&token_hash(&token), now_ms(), &client)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    check_compat(
        request.protocol,
        &request.app_version,
        &state.settings.min_app_version,
    )
    .map_err(SyncError::Refused)?;

    let device_id = auth.device.as_ref().map(|d| d.id.as_str());
    let bound = match (checked.binding, device_id) {
        (ClientBinding::Bound, _) => true,
        (ClientBinding::Mismatch, _) => false,
        // The device's first push (or its client unbound meanwhile): the write decides races.
        (ClientBinding::Unbound, Some(device)) => {
            state.db.bind_device_client(device, &client).await?
        }
        (ClientBinding::Unbound, None) => false,
    };
    if !bound {
        tracing::warn!(
            user = %auth.username,
            device = auth.device.as_ref().map(|d| d.id.as_str()),
            client = %client,
            "sync client does not match the device"
        );
        return Err(SyncError::ClientMismatch);
    }

    // Attendance marks are checked against the deputies of each station; everything else needs
    // only the regions and stations.
    let marks = request
        .mutations
        .iter()
        .any(|m| matches!(m.kind, MutationKind::MarkAttendance { .. }));
    let hierarchy = if marks {
        Arc::new(state.db.directory().await?)
    } else {
        state
            .db
            .station_hierarchy_at(checked.directory_version)
            .await?
    };
    let authority = SessionAuthority::prepare(
        &state.db,
        &auth,
        &hierarchy,
        request.mutations.iter().map(|m| &m.kind),
    )
    .await?;
    let server_now = u64::try_from(now_ms()).unwrap_or(0);
    let (response, cursor): (PushResponse, _) = state
        .db
        .push_with_cursor(
            request.client_id,
            &request.mutations,
            server_now,
            &authority,
        )
        .await?;
    if !request.mutations.is_empty() {
        // Committed: poke the open event streams if the change counter moved (see `events`).
        state.events.announce(cursor);
    }
    Ok(no_store(Json(response)))
}

/// `POST /api/v1/sync/pull`.
async fn pull(
    State(state): State<AppState>,
    auth: Auth,
    Json(request): Json<PullRequest>,
) -> Result<Response, SyncError> {
    if request.protocol != PROTOCOL_VERSION {
        return Err(SyncError::Refused(PushError::ProtocolUnsupported {
            supported: PROTOCOL_VERSION,
        }));
    }
    let hierarchy = state.db.station_hierarchy().await?;
    let stations = readable_stations(&auth, &hierarchy);
    let response: PullResponse = state
        .db
        .pull(request.cursor, request.effective_limit(), &stations)
        .await?
        .with_citizens_masked();
    Ok(no_store(Json(response)))
}
