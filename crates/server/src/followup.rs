//! The follow-up routes, nested under `/api/v1`, behind the [`Auth`] extractor. The back office
//! (office and station staff) and the handling units work here, online; tablets record the same
//! steps offline and push them ([`crate::sync`]).
//!
//! - `GET /units` → `[HandlingUnit]`: the units the caller may see ([`may_see_unit`]).
//! - `GET /calendar` → [`WorkCalendar`] (anyone signed in: the tablets count deadlines with it);
//!   `PUT /calendar` (administrators only: there is one calendar for every region, so no
//!   region's office may change the others' deadlines) replaces it → 204; 422
//!   `calendar_conflict` when a day is both a holiday and a make-up working day,
//!   `calendar_too_large` beyond [`MAX_CALENDAR_DAYS`].
//! - `GET /ledger?station=&status=&category=&deputy=&unit=&from=&to=&colour=` → `[LedgerRow]`:
//!   the [`LedgerQuery`] filters as query parameters (empty ones ignored; a bad one is 422
//!   `invalid_filter`), over what the caller may read (staff and deputies: the readable
//!   stations; a unit: what was ever referred to it), deleted opinions left out; overdue first,
//!   then due soon, then the rest, newest first within each. Deadline colours on the server's
//!   calendar for today in China.
//! - `GET /opinions/{id}` → [`ItemView`] with the citizen's personal data masked, and the steps
//!   the caller may take now. 404, like any unknown id, when the caller may not read it.
//! - `POST /opinions/{id}/steps` ([`StepRequest`]) → 200 [`ItemView`] after the step: the server
//!   makes the [`FollowUp`] (the request's `id` if it has one, else a new one; its own time; the
//!   session's account as the actor) and takes it through the sync store like a pushed mutation
//!   ([`Db::record_online`], with the account's own server-side sync client): the same
//!   authorisation ([`SessionAuthority`]) and validation, a change number, pulled by the
//!   tablets, and a poke on the change-event stream. 404 when the item is not readable, 403 when
//!   it is readable but not writable, 422 `invalid` with `errors` for bad texts (or a unit the
//!   caller may not see or that does not exist), 422 `not_allowed` with `transition` when the
//!   lifecycle refuses.
//!
//!   **Idempotent.** The page makes the step's id when the form opens and sends it with the
//!   step; sent again after a lost answer, the step is already in the item's history, so nothing
//!   is taken twice and the answer is 200 with the item as it is. An `id` that is not a UUID is
//!   refused by the JSON reading (422).
//!
//!   **A referral's deadline is the server's**: its `working_days` from today (China) on the
//!   server's calendar, whatever `due` the page sent (the page only previews it with the
//!   calendar it cached). The sync store checks it again on the calendar it reads under its lock;
//!   only a calendar replaced in the same instant can make that 422 `deadline_mismatch`, and
//!   sending the step again counts anew.
//!
//!   **Nothing is read after the commit.** The calendar and the directory are read before the
//!   step is stored, and the answer is built from the state the push transaction wrote. So a 500
//!   means the step was not taken (or, if the commit's own answer was lost, that it may have
//!   been: the page reloads the item, and a resend with the same id is harmless).
//!
//! [`Db::record_online`]: crate::Db::record_online

use crate::access::{SessionAuthority, actor, may_act_on_item, may_read_item, may_see_unit};
use crate::auth::{Auth, now_ms, random_bytes};
use crate::db::PushFailure;
use crate::db::followup::MAX_CALENDAR_DAYS;
use crate::error::AppError;
use crate::state::AppState;
use crate::sync::readable_stations;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use liaison_domain::followup::{
    Action, CHINA_UTC_OFFSET_MINUTES, Date, DeadlineColour, FollowUp, HandlingUnit, ItemView,
    LedgerQuery, LedgerRow, StatusKind, StepRequest, TransitionError, WorkCalendar,
};
use liaison_domain::sync::{MutationKind, OpinionReplica, RejectCode, Rejected};
use liaison_domain::{
    DeputyId, Directory, FollowUpId, Opinion, OpinionId, Role, StationId, UnitId,
};
use serde::Deserialize;
use std::cmp::Reverse;
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/units", get(units))
        .route("/calendar", get(calendar).put(set_calendar))
        .route("/ledger", get(ledger))
        .route("/opinions/{id}", get(item))
        .route("/opinions/{id}/steps", post(record_step))
}

/// Today in China, where every station is: the day deadlines are coloured for, and the day the
/// overdue figure is counted up to.
pub(crate) fn today() -> Date {
    Date::from_unix_ms(now_ms(), CHINA_UTC_OFFSET_MINUTES)
}

