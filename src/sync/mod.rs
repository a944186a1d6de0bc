//! The tablet's sync engine: gets the outbox onto the server and the station's records onto
//! the tablet whenever a connection allows, and tells the deputy where things stand.
//!
//! - [`api`]: the HTTP calls (sign-in, enrolment, push, pull) with timeouts.
//! - [`duty`]: the station duty page's calls (attendance, roster, activities), online only.
//! - [`office`]: the back office's calls (ledger, items and their steps, units, calendar),
//!   online only.
//! - [`reports`]: the statistics, the reception register and the Excel/CSV exports, online
//!   only.
//! - [`round`]: one round, push then pull, stopping at the first failure with its reason.
//! - [`lock`]: one uploader per device across tabs (Web Locks).
//! - [`trace`]: a round's step timings, when a debug key asks for them.
//! - [`SyncEngine`] (this file): when rounds run and what the status area shows.
//!
//! **When a round runs:** at start, when the browser reports a network, after each local save,
//! from the "sync now" button, on a poke from the server ([`SyncEngine::listen`], server-sent
//! events), and on a timer:
//! every [`POLL_MS`] while things go well, after [`retry_delay_ms`] (growing, jittered) while the
//! network or server is in trouble. A round needs a signed-in session; without one the records
//! wait in the outbox, safe, and the status says so. A problem that needs a person (sign in
//! again, update the app) stops the timer until that person acts.

pub mod api;
pub mod audit;
pub mod duty;
pub mod office;
pub mod reports;
pub mod round;
pub mod trace;

use crate::storage::settings::keys;
use crate::storage::{StorageError, Store};
use api::{Enrollment, Session};
use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use liaison_domain::sync::client::{Problem, RetryReason, retry_delay_ms};
use round::{RoundError, RoundReport};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// The server's change-event stream (`GET /api/v1/sync/events`): each `changed` event carries
/// the server's latest cursor, and the tablet pulls when it is ahead of its own. A hint only:
/// when the stream is down (a proxy that buffers, another server instance took the push) the
/// poll still runs. `EventSource` reconnects by itself after network trouble.
struct ChangeEvents {
    source: web_sys::EventSource,
    _on_changed: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

/// After the browser gave up on the change-event stream (it does on any answer but 200, such
/// as a proxy's 502 while the server restarts), open it again this much later.
const EVENTS_REOPEN_MS: u32 = 30_000;

impl Drop for ChangeEvents {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Time between rounds while everything works (the slow poll behind the server's pokes).
pub const POLL_MS: u64 = 60_000;
/// A local save is pushed this soon after (a burst of saves goes in one round).
const AFTER_SAVE_MS: u64 = 500;
/// When another tab holds the sync lock, look again after this long.
const OTHER_TAB_MS: u64 = 5_000;

/// What the engine is doing right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Idle,
    Syncing,
    /// Another tab of the app is syncing for this device.
    OtherTab,
}

/// The sync engine's state, shown by the status area. `Copy`: signals and stored values only.
#[derive(Clone, Copy)]
pub struct SyncEngine {
    pub session: RwSignal<Option<Session>>,
    pub enrollment: RwSignal<Option<Enrollment>>,
    pub phase: RwSignal<Phase>,
    /// Outbox entries waiting to be pushed.
    pub pending: RwSignal<u32>,
    /// Outbox entries the server refused (shown until dealt with).
    pub rejected: RwSignal<u32>,
    /// Photos waiting to be uploaded.
    pub photos_pending: RwSignal<u32>,
    /// When the last round succeeded (ms since the epoch).
    pub last_success_ms: RwSignal<Option<u64>>,
    /// The last round failed for this passing reason; it is retried by itself.
    pub retrying: RwSignal<Option<RetryReason>>,
    /// Sync stopped until someone acts.
    pub problem: RwSignal<Option<Problem>>,
    /// Local storage failed during the last round.
    pub storage_error: RwSignal<Option<StorageError>>,
    failures: StoredValue<u32>,
    /// The open change-event stream and its handler, while signed in.
    events: StoredValue<Option<ChangeEvents>, LocalStorage>,
    running: StoredValue<bool>,
    again: StoredValue<bool>,
    timer: StoredValue<Option<Timeout>, LocalStorage>,
}

impl SyncEngine {
    /// The engine with what the store remembers (session, enrolment, last success).
    pub async fn load(store: &Store) -> SyncEngine {
        let mut session: Option<Session> = store.get_setting(keys::SESSION).await.ok().flatten();
        // A protected account's session is kept only sealed (an app before version 7 stored it
        // in clear): that account signs in again.
        if session
            .as_ref()
            .is_some_and(|s| crate::protection::is_protected(s.user.role))
        {
            session = None;
            let _ = store.set_setting(keys::SESSION, &None::<Session>).await;
        }
        let enrollment: Option<Enrollment> =
            store.get_setting(keys::ENROLLMENT).await.ok().flatten();
        let last_success_ms: Option<u64> = store.get_setting(keys::LAST_SYNC).await.ok().flatten();
        let (pending, rejected) = store.outbox_counts().await.unwrap_or((0, 0));
        SyncEngine {
            session: RwSignal::new(session),
            enrollment: RwSignal::new(enrollment),
            phase: RwSignal::new(Phase::Idle),
            pending: RwSignal::new(pending),
            rejected: RwSignal::new(rejected),
            photos_pending: RwSignal::new(store.photos_waiting().await.unwrap_or(0)),
            last_success_ms: RwSignal::new(last_success_ms),
            retrying: RwSignal::new(None),
            problem: RwSignal::new(None),
            storage_error: RwSignal::new(None),
            failures: StoredValue::new(0),
            events: StoredValue::new_local(None),
            running: StoredValue::new(false),
            again: StoredValue::new(false),
            timer: StoredValue::new_local(None),
        }
    }

