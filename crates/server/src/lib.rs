//! The liaison-station server: it serves the tablet app (the trunk-built bundle in `dist/`) and the
//! JSON API the app syncs with, over one SQLite file (the default) or a PostgreSQL database that
//! several server instances may share (nothing authoritative is kept in process memory).
//!
//! Module map:
//!
//! - [`app`] (this file): the [`Router`] with its middleware stack; tests drive it with
//!   `tower::ServiceExt::oneshot`, `main.rs` binds it to a socket.
//! - [`state`]: [`AppState`] (database + [`Settings`]) shared by the handlers.
//! - [`db`]: [`Db`], the connection pool (SQLite or PostgreSQL, see [`db::Storage`]), embedded
//!   migrations per backend, category and demo seeding, queries; `db/backend.rs` is the thin layer
//!   that runs one query text on either backend;
//!   `db/sync.rs` is the sync store ([`Db::push`], [`Db::record_online`], [`Db::pull`]:
//!   exactly-once mutations, merged opinions with their follow-up steps and attendance,
//!   commit-ordered change cursor); it authorises nothing itself: [`Db::push`] takes an
//!   authority ([`db::PushAuthority`], from [`access`]) and [`Db::pull`] a station list, from
//!   [`sync`]. `db/accounts.rs` holds users, devices (with their bound sync client) and
//!   sessions; `db/followup.rs` units, calendar, roster and station events.
//! - [`api`]: the `/api` routes (health, directory) and the JSON 404 for unknown API paths.
//! - [`accounts`]: the account routes under `/api/v1` (sign-in and out, `/me`, device enrolment
//!   and revocation), with the sign-in lock and one generic failure answer, each audited.
//! - [`rate_limit`]: sign-in token buckets per client address and per username (429
//!   `too_many_sign_ins` with `Retry-After`; in memory, per instance).
//! - [`admin`]: `GET /api/v1/accounts` and `PUT /api/v1/accounts/{username}` (role, deputy or
//!   unit, scopes, disabled), administrators only, audited.
//! - [`audit`]: `GET /api/v1/audit`, the audit log's viewer (filters by action, actor, station,
//!   days, paging by id; administrators everything, office staff their stations' records), and
//!   the helpers the routes write records with; the records in `db/audit.rs` (append-only in
//!   the database: triggers refuse updates and deletes of records younger than 180 days).
//! - [`privacy`]: `POST /api/v1/opinions/{id}/personal-data` (one citizen unmasked, with a
//!   purpose, audited first) and the retention purge of personal data after archiving (daily in
//!   `serve`, `liaison-server purge-personal-data` now), through the sync store so tablets pull
//!   it.
//! - [`limits`]: the JSON nesting limit on `/api` bodies (400 `json_too_deep`).
//! - [`sync`]: `POST /api/v1/sync/push` and `/pull` behind [`Auth`]: version check (426), device
//!   ↔ sync-client binding (409 `client_mismatch`), per-mutation authorisation by station
//!   (`forbidden` rejections), pull limited to the readable stations, whole-push refusals mapped
//!   to 409 / 413 / 422 with their detail.
//! - [`access`]: who may read and act on what, from the session: the authority every mutation
//!   passes (pushed or taken online: station scope, a step's author is the account, a deputy
//!   marks only its own attendance), item and unit visibility (a handling unit sees what was
//!   referred to it).
//! - [`followup`]: the follow-up loop online: handling units, the working-day calendar, the
//!   supervision ledger, the item view and steps taken in the back office (through the same
//!   sync store as pushed ones).
//! - [`duty`]: attendance (as pushed by the tablets), the duty roster and station events.
//! - [`figures`]: `GET /api/v1/figures` (the reported figures of a scope and period, counted
//!   by the database over the facts `db/facts.rs` keeps per opinion, with a breakdown),
//!   `GET /api/v1/register` (the reception register).
//! - [`exports`]: the register and the ledger as Excel (with a 统计 sheet) or CSV files,
//!   personal data masked unless asked and permitted, every export written to the audit log.
//! - [`zh`]: the Chinese words the exports print for statuses, decisions and colours.
//! - [`events`]: `GET /api/v1/sync/events`, the server-sent-events stream that pokes tablets
//!   (`event: changed`, `data: <cursor>`) after a push committed changes; the only route that
//!   also takes the token as `?token=` (for `EventSource`); [`ChangeEvents::close`] ends the
//!   streams so that graceful shutdown does not wait for them forever.
//! - [`auth`]: Argon2id passwords, random tokens stored as SHA-256, and the [`Auth`] extractor
//!   (bearer token → live session, device and user, with role and scopes).
//! - [`static_files`]: the app bundle from `--dist`, SPA fallback, cache and content-type headers.
//! - [`security`]: security headers and the Content-Security-Policy (with hashes of trunk's inline
//!   loader script).
//! - [`error`]: [`AppError`], the one error type handlers return; it logs internals and answers
//!   `{"error":{"code":"...","message":"..."}}`.
//! - [`telemetry`]: tracing subscriber setup.
//! - [`shutdown_signal`]: Ctrl-C / SIGTERM for graceful shutdown.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod api;
pub mod audit;
pub mod auth;
pub mod db;
pub mod duty;
pub mod error;
pub mod events;
pub mod exports;
pub mod figures;
pub mod followup;
pub mod limits;
pub mod photos;
pub mod privacy;
pub mod rate_limit;
pub mod security;
pub mod state;
pub mod static_files;
pub mod sync;
pub mod telemetry;
pub mod zh;

