//! `GET /api/v1/sync/events`: a server-sent-events stream that **pokes** tablets when there is
//! something new to pull, so that an opinion captured on one tablet shows up on the others in
//! about a second instead of at the next poll.
//!
//! **What is sent.** `event: changed` with `data: <cursor>`, the cursor of the latest committed
//! change ([`Db::latest_cursor`](crate::Db::latest_cursor)): once right after connecting (so a
//! tablet that reconnects after missing pokes sees at once whether it is behind), then after
//! every push that moved the change counter. The event carries no record: the tablet compares
//! the cursor with its own and, if it is behind, pulls as usual ([`crate::sync`]), which applies
//! the read authorisation. So the stream needs no filtering beyond authentication; it only tells
//! a signed-in user that *something* changed (possibly at a station the user cannot read, which
//! then pulls nothing). A comment line (`: keep-alive`) every
//! [`Settings::event_keep_alive`](crate::Settings) (15 s) keeps proxies and NAT tables from
//! dropping an idle stream.
//!
//! **A hint, not a channel.** Pokes are best-effort: a slow subscriber that falls behind the
//! broadcast buffer skips to newer cursors (every cursor supersedes the older ones), a tablet
//! that is offline misses them, and with several server instances behind a load balancer each
//! instance only pokes the clients connected to it about pushes it took itself. Tablets
//! therefore keep a slow poll (a pull every few minutes, and on reconnect) as the fallback;
//! the stream only makes the common case fast.
//!
//! **Authentication.** The same [`Auth`] as every other route: `Authorization: Bearer <token>`.
//! Because a browser's `EventSource` cannot set headers, this route alone also accepts the token
//! as a `?token=<token>` query parameter. The trade-off: a URL is more exposed than a header
//! (reverse-proxy access logs, browser history and devtools). Mitigations here: the server's own
//! request spans log the path without the query (see `lib.rs`), `Referrer-Policy: no-referrer`
//! is on every response, and the stream itself reveals nothing but cursors. A deployment whose
//! proxy logs full URLs should strip or mask the query of this path, or the app can read the
//! stream with `fetch` (which can send the header) instead of `EventSource`. A short-lived
//! single-use stream ticket would remove the exposure entirely; not done yet.
//!
//! **Shutdown.** A stream never ends by itself, and graceful shutdown waits for open responses;
//! [`ChangeEvents::close`] ends every stream (and refuses to start new ones) so that
//! `axum::serve(...).with_graceful_shutdown(...)` returns promptly (`main.rs` calls it when the
//! shutdown signal arrives).

use crate::auth::{Auth, bearer_token};
use crate::error::AppError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use liaison_domain::sync::Cursor;
use serde::Deserialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{broadcast, watch};

pub fn router() -> Router<AppState> {
    Router::new().route("/sync/events", get(events))
}

/// Pokes buffered per subscriber before a slow one starts skipping (it then gets the newest
/// cursors only, which is all it needs).
const BUFFER: usize = 16;

/// The poke channel shared by the push handler (sender) and the open streams (receivers), and
/// the switch that closes the streams on shutdown. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ChangeEvents {
    changes: broadcast::Sender<Cursor>,
    /// The greatest cursor announced so far: concurrent pushes that read the same counter value
    /// poke once, and the announced cursors only go up.
    announced: Arc<AtomicU64>,
    closing: watch::Sender<bool>,
}

impl Default for ChangeEvents {
    fn default() -> Self {
        ChangeEvents::new()
    }
}

impl ChangeEvents {
    pub fn new() -> Self {
        let (changes, _) = broadcast::channel(BUFFER);
        let (closing, _) = watch::channel(false);
        ChangeEvents {
            changes,
            announced: Arc::new(AtomicU64::new(0)),
            closing,
        }
    }

    /// Tells the open streams that changes up to `cursor` are committed, unless that was said
    /// already.
    pub fn announce(&self, cursor: Cursor) {
        let previous = self.announced.fetch_max(cursor.0, Ordering::AcqRel);
        if cursor.0 > previous {
            // An error only means that nobody is listening.
            let _ = self.changes.send(cursor);
        }
    }

    /// Ends every open stream, and every stream opened later at once. For graceful shutdown.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Whether [`Self::close`] was called.
    pub fn is_closed(&self) -> bool {
        *self.closing.borrow()
    }
}

/// [`Auth`] from the `Authorization` header or, for `EventSource`, the `token` query parameter
/// (see the module docs for the trade-off). The header wins when both are present.
pub struct StreamAuth(pub Auth);

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

impl FromRequestParts<AppState> for StreamAuth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(token) = bearer_token(parts) {
            return Auth::from_token(state, token).await.map(StreamAuth);
        }
        // An unreadable query is the same 401 as a missing token.
        let query =
            Query::<TokenQuery>::try_from_uri(&parts.uri).map_err(|_| AppError::Unauthenticated)?;
        match query.0.token.as_deref().map(str::trim) {
            Some(token) if !token.is_empty() => {
                Auth::from_token(state, token).await.map(StreamAuth)
            }
            _ => Err(AppError::Unauthenticated),
        }
    }
}

fn changed(cursor: Cursor) -> Event {
    Event::default().event("changed").data(cursor.0.to_string())
}

/// `GET /api/v1/sync/events`.
async fn events(
    State(state): State<AppState>,
    StreamAuth(auth): StreamAuth,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    // Subscribed before the counter is read, so that a push committed in between is either in
    // the first event's cursor or poked afterwards.
    let changes = state.events.changes.subscribe();
    let closing = state.events.closing.subscribe();
    let current = state.db.latest_cursor().await?;
    tracing::debug!(user = %auth.username, "change stream opened");

    let stream = futures_util::stream::unfold(
        (Some(current), changes, closing),
        |(first, mut changes, mut closing)| async move {
            if *closing.borrow() {
                return None;
            }
            if let Some(cursor) = first {
                return Some((Ok(changed(cursor)), (None, changes, closing)));
            }
            let cursor = loop {
                tokio::select! {
                    // Also ends the stream if the sender is gone (the state was dropped).
                    _ = closing.wait_for(|closed| *closed) => return None,
                    received = changes.recv() => match received {
                        Ok(cursor) => break cursor,
                        // Skipped pokes are superseded by the next one.
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                }
            };
            Some((Ok(changed(cursor)), (None, changes, closing)))
        },
    );
    Ok(Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(state.settings.event_keep_alive)
            .text("keep-alive"),
    ))
}
