//! End-to-end tests of the HTTP surface: the real router, a real database, and a fake trunk
//! bundle in a temporary dist directory. Requests go through `tower::ServiceExt::oneshot`, so no
//! socket is bound.
//!
//! The database is a SQLite file in a temporary data directory, or, when
//! `LIAISON_TEST_DATABASE_URL` is set (e.g. `postgres://liaison:liaison@127.0.0.1/postgres`), a
//! fresh PostgreSQL database per test, created through that URL and dropped after the test
//! ([`TestStorage`]). Every test runs on both; `cargo xtask test` runs the suite twice.
//!
//! One test binary for the whole server (each binary links the crate again): the HTTP surface
//! is in this file, accounts (sign-in, sessions, devices, scopes) in [`accounts`], the sync store
//! (push and pull on [`Db`]) in [`sync`], and the sync routes (`/api/v1/sync/push` and `/pull`:
//! authentication, authorisation by station, status mapping) in [`sync_routes`].
//!
//! The acceptance tests of the sync: [`sync_properties`] (the same push fired at once, and a
//! property test of tablets with faults and server restarts against the real server),
//! [`hostile_input`] (bad input to every `/api` route, and a property test throwing arbitrary
//! bodies at push and pull), [`events`] (the change-event stream and shutdown with open streams).
//!
//! The follow-up loop: [`followup`] (units, calendar, ledger, item view and steps, per role with
//! every denied case, and one item's whole life across four roles) and [`attendance`]
//! (attendance marks from two tablets converging, roster, station events).
//!
//! Issue 6, privacy and security: [`access_matrix`] (every `/api` route in one table, checked
//! against the router's sources: 401 without a token, another station's, region's or unit's
//! data neither read nor written, nothing stored), [`privacy`] (masking in every answer,
//! unmasking with its audit record, the retention purge through the change feed, control
//! characters, the JSON depth limit), [`audit_log`] (what is recorded, append-only in the
//! database, the viewer's filters and scopes, the sign-in rate limit, account administration).
//!
//! The statistics: [`figures`] (a fixture built through the API whose every figure is counted by
//! hand, the SQL checked against the domain's own count on the same facts, scopes and refusals,
//! the register, the facts' upkeep and rebuild) and [`exports`] (the register and ledger as
//! Excel and CSV files read back, personal data, the audit log).

mod access_matrix;
mod accounts;
mod attendance;
mod audit_log;
mod events;
mod exports;
mod figures;
mod followup;
mod hostile_input;
mod instances;
mod photos;
mod privacy;
mod sync;
mod sync_properties;
mod sync_routes;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use liaison_domain::{Directory, default_categories};
use liaison_server::db::Storage;
use liaison_server::{AppState, ChangeEvents, Db, Passwords, Settings, app};
use serde_json::Value;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tempfile::TempDir;
use tower::ServiceExt;

/// Set to a PostgreSQL URL to run the suite on PostgreSQL; its role needs `CREATEDB`.
const TEST_DATABASE_URL: &str = "LIAISON_TEST_DATABASE_URL";

/// A database of one's own for one test: a SQLite data directory that is deleted afterwards, or
/// a PostgreSQL database that is created fresh and dropped afterwards. Tests stay isolated and run
/// in parallel on either backend.
pub(crate) struct TestStorage {
    pub(crate) storage: Storage,
    /// Kept for its `Drop`, which deletes the directory.
    _sqlite_dir: Option<TempDir>,
    /// The test database and how to reach the server as the URL's user, to drop it.
    postgres: Option<(String, PgConnectOptions)>,
}

impl TestStorage {
    pub(crate) async fn new() -> Self {
        match std::env::var(TEST_DATABASE_URL) {
            Ok(url) if !url.trim().is_empty() => Self::postgres(url.trim()).await,
            _ => {
                let dir = tempfile::tempdir().unwrap();
                TestStorage {
                    storage: Storage::Sqlite {
                        data_dir: dir.path().to_path_buf(),
                    },
                    _sqlite_dir: Some(dir),
                    postgres: None,
                }
            }
        }
    }

