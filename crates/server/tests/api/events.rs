//! The change-event stream (`GET /api/v1/sync/events`): a push from one client pokes the open
//! streams of the others with the new cursor; authentication by header or, on this route only,
//! by `?token=`; keep-alive comments; and graceful shutdown with a stream open.

use super::accounts::app_with_accounts;
use super::sync::{client, create, opinion_id, valid_opinion};
use super::{TestApp, assert_json_error, header, spawn_app_with};
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use liaison_domain::Role;
use liaison_domain::sync::{Mutation, PROTOCOL_VERSION, PushRequest};
use liaison_server::Settings;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const EVENTS: &str = "/api/v1/sync/events";

/// Long enough for a loaded CI machine, short enough that a missing event fails fast.
const WAIT: Duration = Duration::from_secs(5);

/// One server-sent event, or a comment line.
#[derive(Debug, PartialEq, Eq)]
enum Sse {
    Event { event: String, data: String },
    Comment(String),
}

/// Reads a `text/event-stream` body block by block (blocks end with a blank line).
pub(super) struct EventReader {
    body: Body,
    buffer: String,
}

impl EventReader {
    fn new(response: Response<Body>) -> Self {
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), "text/event-stream");
        EventReader {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// The next block, or `None` when the stream ended or nothing came within `wait`.
    async fn next_within(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse_block(block.trim_end()));
            }
            let frame = tokio::time::timeout_at(deadline, self.body.frame())
                .await
                .ok()??
                .expect("the stream does not fail");
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }

    /// The next `changed` event's cursor, skipping keep-alive comments.
    pub(super) async fn next_change(&mut self) -> u64 {
        loop {
            match self.next_within(WAIT).await {
                Some(Sse::Event { event, data }) => {
                    assert_eq!(event, "changed");
                    return data.parse().expect("the data is a cursor");
                }
                Some(Sse::Comment(_)) => continue,
                None => panic!("no change event within {WAIT:?}"),
            }
        }
    }
}

fn parse_block(block: &str) -> Sse {
    let mut event = String::new();
    let mut data = String::new();
    for line in block.lines() {
        if let Some(comment) = line.strip_prefix(':') {
            return Sse::Comment(comment.trim().to_owned());
        }
        match line.split_once(':') {
            Some(("event", value)) => event = value.trim().to_owned(),
            Some(("data", value)) => data = value.trim().to_owned(),
            _ => panic!("unexpected line {line:?}"),
        }
    }
    Sse::Event { event, data }
}

impl TestApp {
    pub(super) async fn open_events(&self, token: &str) -> EventReader {
        EventReader::new(self.call(Method::GET, EVENTS, Some(token), None).await)
    }

    async fn push_creations(&self, token: &str, n: u8, mutations: Vec<Mutation>) {
        let body = serde_json::to_value(PushRequest {
            protocol: PROTOCOL_VERSION,
            app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
            client_id: client(n),
            mutations,
        })
        .unwrap();
        let response = self
            .call(Method::POST, "/api/v1/sync/push", Some(token), Some(body))
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_push_pokes_open_streams_with_the_new_cursor() {
    let app = app_with_accounts().await;
    let listener = app.token("staff-xingfuli", None).await;
    let office = app.token("office", None).await;

    let mut stream = app.open_events(&listener).await;
    assert_eq!(
        stream.next_change().await,
        0,
        "the current cursor comes first"
    );

    let c = client(1);
    let first = valid_opinion(opinion_id(1), "station-xingfuli");
    app.push_creations(&office, 1, vec![create(c, 1, 0, first.clone())])
        .await;
    assert_eq!(stream.next_change().await, 1);

    // A resent push changes nothing and pokes nobody: the next event is the next change's.
    app.push_creations(&office, 1, vec![create(c, 1, 0, first)])
        .await;
    app.push_creations(
        &office,
        1,
        vec![
            create(c, 2, 1, valid_opinion(opinion_id(2), "station-xingfuli")),
            create(c, 3, 2, valid_opinion(opinion_id(3), "station-heping")),
        ],
    )
    .await;
    assert_eq!(
        stream.next_change().await,
        3,
        "one poke per push, with its last cursor"
    );

    // A second subscriber starts from the current cursor.
    let mut late = app.open_events(&office).await;
    assert_eq!(late.next_change().await, 3);
}

#[tokio::test]
async fn the_stream_needs_a_live_token_in_the_header_or_the_query() {
    let app = app_with_accounts().await;
    let token = app.token("deputy-zhang", None).await;

    let response = app.call(Method::GET, EVENTS, None, None).await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "none",
    )
    .await;
    let response = app.call(Method::GET, EVENTS, Some("forged"), None).await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "forged",
    )
    .await;
    for query in [
        "?token=forged",
        "?token=",
        "?token",
        "?token=%FF%FE",
        "?other=1",
    ] {
        let response = app.get(&format!("{EVENTS}{query}")).await;
        assert_json_error(response, StatusCode::UNAUTHORIZED, "unauthenticated", query).await;
    }

