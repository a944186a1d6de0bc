//! Requests the test holds: `fetch` replaced by one whose answers come when the test says, so a
//! page can be left while its request is under way. And a watch for panics anywhere in the
//! binary (a panic in a task spawned by a page is not the test's own).

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasm_bindgen::JsValue;

/// `fetch` held: every request waits until [`HeldFetch::answer`]; the browser's own `fetch` is
/// back when this is dropped.
pub struct HeldFetch {
    original: JsValue,
    held: js_sys::Array,
}

impl HeldFetch {
    pub fn install() -> HeldFetch {
        let global = js_sys::global();
        let original = js_sys::Reflect::get(&global, &"fetch".into()).unwrap();
        let held = js_sys::Array::new();
        let make = js_sys::Function::new_with_args(
            "held",
            "return function (input) {
                 return new Promise(function (resolve) {
                     const h = { url: String(input && input.url || input), resolve: resolve, body: null };
                     held.push(h);
                     if (input && typeof input.clone === 'function') {
                         input.clone().text().then(function (text) { h.body = text; });
                     }
                 });
             };",
        );
        let fake = make.call1(&JsValue::NULL, &held).unwrap();
        js_sys::Reflect::set(&global, &"fetch".into(), &fake).unwrap();
        HeldFetch { original, held }
    }

    /// How many requests are waiting.
    pub fn waiting(&self) -> u32 {
        self.held.length()
    }

    /// The addresses of the requests waiting.
    pub fn urls(&self) -> Vec<String> {
        self.held
            .iter()
            .filter_map(|h| js_sys::Reflect::get(&h, &"url".into()).ok()?.as_string())
            .collect()
    }

    /// The bodies of the requests waiting, once read (`None` until the browser has read one).
    pub fn bodies(&self) -> Vec<Option<String>> {
        self.held
            .iter()
            .map(|h| js_sys::Reflect::get(&h, &"body".into()).ok()?.as_string())
            .collect()
    }

    /// Answers every request waiting with what `answer` gives for its address: a status and
    /// a JSON body.
    pub fn answer_each(&self, answer: impl Fn(&str) -> (u16, String)) {
        let respond = js_sys::Function::new_with_args(
            "h, status, body",
            "h.resolve(new Response(body, {
                 status: status,
                 headers: { 'content-type': 'application/json' },
             }));",
        );
        while self.held.length() > 0 {
            let h = self.held.shift();
            let url = js_sys::Reflect::get(&h, &"url".into())
                .ok()
                .and_then(|u| u.as_string())
                .unwrap_or_default();
            let (status, body) = answer(&url);
            respond
                .call3(
                    &JsValue::NULL,
                    &h,
                    &JsValue::from(status),
                    &JsValue::from_str(&body),
                )
                .unwrap();
        }
    }

    /// Answers every request waiting with `status` and the JSON `body`.
    pub fn answer(&self, status: u16, body: &str) {
        let answer = js_sys::Function::new_with_args(
            "held, status, body",
            "while (held.length > 0) {
                 const h = held.shift();
                 h.resolve(new Response(body, {
                     status: status,
                     headers: { 'content-type': 'application/json' },
                 }));
             }",
        );
        answer
            .call3(
                &JsValue::NULL,
                &self.held,
                &JsValue::from(status),
                &JsValue::from_str(body),
            )
            .unwrap();
    }
}

impl Drop for HeldFetch {
    fn drop(&mut self) {
        let _ = js_sys::Reflect::set(&js_sys::global(), &"fetch".into(), &self.original);
    }
}

static PANICS: AtomicUsize = AtomicUsize::new(0);
static WATCH: Once = Once::new();

/// Starts noting panics (once per binary; the previous hook still runs).
pub fn watch_panics() {
    WATCH.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// How many panics there were since [`watch_panics`] (a failed assertion of an earlier test
/// is one: compare with the number before).
pub fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}