pub use auth::{Auth, Passwords};
pub use db::Db;
pub use error::AppError;
pub use events::ChangeEvents;
pub use state::{AppState, Settings};

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::http::StatusCode;
use axum::middleware;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Builds the whole application: API under `/api`, the app bundle everywhere else.
///
/// ```no_run
/// # async fn example() -> anyhow::Result<()> {
/// use liaison_server::{AppState, Db, Settings, app};
///
/// let db = Db::open(std::path::Path::new("data")).await?; // migrates, seeds categories
/// db.seed_demo().await?; // optional: only fills an empty directory
/// let state = AppState::new(db, Settings::new("dist"));
/// let events = state.events.clone();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app(state))
///     .with_graceful_shutdown(async move {
///         liaison_server::shutdown_signal().await;
///         events.close(); // open event streams would otherwise hold the shutdown forever
///     })
///     .await?;
/// # Ok(())
/// # }
/// ```
pub fn app(state: AppState) -> Router {
    let settings = state.settings.clone();

    // Listed outermost first: a request passes through them top to bottom, a response bottom to top.
    let middleware = ServiceBuilder::new()
        // Spans name the path, not the whole URI: the event stream may carry a token in its
        // query (see `events`), which must not end up in the logs.
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
                tracing::debug_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    version = ?request.version(),
                )
            }),
        )
        // Security headers go on every response, error answers from the layers below included.
        .layer(middleware::map_response_with_state(
            settings.content_security_policy.clone(),
            security::add_security_headers,
        ))
        .layer(CompressionLayer::new().gzip(true).br(true))
        // Outside the timeout and size limits so that their bare answers get the JSON error shape.
        .layer(middleware::map_response(error::json_error_bodies))
        // Rejects a too-large `Content-Length` up front and cuts off a streamed body that exceeds
        // it; `DefaultBodyLimit` below keeps axum's extractors at the same limit.
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        // A request that takes longer than this is answered with 408 rather than holding a
        // connection (and graceful shutdown) forever. It bounds the handler, not the streaming of
        // a large file body. (Inside the body limit: its 408 needs a body type with a `Default`,
        // which the router's has and the limit layer's has not.)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ));

    Router::new()
        .nest(
            "/api",
            api::router().layer(middleware::from_fn_with_state(
                settings.json_max_depth,
                limits::json_depth,
            )),
        )
        .fallback(static_files::serve)
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(middleware)
        .with_state(state)
}

/// Resolves on Ctrl-C or SIGTERM (what systemd and container runtimes send), so that
/// `axum::serve(...).with_graceful_shutdown(shutdown_signal())` stops accepting connections and
/// lets the requests in flight finish.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };

    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };

    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
