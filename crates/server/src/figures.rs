//! The statistics and the reception register, nested under `/api/v1`, behind the [`Auth`]
//! extractor. The figures are defined once, in [`liaison_domain::figures`]; here they are
//! counted by the database over the stations the caller chose and may read
//! ([`Db::count_figures`](crate::Db::count_figures)).
//!
//! - `GET /figures?from=&to=[&station=|&region=][&by=]` → [`FigureReport`]: the totals of the
//!   scope over the period (days `YYYY-MM-DD`, both included, China time), and with `by`
//!   (`station`, `category`, `deputy`, `unit`, `month`, `day`) its breakdown rows, labelled
//!   with the station's, deputy's, unit's or category's name (a month or day is its own
//!   label). `today` in the answer is the server's day in China, up to which "overdue" is
//!   counted.
//! - `GET /register?from=&to=[&station=|&region=]` → `[RegisterRow]`: the reception register
//!   (接待登记簿), the opinions recorded in the period, by day, then station, the citizen
//!   masked.
//!
//! (`GET /audit`, the audit log, is in [`crate::audit`].)
//!
//! **Scope.** No `station` or `region`: every station the caller may read. `station=ID`: that
//! station (404 `not_found` if there is none, 403 if the caller may not read it). `region=ID`:
//! every station in the region's subtree that the caller may read (404 if there is no such
//! region, 403 if it has stations and the caller may read none of them). Both at once: 400
//! `invalid_scope`.
//!
//! **Refusals.** 403 `forbidden` for handling units (they have no stations:
//! [`may_read_figures`]); 400 `missing_period` (no `from` or `to`), `invalid_date` (not
//! `YYYY-MM-DD`), `period_ends_before_start`, `period_too_long` (more than
//! [`Period::MAX_DAYS`]), `period_out_of_range` (a year outside 1900–9998), `invalid_breakdown` (an unknown `by`).

use crate::auth::Auth;
use crate::error::AppError;
use crate::followup::today;
use crate::state::AppState;
use crate::sync::{may_read, readable_stations};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use liaison_domain::account::{covers, may_read_figures};
use liaison_domain::figures::{Breakdown, FigureReport, FigureRow, Period, PeriodError, day_of};
use liaison_domain::followup::{Date, RegisterRow};
use liaison_domain::{Directory, Opinion, Outcome, Scope, StationId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/figures", get(figures))
        .route("/register", get(register))
}

/// The query parameters of the figures, the register and its export, as sent: every one
/// optional here (the period is checked by [`resolve`]); an empty one is absent.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct ReportParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// The stations a report counts and the period, checked.
pub(crate) struct Resolved {
    pub stations: Vec<StationId>,
    pub period: Period,
    /// What the scope is called on a printed title: the station's or region's name.
    pub label: String,
}

/// A parameter's value, `None` when missing or blank.
pub(crate) fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn bad(code: &'static str, message: &'static str) -> AppError {
    AppError::BadRequest { code, message }
}

/// `from` and `to` as a [`Period`].
pub(crate) fn period(from: &Option<String>, to: &Option<String>) -> Result<Period, AppError> {
    let day = |value: &Option<String>| {
        let text = given(value).ok_or_else(|| {
            bad(
                "missing_period",
                "Both from and to (YYYY-MM-DD) are required",
            )
        })?;
        Date::parse(text).ok_or_else(|| bad("invalid_date", "A day is not YYYY-MM-DD"))
    };
    let (from, to) = (day(from)?, day(to)?);
    Period::new(from, to).map_err(|err| match err {
        PeriodError::EndsBeforeStart => bad(
            "period_ends_before_start",
            "The period ends before it starts",
        ),
        PeriodError::TooLong => bad("period_too_long", "The period is too long"),
        PeriodError::OutOfRange => bad(
            "period_out_of_range",
            "The period's dates must be between 1900 and 9998",
        ),
    })
}

/// The breakdown asked for, if any.
fn breakdown(by: &Option<String>) -> Result<Option<Breakdown>, AppError> {
    given(by)
        .map(|code| {
            Breakdown::from_code(code).ok_or_else(|| {
                bad(
                    "invalid_breakdown",
                    "by must be station, category, deputy, unit, month or day",
                )
            })
        })
        .transpose()
}

/// The stations of `params`' scope that `auth` may read (see the module docs), with its name.
pub(crate) fn scope(
    auth: &Auth,
    directory: &Directory,
    station: &Option<String>,
    region: &Option<String>,
) -> Result<(Vec<StationId>, String), AppError> {
    match (given(station), given(region)) {
        (Some(_), Some(_)) => Err(bad("invalid_scope", "Give a station or a region, not both")),
        (Some(station), None) => {
            let station = directory
                .station(&StationId(station.to_owned()))
                .ok_or(AppError::NotFound)?;
            if !may_read(auth, directory, &station.id) {
                return Err(AppError::Forbidden);
            }
            Ok((vec![station.id.clone()], station.name.clone()))
        }
        (None, Some(region)) => {
            let region = directory
                .regions
                .iter()
                .find(|r| r.id.0 == region)
                .ok_or(AppError::NotFound)?;
            let scope = [Scope::Region(region.id.clone())];
            let in_region: Vec<&StationId> = directory
                .stations
                .iter()
                .map(|s| &s.id)
                .filter(|s| covers(&scope, s, directory))
                .collect();
            let readable: Vec<StationId> = in_region
                .iter()
                .filter(|s| may_read(auth, directory, s))
                .map(|s| (*s).clone())
                .collect();
            if readable.is_empty() && !in_region.is_empty() {
                return Err(AppError::Forbidden);
            }
            Ok((readable, region.name.clone()))
        }
        (None, None) => Ok((readable_stations(auth, directory), "全部联络站".to_owned())),
    }
}

