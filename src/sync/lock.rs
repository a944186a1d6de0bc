//! One uploader per device: a sync round runs holding the exclusive Web Lock
//! [`SYNC_LOCK`], requested with `ifAvailable`, so when two tabs of the app are open only one
//! of them pushes and pulls at a time and the other simply skips its round (the lock holder's
//! round covers its work: they share one outbox). The lock is released when the round's future
//! ends, and also by the browser when its tab closes or crashes mid-round, so a closed tab never
//! blocks sync.
//!
//! Browsers without Web Locks (Safari before 15.4) run the round unlocked. Correctness does
//! not depend on the lock: the server applies each `(client, seq)` once, however many pushes
//! carry it. The lock only spares the server and the network the duplicate work.

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
