//! The sync status in plain words, for the header badge and the sync page: records waiting,
//! the last successful sync, and what is wrong when something is.

use crate::i18n::{I18n, text, text_with};
use crate::platform::format_time;
use crate::sync::{Phase, SyncEngine};
use leptos::prelude::*;
use leptos_router::components::A;

/// How the status looks: `ok`, `busy`, `waiting` or `problem` (a CSS class and a test hook).
pub fn status_kind(engine: SyncEngine) -> &'static str {
    if engine.problem.get().is_some() || engine.rejected.get() > 0 {
        "problem"
    } else if engine.phase.get() == Phase::Syncing {
        "busy"
    } else if engine.pending.get() > 0
        || engine.photos_pending.get() > 0
        || engine.session.get().is_none()
    {
        "waiting"
    } else {
        "ok"
    }
}

/// The one-line status (reactive: call inside a view closure).
pub fn status_line(engine: SyncEngine, i18n: I18n) -> String {
    let lang = i18n.lang.get();
    let pending = engine.pending.get();
    let n = [("n", pending.to_string())];
    let mut line = if let Some(problem) = engine.problem.get() {
        text(lang, &format!("sync.problem.{}", problem.code()))
    } else if engine.session.get().is_none() {
        if pending > 0 {
            text_with(lang, "sync.waiting_sign_in", &n)
        } else {
            text(lang, "sync.not_signed_in")
        }
    } else if engine.phase.get() == Phase::Syncing {
        text(lang, "sync.syncing")
    } else if let Some(reason) = engine.retrying.get() {
        let reason = text(lang, &format!("sync.retry.{}", reason.code()));
        text_with(
            lang,
            "sync.waiting_retry",
            &[("n", pending.to_string()), ("reason", reason)],
        )
    } else if pending > 0 {
        text_with(lang, "sync.waiting", &n)
    } else if engine.photos_pending.get() > 0 {
        text_with(
            lang,
            "sync.photos_waiting",
            &[("n", engine.photos_pending.get().to_string())],
        )
    } else {
        match engine.last_success_ms.get() {
            Some(ms) => text_with(lang, "sync.done_at", &[("time", format_time(ms))]),
            None => text(lang, "sync.never"),
        }
    };
    let rejected = engine.rejected.get();
    if rejected > 0 {
        line.push_str(" · ");
        line.push_str(&text_with(
            lang,
            "sync.rejected_count",
            &[("n", rejected.to_string())],
        ));
    }
    line
}

/// The header badge: the status line, linking to the sync page.
#[component]
pub fn SyncBadge(engine: SyncEngine, i18n: I18n) -> impl IntoView {
    view! {
        <A href="/sync" attr:id="sync-status" attr:class=move || format!("sync-badge {}", status_kind(engine))
            attr:data-pending=move || engine.pending.get().to_string()
            attr:data-kind=move || status_kind(engine)>
            {move || status_line(engine, i18n)}
        </A>
    }
}
