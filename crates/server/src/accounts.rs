//! The account routes, nested under `/api/v1`:
//!
//! - `POST /session`: sign in (username, password, optional device token) → bearer token + user.
//! - `DELETE /session`: sign out (revokes the session of the bearer token).
//! - `GET /me`: the signed-in user, role, scopes, deputy, handling unit and device.
//! - `POST /devices`: enrol a tablet to a station (station staff or above, in scope) → device
//!   token, shown once.
//! - `DELETE /devices/{id}`: revoke a tablet; its sessions stop working at their next request.
//!
//! Sign-in failures all answer the same 401 `invalid_credentials` (unknown user, wrong password,
//! locked or disabled account), and an unknown user costs one dummy Argon2 verification, so
//! neither the answer nor its timing tells which usernames exist. After
//! [`Settings::max_failed_sign_ins`](crate::Settings) failures in a row a username is locked for
//! [`Settings::lockout`](crate::Settings).

use crate::auth::{Auth, DeviceRef, new_token, now_ms, token_hash};
use crate::error::AppError;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use liaison_domain::account::can_manage_devices;
use liaison_domain::{DeputyId, Role, Scope, StationId, UnitId};
use serde::{Deserialize, Serialize};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session", post(sign_in).delete(sign_out))
        .route("/me", get(me))
        .route("/devices", post(enroll_device))
        .route("/devices/{id}", delete(revoke_device))
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

/// `POST /api/v1/session`.
async fn sign_in(
    State(state): State<AppState>,
    Json(body): Json<SignIn>,
) -> Result<(StatusCode, Json<SessionCreated>), AppError> {
    let now = now_ms();
    let settings = &state.settings;

    // A revoked or unknown device token is refused before any password is checked: the tablet
    // has been cut off and must be enrolled again. Says nothing about users.
    let device = match body.device_token.as_deref() {
        Some(token) => Some(
            state
                .db
                .active_device_by_token_hash(&token_hash(token))
                .await?
                .ok_or(AppError::Invalid {
                    code: "device_not_enrolled",
                    message: "This device is not enrolled",
                })?,
        ),
        None => None,
    };

    if body.username.len() > MAX_CREDENTIAL_LEN || body.password.len() > MAX_CREDENTIAL_LEN {
        return Err(AppError::InvalidCredentials);
    }
    let credentials = state.db.credentials(&body.username).await?;
    let passwords = settings.passwords.clone();
    let password = body.password;
    let Some(credentials) = credentials else {
        tokio::task::spawn_blocking(move || passwords.verify_dummy(&password))
            .await
            .map_err(anyhow::Error::from)?;
        return Err(AppError::InvalidCredentials);
    };
    let locked = credentials.locked_until.is_some_and(|until| until > now);
    let stored = credentials.password_hash.clone();
    // Verified even when locked or disabled, so that those answers take the same time.
    let matches = tokio::task::spawn_blocking(move || passwords.verify(&stored, &password))
        .await
        .map_err(anyhow::Error::from)?;
    if locked || credentials.disabled {
        return Err(AppError::InvalidCredentials);
    }
    if !matches {
        let lock_ms = i64::try_from(settings.lockout.as_millis()).unwrap_or(i64::MAX);
        state
            .db
            .record_failed_sign_in(
                &credentials.user_id,
                now,
                i64::from(settings.max_failed_sign_ins),
                lock_ms,
            )
            .await?;
        return Err(AppError::InvalidCredentials);
    }

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
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/me`.
async fn me(auth: Auth) -> Json<Me> {
    Json(auth.into())
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
    if !can_manage_devices(auth.role, &auth.scopes, &body.station_id, &hierarchy) {
        return Err(AppError::Forbidden);
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_DEVICE_NAME_CHARS {
        return Err(AppError::Invalid {
            code: "invalid_device_name",
            message: "A device name of 1 to 100 characters is needed",
        });
    }
    let (device_token, hash) = new_token()?;
    let id = state
        .db
        .create_device(&body.station_id, name, &auth.user_id, &hash, now_ms())
        .await?;
    tracing::info!(device = %id, station = %body.station_id, by = %auth.username, "device enrolled");
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
    if !can_manage_devices(auth.role, &auth.scopes, &device.station_id, &hierarchy) {
        return Err(AppError::Forbidden);
    }
    if device.revoked_at.is_none() {
        state.db.revoke_device(&id, now_ms()).await?;
        tracing::info!(device = %id, by = %auth.username, "device revoked");
    }
    Ok(StatusCode::NO_CONTENT)
}
