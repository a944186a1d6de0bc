//! The top bar: app name, navigation, sync status, online state, language switch, and the
//! "update available" prompt.

use crate::components::sync_status::SyncBadge;
use crate::i18n::{Lang, tr, use_i18n};
use crate::state::use_app;
use leptos::prelude::*;
use leptos_router::components::A;
use liaison_domain::Role;
use liaison_domain::account::may_read_figures;
use liaison_domain::audit::may_read_audit_log;

#[component]
pub fn Header(update_ready: RwSignal<bool>) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let online = app.online;
    view! {
        <header class="topbar">
            <span class="brand">{tr("app.title")}</span>
            <nav>
                <A href="/" exact=true attr:id="nav-capture">{tr("nav.capture")}</A>
                <A href="/records" attr:id="nav-records">{tr("nav.records")}</A>
                <Show when=move || app.sync.session.with(Option::is_some)>
                    <A href="/ledger" attr:id="nav-ledger">{tr("nav.ledger")}</A>
                </Show>
                // Station duty: every signed-in account that reads stations (not handling units).
                <Show when=move || app.sync.session.with(|s| s.as_ref().is_some_and(|s| s.user.role != Role::HandlingUnit))>
                    <A href="/duty" attr:id="nav-duty">{tr("nav.duty")}</A>
                </Show>
                // Statistics: every signed-in account that reads figures (not handling units).
                <Show when=move || app.sync.session.with(|s| s.as_ref().is_some_and(|s| may_read_figures(s.user.role)))>
                    <A href="/dashboard" attr:id="nav-dashboard">{tr("nav.dashboard")}</A>
                </Show>
                // The audit log: administrators and office staff (the server's rule, in the domain).
                <Show when=move || app.sync.session.with(|s| s.as_ref().is_some_and(|s| may_read_audit_log(s.user.role)))>
                    <A href="/audit" attr:id="nav-audit">{tr("nav.audit")}</A>
                </Show>
                <A href="/sync" attr:id="nav-sync">{tr("nav.sync")}</A>
            </nav>
            <SyncBadge engine=app.sync i18n=i18n/>
            <crate::components::lock::LockButton/>
            <span
                id="online-status"
                class=move || if online.get() { "status online" } else { "status offline" }
                data-online=move || online.get().to_string()
            >
                {move || if online.get() { i18n.t("status.online") } else { i18n.t("status.offline") }}
            </span>
            <button
                id="lang-toggle"
                class="lang"
                on:click=move |_| {
                    let next = if i18n.lang.get_untracked() == Lang::Zh { Lang::En } else { Lang::Zh };
                    i18n.set(next);
                }
            >
                {tr("lang.switch")}
            </button>
        </header>
        <Show when=move || update_ready.get()>
            <div id="update-banner" class="banner" role="status">
                <span>{tr("update.available")}</span>
                <button on:click=move |_| crate::pwa::apply_update()>{tr("update.apply")}</button>
            </div>
        </Show>
    }
}
