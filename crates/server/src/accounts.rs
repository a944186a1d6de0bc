//! The account routes, nested under `/api/v1`:
//!
//! - `POST /session`: sign in (username, password, optional device token) → bearer token + user.
//! - `DELETE /session`: sign out (revokes the session of the bearer token).
//! - `GET /me`: the signed-in user, role, scopes, deputy, handling unit and device.
//! - `POST /devices`: enrol a tablet to a station (station staff or above, in scope; on a tablet
//!   only for the tablet's own station) → device token, shown once.
//! - `GET /devices?station=…`: a station's tablets, revoked ones too (whoever may enrol there).
//! - `DELETE /devices/{id}`: revoke a tablet; its sessions stop working at their next request.
//! - `POST /devices/status`: a tablet asks, with its device token and no session, whether it is
//!   still enrolled; a revoked tablet deletes its local data when told so (`revoked`).
//! - `POST /device-keys`: on an enrolled tablet, the server's key of the signed-in account (made
//!   on first ask) and of other accounts that signed in there before (see
//!   `migrations/*/0012_device_keys.sql`).
//!
//! Sign-in failures all answer the same 401 `invalid_credentials` (unknown user, wrong password,
//! locked or disabled account), and an unknown user costs one dummy Argon2 verification, so
//! neither the answer nor its timing tells which usernames exist. After
//! [`Settings::max_failed_sign_ins`](crate::Settings) failures in a row a username is locked for
//! [`Settings::lockout`](crate::Settings). Before all that, attempts are rate limited per client
//! address and per username ([`crate::rate_limit`]: 429 `too_many_sign_ins` with `Retry-After`).
//!
//! **Audited** ([`crate::db::audit::actions`]): each sign-in (`sign_in`), each failure
//! (`sign_in_failed` with the username tried and why, never the password; `lockout` for the
//! failure that locks the account), sign-out, device enrolment and revocation. Each record is
//! written before the answer; when it cannot be, the request fails (500) and no token is handed
//! out.

use crate::audit;
use crate::auth::{Auth, DeviceRef, new_token, now_ms, token_hash};
use crate::db::accounts::normalize_username;
use crate::db::audit::actions::{
    DEVICE_ENROLLED, DEVICE_REVOKED, LOCKOUT, SIGN_IN, SIGN_IN_FAILED, SIGN_OUT,
};
use crate::error::AppError;
use crate::rate_limit::ClientAddress;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use liaison_domain::account::can_manage_devices;
use liaison_domain::text::check_single_line;
use liaison_domain::{DeputyId, Directory, Role, Scope, StationId, UnitId};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", post(sign_in).delete(sign_out))
        .route("/me", get(me))
        .route("/devices", post(enroll_device).get(list_devices))
        .route("/devices/{id}", delete(revoke_device))
        .route("/devices/status", post(device_status))
        .route("/device-keys", post(device_keys))
}

/// Most accounts one `POST /device-keys` asks about (a station has a handful of deputies).
const MAX_DEVICE_KEY_ACCOUNTS: usize = 50;
/// Bytes of a device key (an AES-256 key on the tablet).
const DEVICE_KEY_LEN: usize = 32;

#[derive(Deserialize)]
pub struct DeviceStatusQuery {
    pub device_token: String,
}

/// Where an enrolment stands, as the tablet holding its token is told.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    Enrolled,
    /// Revoked: the tablet deletes its local data.
    Revoked,
    /// No such device (e.g. the server's data was replaced): the tablet forgets its enrolment
    /// but keeps its data, which may still need to be exported.
    Unknown,
}

#[derive(Serialize)]
pub struct DeviceStatus {
    pub state: DeviceState,
}

#[derive(Deserialize)]
pub struct DeviceListQuery {
    pub station: StationId,
}

