//! Harness for the end-to-end tests: starts the real server binary on a fresh data folder,
//! chromedriver, and headless Chromium with a profile folder the test controls (so a test can
//! close the browser and open it again on the same IndexedDB and service worker).
//!
//! The tests need what `cargo xtask test` provides: `LIAISON_SERVER_BIN` (the release server),
//! `LIAISON_DIST` (the release app), `CHROMEDRIVER` and `CHROMIUM`.

pub mod proxy;
pub mod tablet;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for anything to appear. Generous: CI has 2 cores.
pub const WAIT: Duration = Duration::from_secs(30);

fn env_path(name: &str) -> PathBuf {
    let value = std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the end-to-end tests through `cargo xtask test`")
    });
    let path = PathBuf::from(value);
    assert!(path.exists(), "{name}={} does not exist", path.display());
    path
}

fn postgres_database() -> Option<PostgresDatabase> {
    std::env::var(E2E_DATABASE_URL)
        .ok()
        .filter(|url| !url.is_empty())
        .map(|url| PostgresDatabase::create(&url))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start listening on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// With this set (a PostgreSQL URL whose role may create databases), every [`Server`] runs on
/// a fresh PostgreSQL database of its own instead of SQLite: `cargo xtask test` runs the sync
/// tests a second time so.
pub const E2E_DATABASE_URL: &str = "LIAISON_E2E_DATABASE_URL";

/// A fresh PostgreSQL database for one server, dropped with it.
struct PostgresDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    fn create(admin_url: &str) -> PostgresDatabase {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "liaison_e2e_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        psql(admin_url, &format!("CREATE DATABASE {name}"));
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url, |(base, _)| base);
        PostgresDatabase {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        drop_database(&self.admin_url, &self.name);
    }
}