    /// `CREATE DATABASE liaison_test_<time>_<pid>_<n>`: unique across the parallel tests of
    /// this process (n) and concurrent processes (pid) and runs (time).
    async fn postgres(url: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let server = PgConnectOptions::from_str(url)
            .unwrap_or_else(|err| panic!("{TEST_DATABASE_URL} is not a PostgreSQL URL: {err}"));
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let name = format!(
            "liaison_test_{secs}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect_with(&server)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to {TEST_DATABASE_URL}: {err}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|err| panic!("cannot create the test database {name}: {err}"));
        admin.close().await.ok();
        TestStorage {
            storage: Storage::Postgres {
                options: Box::new(server.clone().database(&name)),
            },
            _sqlite_dir: None,
            postgres: Some((name, server)),
        }
    }

    pub(crate) async fn open(&self) -> Db {
        Db::open_storage(&self.storage)
            .await
            .expect("database opens")
    }
}

impl Drop for TestStorage {
    /// Drops the PostgreSQL test database (`WITH (FORCE)` ends the pools' connections that may
    /// still be open). On a thread of its own: `Drop` runs inside the test's runtime, which
    /// cannot block on another future. A failure leaves the database behind and says so.
    fn drop(&mut self) {
        let Some((name, server)) = self.postgres.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| err.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect_with(&server)
                    .await
                    .map_err(|err| err.to_string())?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .map_err(|err| format!("{name}: {err}"))?;
                admin.close().await.ok();
                Ok::<_, String>(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("could not drop the test database: {err}"),
            Err(_) => eprintln!("could not drop the test database: the thread panicked"),
        }
    }
}

/// The inline loader, as trunk 0.21 writes it into `index.html` (text between the tags).
const LOADER: &str = "\nimport init from '/app-0123456789abcdef.js';\n\
    const wasm = await init({ module_or_path: '/app-0123456789abcdef_bg.wasm' });\n\n\
    dispatchEvent(new CustomEvent(\"TrunkApplicationStarted\", {detail: {wasm}}));\n";

fn index_html() -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>联络站</title>\
         <link rel=\"stylesheet\" href=\"/style-0123456789abcdef.css\">\
         <link rel=\"manifest\" href=\"/manifest.webmanifest\">\
         <link rel=\"modulepreload\" href=\"/app-0123456789abcdef.js\" crossorigin=\"anonymous\">\
         </head><body><script type=\"module\">{LOADER}</script></body></html>"
    )
}

struct TestApp {
    router: Router,
    db: Db,
    /// The router's poke channel, to close the event streams as `main.rs` does on shutdown.
    events: ChangeEvents,
    settings: Settings,
    /// Declared after `db`, so dropped after it: the database outlives the pool.
    storage: TestStorage,
    _dist_dir: TempDir,
}

impl TestApp {
    async fn request(&self, request: Request<Body>) -> Response<Body> {
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible")
    }

    async fn get(&self, uri: &str) -> Response<Body> {
        self.request(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }
}

fn write_fake_dist(dist: &Path) {
    let index = index_html();
    let files: &[(&str, &[u8])] = &[
        ("index.html", index.as_bytes()),
        (
            "sw.js",
            b"self.addEventListener('fetch', (event) => {});\n" as &[u8],
        ),
        (
            "app-0123456789abcdef.js",
            b"export default async function init() {}\n",
        ),
        ("style-0123456789abcdef.css", b"body { margin: 0; }\n"),
        (
            "manifest.webmanifest",
            br#"{"name":"Liaison","start_url":"/","display":"standalone"}"#,
        ),
        ("icon-192.png", b"\x89PNG\r\n\x1a\nnot really a png"),
    ];
    for (name, contents) in files {
        std::fs::write(dist.join(name), contents).unwrap();
    }
    // Large and repetitive, so that compression has something to do.
    let wasm: Vec<u8> = b"\0asm\x01\0\0\0"
        .iter()
        .copied()
        .chain((0..8192u32).map(|i| (i % 7) as u8))
        .collect();
    std::fs::write(dist.join("app-0123456789abcdef_bg.wasm"), wasm).unwrap();
}

/// The settings of the test apps: the fake bundle in `dist_dir`, and cheap hashing, which keeps
/// the account tests fast (production keeps the default cost).
fn test_settings(dist_dir: &Path) -> Settings {
    let mut settings = Settings::new(dist_dir);
    settings.passwords = Passwords::insecure_for_tests();
    // Every test signs in from the same (absent) address; the limit has its own tests.
    let generous = liaison_server::rate_limit::Rate {
        burst: 10_000,
        every: std::time::Duration::from_millis(1),
    };
    settings.sign_in_per_address = generous;
    settings.sign_in_per_username = generous;
    settings
}

/// The app on a fresh, empty database (default categories only) and the fake bundle.
async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with settings changed by `configure`.
async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let storage = TestStorage::new().await;
    let dist_dir = tempfile::tempdir().unwrap();
    write_fake_dist(dist_dir.path());
    let db = storage.open().await;
    let mut settings = test_settings(dist_dir.path());
    configure(&mut settings);
    let state = AppState::new(db.clone(), settings.clone());
    TestApp {
        events: state.events.clone(),
        router: app(state),
        db,
        settings,
        storage,
        _dist_dir: dist_dir,
    }
}