    // EventSource cannot set headers: the query carries the token on this route.
    let mut stream = EventReader::new(app.get(&format!("{EVENTS}?token={token}")).await);
    assert_eq!(stream.next_change().await, 0);

    // A wrong header is not rescued by a right query: the header wins.
    let request = Request::get(format!("{EVENTS}?token={token}"))
        .header("authorization", "Bearer forged")
        .body(Body::empty())
        .unwrap();
    let response = app.request(request).await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "both",
    )
    .await;

    // Only this route takes the query: everywhere else a token in the URL is no token.
    let response = app.get(&format!("/api/v1/me?token={token}")).await;
    assert_json_error(response, StatusCode::UNAUTHORIZED, "unauthenticated", "/me").await;

    // A signed-out session's stream is refused.
    let response = app
        .call(Method::DELETE, "/api/v1/session", Some(&token), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.get(&format!("{EVENTS}?token={token}")).await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "signed out",
    )
    .await;
}

#[tokio::test]
async fn an_idle_stream_sends_keep_alive_comments() {
    let app =
        spawn_app_with(|settings| settings.event_keep_alive = Duration::from_millis(50)).await;
    app.add_user("unit", Role::HandlingUnit, None, &[]).await;
    let token = app.token("unit", None).await;
    let mut stream = app.open_events(&token).await;
    assert_eq!(stream.next_change().await, 0);
    assert_eq!(
        stream.next_within(WAIT).await,
        Some(Sse::Comment("keep-alive".into()))
    );
}

#[tokio::test]
async fn closing_the_events_ends_open_streams_and_refuses_new_ones() {
    let app = app_with_accounts().await;
    let token = app.token("staff-xingfuli", None).await;
    let mut stream = app.open_events(&token).await;
    assert_eq!(stream.next_change().await, 0);

    let closed_at = std::time::Instant::now();
    app.events.close();
    assert_eq!(stream.next_within(WAIT).await, None, "the stream ended");
    assert!(
        closed_at.elapsed() < WAIT / 2,
        "ended at once, not merely silent until the wait ran out"
    );

    let mut late = app.open_events(&token).await;
    assert_eq!(late.next_within(WAIT).await, None);
}

/// Over a real socket: `axum::serve(...).with_graceful_shutdown` waits for open responses, so
/// an open event stream holds the shutdown until [`ChangeEvents::close`] ends it, as `main.rs`
/// does after the signal.
///
/// [`ChangeEvents::close`]: liaison_server::ChangeEvents::close
#[tokio::test]
async fn graceful_shutdown_returns_promptly_once_the_streams_are_closed() {
    let app = app_with_accounts().await;
    let token = app.token("staff-xingfuli", None).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, app.router.clone())
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );

    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket
        .write_all(
            format!(
                "GET {EVENTS} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&received).contains("event: changed") {
        let n = tokio::time::timeout(WAIT, socket.read(&mut chunk))
            .await
            .expect("the first event arrives")
            .unwrap();
        assert!(n > 0, "the server hung up early");
        received.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&received).to_string();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");

    // The signal alone: the open stream keeps the server running (the hang being prevented).
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!server.is_finished(), "shutdown waits for the open stream");

    // What `main.rs` does after the signal.
    app.events.close();
    tokio::time::timeout(WAIT, server)
        .await
        .expect("shutdown returns promptly once the streams are closed")
        .unwrap()
        .unwrap();
    // The client sees the end of the response (the chunked body's terminator, then EOF).
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, socket.read_to_end(&mut rest))
        .await
        .expect("the connection closes")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&rest).ends_with("0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
}
