//! The root component: opens local storage, then shows the header and the routes.

use crate::components::duty::DutyPicker;
use crate::components::header::Header;
use crate::components::lock::LockGate;
use crate::components::period::AddressQuery;
use crate::i18n::{I18n, tr, use_i18n};
use crate::pages::{
    audit::AuditScreen, capture::CaptureScreen, dashboard::DashboardScreen, duty::DutyScreen,
    item::ItemScreen, ledger::LedgerScreen, record::RecordScreen, records::RecordsScreen,
    register::RegisterScreen, station_figures::StationFiguresScreen, sync::SyncScreen,
};
use crate::state::AppState;
use crate::storage::Store;
use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;
use liaison_domain::sync::client::Problem;

#[component]
pub fn App() -> impl IntoView {
    provide_context(I18n::load());
    crate::platform::request_persistent_storage();
    // Set while another tab (an older version that does not let go on `versionchange`, or a
    // page stuck mid-upgrade) keeps the upgrade waiting: the open goes on waiting, and the
    // notice goes with "opening" once the other tab lets go and the store opens. A tab of this
    // version lets go by itself within `NEWER_VERSION_GRACE_MS`, so the notice waits a little
    // longer than that before it is shown, rather than flashing at every update.
    let blocked = RwSignal::new(false);
    let opened = LocalResource::new(move || async move {
        let store = Store::open(move || {
            gloo_timers::callback::Timeout::new(BLOCKED_NOTICE_DELAY_MS, move || blocked.set(true))
                .forget();
        })
        .await?;
        Ok::<_, crate::storage::StorageError>(AppState::load(store).await)
    });
    move || match opened.get() {
        None if blocked.get() => view! {
            <div class="blocked-notice" role="alert">
                <h1>{tr("app.blocked_title")}</h1>
                <p>{tr("app.blocked")}</p>
                <p class="loading">{tr("app.loading")}</p>
            </div>
        }
        .into_any(),
        None => view! { <p class="loading">{tr("app.loading")}</p> }.into_any(),
        Some(Err(e)) => {
            let i18n = use_i18n();
            let key = e.message_key();
            view! {
                <div class="fatal" role="alert">
                    <h1>{tr("app.storage_failed_title")}</h1>
                    <p>{move || i18n.t(key)}</p>
                    <p class="detail">{e.to_string()}</p>
                </div>
            }
            .into_any()
        }
        Some(Ok(state)) => view! { <Shell state=state/> }.into_any(),
    }
}

/// Time for pending writes to start before the connection is closed for a newer version.
const NEWER_VERSION_GRACE_MS: u32 = 300;

/// How long the open may wait for another tab before the person is told: more than a tab of
/// this version takes to let go (`NEWER_VERSION_GRACE_MS` and its pending writes).
const BLOCKED_NOTICE_DELAY_MS: u32 = 1_500;

/// How often the server's reachability is checked while the app is open.
const SERVER_CHECK_INTERVAL_MS: u32 = 30_000;

#[component]
fn Shell(state: AppState) -> impl IntoView {
    provide_context(state);
    let update_ready = RwSignal::new(false);
    // Another tab runs a newer version and needs storage upgraded: write pending drafts, let go
    // of the database (closing waits for those writes), then reload into the new version.
    state.store().on_newer_version(move || {
        state.flush.notify();
        gloo_timers::callback::Timeout::new(NEWER_VERSION_GRACE_MS, move || {
            state.store().close();
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
        })
        .forget();
    });
    crate::pwa::register(update_ready);
    // Online means "the server answers": checked at start, when the browser reports a
    // network, and every half minute; the directory is refreshed whenever it answers.
    // Sync runs at start and whenever the server comes back; the engine's own timer does the
    // rest (see `crate::sync`).
    let refresh = move || {
        leptos::task::spawn_local(async move {
            state.check_enrollment().await;
            state.refresh_directory().await;
            state.sync_now();
            if state.online.get_untracked() {
                state.refresh_follow_up_data().await;
            }
        })
    };
    state.sync.listen(state.store(), state.records_version);
    let _ = window_event_listener(leptos::ev::online, move |_| refresh());
    let _ = window_event_listener(leptos::ev::offline, move |_| state.online.set(false));
    refresh();
    let poll = gloo_timers::callback::Interval::new(SERVER_CHECK_INTERVAL_MS, move || {
        leptos::task::spawn_local(async move {
            let was_online = state.online.get_untracked();
            if state.check_server().await {
                state.check_enrollment().await;
                if !was_online {
                    state.sync_now();
                }
            }
        });
    });
    // The shell lives as long as the page.
    poll.forget();
    idle_lock(state);
    // The server stopped taking the session: maybe the whole tablet was revoked.
    Effect::new(move |_| {
        if matches!(state.sync.problem.get(), Some(Problem::SignInNeeded)) {
            leptos::task::spawn_local(async move { state.check_enrollment().await });
        }
    });
    view! {
        <Router>
            <Header update_ready=update_ready/>
            <TabletDutyBar/>
            <main>
                <WipedNotice/>
                <Routes fallback=|| view! { <LockGate><CaptureScreen/></LockGate> }>
                    <Route path=path!("/") view=|| view! { <LockGate><CaptureScreen/></LockGate> }/>
                    <Route path=path!("/records") view=|| view! { <LockGate><RecordsScreen/></LockGate> }/>
                    <Route path=path!("/records/:id") view=|| view! { <LockGate><RecordScreen/></LockGate> }/>
                    <Route path=path!("/ledger") view=LedgerScreen/>
                    <Route path=path!("/duty") view=DutyScreen/>
                    <Route path=path!("/items/:id") view=ItemScreen/>
                    <Route path=path!("/sync") view=SyncScreen/>
                    <Route path=path!("/dashboard")
                        view=|| view! { <DashboardScreen address=AddressQuery::from_router()/> }/>
                    <Route path=path!("/register")
                        view=|| view! { <RegisterScreen address=AddressQuery::from_router()/> }/>
                    <Route path=path!("/station-figures") view=|| view! { <LockGate><StationFiguresScreen/></LockGate> }/>
                    <Route path=path!("/audit") view=|| {
                        let query = leptos_router::hooks::use_query_map().get_untracked();
                        let filters = crate::sync::audit::AuditFilters::from_query(|name| query.get(name));
                        view! { <AuditScreen filters=filters/> }
                    }/>
                </Routes>
            </main>
        </Router>
    }
}