/// `GET /api/v1/units`.
async fn units(
    State(state): State<AppState>,
    auth: Auth,
) -> Result<Json<Vec<HandlingUnit>>, AppError> {
    let hierarchy = state.db.station_hierarchy().await?;
    let units = state.db.units().await?;
    Ok(Json(
        units
            .into_iter()
            .filter(|unit| may_see_unit(&auth, &hierarchy, unit))
            .collect(),
    ))
}

/// `GET /api/v1/calendar`.
async fn calendar(
    State(state): State<AppState>,
    _auth: Auth,
) -> Result<Json<WorkCalendar>, AppError> {
    Ok(Json(state.db.work_calendar().await?))
}

/// `PUT /api/v1/calendar`.
async fn set_calendar(
    State(state): State<AppState>,
    auth: Auth,
    Json(calendar): Json<WorkCalendar>,
) -> Result<StatusCode, AppError> {
    // One calendar serves every region's deadlines: only an administrator changes it.
    if auth.role != Role::Admin {
        return Err(AppError::Forbidden);
    }
    if calendar.holidays.len() + calendar.make_up_working_days.len() > MAX_CALENDAR_DAYS {
        return Err(AppError::Invalid {
            code: "calendar_too_large",
            message: "The calendar lists too many days",
        });
    }
    if !calendar
        .holidays
        .is_disjoint(&calendar.make_up_working_days)
    {
        return Err(AppError::Invalid {
            code: "calendar_conflict",
            message: "A day cannot be both a holiday and a make-up working day",
        });
    }
    state.db.set_work_calendar(&calendar).await?;
    tracing::info!(by = %auth.username, "work calendar replaced");
    Ok(StatusCode::NO_CONTENT)
}

/// The ledger's query parameters as sent: every one optional, and an empty one means "any"
/// (a form submits its empty selects).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub(crate) struct LedgerParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deputy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
}

