//! The heading of a printed register or ledger (`#print-header`): the title (「接待登记簿」,
//! 「工作台账」), the station or region, the dates and any other filter chosen, and when it was
//! printed (China time, taken again as the browser starts printing). Shown only on paper (see
//! `style/print.css`); the print button opens the browser's print dialog.

use crate::figures::print_heading;
use crate::i18n::{text_with, tr, use_i18n};
use leptos::prelude::*;
use liaison_domain::followup::Date;

#[component]
pub fn PrintHeader(
    title_key: &'static str,
    /// The station's or region's name, or the words for everything.
    #[prop(into)]
    scope: Signal<String>,
    /// The first and last day listed; either may be open (`None`), both: all dates.
    #[prop(into)]
    dates: Signal<(Option<Date>, Option<Date>)>,
    /// The other filters chosen, in words (`状态：已交办`).
    #[prop(into, optional)]
    filters: Option<Signal<Vec<String>>>,
) -> impl IntoView {
    let i18n = use_i18n();
    let heading = Memo::new(move |_| {
        let (from, to) = dates.get();
        let filters = filters.map(|f| f.get()).unwrap_or_default();
        print_heading(i18n.lang.get(), title_key, &scope.get(), from, to, &filters)
    });
    // When it was printed: the time the page was drawn, taken again when printing starts (the
    // page may have been open for hours).
    let printed_at = RwSignal::new(crate::platform::now_ms());
    let listener = window_event_listener_untyped("beforeprint", move |_| {
        printed_at.set(crate::platform::now_ms());
    });
    on_cleanup(move || listener.remove());
    view! {
        <header id="print-header" class="print-header print-only">
            <h1 class="print-title">{move || heading.with(|h| h.0.clone())}</h1>
            <p class="print-subtitle">{move || heading.with(|h| h.1.clone())}</p>
            <p class="print-printed" data-ms=move || printed_at.get().to_string()>
                {move || {
                    text_with(
                        i18n.lang.get(),
                        "print.printed_at",
                        &[("time", crate::platform::format_china_time(printed_at.get()))],
                    )
                }}
            </p>
        </header>
    }
}

/// The print button (`#print`).
#[component]
pub fn PrintButton() -> impl IntoView {
    view! {
        <button id="print" type="button" class="secondary no-print" on:click=move |_| crate::platform::print()>
            {tr("print.button")}
        </button>
    }
}
