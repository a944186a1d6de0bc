//! The JSON API, nested under `/api`. Versioned routes live under `/api/v1`; `/api/health` stays
//! unversioned because monitoring and the app's "is the server reachable" check both use it.
//! The account routes (`/api/v1/session`, `/me`, `/devices`) are in [`crate::accounts`], the sync
//! routes (`/api/v1/sync/push`, `/api/v1/sync/pull`) in [`crate::sync`], the change-event
//! stream (`/api/v1/sync/events`) in [`crate::events`], the photos (`/api/v1/photos/{id}`) in
//! [`crate::photos`], the follow-up loop (`/api/v1/units`, `/calendar`, `/ledger`,
//! `/opinions/{id}` and its `/steps`) in [`crate::followup`], attendance, roster and station
//! events (`/api/v1/attendance`, `/roster`, `/activities`) in [`crate::duty`], the figures, the
//! register (`/api/v1/figures`, `/register`) in [`crate::figures`],
//! the exports (`/api/v1/exports/register`, `/exports/ledger`) in [`crate::exports`], the audit
//! log's viewer (`/api/v1/audit`) in [`crate::audit`], unmasking a citizen
//! (`/api/v1/opinions/{id}/personal-data`) in [`crate::privacy`], the accounts
//! (`/api/v1/accounts`, `/accounts/{username}`) in [`crate::admin`]. Every JSON body under
//! `/api` is held to a nesting depth ([`crate::limits`]).

use crate::error::AppError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use liaison_domain::Directory;
use serde::Serialize;
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/v1/directory", get(directory))
        .nest(
            "/v1",
            crate::accounts::router()
                .merge(crate::sync::router())
                .merge(crate::events::router())
                .merge(crate::photos::router())
                .merge(crate::followup::router())
                .merge(crate::duty::router())
                .merge(crate::figures::router())
                .merge(crate::exports::router())
                .merge(crate::audit::router())
                .merge(crate::privacy::router())
                .merge(crate::admin::router()),
        )
        // Unknown API paths answer a JSON 404. Without this they would fall through to the app's
        // SPA fallback and answer index.html with 200, which a client would try to parse as JSON.
        .fallback(not_found)
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub version: &'static str,
    pub database: &'static str,
}

/// The health probe's own bound: a database that cannot answer `SELECT 1` this fast is reported
/// unavailable rather than making the monitor wait for the pool's acquire timeout.
const HEALTH_DB_TIMEOUT: Duration = Duration::from_secs(3);

/// `GET /api/health`: 200 when the database answers, 503 otherwise (so that a load balancer or
/// the app can tell a running but useless server from a working one).
async fn health(State(state): State<AppState>) -> Response {
    let db_ok = match tokio::time::timeout(HEALTH_DB_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "health check: database query failed");
            false
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer in time");
            false
        }
    };
    let (status, body) = if db_ok {
        (
            StatusCode::OK,
            Health {
                status: "ok",
                version: env!("CARGO_PKG_VERSION"),
                database: "ok",
            },
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Health {
                status: "unavailable",
                version: env!("CARGO_PKG_VERSION"),
                database: "unavailable",
            },
        )
    };
    let mut response = (status, Json(body)).into_response();
    // A cached "ok" would hide an outage.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/v1/directory`: regions, stations, deputies and categories for the tablet's offline
/// copy.
async fn directory(State(state): State<AppState>) -> Result<Response, AppError> {
    let directory: Directory = state.db.directory().await?;
    let mut response = Json(directory).into_response();
    // The tablet may keep a copy, but must revalidate it: directory changes (a new deputy) must
    // show up on the next sync, not after a cache lifetime.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

async fn not_found() -> AppError {
    AppError::NotFound
}