    /// Runs a round now (or right after the one running). `records_changed` is bumped when a
    /// round changed local records, so lists reload.
    pub fn sync_now(self, store: Store, records_changed: RwSignal<u32>) {
        if self.running.get_value() {
            self.again.set_value(true);
            return;
        }
        self.running.set_value(true);
        leptos::task::spawn_local(async move {
            loop {
                self.again.set_value(false);
                self.run(&store, records_changed).await;
                if !self.again.get_value() {
                    break;
                }
            }
            self.running.set_value(false);
        });
    }

    /// A deputy saved something: push it soon.
    pub fn local_change(self, store: Store, records_changed: RwSignal<u32>) {
        // Shown at once (the exact counts follow): the badge must never say "all synced" while a
        // just-saved record waits.
        self.pending.update(|n| *n += 1);
        self.refresh_counts(store.clone());
        self.schedule(AFTER_SAVE_MS, store, records_changed);
    }

    /// The network came back, or a person acted (signed in, pressed "sync now"): forget the
    /// backoff and try at once.
    pub fn reset_backoff(self) {
        self.failures.set_value(0);
        self.retrying.set(None);
    }

    /// Updates the waiting and refused counts from the outbox.
    pub fn refresh_counts(self, store: Store) {
        leptos::task::spawn_local(async move {
            if let Ok((pending, rejected)) = store.outbox_counts().await {
                self.pending.set(pending);
                self.rejected.set(rejected);
            }
            if let Ok(photos) = store.photos_waiting().await {
                self.photos_pending.set(photos);
            }
        });
    }

    fn schedule(self, delay_ms: u64, store: Store, records_changed: RwSignal<u32>) {
        let delay = u32::try_from(delay_ms).unwrap_or(u32::MAX);
        let timeout = Timeout::new(delay, move || self.sync_now(store, records_changed));
        // Replacing the handle drops (cancels) the timer set before.
        self.timer.set_value(Some(timeout));
    }

    async fn run(self, store: &Store, records_changed: RwSignal<u32>) {
        let Some(session) = self.session.get_untracked() else {
            // Nobody signed in: records wait in the outbox. Signing in starts a round.
            self.phase.set(Phase::Idle);
            return;
        };
        self.phase.set(Phase::Syncing);
        let round_store = store.clone();
        let outcome = crate::web_locks::run_exclusive(crate::web_locks::SYNC_LOCK, async move {
            // Locked accounts' sealed work is opened for this push only.
            crate::protection::open_waiting_work(&round_store, &session).await;
            let outcome = round::run_round(&round_store, &session).await;
            round_store.keys().forget_others();
            outcome
        })
        .await;
        let next_ms = match outcome {
            None => {
                self.phase.set(Phase::OtherTab);
                Some(OTHER_TAB_MS)
            }
            Some(Ok(report)) => {
                self.succeeded(store, report, records_changed).await;
                Some(POLL_MS)
            }
            Some(Err(RoundError::Retry(reason))) => {
                self.retrying.set(Some(reason));
                Some(self.next_retry_ms())
            }
            Some(Err(RoundError::Stop(problem))) => {
                let stop = matches!(
                    problem,
                    Problem::SignInNeeded | Problem::UpdateNeeded { .. }
                );
                self.problem.set(Some(problem));
                // Anything else (support needed) is looked at again now and then, in case it
                // was fixed on the server.
                (!stop).then(|| self.next_retry_ms())
            }
            Some(Err(RoundError::Storage(error))) => {
                self.storage_error.set(Some(error));
                Some(self.next_retry_ms())
            }
        };
        if !matches!(self.phase.get_untracked(), Phase::OtherTab) {
            self.phase.set(Phase::Idle);
        }
        self.refresh_counts(store.clone());
        if let Some(ms) = next_ms {
            self.schedule(ms, store.clone(), records_changed);
        }
    }

    async fn succeeded(self, store: &Store, report: RoundReport, records_changed: RwSignal<u32>) {
        let now = crate::platform::now_ms();
        let _ = store.set_setting(keys::LAST_SYNC, &now).await;
        self.last_success_ms.set(Some(now));
        self.failures.set_value(0);
        self.retrying.set(None);
        self.problem.set(None);
        self.storage_error.set(None);
        if report.pulled > 0 || report.rejected > 0 || report.photos > 0 {
            records_changed.update(|v| *v += 1);
        }
    }