impl TestApp {
    /// A second server instance on the same database: its own pool and router, as another
    /// process would have.
    async fn second_instance(&self) -> (Router, Db) {
        let db = self.storage.open().await;
        let state = AppState::new(db.clone(), self.settings.clone());
        (app(state), db)
    }

    /// A server restart: the router and the pool are dropped (the pool closed, which on SQLite
    /// checkpoints the WAL), and a new `Db` is opened on the same database.
    async fn restart(&mut self) {
        self.db.close().await;
        let db = self.storage.open().await;
        let state = AppState::new(db.clone(), self.settings.clone());
        self.events = state.events.clone();
        self.router = app(state);
        self.db = db;
    }
}

async fn body_bytes(response: Response<Body>) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}

async fn body_json(response: Response<Body>) -> Value {
    let bytes = body_bytes(response).await;
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|err| panic!("not JSON ({err}): {}", String::from_utf8_lossy(&bytes)))
}

fn header(response: &Response<Body>, name: impl header::AsHeaderName) -> &str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// Checks that `response` is the standard JSON error with `status` and `code`.
async fn assert_json_error(response: Response<Body>, status: StatusCode, code: &str, what: &str) {
    assert_eq!(response.status(), status, "{what}");
    assert_eq!(
        header(&response, header::CONTENT_TYPE),
        "application/json",
        "{what}"
    );
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(body["error"]["message"].is_string(), "{what}: {body}");
}

#[tokio::test]
async fn health_is_ok_with_a_working_database() {
    let app = spawn_app().await;
    let response = app.get("/api/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, header::CACHE_CONTROL), "no-store");
    let body = body_json(response).await;
    assert_eq!(
        body,
        serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "database": "ok",
        })
    );
}

#[tokio::test]
async fn health_is_503_when_the_database_fails() {
    let app = spawn_app().await;
    app.db.close().await;
    let response = app.get("/api/health").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = body_json(response).await;
    assert_eq!(body["database"], "unavailable");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn directory_of_a_new_database_has_the_default_categories_only() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/directory").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
    let directory: Directory = serde_json::from_slice(&body_bytes(response).await).unwrap();
    assert!(directory.regions.is_empty());
    assert!(directory.stations.is_empty());
    assert!(directory.deputies.is_empty());
    assert_eq!(directory.categories, default_categories());
}