fn invalid_filter() -> AppError {
    AppError::Invalid {
        code: "invalid_filter",
        message: "A ledger filter has a value it cannot have",
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// Parses the `status`, `colour` and date codes; a bad one is 422 `invalid_filter`.
pub(crate) fn ledger_query(params: LedgerParams) -> Result<LedgerQuery, AppError> {
    let date = |value: Option<String>| {
        non_empty(value)
            .map(|v| Date::parse(&v).ok_or_else(invalid_filter))
            .transpose()
    };
    Ok(LedgerQuery {
        station: non_empty(params.station).map(StationId),
        status: non_empty(params.status)
            .map(|v| StatusKind::from_code(v.trim()).ok_or_else(invalid_filter))
            .transpose()?,
        category: non_empty(params.category),
        deputy: non_empty(params.deputy).map(DeputyId),
        unit: non_empty(params.unit).map(UnitId),
        from: date(params.from)?,
        to: date(params.to)?,
        colour: non_empty(params.colour)
            .map(|v| {
                [
                    DeadlineColour::OnTime,
                    DeadlineColour::DueSoon,
                    DeadlineColour::Overdue,
                ]
                .into_iter()
                .find(|c| c.code() == v.trim())
                .ok_or_else(invalid_filter)
            })
            .transpose()?,
    })
}

/// One ledger line for a stored opinion (`None` for a deleted one).
fn ledger_row(
    replica: &OpinionReplica,
    calendar: &WorkCalendar,
    today: Date,
    unit_names: &HashMap<UnitId, String>,
) -> Option<LedgerRow> {
    let opinion = replica.opinion()?;
    let lifecycle = replica.lifecycle()?;
    let unit_name = lifecycle.unit_id.as_ref().and_then(|unit| {
        unit_names.get(unit).cloned().or_else(|| {
            // A unit removed since: the name the referral recorded.
            replica
                .steps()
                .filter_map(|step| match &step.action {
                    Action::Refer {
                        unit_id, unit_name, ..
                    } if unit_id == unit => Some(unit_name.clone()),
                    _ => None,
                })
                .last()
        })
    });
    Some(LedgerRow {
        opinion_id: opinion.id,
        station_id: opinion.station_id,
        deputy_id: opinion.deputy_id,
        category: opinion.category,
        summary: opinion.summary,
        created_at_ms: opinion.created_at_ms,
        status: lifecycle.status.kind(),
        colour: lifecycle.deadline_colour(calendar, today),
        due: lifecycle.due,
        unit_id: lifecycle.unit_id,
        unit_name,
        steps: lifecycle.steps,
    })
}

fn matches_query(row: &LedgerRow, query: &LedgerQuery) -> bool {
    let recorded_on = Date::from_unix_ms(
        i64::try_from(row.created_at_ms).unwrap_or(i64::MAX),
        CHINA_UTC_OFFSET_MINUTES,
    );
    query.station.as_ref().is_none_or(|s| &row.station_id == s)
        && query.status.is_none_or(|s| row.status == s)
        && query.category.as_ref().is_none_or(|c| &row.category == c)
        && query.deputy.as_ref().is_none_or(|d| &row.deputy_id == d)
        && query
            .unit
            .as_ref()
            .is_none_or(|u| row.unit_id.as_ref() == Some(u))
        && query.from.is_none_or(|from| recorded_on >= from)
        && query.to.is_none_or(|to| recorded_on <= to)
        && query.colour.is_none_or(|c| row.colour == Some(c))
}

/// Overdue first, then due soon, then the rest.
fn urgency(colour: Option<DeadlineColour>) -> u8 {
    match colour {
        Some(DeadlineColour::Overdue) => 0,
        Some(DeadlineColour::DueSoon) => 1,
        _ => 2,
    }
}

/// `GET /api/v1/ledger`.
async fn ledger(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<LedgerParams>,
) -> Result<Json<Vec<LedgerRow>>, AppError> {
    let query = ledger_query(params)?;
    let items = ledger_items(&state, &auth, &query).await?;
    Ok(Json(items.into_iter().map(|(row, _)| row).collect()))
}

/// The ledger's lines for `auth` and `query`, each with its stored opinion, in the ledger's
/// order (`GET /api/v1/ledger` and its export).
///
/// The opinions the caller may read are narrowed in SQL (by station, or by the unit's
/// referrals) and then filtered in Rust with the domain's own lifecycle: the status, unit and
/// deadline colour are replayed from the steps, not stored columns. A station's ledger holds
/// some thousands of items a year, which this reads in milliseconds; when a region's ledger
/// outgrows that, the filters move to the figures' facts (`opinion_facts` holds the status,
/// the unit and the deadline of every live opinion).
pub(crate) async fn ledger_items(
    state: &AppState,
    auth: &Auth,
    query: &LedgerQuery,
) -> Result<Vec<(LedgerRow, OpinionReplica)>, AppError> {
    let replicas = if auth.role == Role::HandlingUnit {
        match &auth.unit_id {
            Some(unit) => state.db.opinions_referred_to(unit).await?,
            None => Vec::new(),
        }
    } else {
        let hierarchy = state.db.station_hierarchy().await?;
        let mut stations = readable_stations(auth, &hierarchy);
        if let Some(station) = &query.station {
            stations.retain(|s| s == station);
        }
        state.db.opinions_at(&stations).await?
    };
    let calendar = state.db.work_calendar().await?;
    let unit_names: HashMap<UnitId, String> = state
        .db
        .units()
        .await?
        .into_iter()
        .map(|u| (u.id, u.name))
        .collect();
    let today = today();
    let mut items: Vec<(LedgerRow, OpinionReplica)> = replicas
        .into_iter()
        .filter_map(|replica| {
            ledger_row(&replica, &calendar, today, &unit_names).map(|row| (row, replica))
        })
        .filter(|(row, _)| matches_query(row, query))
        .collect();
    items.sort_by_key(|(row, _)| {
        (
            urgency(row.colour),
            Reverse(row.created_at_ms),
            Reverse(row.opinion_id),
        )
    });
    Ok(items)
}

/// The opinion as the item view shows it: [`Opinion::with_citizen_masked`] (the masked line with
/// the phone's ends is sent beside it, [`ItemView::citizen_masked`]).
fn masked(opinion: Opinion) -> Opinion {
    opinion.with_citizen_masked()
}

/// The item view of `replica` for `auth`, who may read it, with the deadline's colour on
/// `calendar` today. Reads nothing: [`record_step`] calls it after the step is committed.
fn item_view(
    auth: &Auth,
    hierarchy: &Directory,
    calendar: &WorkCalendar,
    replica: &OpinionReplica,
) -> Result<ItemView, AppError> {
    let (Some(opinion), Some(lifecycle)) = (replica.opinion(), replica.lifecycle()) else {
        return Err(AppError::NotFound);
    };
    let available = if may_act_on_item(auth, hierarchy, replica) {
        lifecycle.available(&actor(auth))
    } else {
        Vec::new()
    };
    Ok(ItemView {
        citizen_masked: opinion.citizen.masked_summary(),
        opinion: masked(opinion),
        colour: lifecycle.deadline_colour(calendar, today()),
        lifecycle,
        steps: replica.steps().cloned().collect(),
        available,
    })
}

/// The stored opinion `id`, if `auth` may read it; 404 otherwise, whether it exists or not.
pub(crate) async fn readable_item(
    state: &AppState,
    auth: &Auth,
    hierarchy: &Directory,
    id: &str,
) -> Result<OpinionReplica, AppError> {
    let id = OpinionId::parse(id).ok_or(AppError::NotFound)?;
    state
        .db
        .opinion_state(id)
        .await?
        .filter(|replica| may_read_item(auth, hierarchy, replica))
        .ok_or(AppError::NotFound)
}

/// `GET /api/v1/opinions/{id}`.
async fn item(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<Json<ItemView>, AppError> {
    let hierarchy = state.db.station_hierarchy().await?;
    let replica = readable_item(&state, &auth, &hierarchy, &id).await?;
    let calendar = state.db.work_calendar().await?;
    Ok(Json(item_view(&auth, &hierarchy, &calendar, &replica)?))
}

/// The HTTP answer to a step the sync store refused.
fn refusal(rejected: Rejected) -> AppError {
    match rejected.code {
        RejectCode::NotAllowed => match rejected.transition {
            Some(TransitionError::Invalid { errors }) => AppError::InvalidFields(errors),
            Some(transition) => AppError::NotAllowed(transition),
            None => AppError::Invalid {
                code: "not_allowed",
                message: "The step is not allowed",
            },
        },
        RejectCode::Invalid => AppError::InvalidFields(rejected.errors),
        RejectCode::Forbidden => AppError::Forbidden,
        RejectCode::NotFound | RejectCode::Deleted => AppError::NotFound,
        other => AppError::Invalid {
            code: other.code(),
            message: "The step was refused",
        },
    }
}

/// `POST /api/v1/opinions/{id}/steps`.
async fn record_step(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(request): Json<StepRequest>,
) -> Result<Json<ItemView>, AppError> {
    let hierarchy = state.db.station_hierarchy().await?;
    let replica = readable_item(&state, &auth, &hierarchy, &id).await?;
    if !may_act_on_item(&auth, &hierarchy, &replica) {
        return Err(AppError::Forbidden);
    }
    // Stored trimmed, as the forms send it (the sync store refuses untrimmed texts).
    let action = request.action.validate().map_err(AppError::InvalidFields)?;
    // Read before the step is stored, like everything the answer needs (see the module docs).
    let calendar = state.db.work_calendar().await?;
    let now = now_ms();
    let now_u64 = u64::try_from(now).unwrap_or(0);
    let action = match action {
        // The server counts the deadline from the day it records the referral, on its own
        // calendar: the same count the sync store checks every referral against.
        Action::Refer {
            unit_id,
            unit_name,
            working_days,
            due: _,
            note,
        } => Action::Refer {
            due: calendar.add_working_days(
                Date::from_unix_ms(now, CHINA_UTC_OFFSET_MINUTES),
                working_days,
            ),
            unit_id,
            unit_name,
            working_days,
            note,
        },
        other => other,
    };
    let step = FollowUp {
        id: match request.id {
            Some(id) => id,
            None => FollowUpId::new_v7(now_u64, random_bytes()?),
        },
        at_ms: now_u64,
        by: actor(&auth),
        action,
    };
    let opinion_id = replica.id();
    let client = state.db.server_client(&auth.user_id).await?;
    let mutation = MutationKind::RecordFollowUp { opinion_id, step };
    let authority = SessionAuthority::prepare(&state.db, &auth, &hierarchy, [&mutation]).await?;
    let online = state
        .db
        .record_online(client, mutation, now_u64, &authority)
        .await
        .map_err(|failure| match failure {
            PushFailure::Database(error) => AppError::Database(error),
            // The server numbered and stamped the mutation itself: the protocol cannot refuse it.
            PushFailure::Refused(error) => AppError::Internal(anyhow::anyhow!(
                "the server's own step was refused: {error}"
            )),
        })?;
    if let Some(rejected) = online.answer.rejected.into_iter().next() {
        return Err(refusal(rejected));
    }
    // Committed. From here on nothing may fail as if the step had not been taken.
    // Tablets of the station pull the step at once; a failure only delays them to their poll.
    match state.db.latest_cursor().await {
        Ok(cursor) => state.events.announce(cursor),
        Err(err) => tracing::warn!(error = %err, "cannot read the change cursor to poke"),
    }
    // The state as the push wrote it, with the step (taken now, or before with this id).
    let replica = online.state.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "a step was taken on an opinion the store lacks"
        ))
    })?;
    Ok(Json(item_view(&auth, &hierarchy, &calendar, &replica)?))
}
