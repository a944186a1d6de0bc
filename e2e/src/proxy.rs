//! A fault-injecting HTTP proxy between the browser and the real server, for the network the
//! tablets really have: answers lost after the server committed, storms of 5xx, captive portals
//! answering HTML with 200, requests held long enough to close a tab or restart the server
//! under them.
//!
//! The browser loads the app **from the proxy** (same origin for the service worker and every
//! API call), and each request to a path starting with the fault prefix (by default
//! `/api/v1/sync/`) takes the next scripted [`Fault`], if any. The proxy also records the first
//! `seq` of every push body it passes on, so a test can tell whether a mutation was uploaded more
//! than once.
//!
//! It runs on its own thread and runtime, so a test blocking its own thread (waiting for the
//! server to start) does not stall it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with one request on the fault prefix.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answers this status with a plain-text body, without asking the server.
    Status(u16),
    /// Answers 200 with an HTML login page, like a hotel Wi-Fi.
    CaptivePortal,
    /// Forwards the request, lets the server commit, then cuts the connection: the tablet never
    /// hears the answer.
    LoseResponse,
    /// Waits this long, then forwards (the tab can be closed, the server restarted meanwhile).
    Hold(Duration),
}

#[derive(Default)]
struct Shared {
    faults: VecDeque<Fault>,
    /// Holds every request on the prefix for this long while set (not consumed).
    hold_all: Option<Duration>,
    /// The `(client_id, first seq, count)` of every push passed on to the server.
    pushes: Vec<(String, u64, usize)>,
    /// Requests on the prefix seen since the last [`Proxy::take_arrivals`].
    arrivals: usize,
}

pub struct Proxy {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl Proxy {
    /// A proxy to the server listening on `upstream_port`.
    pub fn start(upstream_port: u16) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let state = Arc::clone(&shared);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(serve(listener, upstream_port, state));
        });
        Proxy { port, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next sync requests meet these faults, in order; then requests pass again.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.lock().unwrap().faults.extend(faults);
    }

    /// Drops every scripted fault not yet met.
    pub fn clear_faults(&self) {
        self.shared.lock().unwrap().faults.clear();
    }

    /// Holds every sync request for `hold` (until called with `None`).
    pub fn hold_all(&self, hold: Option<Duration>) {
        self.shared.lock().unwrap().hold_all = hold;
    }

    /// Faults still waiting to be met.
    pub fn faults_left(&self) -> usize {
        self.shared.lock().unwrap().faults.len()
    }

    /// Every push passed on to the server: `(client id, first seq, number of mutations)`.
    pub fn pushes(&self) -> Vec<(String, u64, usize)> {
        self.shared.lock().unwrap().pushes.clone()
    }

    /// How many sync requests arrived since the last call.
    pub fn take_arrivals(&self) -> usize {
        std::mem::take(&mut self.shared.lock().unwrap().arrivals)
    }

    /// How many times each `(client, seq)` was pushed, for those pushed more than once.
    pub fn seqs_pushed_more_than_once(&self) -> Vec<(String, u64)> {
        let mut seen = std::collections::HashMap::<(String, u64), u32>::new();
        for (client, first, count) in self.pushes() {
            for seq in first..first + count as u64 {
                *seen.entry((client.clone(), seq)).or_default() += 1;
            }
        }
        let mut twice: Vec<_> = seen
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .map(|(k, _)| k)
            .collect();
        twice.sort();
        twice
    }
}

const FAULT_PREFIX: &str = "/api/v1/sync/";
/// The change-event stream, under the prefix but not proxied.
const EVENTS_PATH: &str = "/api/v1/sync/events";

async fn serve(listener: std::net::TcpListener, upstream_port: u16, shared: Arc<Mutex<Shared>>) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (client, shared) = (client.clone(), Arc::clone(&shared));
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                handle(request, client.clone(), upstream_port, Arc::clone(&shared))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The error that makes hyper drop the connection without an answer.
#[derive(Debug)]
struct CutConnection;

impl std::fmt::Display for CutConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection cut by the fault proxy")
    }
}

impl std::error::Error for CutConnection {}

async fn handle(
    request: Request<Incoming>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream_port: u16,
    shared: Arc<Mutex<Shared>>,
) -> Result<Response<Full<Bytes>>, CutConnection> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    if path.starts_with(EVENTS_PATH) {
        // The proxy collects whole bodies, so it cannot pass a stream on; and a stream's
        // reconnects must not take the faults scripted for pushes and pulls. Tablets behind the
        // proxy sync by their own triggers (saves, retries, the poll), which is what these tests
        // are about; the change events are tested without the proxy.
        return Ok(Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(
                br#"{"error":{"code":"not_found","message":"not proxied"}}"#,
            )))
            .unwrap());
    }
    let on_prefix = path.starts_with(FAULT_PREFIX);
    let (fault, hold) = if on_prefix {
        let mut shared = shared.lock().unwrap();
        shared.arrivals += 1;
        let fault = shared.faults.pop_front();
        let answered_here = matches!(fault, Some(Fault::Status(_) | Fault::CaptivePortal));
        if !answered_here
            && path.starts_with("/api/v1/sync/push")
            && let Ok(push) = serde_json::from_slice::<serde_json::Value>(&body)
        {
            let mutations = push["mutations"].as_array().cloned().unwrap_or_default();
            let first = mutations
                .first()
                .and_then(|m| m["seq"].as_u64())
                .unwrap_or(0);
            let client = push["client_id"].as_str().unwrap_or_default().to_owned();
            shared.pushes.push((client, first, mutations.len()));
        }
        (fault, shared.hold_all)
    } else {
        (None, None)
    };
    match fault {
        Some(Fault::Status(status)) => {
            return Ok(Response::builder()
                .status(status)
                .header("content-type", "text/plain")
                .body(Full::new(Bytes::from_static(b"Service Unavailable")))
                .unwrap());
        }
        Some(Fault::CaptivePortal) => {
            return Ok(Response::builder()
                .status(StatusCode::OK)
                .header("content-type", "text/html")
                .body(Full::new(Bytes::from_static(
                    b"<html><body><h1>Welcome to Station Wi-Fi</h1><p>Please log in.</p></body></html>",
                )))
                .unwrap());
        }
        Some(Fault::Hold(duration)) => tokio::time::sleep(duration).await,
        Some(Fault::LoseResponse) | None => {}
    }
    if let Some(duration) = hold {
        tokio::time::sleep(duration).await;
    }
    let mut upstream = Request::builder()
        .method(parts.method.clone())
        .uri(format!("http://127.0.0.1:{upstream_port}{path}"));
    for (name, value) in &parts.headers {
        upstream = upstream.header(name, value);
    }
    let answer = match client
        .request(upstream.body(Full::new(body)).unwrap())
        .await
    {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Response::from_parts(parts, Full::new(body))
        }
        Err(_) => Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from_static(b"Bad Gateway")))
            .unwrap(),
    };
    if matches!(fault, Some(Fault::LoseResponse)) {
        return Err(CutConnection);
    }
    Ok(answer)
}