#[tokio::test]
async fn directory_returns_the_demo_data_after_seeding() {
    let app = spawn_app().await;
    assert!(
        app.db.seed_demo().await.unwrap(),
        "an empty database is seeded"
    );

    let response = app.get("/api/v1/directory").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, header::CONTENT_TYPE), "application/json");
    assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
    let directory: Directory = serde_json::from_slice(&body_bytes(response).await).unwrap();

    // The hierarchy, top down.
    let regions: Vec<_> = directory
        .regions
        .iter()
        .map(|r| {
            (
                r.id.0.as_str(),
                r.name.as_str(),
                r.parent_id.as_ref().map(|p| p.0.as_str()),
            )
        })
        .collect();
    assert_eq!(
        regions,
        [
            ("region-demo-city", "示范市", None),
            ("region-demo-district", "示范区", Some("region-demo-city")),
            (
                "region-demo-street",
                "幸福街道",
                Some("region-demo-district")
            ),
        ]
    );

    let xingfuli = directory
        .station(&"station-xingfuli".into())
        .expect("幸福里 station");
    assert_eq!(xingfuli.name, "幸福里社区人大代表联络站");
    assert!(!xingfuli.address.is_empty());
    let heping = directory
        .station(&"station-heping".into())
        .expect("和平 station");
    assert_eq!(heping.name, "和平街道代表之家");
    assert!(!heping.address.is_empty());
    assert_eq!(directory.stations.len(), 2);
    for station in &directory.stations {
        assert!(
            directory.regions.iter().any(|r| r.id == station.region_id),
            "{} is in a known region",
            station.id
        );
    }

    assert_eq!(directory.deputies.len(), 4);
    for deputy in &directory.deputies {
        assert!(!deputy.name.is_empty());
        assert!(deputy.level.ends_with("人大代表"), "{}", deputy.level);
        assert!(
            (1..=2).contains(&deputy.station_ids.len()),
            "{} is at one or both stations",
            deputy.name
        );
    }
    assert!(directory.deputies_at(&xingfuli.id).count() >= 2);
    assert!(directory.deputies_at(&heping.id).count() >= 2);

    assert_eq!(directory.categories, default_categories());
}

#[tokio::test]
async fn seeding_twice_does_not_duplicate() {
    let app = spawn_app().await;
    assert!(app.db.seed_demo().await.unwrap());
    let first = app.db.directory().await.unwrap();
    assert!(
        !app.db.seed_demo().await.unwrap(),
        "a non-empty directory is left alone"
    );

    // A restart opens the same database again: migrations and category seeding run again too.
    let reopened = app.storage.open().await;
    assert!(!reopened.seed_demo().await.unwrap());
    assert_eq!(reopened.directory().await.unwrap(), first);
    assert_eq!(app.db.directory().await.unwrap(), first);
}

#[tokio::test]
async fn categories_are_seeded_on_first_start_only() {
    let app = spawn_app().await;
    // An administrator removes a category; the next start must not bring it back.
    app.db
        .acquire()
        .await
        .unwrap()
        .query("DELETE FROM categories WHERE code = 'parking'")
        .execute()
        .await
        .unwrap();
    let reopened = app.storage.open().await;
    let codes: Vec<_> = reopened
        .directory()
        .await
        .unwrap()
        .categories
        .into_iter()
        .map(|c| c.code)
        .collect();
    assert!(!codes.contains(&"parking".to_owned()));
    assert_eq!(codes.len(), default_categories().len() - 1);
}

#[tokio::test]
async fn hashed_files_are_cached_forever_and_others_revalidated() {
    let app = spawn_app().await;
    for (uri, content_type) in [
        ("/app-0123456789abcdef_bg.wasm", "application/wasm"),
        ("/app-0123456789abcdef.js", "text/javascript"),
        ("/style-0123456789abcdef.css", "text/css"),
    ] {
        let response = app.get(uri).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            header(&response, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{uri}"
        );
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            content_type,
            "{uri}"
        );
    }

    for (uri, content_type) in [
        ("/", "text/html"),
        ("/index.html", "text/html"),
        ("/sw.js", "text/javascript"),
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/icon-192.png", "image/png"),
    ] {
        let response = app.get(uri).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            header(&response, header::CACHE_CONTROL),
            "no-cache",
            "{uri}"
        );
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            content_type,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn a_missing_hashed_file_is_a_404_that_is_not_cached() {
    let app = spawn_app().await;
    let response = app.get("/app-fedcba9876543210_bg.wasm").await;
    assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "missing file").await;
}