/// A tablet as its station's staff see it in the list.
#[derive(Serialize, Deserialize)]
pub struct DeviceListed {
    pub id: String,
    pub station_id: StationId,
    pub name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// `GET /api/v1/devices?station=…`: the station's tablets, oldest first, to whoever may enrol
/// and revoke tablets there (403 otherwise; on a tablet only for its own station).
async fn list_devices(
    State(state): State<AppState>,
    auth: Auth,
    axum::extract::Query(query): axum::extract::Query<DeviceListQuery>,
) -> Result<Json<Vec<DeviceListed>>, AppError> {
    let hierarchy = state.db.station_hierarchy().await?;
    if !may_manage_devices(&auth, &hierarchy, &query.station) {
        return Err(AppError::Forbidden);
    }
    Ok(Json(state.db.devices_of_station(&query.station).await?))
}

/// `POST /api/v1/devices/status` (no session needed: a locked tablet asks too). Only the holder
/// of the device token learns anything, and only about that device.
async fn device_status(
    State(state): State<AppState>,
    Json(body): Json<DeviceStatusQuery>,
) -> Result<Json<DeviceStatus>, AppError> {
    if body.device_token.len() > MAX_CREDENTIAL_LEN {
        return Ok(Json(DeviceStatus {
            state: DeviceState::Unknown,
        }));
    }
    let revoked = state
        .db
        .device_revoked_by_token_hash(&token_hash(&body.device_token))
        .await?;
    let state = match revoked {
        Some(false) => DeviceState::Enrolled,
        Some(true) => DeviceState::Revoked,
        None => DeviceState::Unknown,
    };
    Ok(Json(DeviceStatus { state }))
}

#[derive(Deserialize)]
pub struct DeviceKeysQuery {
    /// Accounts besides the signed-in one whose keys the tablet needs (to push their work).
    pub usernames: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub struct DeviceKey {
    pub username: String,
    /// Base64 (standard, padded) of the key's bytes.
    pub key: String,
}

#[derive(Serialize, Deserialize)]
pub struct DeviceKeys {
    pub keys: Vec<DeviceKey>,
}

/// `POST /api/v1/device-keys`: only from a session on an enrolled tablet (403 `not_on_a_device`
/// otherwise). The signed-in account's key is made on its first ask; another account's key is
/// answered only if that account once asked on this same tablet. Unknown names are left out.
async fn device_keys(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<DeviceKeysQuery>,
) -> Result<Json<DeviceKeys>, AppError> {
    let Some(device) = &auth.device else {
        return Err(AppError::Refused {
            code: "not_on_a_device",
            message: "device keys are given only to enrolled tablets",
        });
    };
    if body.usernames.len() > MAX_DEVICE_KEY_ACCOUNTS
        || body.usernames.iter().any(|u| u.len() > MAX_CREDENTIAL_LEN)
    {
        return Err(AppError::Invalid {
            code: "too_long",
            message: "too many or too long usernames",
        });
    }
    let usernames: Vec<String> = body
        .usernames
        .iter()
        .map(|u| normalize_username(u))
        .collect();
    let new_key = crate::auth::random_bytes::<DEVICE_KEY_LEN>()?;
    let keys = state
        .db
        .device_keys(&device.id, &auth.user_id, &new_key, &usernames, now_ms())
        .await?;
    Ok(Json(DeviceKeys {
        keys: keys
            .into_iter()
            .map(|(username, key)| DeviceKey {
                username,
                key: base64::engine::general_purpose::STANDARD.encode(key),
            })
            .collect(),
    }))
}

/// Longest username or password accepted (a longer one is a failed sign-in, not hashed).
const MAX_CREDENTIAL_LEN: usize = 256;
/// Longest device name, in characters.
const MAX_DEVICE_NAME_CHARS: usize = 100;

#[derive(Deserialize)]
pub struct SignIn {
    pub username: String,
    pub password: String,
    /// The token the tablet got when it was enrolled; binds the session to that device.
    #[serde(default)]
    pub device_token: Option<String>,
}

/// The signed-in user as the app sees it.
#[derive(Serialize)]
pub struct Me {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub deputy_id: Option<DeputyId>,
    /// The unit of a handling-unit account (it sees what is referred to that unit).
    pub unit_id: Option<UnitId>,
    pub scopes: Vec<Scope>,
    pub device: Option<DeviceRef>,
    /// Milliseconds since the Unix epoch.
    pub session_expires_at: i64,
}

impl From<Auth> for Me {
    fn from(auth: Auth) -> Self {
        Me {
            id: auth.user_id,
            username: auth.username,
            display_name: auth.display_name,
            role: auth.role,
            deputy_id: auth.deputy_id,
            unit_id: auth.unit_id,
            scopes: auth.scopes,
            device: auth.device,
            session_expires_at: auth.session_expires_at,
        }
    }
}

#[derive(Serialize)]
pub struct SessionCreated {
    /// Send as `Authorization: Bearer <token>`. Shown once; the server keeps only its hash.
    pub token: String,
    pub user: Me,
}

/// The username as typed, fit for the audit log: control characters replaced (a NUL cannot be
/// stored on PostgreSQL, a newline would forge lines in an exported log), at most 100
/// characters.
fn attempted(username: &str) -> String {
    username
        .trim()
        .chars()
        .take(100)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

/// Writes the audit record of a failed sign-in: the username tried (never the password), the
/// account if there is one, and why (`unknown_user`, `wrong_password`, `locked`, `disabled`,
/// `device_not_enrolled`, `too_long`).
async fn audit_failure(
    state: &AppState,
    user_id: &str,
    username: &str,
    action: &str,
    reason: &str,
) -> Result<(), AppError> {
    audit::record_for(
        &state.db,
        user_id,
        &attempted(username),
        "",
        action,
        None,
        json!({"username": attempted(username), "reason": reason}),
    )
    .await
}

/// `POST /api/v1/session`.
async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Json(body): Json<SignIn>,
) -> Result<(StatusCode, Json<SessionCreated>), AppError> {
    let now = now_ms();
    let settings = &state.settings;

    // Before anything costs: no hashing, no database, no audit record for a flood.
    let normalised = normalize_username(&attempted(&body.username));
    if let Err(retry_after) = state.sign_in_limiter.attempt(&address, &normalised) {
        tracing::warn!(%address, "sign-in rate limit reached");
        return Err(AppError::TooManySignIns { retry_after });
    }

    // A revoked or unknown device token is refused before any password is checked: the tablet
    // has been cut off and must be enrolled again. Says nothing about users.
    let device = match body.device_token.as_deref() {
        Some(token) => match state
            .db
            .active_device_by_token_hash(&token_hash(token))
            .await?
        {
            Some(device) => Some(device),
            None => {
                audit_failure(
                    &state,
                    "",
                    &body.username,
                    SIGN_IN_FAILED,
                    "device_not_enrolled",
                )
                .await?;
                return Err(AppError::Invalid {
                    code: "device_not_enrolled",
                    message: "This device is not enrolled",
                });
            }
        },
        None => None,
    };

    if body.username.len() > MAX_CREDENTIAL_LEN || body.password.len() > MAX_CREDENTIAL_LEN {
        audit_failure(&state, "", &body.username, SIGN_IN_FAILED, "too_long").await?;
        return Err(AppError::InvalidCredentials);
    }
    // No username holds one (a NUL could not even be looked up on PostgreSQL).
    if check_single_line(&body.username).is_err() {
        audit_failure(
            &state,
            "",
            &body.username,
            SIGN_IN_FAILED,
            "control_character",
        )
        .await?;
        return Err(AppError::InvalidCredentials);
    }
    let credentials = state.db.credentials(&body.username).await?;
    let passwords = settings.passwords.clone();
    let password = body.password;
    let Some(credentials) = credentials else {
        tokio::task::spawn_blocking(move || passwords.verify_dummy(&password))
            .await
            .map_err(anyhow::Error::from)?;
        audit_failure(&state, "", &body.username, SIGN_IN_FAILED, "unknown_user").await?;
        return Err(AppError::InvalidCredentials);
    };
    let locked = credentials.locked_until.is_some_and(|until| until > now);
    let stored = credentials.password_hash.clone();
    // Verified even when locked or disabled, so that those answers take the same time.
    let matches = tokio::task::spawn_blocking(move || passwords.verify(&stored, &password))
        .await
        .map_err(anyhow::Error::from)?;
    if locked || credentials.disabled {
        let reason = if locked { "locked" } else { "disabled" };
        audit_failure(
            &state,
            &credentials.user_id,
            &body.username,
            SIGN_IN_FAILED,
            reason,
        )
        .await?;
        return Err(AppError::InvalidCredentials);
    }
    if !matches {
        let lock_ms = i64::try_from(settings.lockout.as_millis()).unwrap_or(i64::MAX);
        let now_locked = state
            .db
            .record_failed_sign_in(
                &credentials.user_id,
                now,
                i64::from(settings.max_failed_sign_ins),
                lock_ms,
            )
            .await?;
        audit_failure(
            &state,
            &credentials.user_id,
            &body.username,
            if now_locked { LOCKOUT } else { SIGN_IN_FAILED },
            "wrong_password",
        )
        .await?;
        return Err(AppError::InvalidCredentials);
    }
    // The right password: the attempt is given back. The limit is for guessing (and the hashing
    // it costs), not for a station whose deputies, behind one address, all sign in at a shift
    // change, nor for a deputy signing in on several tablets.
    state.sign_in_limiter.succeeded(&address, &normalised);

    let (token, hash) = new_token()?;
    let ttl_ms = i64::try_from(settings.session_ttl.as_millis()).unwrap_or(i64::MAX);
    state
        .db
        .create_session(
            &credentials.user_id,
            device.as_ref().map(|d| d.id.as_str()),
            &hash,
            now,
            now.saturating_add(ttl_ms),
        )
        .await?;
    let auth = state
        .db
        .session_by_token_hash(&hash, now)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the session just created is not live"))?;
    // Written before the token is handed out: a session the log does not hold is never used.
    // (If this fails the session exists unused, and expires.)
    audit::record(
        &state.db,
        &auth,
        SIGN_IN,
        auth.device.as_ref().map(|d| d.station_id.0.as_str()),
        json!({"session_id": auth.session_id, "device_id": auth.device.as_ref().map(|d| &d.id)}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            token,
            user: auth.into(),
        }),
    ))
}