/// Drops a test database. `WITH (FORCE)` ends the connections a stopped server may leave, but
/// PostgreSQL 15 refuses it while an autovacuum worker happens to be in the database (it checks
/// the right to end each process there, and the worker belongs to no role: "must be a member of
/// the role whose process is being terminated"), so it is tried again for a few seconds. A
/// database left behind is reported, not a failed test: it says nothing about the app.
pub fn drop_database(admin_url: &str, name: &str) {
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    for attempt in 1..=20 {
        let output = run_psql(admin_url, &sql);
        if output.status.success() {
            return;
        }
        if attempt == 20 {
            eprintln!(
                "could not drop the test database {name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn psql(url: &str, sql: &str) {
    let output = run_psql(url, sql);
    assert!(
        output.status.success(),
        "psql: {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs one statement with `psql`, stopping at the first error.
fn run_psql(url: &str, sql: &str) -> std::process::Output {
    Command::new("psql")
        .args([url, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql runs")
}

/// The real server binary, serving the release app on a fresh data folder with the demo data
/// (SQLite, or PostgreSQL with [`E2E_DATABASE_URL`]).
pub struct Server {
    child: Option<Child>,
    port: u16,
    data: tempfile::TempDir,
    postgres: Option<PostgresDatabase>,
    dist: PathBuf,
    /// Extra command-line arguments, kept across restarts.
    pub extra_args: Vec<String>,
}

impl Server {
    /// The server with the release app (`LIAISON_DIST`).
    pub fn start() -> Server {
        Server::start_with_dist(&env_path("LIAISON_DIST"))
    }

    /// The server with an app bundle from another folder (a copy a test can change).
    pub fn start_with_dist(dist: &Path) -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut server = Server {
            child: None,
            port,
            data,
            postgres: postgres_database(),
            dist: dist.to_owned(),
            extra_args: Vec::new(),
        };
        server.restart();
        server
    }

    /// Which storage the server runs on, for test output.
    pub fn storage(&self) -> &'static str {
        if self.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    /// The server with extra command-line arguments (`--min-app-version 99.0.0`).
    pub fn start_with_args(args: &[&str]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut server = Server {
            child: None,
            port: free_port(),
            data,
            postgres: postgres_database(),
            dist: env_path("LIAISON_DIST"),
            extra_args: args.iter().map(|a| (*a).to_owned()).collect(),
        };
        server.restart();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server process's id while it runs (to read its memory use in `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the server again on the same port and data folder.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let child = Command::new(env_path("LIAISON_SERVER_BIN"))
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{}", self.port),
                "--demo",
            ])
            .arg("--data-dir")
            .arg(self.data.path())
            .arg("--dist")
            .arg(&self.dist)
            .args(&self.extra_args)
            .args(
                self.postgres
                    .iter()
                    .flat_map(|db| ["--database-url".to_owned(), db.url.clone()]),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("server starts");
        self.child = Some(child);
        wait_for_port(self.port, "the server");
        let deadline = Instant::now() + WAIT;
        while !self.health_ok() {
            assert!(Instant::now() < deadline, "the server never became healthy");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server: the tablet is now offline for this app.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        assert!(
            TcpStream::connect(("127.0.0.1", self.port)).is_err(),
            "server still reachable"
        );
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn health_ok(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let request = "GET /api/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// chromedriver on a free port.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    pub fn start() -> Driver {
        let port = free_port();
        let child = Command::new(env_path("CHROMEDRIVER"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        wait_for_port(port, "chromedriver");
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless Chromium on a given profile folder.
pub struct Browser {
    pub client: Client,
}

impl Browser {
    pub async fn open(driver: &Driver, profile: &Path) -> Browser {
        let chromium = env_path("CHROMIUM");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        // The previous browser on this profile may still be releasing its lock: retry briefly.
        let deadline = Instant::now() + WAIT;
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{}", driver.port))
                .await
            {
                Ok(client) => return Browser { client },
                Err(e) if Instant::now() < deadline => {
                    eprintln!("browser not ready yet: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => panic!("could not start Chromium: {e}"),
            }
        }
    }

    /// Ends the session: Chromium exits, as when the tablet's browser is closed.
    pub async fn close(self) {
        self.client.close().await.expect("browser closes");
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    pub async fn reload(&self) {
        self.client.refresh().await.expect("reload");
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Everything the app's IndexedDB database holds, as raw as a script on the page can read
    /// it: each object store's records as JSON (`{"store": [records]}`), blobs and binary values
    /// shown by size only. `{}` when there is no database. (`indexedDB.databases()` is asked
    /// first: opening a missing database would create an empty one the app then cannot upgrade.)
    pub async fn local_database_dump(&self) -> String {
        let dump = self
            .js("return (async () => {
                   const known = await indexedDB.databases();
                   if (!known.some(d => d.name === 'liaison')) return '{}';
                   const db = await new Promise((resolve, reject) => {
                     const r = indexedDB.open('liaison');
                     r.onsuccess = () => resolve(r.result);
                     r.onerror = () => reject(String(r.error));
                   });
                   const names = Array.from(db.objectStoreNames);
                   if (names.length === 0) { db.close(); return '{}'; }
                   const out = {};
                   await new Promise((resolve, reject) => {
                     const tx = db.transaction(names, 'readonly');
                     for (const name of names) {
                       const req = tx.objectStore(name).getAll();
                       req.onsuccess = () => { out[name] = req.result; };
                     }
                     tx.oncomplete = resolve;
                     tx.onerror = () => reject(String(tx.error));
                   });
                   db.close();
                   return JSON.stringify(out, (key, value) =>
                     value instanceof Blob ? `[blob of ${value.size} bytes]`
                     : (value instanceof ArrayBuffer || ArrayBuffer.isView(value))
                       ? `[${value.byteLength} bytes]` : value);
                 })()")
            .await;
        dump.as_str()
            .unwrap_or_else(|| panic!("the database dump is text: {dump}"))
            .to_owned()
    }

    /// Waits until a script returns `true`.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if self.client.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
                return;
            }
            if Instant::now() > deadline {
                let body = self.js("return document.body.innerText").await;
                panic!("timed out waiting for {what}; page text:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    let body = self.js("return document.body.innerText").await;
                    panic!("{css} not found: {e}; page text:\n{body}")
                }
            }
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.find(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Replaces the text of an input (a number field with a default, a date).
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {css}: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Sets a form control's value as a script would, firing `input` and `change` (a date input
    /// takes keystrokes in the browser's locale order; its value is always `YYYY-MM-DD`).
    pub async fn set_value(&self, css: &str, value: &str) {
        self.find(css).await;
        self.js(&format!(
            "const e = document.querySelector({css}); e.value = {value};
             e.dispatchEvent(new Event('input', {{bubbles: true}}));
             e.dispatchEvent(new Event('change', {{bubbles: true}}));",
            css = serde_json::to_string(css).unwrap(),
            value = serde_json::to_string(value).unwrap(),
        ))
        .await;
    }

    /// Waits until the element matching `css` exists and its `data-<name>` is `value`.
    pub async fn wait_for_data(&self, css: &str, name: &str, value: &str) {
        let script = format!(
            "const e = document.querySelector({css}); return !!e && e.dataset[{name}] === {value}",
            css = serde_json::to_string(css).unwrap(),
            name = serde_json::to_string(name).unwrap(),
            value = serde_json::to_string(value).unwrap(),
        );
        self.wait_until(&format!("{css} with data-{name}={value}"), &script)
            .await;
    }

    /// Clicks like a finger would: the element is scrolled to the middle of the screen first,
    /// clear of the sticky header and action bar. Found again if it was re-rendered between
    /// being found and clicked (a stale reference: the click did not happen, so clicking the
    /// new one is safe).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        let scroll = format!(
            "document.querySelector({}).scrollIntoView({{block: 'center'}})",
            serde_json::to_string(css).unwrap()
        );
        loop {
            let element = self.find(css).await;
            self.js(&scroll).await;
            match element.click().await {
                Ok(()) => return,
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    self.screenshot("click-failure").await;
                    panic!("clicking {css}: {e}");
                }
            }
        }
    }

    /// Clicks the first element matching `css` whose text contains `text`, found again (like
    /// [`Browser::click`]) if it was re-rendered between being found and clicked. Fails when
    /// none shows that text within the wait.
    pub async fn click_with_text(&self, css: &str, text: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut stale = false;
            for element in self.find_all(css).await {
                match element.text().await {
                    Ok(shown) if shown.contains(text) => match element.click().await {
                        Ok(()) => return,
                        Err(fantoccini::error::CmdError::Standard(e))
                            if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
                        {
                            stale = true;
                            break;
                        }
                        Err(e) => {
                            self.screenshot("click-failure").await;
                            panic!("clicking {css} showing {text}: {e}");
                        }
                    },
                    Ok(_) => {}
                    // Re-rendered while its text was read: look again.
                    Err(_) => {
                        stale = true;
                        break;
                    }
                }
            }
            if Instant::now() >= deadline {
                self.screenshot("click-failure").await;
                panic!("no {css} showing {text} (stale: {stale})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn select(&self, css: &str, value: &str) {
        let select = self.find(css).await;
        let option = format!("{css} option[value=\"{value}\"]");
        self.find(&option).await;
        select
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("selecting {value} in {css}: {e}"));
    }

    /// The element's visible text. Retried while the element is being re-rendered (Leptos
    /// replaces elements, so one found a moment ago can be gone: a stale reference).
    pub async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.find(css).await.text().await {
                Ok(text) => return text,
                Err(e) if Instant::now() > deadline => panic!("text of {css}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Waits until the element's text contains `expected` (the UI renders a moment after the
    /// event that changes it).
    pub async fn wait_for_text(&self, css: &str, expected: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let text = self.text(css).await;
            if text.contains(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{css} should show {expected:?}, it shows {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `value` of a form control, retried like [`Browser::text`].
    pub async fn value(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.find(css).await.prop("value").await {
                Ok(value) => return value.unwrap_or_default(),
                Err(e) if Instant::now() > deadline => panic!("value of {css}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Saves a screenshot under `target/e2e-screenshots/` for people to look at.
    pub async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        if let Ok(png) = self.client.screenshot().await {
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    }
}

/// The sync badge in the app's header: `(kind, pending)`, where kind is `ok`, `busy`, `waiting`
/// or `problem` and pending the records waiting.
pub async fn sync_badge(browser: &Browser) -> (String, u64) {
    let value = browser
        .js("const b = document.querySelector('#sync-status');
             return b ? [b.dataset.kind, Number(b.dataset.pending)] : ['', -1];")
        .await;
    (
        value[0].as_str().unwrap_or_default().to_owned(),
        value[1].as_u64().unwrap_or(u64::MAX),
    )
}

/// Calls the server's JSON API from the test (not through the browser): `(status, body)`.
pub async fn api(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let (status, bytes) = api_bytes(method, url, token, body).await;
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

/// Like [`api`], for answers that are not JSON (exports): the status and the body's bytes.
pub async fn api_bytes(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, bytes::Bytes) {
    use http_body_util::{BodyExt, Full};
    let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let response = client
        .request(request.body(Full::new(bytes::Bytes::from(body))).unwrap())
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes)
}

/// `GET`s an API path as `token` and returns the body, which must come with a 200.
pub async fn api_get_ok(server: &Server, token: &str, path: &str) -> Value {
    let (status, body) = api("GET", &server.url(path), Some(token), None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// Signs in through the API; the bearer token.
pub async fn api_sign_in(server: &Server, username: &str, password: &str) -> String {
    let (status, body) = api(
        "POST",
        &server.url("/api/v1/session"),
        None,
        Some(&json!({"username": username, "password": password})),
    )
    .await;
    assert_eq!(status, 201, "sign-in of {username}: {body}");
    body["token"].as_str().unwrap().to_owned()
}

/// Every opinion the server holds for the demo station, pulled page by page as `token` (a user
/// who may read it): `(id, summary)`, in change order.
pub async fn server_opinions(server: &Server, token: &str) -> Vec<(String, String)> {
    let mut cursor = 0u64;
    let mut all = Vec::new();
    loop {
        let (status, page) = api(
            "POST",
            &server.url("/api/v1/sync/pull"),
            Some(token),
            Some(&json!({"protocol": 1, "cursor": cursor, "limit": 500})),
        )
        .await;
        assert_eq!(status, 200, "pull: {page}");
        for change in page["changes"].as_array().unwrap() {
            if change["type"] != "opinion" {
                continue;
            }
            let state = &change["state"];
            if state.get("deleted").is_some() {
                continue;
            }
            all.push((
                state["id"].as_str().unwrap().to_owned(),
                state["created"]["value"]["summary"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
        cursor = page["next_cursor"].as_u64().unwrap();
        if !page["more"].as_bool().unwrap() {
            return all;
        }
    }
}

/// Milliseconds since the Unix epoch by this machine's clock (the server's: they share it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Today in China time, as the pages and the server count days.
pub fn today() -> liaison_domain::followup::Date {
    liaison_domain::followup::Date::from_unix_ms(
        now_ms() as i64,
        liaison_domain::followup::CHINA_UTC_OFFSET_MINUTES,
    )
}

/// Pushes `kinds` through `POST /api/v1/sync/push` as a new tablet would (a fresh client id,
/// seqs from 1, clock stamps a second apart from `start_ms`) and checks that the server took
/// every one.
pub async fn push_as_new_tablet(
    server: &Server,
    token: &str,
    start_ms: u64,
    kinds: Vec<liaison_domain::sync::MutationKind>,
) {
    use liaison_domain::sync::{Hlc, Mutation, PROTOCOL_VERSION, PushRequest, Seq};
    let client = liaison_domain::ClientId::new_v7(start_ms, [7; 10]);
    let mutations = kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| {
            let seq = i as u64 + 1;
            let hlc = Hlc {
                wall_ms: start_ms + seq * 1000,
                counter: 0,
                node: client,
            };
            Mutation::new(client, Seq(seq), hlc, kind)
        })
        .collect();
    let request = PushRequest {
        protocol: PROTOCOL_VERSION,
        app_version: env!("CARGO_PKG_VERSION").into(),
        client_id: client,
        mutations,
    };
    let body = serde_json::to_value(&request).unwrap();
    let (status, answer) = api(
        "POST",
        &server.url("/api/v1/sync/push"),
        Some(token),
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "push: {answer}");
    assert_eq!(answer["rejected"], json!([]), "nothing refused: {answer}");
}

/// A copy of the release app bundle, for tests that change it (a new release).
pub fn copy_of_dist() -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&env_path("LIAISON_DIST"), dir.path());
    dir
}

/// A file shipped with the tests.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
        .canonicalize()
        .unwrap()
}
