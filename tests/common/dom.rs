//! Driving a mounted view through the DOM, as a person would: find, wait, click, type.

use leptos::prelude::*;
use liaison_app::i18n::{I18n, Lang};
use wasm_bindgen::JsCast;

/// Mounts `view` into `parent` with the translations provided, in Chinese.
pub fn mount_with_i18n<V: IntoView + 'static>(
    parent: &web_sys::HtmlElement,
    view: impl FnOnce() -> V + 'static,
) -> leptos::mount::UnmountHandle<V::State>
where
    V::State: 'static,
{
    let i18n = I18n::load();
    i18n.set(Lang::Zh);
    leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        view()
    })
}

/// A container in the page, for one test's view.
pub fn container() -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let parent: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&parent).unwrap();
    parent
}

pub fn find(parent: &web_sys::HtmlElement, selector: &str) -> Option<web_sys::HtmlElement> {
    parent
        .query_selector(selector)
        .unwrap()
        .map(|e| e.unchecked_into())
}

/// Waits (up to 10 s) until `check` gives something.
pub async fn until<T>(what: &str, check: impl Fn() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(found) = check() {
            return found;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    panic!("timed out waiting for {what}");
}

/// Clicks the element once it is there.
pub async fn click(parent: &web_sys::HtmlElement, selector: &str) {
    until(selector, || find(parent, selector)).await.click();
}

/// Types `value` into an input as a person would (the `input` event follows).
pub fn type_into(parent: &web_sys::HtmlElement, selector: &str, value: &str) {
    let input: web_sys::HtmlInputElement = find(parent, selector).unwrap().unchecked_into();
    input.set_value(value);
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
}

pub fn text_of(parent: &web_sys::HtmlElement, selector: &str) -> Option<String> {
    find(parent, selector).map(|e| e.text_content().unwrap_or_default())
}