/// `DELETE /api/v1/session`: 204; the token stops working at once.
async fn sign_out(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, AppError> {
    state.db.revoke_session(&auth.session_id, now_ms()).await?;
    audit::record(
        &state.db,
        &auth,
        SIGN_OUT,
        auth.device.as_ref().map(|d| d.station_id.0.as_str()),
        json!({"session_id": auth.session_id}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/me`.
async fn me(auth: Auth) -> Json<Me> {
    Json(auth.into())
}

/// The role and scopes ([`can_manage_devices`]), and on an enrolled tablet only the tablet's
/// own station: a station's shared tablet, or a lost one, enrols and revokes nothing elsewhere
/// (as it reads and writes nothing elsewhere, see [`crate::access`]).
fn may_manage_devices(auth: &Auth, hierarchy: &Directory, station: &StationId) -> bool {
    auth.device
        .as_ref()
        .is_none_or(|d| &d.station_id == station)
        && can_manage_devices(auth.role, &auth.scopes, station, hierarchy)
}

#[derive(Deserialize)]
pub struct EnrollDevice {
    pub station_id: StationId,
    pub name: String,
}

#[derive(Serialize)]
pub struct DeviceEnrolled {
    pub id: String,
    pub station_id: StationId,
    pub name: String,
    /// Given to the tablet once (it sends it with each sign-in); the server keeps only its hash.
    pub device_token: String,
}

/// `POST /api/v1/devices`: 201, or 403 unless station staff or above with the station in scope,
/// 422 `unknown_station` / `invalid_device_name`.
async fn enroll_device(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<EnrollDevice>,
) -> Result<(StatusCode, Json<DeviceEnrolled>), AppError> {
    if matches!(auth.role, Role::Deputy | Role::HandlingUnit) {
        return Err(AppError::Forbidden);
    }
    let hierarchy = state.db.station_hierarchy().await?;
    if hierarchy.station(&body.station_id).is_none() {
        return Err(AppError::Invalid {
            code: "unknown_station",
            message: "No such station",
        });
    }
    if !may_manage_devices(&auth, &hierarchy, &body.station_id) {
        return Err(AppError::Forbidden);
    }
    let name = body.name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_DEVICE_NAME_CHARS
        || check_single_line(name).is_err()
    {
        return Err(AppError::Invalid {
            code: "invalid_device_name",
            message: "A device name of 1 to 100 characters on one line is needed",
        });
    }
    let (device_token, hash) = new_token()?;
    let id = state
        .db
        .create_device(&body.station_id, name, &auth.user_id, &hash, now_ms())
        .await?;
    tracing::info!(device = %id, station = %body.station_id, by = %auth.username, "device enrolled");
    // The device exists but its token is not yet handed out: without the record it is never used.
    audit::record(
        &state.db,
        &auth,
        DEVICE_ENROLLED,
        Some(&body.station_id.0),
        json!({"device_id": id, "name": name}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceEnrolled {
            id,
            station_id: body.station_id,
            name: name.to_owned(),
            device_token,
        }),
    ))
}

/// `DELETE /api/v1/devices/{id}`: 204 (also when already revoked); 404 for an unknown device,
/// 403 unless allowed to manage the device's station.
async fn revoke_device(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let device = state.db.device(&id).await?.ok_or(AppError::NotFound)?;
    let hierarchy = state.db.station_hierarchy().await?;
    if !may_manage_devices(&auth, &hierarchy, &device.station_id) {
        return Err(AppError::Forbidden);
    }
    if device.revoked_at.is_none() {
        state.db.revoke_device(&id, now_ms()).await?;
        tracing::info!(device = %id, by = %auth.username, "device revoked");
        audit::record(
            &state.db,
            &auth,
            DEVICE_REVOKED,
            Some(&device.station_id.0),
            json!({"device_id": id}),
        )
        .await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
