//! Timings of a round's steps, for benchmarks and for finding where a slow sync spends its
//! time on a real tablet. Off unless `localStorage["liaison.debug.sync_trace"]` is `"1"` (read
//! once per round, so it costs nothing otherwise); then every step appends
//! `[name, start, end]` (`performance.now()` ms) to the page's `window.__liaisonSyncTrace`
//! array, which `e2e/tests/bench_sync.rs` reads and sums per name.

use std::future::Future;
use wasm_bindgen::{JsCast, JsValue};

/// The `localStorage` key that turns tracing on.
pub const TRACE_KEY: &str = "liaison.debug.sync_trace";
/// The page global the steps are appended to.
const TRACE_GLOBAL: &str = "__liaisonSyncTrace";

/// One round's tracer; `Trace::default()` is off.
#[derive(Clone, Default)]
pub struct Trace {
    into: Option<(web_sys::Performance, js_sys::Array)>,
}

impl Trace {
    /// On when the debug key says so.
    pub fn for_round() -> Trace {
        let Some(window) = web_sys::window() else {
            return Trace::default();
        };
        let on = window
            .local_storage()
            .ok()
            .flatten()
            .and_then(|s| s.get_item(TRACE_KEY).ok().flatten())
            .is_some_and(|v| v == "1");
        let Some(performance) = window.performance().filter(|_| on) else {
            return Trace::default();
        };
        let global = JsValue::from_str(TRACE_GLOBAL);
        let array = js_sys::Reflect::get(&window, &global)
            .ok()
            .and_then(|v| v.dyn_into::<js_sys::Array>().ok())
            .unwrap_or_else(|| {
                let array = js_sys::Array::new();
                let _ = js_sys::Reflect::set(&window, &global, &array);
                array
            });
        Trace {
            into: Some((performance, array)),
        }
    }

    /// Runs `step`, recording how long it took under `name`.
    pub async fn time<T>(&self, name: &str, step: impl Future<Output = T>) -> T {
        let Some((performance, array)) = &self.into else {
            return step.await;
        };
        let start = performance.now();
        let out = step.await;
        let entry = js_sys::Array::of3(
            &JsValue::from_str(name),
            &JsValue::from_f64(start),
            &JsValue::from_f64(performance.now()),
        );
        array.push(&entry);
        out
    }
}