    fn next_retry_ms(self) -> u64 {
        let failures = self.failures.get_value().saturating_add(1);
        self.failures.set_value(failures);
        let random = crate::platform::random_bytes();
        retry_delay_ms(
            failures,
            u32::from_le_bytes([random[0], random[1], random[2], random[3]]),
        )
    }

    /// Opens the change-event stream of the signed-in session (closing any earlier one), so the
    /// tablet pulls as soon as someone else's change reaches the server.
    pub fn listen(self, store: Store, records_changed: RwSignal<u32>) {
        self.events.set_value(None);
        let Some(session) = self.session.get_untracked() else {
            return;
        };
        // `EventSource` cannot send headers: the token goes in the query, on this route only.
        let token = String::from(js_sys::encode_uri_component(&session.token));
        let Ok(source) = web_sys::EventSource::new(&format!("/api/v1/sync/events?token={token}"))
        else {
            return;
        };
        let reopen_store = store.clone();
        let on_changed = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
            move |event: web_sys::MessageEvent| {
                let Some(announced) = event.data().as_string().and_then(|d| d.trim().parse().ok())
                else {
                    return;
                };
                let store = store.clone();
                leptos::task::spawn_local(async move {
                    let behind = store
                        .pull_cursor()
                        .await
                        .is_ok_and(|cursor| cursor.0 < announced);
                    if behind {
                        self.schedule(AFTER_SAVE_MS, store, records_changed);
                    }
                });
            },
        );
        let _ =
            source.add_event_listener_with_callback("changed", on_changed.as_ref().unchecked_ref());
        // A network error makes `EventSource` reconnect by itself; any other failure closes it
        // for good. Then open it again later, while the session lasts.
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let closed = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::EventSource>().ok())
                .is_some_and(|s| s.ready_state() == web_sys::EventSource::CLOSED);
            if closed {
                let store = reopen_store.clone();
                gloo_timers::callback::Timeout::new(EVENTS_REOPEN_MS, move || {
                    if self.session.get_untracked().is_some() {
                        self.listen(store, records_changed);
                    }
                })
                .forget();
            }
        });
        let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
        self.events.set_value(Some(ChangeEvents {
            source,
            _on_changed: on_changed,
            _on_error: on_error,
        }));
    }

    /// Keeps a new session and syncs with it. A protected account's session is kept in memory
    /// only (and sealed with its keys, see [`crate::protection`]); any other is stored.
    pub async fn signed_in(
        self,
        store: Store,
        session: Session,
        records_changed: RwSignal<u32>,
    ) -> Result<(), StorageError> {
        let stored = (!crate::protection::is_protected(session.user.role)).then(|| session.clone());
        store.set_setting(keys::SESSION, &stored).await?;
        self.session.set(Some(session));
        self.problem.set(None);
        self.reset_backoff();
        self.listen(store.clone(), records_changed);
        self.sync_now(store, records_changed);
        Ok(())
    }

    /// Stops syncing with the session in memory (the account was locked; its session stays
    /// sealed with its keys).
    pub fn set_aside(self) {
        self.session.set(None);
        self.timer.set_value(None);
        self.events.set_value(None);
    }

    /// Forgets the session (after telling the server, best effort). The outbox stays; it is
    /// pushed at the next sign-in.
    pub async fn sign_out(self, store: Store) -> Result<(), StorageError> {
        if let Some(session) = self.session.get_untracked() {
            api::sign_out(&session.token).await;
        }
        store.set_setting(keys::SESSION, &None::<Session>).await?;
        self.session.set(None);
        self.timer.set_value(None);
        self.events.set_value(None);
        Ok(())
    }

    /// Asks the server who the session belongs to and keeps the answer (a session kept by an
    /// older app version lacks the account's id that follow-up steps carry; a display name may
    /// have changed). Quiet on failure: the session as kept stays in use.
    pub async fn refresh_account(self, store: Store) {
        let Some(session) = self.session.get_untracked() else {
            return;
        };
        let Ok(user) = api::me(&session.token).await else {
            return;
        };
        if user == session.user {
            return;
        }
        // Signed out (or in as someone else) while the answer was on its way: keep that.
        if self.session.get_untracked().as_ref().map(|s| &s.token) != Some(&session.token) {
            return;
        }
        let session = Session {
            token: session.token,
            user,
        };
        if crate::protection::is_protected(session.user.role)
            || store
                .set_setting(keys::SESSION, &Some(session.clone()))
                .await
                .is_ok()
        {
            self.session.set(Some(session));
        }
    }

    /// Keeps this tablet's enrolment (or forgets it when revoked).
    pub async fn set_enrollment(
        self,
        store: Store,
        enrollment: Option<Enrollment>,
    ) -> Result<(), StorageError> {
        store.set_setting(keys::ENROLLMENT, &enrollment).await?;
        self.enrollment.set(enrollment);
        Ok(())
    }
}