#[tokio::test]
async fn app_routes_fall_back_to_index_html() {
    let app = spawn_app().await;
    for uri in ["/records", "/records/42", "/records/"] {
        let response = app.get(uri).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(
            header(&response, header::CONTENT_TYPE),
            "text/html",
            "{uri}"
        );
        assert_eq!(
            header(&response, header::CACHE_CONTROL),
            "no-cache",
            "{uri}"
        );
        assert_eq!(body_bytes(response).await, index_html().as_bytes(), "{uri}");
    }
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s_not_the_app() {
    let app = spawn_app().await;
    for uri in [
        "/api",
        "/api/",
        "/api/nope",
        "/api/v1/nope",
        "/api/v1/directory/extra",
    ] {
        let response = app.get(uri).await;
        assert_json_error(response, StatusCode::NOT_FOUND, "not_found", uri).await;
    }
    let body = body_json(app.get("/api/nope").await).await;
    assert_eq!(
        body,
        serde_json::json!({"error": {"code": "not_found", "message": "Not found"}})
    );
}

#[tokio::test]
async fn wrong_methods_get_json_405s() {
    let app = spawn_app().await;
    for uri in [
        "/api/health",
        "/api/v1/directory",
        "/records",
        "/index.html",
    ] {
        let response = app
            .request(Request::post(uri).body(Body::from("{}")).unwrap())
            .await;
        assert_json_error(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            uri,
        )
        .await;
    }
}

#[tokio::test]
async fn service_worker_headers() {
    let app = spawn_app().await;
    let response = app.get("/sw.js").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, header::CONTENT_TYPE), "text/javascript");
    assert_eq!(header(&response, "service-worker-allowed"), "/");
    assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let app = spawn_app().await;
    let too_big = Settings::DEFAULT_BODY_LIMIT + 1;
    for uri in ["/api/v1/directory", "/records"] {
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, too_big)
            .body(Body::from(vec![b' '; too_big]))
            .unwrap();
        let response = app.request(request).await;
        assert_json_error(
            response,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            uri,
        )
        .await;
    }

    // At the limit the request goes through to the router (which has no POST route there).
    let request = Request::post("/api/v1/directory")
        .header(header::CONTENT_LENGTH, Settings::DEFAULT_BODY_LIMIT)
        .body(Body::from(vec![b' '; Settings::DEFAULT_BODY_LIMIT]))
        .unwrap();
    assert_eq!(
        app.request(request).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = spawn_app().await;
    for uri in [
        "/",
        "/records",
        "/api/health",
        "/api/nope",
        "/sw.js",
        "/missing.png",
    ] {
        let response = app.get(uri).await;
        assert_eq!(
            header(&response, "x-content-type-options"),
            "nosniff",
            "{uri}"
        );
        assert_eq!(header(&response, "referrer-policy"), "no-referrer", "{uri}");
        let csp = header(&response, header::CONTENT_SECURITY_POLICY);
        assert!(csp.starts_with("default-src 'self'; "), "{uri}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert_eq!(
            header(&response, "cross-origin-opener-policy"),
            "same-origin",
            "{uri}"
        );
        assert_eq!(
            header(&response, "cross-origin-resource-policy"),
            "same-origin",
            "{uri}"
        );
        assert!(
            header(&response, "permissions-policy").contains("microphone=()"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn the_csp_allows_trunks_inline_loader_by_hash_and_nothing_else_inline() {
    use base64::Engine;
    use sha2::Digest;

    let app = spawn_app().await;
    let response = app.get("/").await;
    let csp = header(&response, header::CONTENT_SECURITY_POLICY).to_owned();
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))
        .expect("a script-src directive");

    let digest = sha2::Sha256::digest(LOADER.as_bytes());
    let expected = format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    assert_eq!(
        script_src,
        format!("script-src 'self' 'wasm-unsafe-eval' {expected}")
    );
    assert!(!script_src.contains("'unsafe-inline'"));
    assert!(csp.contains("style-src 'self' 'unsafe-inline'"));
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let app = spawn_app().await;
    for encoding in ["br", "gzip"] {
        let request = Request::builder()
            .method(Method::GET)
            .uri("/app-0123456789abcdef_bg.wasm")
            .header(header::ACCEPT_ENCODING, encoding)
            .body(Body::empty())
            .unwrap();
        let response = app.request(request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_ENCODING), encoding);
        let compressed = body_bytes(response).await;
        assert!(
            compressed.len() < 8192 / 4,
            "{encoding}: {} bytes",
            compressed.len()
        );
    }
}
