//! What a page loads for what it shows, the same way on every statistics and back-office page
//! (the dashboard, the register, the ledger, the tablet's station figures): a key read from
//! signals (the session's token and the page's choice), one request per key, the answer for
//! that key only, a retry, and whether a request is under way.
//!
//! - A new key clears what was shown at once: the previous period's rows or figures are never
//!   shown (nor printed) under the new heading. The same key asked again (a retry, a wall
//!   screen's refresh, a change the key does not hold) keeps them until the new answer.
//! - A failure clears them too, and says why.
//! - Only the latest request counts: asking again cancels the request under way, and so does
//!   leaving the page. After its `await` a request touches the page's signals only through
//!   `try_*` calls, so an answer that comes after the page went does nothing (a read of a
//!   disposed value would panic, and a release build aborts on a panic).

use leptos::prelude::*;
use std::future::Future;

/// One thing a page loads (see the module's notes). `T` is the answer, `E` why there is none.
pub struct Fetched<T, E>
where
    T: Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    value: RwSignal<Option<T>>,
    error: RwSignal<Option<E>>,
    loading: RwSignal<bool>,
    answers: RwSignal<u64>,
    again: RwSignal<u64>,
}

impl<T, E> Clone for Fetched<T, E>
where
    T: Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, E> Copy for Fetched<T, E>
where
    T: Send + Sync + 'static,
    E: Send + Sync + 'static,
{
}

impl<T, E> Fetched<T, E>
where
    T: Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    /// Loads `fetch(key)` whenever `key` (tracked) changes or [`Fetched::again`] is called;
    /// nothing while `key` is `None` (signed out, a period that is not one). Busy from the
    /// start when there is a key, so that nobody reads an empty table as "nothing there".
    pub fn new<K, Fut>(
        key: impl Fn() -> Option<K> + 'static,
        fetch: impl Fn(K) -> Fut + 'static,
    ) -> Self
    where
        K: Clone + PartialEq + 'static,
        Fut: Future<Output = Result<T, E>> + 'static,
    {
        let starting = untrack(|| key().is_some());
        let fetched = Fetched {
            value: RwSignal::new(None),
            error: RwSignal::new(None),
            loading: RwSignal::new(starting),
            answers: RwSignal::new(0),
            again: RwSignal::new(0),
        };
        let Fetched {
            value,
            error,
            loading,
            answers,
            again,
        } = fetched;
        Effect::new(move |previous: Option<Option<K>>| {
            again.track();
            let key = key();
            let same = matches!((&previous, &key), (Some(Some(p)), Some(k)) if p == k);
            if !same {
                value.maybe_update(|v| v.take().is_some());
            }
            error.maybe_update(|e| e.take().is_some());
            let Some(asked) = key.clone() else {
                loading.set(false);
                return key;
            };
            loading.set(true);
            let request = fetch(asked);
            // Cancelled when this effect runs again (a newer request) or the page goes.
            leptos::task::spawn_local_scoped_with_cancellation(async move {
                let answer = request.await;
                match answer {
                    Ok(fresh) => {
                        if value.try_set(Some(fresh)).is_some() {
                            return;
                        }
                        answers.try_update(|n| *n += 1);
                    }
                    Err(why) => {
                        value.try_update(|v| *v = None);
                        error.try_set(Some(why));
                    }
                }
                loading.try_set(false);
            });
            key
        });
        fetched
    }

    /// The answer for the current key (tracked); `None` while it loads, after a failure, or
    /// without a key.
    pub fn value(&self) -> ReadSignal<Option<T>> {
        self.value.read_only()
    }

    /// Why the last request failed (tracked).
    pub fn error(&self) -> ReadSignal<Option<E>> {
        self.error.read_only()
    }

    /// Whether a request is under way (tracked).
    pub fn loading(&self) -> ReadSignal<bool> {
        self.loading.read_only()
    }

    /// How many answers have come (tracked): a new number is a new answer, even for the same
    /// key. What is loaded on top of an answer (the dashboard's drill-downs) goes with its
    /// number.
    pub fn answers(&self) -> ReadSignal<u64> {
        self.answers.read_only()
    }

    /// Asks again for the same key (a retry, a wall screen's refresh): what is shown stays
    /// until the answer.
    pub fn again(&self) {
        self.again.update(|n| *n = n.wrapping_add(1));
    }
}

/// The session's token (tracked): a session refreshed with the same token (`GET /me`) asks
/// nothing again.
pub fn session_token(session: RwSignal<Option<crate::sync::api::Session>>) -> Memo<Option<String>> {
    Memo::new(move |_| session.with(|s| s.as_ref().map(|s| s.token.clone())))
}
