//! The audit log's viewer, nested under `/api/v1`, and the helpers the routes write records
//! with ([`record`], [`record_for`]). The records themselves and their actions are in
//! [`crate::db::audit`].
//!
//! - `GET /audit?before=&action=&actor=&station=&from=&to=&limit=` → `[AuditRecord]`, newest
//!   first: `before` is a record's `id` (the next page starts below the last id of this one),
//!   `action` an action code, `actor` a username, `station` a station id, `from` and `to` days
//!   (`YYYY-MM-DD`, China time, both included), `limit` at most 1000 (default 100).
//!   Administrators read every record; office staff the records about the stations their
//!   scopes cover (a record about no one station, such as a sign-in or an export over several
//!   stations, is the administrators'); anyone else 403. 400 `invalid_number` (`before`,
//!   `limit`), `invalid_date` (`from`, `to`), `invalid_filter` (a control character in any).
//!   `Cache-Control: no-store`.

use crate::auth::{Auth, now_ms};
use crate::db::Db;
use crate::db::audit::{AuditQuery, AuditRecord, insert};
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::readable_stations;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use liaison_domain::Role;
use liaison_domain::audit::may_read_audit_log;
use liaison_domain::followup::{CHINA_UTC_OFFSET_MINUTES, Date};
use liaison_domain::text::check_single_line;
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(audit))
}

/// Writes a record of what the signed-in `auth` did, about `station` if any. Fails the
/// request when it fails (the caller returns the error before doing or showing anything).
pub(crate) async fn record(
    db: &Db,
    auth: &Auth,
    action: &str,
    station: Option<&str>,
    detail: Value,
) -> Result<(), AppError> {
    record_for(
        db,
        &auth.user_id,
        &auth.username,
        &auth.display_name,
        action,
        station,
        detail,
    )
    .await
}

/// Writes a record of what an account (or an unknown one, with an empty id) did.
pub(crate) async fn record_for(
    db: &Db,
    user_id: &str,
    username: &str,
    display_name: &str,
    action: &str,
    station: Option<&str>,
    detail: Value,
) -> Result<(), AppError> {
    let mut conn = db.acquire().await?;
    insert(
        &mut conn.conn(),
        now_ms(),
        user_id,
        Some(username),
        display_name,
        action,
        station,
        &detail,
    )
    .await?;
    Ok(())
}

#[derive(Deserialize)]
struct AuditParams {
    before: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    station: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

const DAY_MS: i64 = 86_400_000;

/// The first millisecond of `day` in China.
fn start_of(day: Date) -> i64 {
    i64::from(day.days_since_epoch()) * DAY_MS - i64::from(CHINA_UTC_OFFSET_MINUTES) * 60_000
}

/// `GET /api/v1/audit`.
async fn audit(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<AuditParams>,
) -> Result<Response, AppError> {
    if !may_read_audit_log(auth.role) {
        return Err(AppError::Forbidden);
    }
    let stations = match auth.role {
        Role::Admin => None,
        Role::OfficeStaff => {
            let hierarchy = state.db.station_hierarchy().await?;
            Some(
                readable_stations(&auth, &hierarchy)
                    .into_iter()
                    .map(|s| s.0)
                    .collect::<Vec<_>>(),
            )
        }
        _ => return Err(AppError::Forbidden),
    };
    let texts = [
        &params.before,
        &params.action,
        &params.actor,
        &params.station,
        &params.from,
        &params.to,
        &params.limit,
    ];
    if texts
        .iter()
        .filter_map(|v| v.as_deref())
        .any(|v| check_single_line(v).is_err())
    {
        return Err(AppError::BadRequest {
            code: "invalid_filter",
            message: "A filter holds a control character",
        });
    }
    let number = |value: &Option<String>| {
        given(value)
            .map(|v| {
                v.parse::<i64>().map_err(|_| AppError::BadRequest {
                    code: "invalid_number",
                    message: "before and limit are whole numbers",
                })
            })
            .transpose()
    };
    let day = |value: &Option<String>| {
        given(value)
            .map(|v| {
                Date::parse(v).ok_or(AppError::BadRequest {
                    code: "invalid_date",
                    message: "A day is not YYYY-MM-DD",
                })
            })
            .transpose()
    };
    let query = AuditQuery {
        before_id: number(&params.before)?,
        action: given(&params.action).map(str::to_owned),
        actor: given(&params.actor).map(|a| a.to_lowercase()),
        station: given(&params.station).map(str::to_owned),
        from_ms: day(&params.from)?.map(start_of),
        to_ms: day(&params.to)?.map(|d| start_of(d.add_days(1)) - 1),
        stations,
        limit: number(&params.limit)?.unwrap_or(100),
    };
    let records: Vec<AuditRecord> = state.db.audit_records(&query).await?;
    let mut response = Json(records).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