/// The period and the scope of a report.
pub(crate) fn resolve(
    auth: &Auth,
    directory: &Directory,
    params: &ReportParams,
) -> Result<Resolved, AppError> {
    let period = period(&params.from, &params.to)?;
    let (stations, label) = scope(auth, directory, &params.station, &params.region)?;
    Ok(Resolved {
        stations,
        period,
        label,
    })
}

/// The name of a category code (its code when it is not configured any more).
pub(crate) fn category_name(directory: &Directory, code: &str) -> String {
    directory
        .categories
        .iter()
        .find(|c| c.code == code)
        .map_or_else(|| code.to_owned(), |c| c.zh.clone())
}

fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The totals (and rows) of `stations` over `period`, as [`FigureReport`], labelled.
pub(crate) async fn report(
    state: &AppState,
    directory: &Directory,
    stations: &[StationId],
    period: Period,
    by: Option<Breakdown>,
) -> Result<FigureReport, AppError> {
    let today = today();
    let counted = state.db.count_figures(stations, &period, today, by).await?;
    let units: HashMap<String, String> = if by == Some(Breakdown::Unit) {
        state
            .db
            .units()
            .await?
            .into_iter()
            .map(|u| (u.id.0, u.name))
            .collect()
    } else {
        HashMap::new()
    };
    let label = |key: &str| -> String {
        match by {
            Some(Breakdown::Station) => directory
                .station(&StationId(key.to_owned()))
                .map(|s| s.name.clone()),
            Some(Breakdown::Deputy) => directory.deputy(&key.into()).map(|d| d.name.clone()),
            Some(Breakdown::Unit) => units.get(key).cloned(),
            Some(Breakdown::Category) => Some(category_name(directory, key)),
            _ => None,
        }
        .unwrap_or_else(|| key.to_owned())
    };
    Ok(FigureReport {
        period,
        today,
        total: counted.total,
        by,
        rows: counted
            .rows
            .into_iter()
            .map(|(key, figures)| FigureRow {
                label: label(&key),
                key,
                figures,
            })
            .collect(),
    })
}

/// `GET /api/v1/figures`.
async fn figures(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<ReportParams>,
) -> Result<Response, AppError> {
    if !may_read_figures(auth.role) {
        return Err(AppError::Forbidden);
    }
    let by = breakdown(&params.by)?;
    let directory = state.db.directory().await?;
    let resolved = resolve(&auth, &directory, &params)?;
    let report = report(&state, &directory, &resolved.stations, resolved.period, by).await?;
    Ok(no_store(Json(report)))
}

/// The citizen as a register line shows them: masked (`张* 138****1234`), or with
/// `personal` everything recorded (name, phone, address); empty when anonymous.
pub(crate) fn citizen_text(opinion: &Opinion, personal: bool) -> String {
    let citizen = &opinion.citizen;
    if personal {
        [
            citizen.name.clone(),
            citizen.phone.as_ref().map(|p| p.as_str().to_owned()),
            citizen.address.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    } else {
        citizen.masked_summary().unwrap_or_default()
    }
}

/// The register's lines of `stations` over `period`, each with the intake decision as
/// recorded (for the channel of a refusal); the citizen unmasked only with `personal`.
pub(crate) async fn register_rows(
    state: &AppState,
    directory: &Directory,
    stations: &[StationId],
    period: &Period,
    personal: bool,
) -> Result<Vec<(RegisterRow, Outcome)>, AppError> {
    Ok(state
        .db
        .register_opinions(stations, period, |replica| {
            let opinion = replica.opinion()?;
            let lifecycle = replica.lifecycle()?;
            let row = RegisterRow {
                opinion_id: opinion.id,
                collected: day_of(opinion.created_at_ms),
                station_name: directory
                    .station(&opinion.station_id)
                    .map_or_else(|| opinion.station_id.0.clone(), |s| s.name.clone()),
                station_id: opinion.station_id.clone(),
                deputy_name: directory
                    .deputy(&opinion.deputy_id)
                    .map_or_else(|| opinion.deputy_id.0.clone(), |d| d.name.clone()),
                deputy_id: opinion.deputy_id.clone(),
                citizen: citizen_text(&opinion, personal),
                category: opinion.category.clone(),
                summary: opinion.summary.clone(),
                place: opinion.place.clone(),
                outcome: opinion.outcome.kind(),
                on_site_reply: opinion.on_site_reply.clone(),
                status: lifecycle.status.kind(),
            };
            Some((row, opinion.outcome))
        })
        .await?)
}

/// `GET /api/v1/register`.
async fn register(
    State(state): State<AppState>,
    auth: Auth,
    Query(params): Query<ReportParams>,
) -> Result<Response, AppError> {
    // The register is the stations' record: handling units read no station.
    if !may_read_figures(auth.role) {
        return Err(AppError::Forbidden);
    }
    let directory = state.db.directory().await?;
    let resolved = resolve(&auth, &directory, &params)?;
    let rows = register_rows(
        &state,
        &directory,
        &resolved.stations,
        &resolved.period,
        false,
    )
    .await?;
    let rows: Vec<RegisterRow> = rows.into_iter().map(|(row, _)| row).collect();
    Ok(no_store(Json(rows)))
}
