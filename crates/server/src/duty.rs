//! The duty routes, nested under `/api/v1`, behind the [`Auth`] extractor: attendance (recorded
//! on the tablets and pushed, read here), the duty roster and station events.
//!
//! - `GET /attendance?station=&from=&to=` → `[Attendance]`: one merged record per deputy, station
//!   and day, of the stations the caller may read (all of them, or the one named), in the period
//!   (days `YYYY-MM-DD`, both ends optional and included).
//! - `GET /roster?station=&from=&to=` → `[RosterEntry]`, the same way.
//! - `PUT /roster` `{"station_id", "day", "deputy_ids": [...]}` replaces that station's roster for
//!   that day → 204: station staff, office staff and administrators who may write the station
//!   (403 otherwise); 422 `unknown_station`, or `invalid` with a `deputy` error when someone
//!   listed does not serve at the station.
//! - `GET /activities?station=&from=&to=` → `[Activity]`, the same way as attendance.
//! - `POST /activities` ([`Activity`]) → 201 when stored, 200 when the same activity was stored
//!   before (a resend); whoever may write the station (403 otherwise); 422 `unknown_station`,
//!   `invalid_activity_id` (not a UUID), `already_exists` (another activity has the id), or
//!   `invalid` with `errors`: the domain's rules ([`Activity::validate`]: a title, texts within
//!   their limits) and every attendee (`attendees`) a deputy of the directory.
//!
//! A bad date in the query is 422 `invalid_filter`; empty parameters are ignored. Units read no
//! station, so they get empty lists.

use crate::auth::{Auth, now_ms};
use crate::db::followup::{ActivityStored, Period};
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::{may_write, readable_stations};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use liaison_domain::followup::{Activity, Attendance, Date, RosterEntry};
use liaison_domain::{DeputyId, Directory, Field, FieldError, Role, StationId, ValidationErrors};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/attendance", get(attendance))
        .route("/roster", get(roster).put(set_roster))
        .route("/activities", get(activities).post(add_activity))
}

/// `?station=&from=&to=`, each optional; an empty one means "any".
#[derive(Deserialize)]
struct PeriodParams {
    station: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// The readable stations (narrowed to the one asked for) and the period.
fn scope_and_period(
    auth: &Auth,
    hierarchy: &Directory,
    params: PeriodParams,
) -> Result<(Vec<StationId>, Period), AppError> {
    let invalid = || AppError::Invalid {
        code: "invalid_filter",
        message: "A filter has a value it cannot have",
    };
    let date = |value: Option<String>| {
        value
            .filter(|v| !v.trim().is_empty())
            .map(|v| Date::parse(&v).ok_or_else(invalid))
            .transpose()
    };
    let period = Period {
        from: date(params.from)?,
        to: date(params.to)?,
    };
    let mut stations = readable_stations(auth, hierarchy);
    if let Some(station) = params.station.filter(|s| !s.trim().is_empty()) {
        stations.retain(|s| s.0 == station);
    }
    Ok((stations, period))
}

/// `GET /api/v1/attendance`.
async fn attendance(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<PeriodParams>,
) -> Result<Json<Vec<Attendance>>, AppError> {
    let hierarchy = state.db.station_hierarchy().await?;
    let (stations, period) = scope_and_period(&auth, &hierarchy, params)?;
    Ok(Json(state.db.attendance(&stations, period).await?))
}

/// `GET /api/v1/roster`.
async fn roster(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<PeriodParams>,
) -> Result<Json<Vec<RosterEntry>>, AppError> {
    let hierarchy = state.db.station_hierarchy().await?;
    let (stations, period) = scope_and_period(&auth, &hierarchy, params)?;
    Ok(Json(state.db.roster(&stations, period).await?))
}

#[derive(Deserialize)]
struct RosterDay {
    station_id: StationId,
    day: Date,
    deputy_ids: Vec<DeputyId>,
}

fn unknown_station() -> AppError {
    AppError::Invalid {
        code: "unknown_station",
        message: "No such station",
    }
}

/// `PUT /api/v1/roster`.
async fn set_roster(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<RosterDay>,
) -> Result<StatusCode, AppError> {
    // Staff keep the roster; deputies are on it.
    if !matches!(
        auth.role,
        Role::Admin | Role::OfficeStaff | Role::StationStaff
    ) {
        return Err(AppError::Forbidden);
    }
    let directory = state.db.directory().await?;
    if directory.station(&body.station_id).is_none() {
        return Err(unknown_station());
    }
    if !may_write(&auth, &directory, &body.station_id) {
        return Err(AppError::Forbidden);
    }
    let serves_here = |deputy: &DeputyId| {
        directory
            .deputy(deputy)
            .is_some_and(|d| d.station_ids.contains(&body.station_id))
    };
    if !body.deputy_ids.iter().all(serves_here) {
        return Err(AppError::InvalidFields(ValidationErrors(vec![(
            Field::Deputy,
            FieldError::UnknownChoice,
        )])));
    }
    state
        .db
        .set_roster(&body.station_id, body.day, &body.deputy_ids)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/activities`.
async fn activities(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<PeriodParams>,
) -> Result<Json<Vec<Activity>>, AppError> {
    let hierarchy = state.db.station_hierarchy().await?;
    let (stations, period) = scope_and_period(&auth, &hierarchy, params)?;
    Ok(Json(state.db.activities(&stations, period).await?))
}

/// A UUID in its hyphenated text form, as the app makes ids.
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The activity as it is stored: the domain's rules ([`Activity::validate`]: texts trimmed,
/// each attendee once), and every attendee a deputy of the directory.
fn checked_activity(activity: Activity, directory: &Directory) -> Result<Activity, AppError> {
    let mut errors = ValidationErrors::default();
    let activity = match activity.validate() {
        Ok(activity) => activity,
        Err(found) => {
            errors = found;
            activity
        }
    };
    if activity
        .attendees
        .iter()
        .any(|d| directory.deputy(d).is_none())
    {
        errors.push(Field::Attendees, FieldError::UnknownChoice);
    }
    errors
        .into_result(activity)
        .map_err(AppError::InvalidFields)
}

/// `POST /api/v1/activities`.
async fn add_activity(
    State(state): State<AppState>,
    auth: Auth,
    Json(activity): Json<Activity>,
) -> Result<(StatusCode, Json<Activity>), AppError> {
    let directory = state.db.directory().await?;
    if directory.station(&activity.station_id).is_none() {
        return Err(unknown_station());
    }
    if !may_write(&auth, &directory, &activity.station_id) {
        return Err(AppError::Forbidden);
    }
    if !is_uuid(&activity.id) {
        return Err(AppError::Invalid {
            code: "invalid_activity_id",
            message: "An activity's id is a UUID made by the app",
        });
    }
    let activity = checked_activity(activity, &directory)?;
    match state
        .db
        .add_activity(&activity, &auth.user_id, now_ms())
        .await?
    {
        ActivityStored::Created => Ok((StatusCode::CREATED, Json(activity))),
        ActivityStored::AlreadyThere => Ok((StatusCode::OK, Json(activity))),
        ActivityStored::Conflict => Err(AppError::Invalid {
            code: "already_exists",
            message: "Another activity has this id",
        }),
    }
}
