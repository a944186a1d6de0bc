//! What the handlers share: the database, the settings the server was started with, and the
//! change-event channel ([`ChangeEvents`]).

use crate::auth::Passwords;
use crate::db::Db;
use crate::events::ChangeEvents;
use crate::rate_limit::{Rate, SignInLimiter};
use crate::security;
use crate::static_files::StaticFiles;
use axum::http::HeaderValue;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Settings that shape the HTTP side. `main.rs` fills them from the command line; tests use
/// [`Settings::new`] and change a field where they need to.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The trunk-built app (`index.html`, the hashed wasm and js, `sw.js`, ...).
    pub dist_dir: PathBuf,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Longest time a handler may take before the request is answered with 408.
    pub request_timeout: Duration,
    /// The `Content-Security-Policy` header sent with every response.
    pub content_security_policy: HeaderValue,
    /// Password hashing cost. Production keeps the default; tests use
    /// [`Passwords::insecure_for_tests`] to stay fast.
    pub passwords: Passwords,
    /// How long a session lasts after sign-in (a duty shift and then some).
    pub session_ttl: Duration,
    /// Failed sign-ins in a row that lock a username, and for how long.
    pub max_failed_sign_ins: u32,
    pub lockout: Duration,
    /// The oldest app version allowed to push (`1.4.2`); older apps are answered 426
    /// `app_too_old` and keep their outbox until updated.
    pub min_app_version: String,
    /// How often an idle change-event stream (`/api/v1/sync/events`) sends a keep-alive comment.
    pub event_keep_alive: Duration,
    /// Sign-in attempts allowed per client address and per username ([`crate::rate_limit`]).
    pub sign_in_per_address: Rate,
    pub sign_in_per_username: Rate,
    /// Key the per-address limit on the last `X-Forwarded-For` entry (behind a reverse proxy).
    pub trust_forwarded_for: bool,
    /// Days after an opinion is archived until its citizen's personal data is purged
    /// ([`crate::privacy`]; env `LIAISON_RETENTION_DAYS`).
    pub retention_days: u32,
    /// Days the audit log is kept (never fewer than 180; env `LIAISON_AUDIT_RETENTION_DAYS`).
    pub audit_retention_days: u32,
    /// The deepest nesting of arrays and objects a JSON body may have ([`crate::limits`]).
    pub json_max_depth: usize,
}

impl Settings {
    /// 1 MiB: enough for the JSON the app sends today. Photo uploads will get their own, larger
    /// limit on their own route when they come.
    pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);
    pub const DEFAULT_MAX_FAILED_SIGN_INS: u32 = 5;
    pub const DEFAULT_LOCKOUT: Duration = Duration::from_secs(15 * 60);
    /// 0.2.0 added follow-up steps and attendance to the pulls (`Change::Attendance`, steps in
    /// the opinions' state); older apps cannot read them, so they are told to update (426
    /// `app_too_old`), keeping their outbox.
    pub const DEFAULT_MIN_APP_VERSION: &'static str = "0.2.0";
    /// Well under the idle timeouts of common proxies (nginx: 60 s) and mobile NATs.
    pub const DEFAULT_EVENT_KEEP_ALIVE: Duration = Duration::from_secs(15);
    /// Two years after archiving: the follow-up of a reopened matter and the yearly reports are
    /// done by then; the opinion and its figures stay, without the citizen's name, phone and
    /// address.
    pub const DEFAULT_RETENTION_DAYS: u32 = 730;
    /// Three years of audit records (the law asks for at least six months).
    pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 1095;
    /// The app's deepest message (a push of opinions with their citizen and consent) nests 6
    /// levels; 32 leaves room for growth and stops a parser from recursing on hostile input.
    pub const DEFAULT_JSON_MAX_DEPTH: usize = 32;

    /// Default limits, and a CSP that allows the inline loader script of the `index.html`
    /// currently in `dist_dir` (see [`security::content_security_policy_for_dist`]). Read once:
    /// restart the server after replacing the bundle.
    pub fn new(dist_dir: impl Into<PathBuf>) -> Self {
        let dist_dir = dist_dir.into();
        let content_security_policy = security::content_security_policy_for_dist(&dist_dir);
        Settings {
            dist_dir,
            body_limit: Self::DEFAULT_BODY_LIMIT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            content_security_policy,
            passwords: Passwords::default(),
            session_ttl: Self::DEFAULT_SESSION_TTL,
            max_failed_sign_ins: Self::DEFAULT_MAX_FAILED_SIGN_INS,
            lockout: Self::DEFAULT_LOCKOUT,
            min_app_version: Self::DEFAULT_MIN_APP_VERSION.to_owned(),
            event_keep_alive: Self::DEFAULT_EVENT_KEEP_ALIVE,
            sign_in_per_address: Rate::PER_ADDRESS,
            sign_in_per_username: Rate::PER_USERNAME,
            trust_forwarded_for: false,
            retention_days: Self::DEFAULT_RETENTION_DAYS,
            audit_retention_days: Self::DEFAULT_AUDIT_RETENTION_DAYS,
            json_max_depth: Self::DEFAULT_JSON_MAX_DEPTH,
        }
    }
}

/// Cheap to clone: handlers get their own copy per request.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Pokes for the open change-event streams; [`ChangeEvents::close`] ends them on shutdown.
    pub events: ChangeEvents,
    pub(crate) static_files: StaticFiles,
    /// This instance's sign-in buckets.
    pub(crate) sign_in_limiter: Arc<SignInLimiter>,
}

impl AppState {
    pub fn new(db: Db, settings: Settings) -> Self {
        let static_files = StaticFiles::new(&settings.dist_dir);
        let sign_in_limiter = Arc::new(SignInLimiter::new(
            settings.sign_in_per_address,
            settings.sign_in_per_username,
        ));
        AppState {
            sign_in_limiter,
            db,
            settings: Arc::new(settings),
            events: ChangeEvents::new(),
            static_files,
        }
    }
}