/// Whether a page is one of the tablet's, where the station and the deputy on duty are chosen
/// once for everything recorded (capture, records, sync, and the station's own offline figures
/// at `/station-figures`). The back office's pages (the ledger, an item, the station duty page,
/// the dashboard, the register and the audit log) choose their station themselves; the duty picker there would
/// only confuse office staff and handling units.
pub fn is_tablet_page(path: &str) -> bool {
    !(path.starts_with("/ledger")
        || path.starts_with("/items/")
        || path.starts_with("/duty")
        || path.starts_with("/dashboard")
        || path.starts_with("/register")
        || path.starts_with("/audit"))
}

/// The duty picker, on the tablet's pages only.
#[component]
fn TabletDutyBar() -> impl IntoView {
    let location = use_location();
    move || is_tablet_page(&location.pathname.get()).then(|| view! { <DutyPicker/> })
}

/// After a revoked tablet deleted its data: says so once, until dismissed.
#[component]
fn WipedNotice() -> impl IntoView {
    let shown = RwSignal::new(crate::platform::local_flag(crate::platform::WIPED_FLAG));
    move || {
        shown.get().then(|| {
            view! {
                <div class="warning-box" id="wiped-notice" role="alert">
                    <p><strong>{tr("device.wiped_title")}</strong></p>
                    <p>{tr("device.wiped_body")}</p>
                    <button on:click=move |_| {
                        crate::platform::set_local_flag(crate::platform::WIPED_FLAG, false);
                        shown.set(false);
                    }>{tr("device.wiped_dismiss")}</button>
                </div>
            }
        })
    }
}

/// How often the idle lock looks at the clock.
const IDLE_CHECK_MS: u32 = 5_000;
/// `localStorage` key that shortens the idle time (milliseconds, at least 2 s) for tests and
/// demonstrations; it can only shorten it.
const IDLE_OVERRIDE_KEY: &str = "liaison.debug.auto_lock_ms";

/// Locks the tablet after [`liaison_domain::protection::AUTO_LOCK_AFTER_MS`] without a touch,
/// a key or a scroll (checked on a timer, and when the tab wakes: timers sleep with it). Each
/// touch also moves the tab's resume deadline on (see `protection::extend_resume`).
fn idle_lock(state: AppState) {
    use liaison_domain::protection::{AUTO_LOCK_AFTER_MS, IdleLock};
    let after_ms = web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(IDLE_OVERRIDE_KEY).ok().flatten())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(AUTO_LOCK_AFTER_MS, |ms| ms.clamp(2_000, AUTO_LOCK_AFTER_MS));
    let idle = StoredValue::new(IdleLock::after(after_ms, crate::platform::now_ms()));
    let last_extended = StoredValue::new(0u64);
    let touched = move || {
        let now = crate::platform::now_ms();
        idle.update_value(|lock| lock.touched(now));
        if state.unlocked.get_untracked().is_some()
            && now.saturating_sub(last_extended.get_value()) >= crate::protection::RESUME_REFRESH_MS
        {
            last_extended.set_value(now);
            leptos::task::spawn_local(async move {
                crate::protection::extend_resume(&state.store()).await;
            });
        }
    };
    let check = move || {
        let now = crate::platform::now_ms();
        if state.unlocked.get_untracked().is_some() && idle.with_value(|lock| lock.should_lock(now))
        {
            idle.update_value(|lock| lock.touched(now));
            leptos::task::spawn_local(async move { state.lock().await });
        }
    };
    // A fresh unlock starts the idle time afresh.
    Effect::new(move |_| {
        if state.unlocked.with(Option::is_some) {
            idle.update_value(|lock| lock.touched(crate::platform::now_ms()));
        }
    });
    let _ = window_event_listener(leptos::ev::pointerdown, move |_| touched());
    let _ = window_event_listener(leptos::ev::keydown, move |_| touched());
    let _ = window_event_listener(leptos::ev::scroll, move |_| touched());
    let _ = window_event_listener(leptos::ev::visibilitychange, move |_| check());
    let timer = gloo_timers::callback::Interval::new(IDLE_CHECK_MS, check);
    // Lives as long as the page.
    timer.forget();
}
