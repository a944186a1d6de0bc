//! Web Locks, for two jobs:
//!
//! - **One uploader per device.** A sync round runs holding the exclusive lock [`SYNC_LOCK`],
//!   requested with `ifAvailable` ([`run_exclusive`]), so when two tabs of the app are open only
//!   one of them pushes and pulls at a time and the other simply skips its round (the lock
//!   holder's round covers its work: they share one outbox). The lock is released when the
//!   round's future ends, and also by the browser when its tab closes or crashes mid-round, so a
//!   closed tab never blocks sync. Correctness does not depend on the lock: the server applies
//!   each `(client, seq)` once, however many pushes carry it. The lock only spares the server
//!   and the network the duplicate work.
//! - **A page left while it opens the database does not keep the next one waiting.** When a
//!   page of the app is left within a fraction of a second of its start, Chromium may keep it
//!   frozen in the back/forward cache in the middle of the database's first upgrade; every later
//!   page's open then queues behind that upgrade for as long as it was watched (40 s; no
//!   `blocked` event, and a reload does not help). Measured: 7 pages in 100 left 0–120 ms after
//!   they loaded. So each page opens the database holding the shared lock [`while_opening`]: a
//!   frozen page still holds it. A page whose open takes longer than [`NUDGE_AFTER_MS`] asks
//!   for the same lock exclusively, and Chromium evicts a frozen page that holds a lock someone
//!   else asks for; the open then goes on (measured: 7 in 7, within about 200 ms). Live pages
//!   only let the exclusive request wait its turn: it is granted when every open has ended and
//!   let go of at once.
//!
//! Browsers without Web Locks (Safari before 15.4, pages not served from a secure origin) run
//! both unlocked.

use js_sys::{Function, Object, Promise, Reflect};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The lock's name, shared by every tab of this origin.
pub const SYNC_LOCK: &str = "liaison-sync";

/// Runs `work` holding the exclusive lock `name`, unless another tab holds it: then returns
/// `None` at once without running it.
pub async fn run_exclusive<T: 'static, F: Future<Output = T> + 'static>(
    name: &str,
    work: F,
) -> Option<T> {
    let Some((locks, request)) = lock_manager() else {
        return Some(work.await);
    };
    // Shared with the callback, so that the work can still be run here if the browser refuses
    // the request itself.
    let work: Rc<RefCell<Option<F>>> = Rc::new(RefCell::new(Some(work)));
    let result: Rc<RefCell<Option<T>>> = Rc::default();
    let (slot, queued) = (Rc::clone(&result), Rc::clone(&work));
    let callback = Closure::once(move |lock: JsValue| -> Promise {
        let work = queued.borrow_mut().take();
        match work {
            // `ifAvailable` and another tab holds it.
            _ if lock.is_null() => Promise::resolve(&JsValue::FALSE),
            None => Promise::resolve(&JsValue::FALSE),
            Some(work) => wasm_bindgen_futures::future_to_promise(async move {
                let value = work.await;
                *slot.borrow_mut() = Some(value);
                Ok(JsValue::TRUE)
            }),
        }
    });
    let options = Object::new();
    let _ = Reflect::set(&options, &"ifAvailable".into(), &JsValue::TRUE);
    let requested = request
        .call3(
            &locks,
            &JsValue::from_str(name),
            &options,
            callback.as_ref().unchecked_ref(),
        )
        .ok()
        .and_then(|p| p.dyn_into::<Promise>().ok());
    let Some(promise) = requested else {
        // The browser refused the request itself (a security policy), so the callback never
        // ran: there is no lock to be had. Run unlocked rather than wait for one forever.
        drop(callback);
        let work = work.borrow_mut().take()?;
        return Some(work.await);
    };
    let _ = JsFuture::from(promise).await;
    drop(callback);
    if let Some(value) = result.take() {
        return Some(value);
    }
    // The request failed later (its promise rejected) without calling back: the work is still
    // here. Only a held lock takes it out unrun (`ifAvailable` and another tab has it).
    let unrun = work.borrow_mut().take();
    match unrun {
        Some(work) => Some(work.await),
        None => None,
    }
}

/// How long an open may take before the page asks for the open lock exclusively, which evicts
/// a page frozen in the back/forward cache mid-open. An open normally ends well within it (the
/// e2e pages showed the app 0.2–0.45 s after loading); a live page merely queues the request.
pub const NUDGE_AFTER_MS: u32 = 1_000;

/// Runs `work` (opening the database) while holding the shared lock `name`, and asks for it
/// exclusively if `work` takes longer than [`NUDGE_AFTER_MS`] (see the module's docs). The
/// lock is requested at once and `work` starts without waiting for it to be granted; the lock
/// goes when `work` ends.
pub async fn while_opening<T, F: Future<Output = T>>(name: &str, work: F) -> T {
    let Some((locks, request)) = lock_manager() else {
        return work.await;
    };
    let state: Rc<RefCell<Held>> = Rc::default();
    let granted = Rc::clone(&state);
    // The lock is held until the promise the callback returns settles. Freed once called; a
    // grant that comes after the work ended lets go at once.
    let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
        let mut held = granted.borrow_mut();
        if held.done {
            return Promise::resolve(&JsValue::UNDEFINED);
        }
        Promise::new(&mut |resolve, _reject| held.release = Some(resolve))
    });
    request_lock(&locks, &request, name, "shared", &callback);
    let nudge = {
        let name = name.to_owned();
        gloo_timers::callback::Timeout::new(NUDGE_AFTER_MS, move || {
            let let_go = Closure::once_into_js(|_lock: JsValue| JsValue::UNDEFINED);
            request_lock(&locks, &request, &name, "exclusive", &let_go);
        })
    };
    // Let go of when the work ends, or when it is dropped unfinished: a lock left held would
    // have every later open nudge in vain.
    let _release = Release(state);
    let value = work.await;
    // Not fired yet: the open was quick, nobody needs evicting.
    nudge.cancel();
    value
}

/// Lets go of a [`while_opening`] lock when dropped.
struct Release(Rc<RefCell<Held>>);

impl Drop for Release {
    fn drop(&mut self) {
        let mut held = self.0.borrow_mut();
        held.done = true;
        if let Some(release) = held.release.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }
}

/// `navigator.locks.request(name, { mode }, callback)`. Its promise's rejection (the page
/// going away) is nobody's error.
fn request_lock(locks: &JsValue, request: &Function, name: &str, mode: &str, callback: &JsValue) {
    let options = Object::new();
    let _ = Reflect::set(&options, &"mode".into(), &mode.into());
    if let Ok(requested) = request.call3(
        locks,
        &JsValue::from_str(name),
        &options,
        callback.unchecked_ref(),
    ) && let Ok(requested) = requested.dyn_into::<Promise>()
    {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = JsFuture::from(requested).await;
        });
    }
}

/// The state of a [`while_opening`] lock, shared with its callback.
#[derive(Default)]
struct Held {
    /// The work has ended: the lock is no longer wanted.
    done: bool,
    /// Resolves the callback's promise, which releases the lock (set once it is granted).
    release: Option<Function>,
}

/// `navigator.locks` and its `request` method, when the browser has them. (Through `Reflect`:
/// web-sys marks the Web Locks API unstable.)
fn lock_manager() -> Option<(JsValue, Function)> {
    let navigator = web_sys::window()?.navigator();
    let locks = Reflect::get(&navigator, &"locks".into()).ok()?;
    if locks.is_undefined() || locks.is_null() {
        return None;
    }
    let request = Reflect::get(&locks, &"request".into())
        .ok()?
        .dyn_into::<Function>()
        .ok()?;
    Some((locks, request))
}
