//! `/sync`: the tablet's account and sync page. Who is signed in (sign in, sign out), which
//! station the tablet is enrolled to (enrolment by station staff), where sync stands (waiting,
//! refused with the reason, last success, "sync now"), how full local storage is, and the
//! export of unsynced work to a file as a last resort.

use crate::components::lock::{ChoosePinForm, EnterPinForm};
use crate::components::sync_status::{status_kind, status_line};
use crate::i18n::{I18n, text, text_with, tr, use_i18n};
use crate::platform::{StorageEstimate, format_time};
use crate::protection::{self, AfterSignIn, PinSetup, UnlockError};
use crate::state::{AppState, use_app};
use crate::storage::{RejectedMutation, StorageError};
use crate::sync::api::{self, AccountError, Session};
use leptos::prelude::*;
use liaison_domain::{DutyContext, StationId};

/// Above this share of the quota the page warns that storage is running out.
const STORAGE_WARN_SHARE: f64 = 0.8;

#[component]
pub fn SyncScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let engine = app.sync;
    view! {
        <section class="sync-page">
            <h1>{tr("sync.title")}</h1>
            <div class="sync-summary" id="sync-summary" data-kind=move || status_kind(engine)>
                <p id="sync-line">{move || status_line(engine, i18n)}</p>
                <p class="hint">{move || {
                    let lang = i18n.lang.get();
                    match engine.last_success_ms.get() {
                        Some(ms) => text_with(lang, "sync.last_success", &[("time", format_time(ms))]),
                        None => text(lang, "sync.never"),
                    }
                }}</p>
                <Show when=move || { engine.photos_pending.get() > 0 }>
                    <p class="hint" id="photos-waiting">{move || text_with(
                        i18n.lang.get(),
                        "sync.photos_waiting",
                        &[("n", engine.photos_pending.get().to_string())],
                    )}</p>
                </Show>
                <Show when=move || engine.storage_error.get().is_some()>
                    <p class="error" role="alert">{move || {
                        engine.storage_error.get().map(|e| i18n.t(storage_problem_key(&e))).unwrap_or_default()
                    }}</p>
                </Show>
                <button
                    id="sync-now"
                    class="primary"
                    disabled=move || engine.session.get().is_none()
                    on:click=move |_| app.sync_now()
                >
                    {tr("sync.now")}
                </button>
            </div>
            <AccountPanel/>
            <RejectedList/>
            <DevicePanel/>
            <StoragePanel/>
        </section>
    }
}

/// What to tell about a storage failure during sync or sign-in: the capture form's texts speak
/// of "this entry", which does not fit here.
fn storage_problem_key(error: &StorageError) -> &'static str {
    match error {
        StorageError::QuotaExceeded => "sync.storage_full",
        _ => "sync.storage_failed",
    }
}

#[component]
fn AccountPanel() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let engine = app.sync;
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<AccountError>);
    let busy = RwSignal::new(false);
    // After a protected account's sign-in: a PIN to choose, or to enter (see `protection`).
    let pin_setup = RwSignal::new(None::<PinSetup>);
    let pin_entry = RwSignal::new(None::<Session>);
    let unlock_error = RwSignal::new(None::<UnlockError>);
    let pin_done = Callback::new(move |()| {
        pin_setup.set(None);
        pin_entry.set(None);
    });
    let sign_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (user, pass) = (username.get_untracked(), password.get_untracked());
        leptos::task::spawn_local(async move {
            let device_token = engine.enrollment.get_untracked().map(|e| e.device_token);
            unlock_error.set(None);
            match api::sign_in(user.trim(), &pass, device_token.as_deref()).await {
                Ok(session) if protection::is_protected(session.user.role) => {
                    password.set(String::new());
                    match protection::after_sign_in(&app.store(), &session).await {
                        Ok(AfterSignIn::Unlocked) => {
                            app.unlocked_as(session.user.clone(), Some(session)).await;
                        }
                        Ok(AfterSignIn::ChoosePin(setup)) => pin_setup.set(Some(setup)),
                        Ok(AfterSignIn::EnterPin) => pin_entry.set(Some(session)),
                        Err(e) => {
                            // Nothing unlocked: the session is not kept.
                            api::sign_out(&session.token).await;
                            unlock_error.set(Some(e));
                        }
                    }
                }
                Ok(session) => {
                    password.set(String::new());
                    put_deputy_on_duty(app, &session.user).await;
                    if let Err(e) = engine
                        .signed_in(app.store(), session, app.records_version)
                        .await
                    {
                        app.sync.storage_error.set(Some(e));
                    }
                    // What steps recorded offline need: the units and the calendar.
                    app.refresh_follow_up_data().await;
                }
                Err(AccountError::DeviceNotEnrolled) => {
                    // Revoked: the tablet deletes its data (and reloads). Otherwise the server
                    // does not know it: forget the enrolment, so that it can be enrolled again.
                    app.check_enrollment().await;
                    let _ = engine.set_enrollment(app.store(), None).await;
                    error.set(Some(AccountError::DeviceNotEnrolled));
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="panel" aria-labelledby="account-title">
            <h2 id="account-title">{tr("account.title")}</h2>
            <Show when=move || unlock_error.with(Option::is_some)>
                <p class="error" role="alert" id="unlock-error">{move || {
                    unlock_error.get().map(|e| i18n.t(e.message_key())).unwrap_or_default()
                }}</p>
            </Show>
            {move || if let Some(setup) = pin_setup.get() {
                view! { <ChoosePinForm setup=setup on_done=pin_done/> }.into_any()
            } else if let Some(session) = pin_entry.get() {
                view! { <EnterPinForm session=session on_done=pin_done/> }.into_any()
            } else {
                match engine.session.get() {
                Some(session) => view! {
                    <p id="signed-in-as">{move || text_with(
                        i18n.lang.get(),
                        "account.signed_in_as",
                        &[("name", session.user.display_name.clone())],
                    )}</p>
                    <p class="hint">{tr("account.sign_out_hint")}</p>
                    <SignOut/>
                }.into_any(),
                None => view! {
                    <form id="sign-in-form" on:submit=sign_in>
                        <label>
                            <span>{tr("account.username")}</span>
                            <input id="sign-in-username" autocomplete="username"
                                prop:value=move || username.get()
                                on:input=move |ev| username.set(event_target_value(&ev))/>
                        </label>
                        <label>
                            <span>{tr("account.password")}</span>
                            <input id="sign-in-password" type="password" autocomplete="current-password"
                                prop:value=move || password.get()
                                on:input=move |ev| password.set(event_target_value(&ev))/>
                        </label>
                        <Show when=move || error.get().is_some()>
                            <p class="error" role="alert" id="sign-in-error">{move || {
                                error.get().map(|e| i18n.t(e.message_key())).unwrap_or_default()
                            }}</p>
                        </Show>
                        <button id="sign-in" class="primary" type="submit" disabled=move || busy.get()>
                            {tr("account.sign_in")}
                        </button>
                    </form>
                }.into_any(),
                }
            }}
        </section>
    }
}

/// What waits to be sent when someone asks to sign out: entries of the outbox and photos.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Waiting {
    entries: u32,
    photos: u32,
}

/// The sign-out button. While entries or photos recorded on this tablet wait to be sent, it
/// first says how many, that they stay on the tablet and go at the next sign-in on it, and asks
/// again (`#sign-out-warning`, `#sign-out-confirm`, `#sign-out-cancel`); with nothing waiting it
/// signs out at once. Signing out never drops anything: the outbox stays.
#[component]
pub fn SignOut() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let engine = app.sync;
    // `Some` while the warning asks whether to sign out all the same.
    let asking = RwSignal::new(None::<Waiting>);
    let busy = RwSignal::new(false);
    let sign_out = move || {
        busy.set(true);
        leptos::task::spawn_local(async move {
            if let Err(e) = engine.sign_out(app.store()).await {
                engine.storage_error.set(Some(e));
            }
            if app.unlocked.get_untracked().is_some() {
                protection::forget_session(&app.store()).await;
                app.unlocked.set(None);
                app.records_version.update(|v| *v += 1);
            }
            asking.set(None);
            busy.set(false);
        });
    };
    let ask = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        leptos::task::spawn_local(async move {
            // Counted afresh (a round may have just sent some); the status's counts if storage
            // cannot be read.
            let store = app.store();
            let entries = match store.outbox_counts().await {
                Ok((pending, _)) => pending,
                Err(_) => engine.pending.get_untracked(),
            };
            let photos = store
                .photos_waiting()
                .await
                .unwrap_or_else(|_| engine.photos_pending.get_untracked());
            busy.set(false);
            if entries == 0 && photos == 0 {
                sign_out();
            } else {
                asking.set(Some(Waiting { entries, photos }));
            }
        });
    };
    let warning = move |waiting: Waiting| {
        let count = move |key: &'static str, n: u32| {
            (n > 0).then(|| {
                view! { <p>{move || text_with(i18n.lang.get(), key, &[("n", n.to_string())])}</p> }
            })
        };
        view! {
            <div id="sign-out-warning" class="warning-box" role="alert"
                data-entries=waiting.entries data-photos=waiting.photos>
                {count("account.sign_out_entries_waiting", waiting.entries)}
                {count("account.sign_out_photos_waiting", waiting.photos)}
                <p>{tr("account.sign_out_kept")}</p>
                <div class="form-actions">
                    <button id="sign-out-confirm" type="button" disabled=move || busy.get()
                        on:click=move |_| sign_out()>{tr("account.sign_out_confirm")}</button>
                    <button id="sign-out-cancel" type="button" class="primary"
                        on:click=move |_| asking.set(None)>{tr("account.sign_out_cancel")}</button>
                </div>
            </div>
        }
    };
    let button = move || {
        view! {
            <button id="sign-out" disabled=move || busy.get() on:click=ask>{tr("account.sign_out")}</button>
        }
    };
    move || match asking.get() {
        None => button().into_any(),
        Some(waiting) => warning(waiting).into_any(),
    }
}

/// A deputy who signs in is on duty at the tablet's station (or their own, on a tablet that is
/// not enrolled), unless someone already chose a duty context for them.
pub async fn put_deputy_on_duty(app: AppState, user: &api::SignedInUser) {
    let Some(deputy_id) = user.deputy_id.clone() else {
        return;
    };
    let directory = app.directory.get_untracked();
    let station_id: Option<StationId> = match &user.device {
        Some(device) => Some(device.station_id.clone()),
        None => directory
            .deputies
            .iter()
            .find(|d| d.id == deputy_id)
            .and_then(|d| d.station_ids.first().cloned()),
    };
    let Some(station_id) = station_id else {
        return;
    };
    if app
        .duty
        .get_untracked()
        .is_some_and(|d| d.deputy_id == deputy_id && d.station_id == station_id)
    {
        return;
    }
    app.set_duty(DutyContext {
        station_id,
        deputy_id,
    })
    .await;
}

#[component]
fn RejectedList() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    // Each refusal with the summary of the record a refused step was for.
    let rejected = LocalResource::new(move || {
        app.sync.rejected.track();
        async move {
            let store = app.store();
            let mut listed = Vec::new();
            for refusal in store.rejected_mutations().await.unwrap_or_default() {
                let summary = match &refusal.mutation.kind {
                    liaison_domain::sync::MutationKind::RecordFollowUp { opinion_id, .. } => store
                        .get_opinion(*opinion_id)
                        .await
                        .ok()
                        .flatten()
                        .map(|o| o.summary),
                    _ => None,
                };
                listed.push((refusal, summary));
            }
            listed
        }
    });
    view! {
        <Show when=move || { app.sync.rejected.get() > 0 }>
            <section class="panel problem" aria-labelledby="rejected-title">
                <h2 id="rejected-title">{tr("sync.rejected_title")}</h2>
                <p class="hint">{tr("sync.rejected_hint")}</p>
                <ul id="rejected-list">
                    {move || rejected.get().unwrap_or_default().into_iter().map(|(r, summary)| rejected_item(r, summary, i18n)).collect_view()}
                </ul>
            </section>
        </Show>
    }
}

/// One refusal: what was refused (for a follow-up step, the step and the record's `summary`) and
/// why, in words.
fn rejected_item(rejected: RejectedMutation, summary: Option<String>, i18n: I18n) -> impl IntoView {
    use liaison_domain::followup::Mark;
    use liaison_domain::sync::MutationKind;
    let app = use_app();
    let code = rejected.code.code();
    // What was refused, in words: the record's summary, or the step and the record it was for.
    let (what, link): (Box<dyn Fn() -> String + Send + Sync>, Option<String>) =
        match &rejected.mutation.kind {
            MutationKind::CreateOpinion { opinion } => {
                let summary = opinion.summary.clone();
                (Box::new(move || summary.clone()), None)
            }
            MutationKind::RecordFollowUp { opinion_id, step } => {
                let key = format!("action.{}", step.action.kind().code());
                let summary = summary.unwrap_or_default();
                (
                    Box::new(move || format!("{} · {summary}", i18n.t(&key))),
                    Some(format!("/records/{opinion_id}")),
                )
            }
            MutationKind::MarkAttendance { mark } => {
                let key = match mark.mark {
                    Mark::SignIn => "attendance.sign_in",
                    Mark::SignOut => "attendance.sign_out",
                };
                let deputy = app.directory.with_untracked(|d| {
                    d.deputy(&mark.key.deputy_id)
                        .map_or_else(|| mark.key.deputy_id.0.clone(), |d| d.name.clone())
                });
                let day = mark.key.day.to_string();
                (
                    Box::new(move || format!("{} · {deputy} · {day}", i18n.t(key))),
                    None,
                )
            }
            other => {
                let id = other.record_id();
                (Box::new(move || id.clone()), None)
            }
        };
    let reason = move || {
        let base = i18n.t(&format!("reject.{code}"));
        match &rejected.transition {
            Some(transition) => text_with(
                i18n.lang.get(),
                "sync.rejected_because",
                &[
                    ("reason", base),
                    (
                        "detail",
                        i18n.t(&format!("transition.{}", transition.code())),
                    ),
                ],
            ),
            None => base,
        }
    };
    view! {
        <li data-code=code>
            <strong>{what}</strong>
            {link.map(|href| view! { " " <leptos_router::components::A href=href>{tr("records.open")}</leptos_router::components::A> })}
            " — "
            <span class="reason">{reason}</span>
        </li>
    }
}

#[component]
fn DevicePanel() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let engine = app.sync;
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let station = RwSignal::new(
        app.duty
            .get_untracked()
            .map(|d| d.station_id.0)
            .unwrap_or_default(),
    );
    let name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<AccountError>);
    let busy = RwSignal::new(false);
    let enroll = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() || station.get_untracked().is_empty() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (user, pass) = (username.get_untracked(), password.get_untracked());
        let (station_id, device_name) = (StationId(station.get_untracked()), name.get_untracked());
        leptos::task::spawn_local(async move {
            // Station staff sign in only for the enrolment; their session ends right after.
            let result = match api::sign_in(user.trim(), &pass, None).await {
                Ok(staff) => {
                    let enrolled = api::enroll(&staff.token, &station_id, device_name.trim()).await;
                    api::sign_out(&staff.token).await;
                    enrolled
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(enrollment) => {
                    password.set(String::new());
                    if let Err(e) = engine.set_enrollment(app.store(), Some(enrollment)).await {
                        engine.storage_error.set(Some(e));
                    }
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let station_name = move |id: &StationId| {
        app.directory
            .get()
            .stations
            .iter()
            .find(|s| &s.id == id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| id.0.clone())
    };
    view! {
        <section class="panel" aria-labelledby="device-title">
            <h2 id="device-title">{tr("device.title")}</h2>
            {move || match engine.enrollment.get() {
                Some(enrollment) => view! {
                    <p id="device-enrolled">{move || text_with(
                        i18n.lang.get(),
                        "device.enrolled",
                        &[("name", enrollment.name.clone()), ("station", station_name(&enrollment.station_id))],
                    )}</p>
                }.into_any(),
                None => view! {
                    <p class="hint">{tr("device.not_enrolled")}</p>
                    <form id="enroll-form" on:submit=enroll>
                        <label>
                            <span>{tr("device.station")}</span>
                            <select id="enroll-station" on:change=move |ev| station.set(event_target_value(&ev))
                                prop:value=move || station.get()>
                                <option value="">{tr("duty.choose_station")}</option>
                                {move || app.directory.get().stations.into_iter().map(|s| {
                                    view! { <option value=s.id.0.clone()>{s.name}</option> }
                                }).collect_view()}
                            </select>
                        </label>
                        <label>
                            <span>{tr("device.name")}</span>
                            <input id="enroll-name" prop:value=move || name.get()
                                on:input=move |ev| name.set(event_target_value(&ev))/>
                        </label>
                        <label>
                            <span>{tr("device.staff_username")}</span>
                            <input id="enroll-username" autocomplete="off" prop:value=move || username.get()
                                on:input=move |ev| username.set(event_target_value(&ev))/>
                        </label>
                        <label>
                            <span>{tr("account.password")}</span>
                            <input id="enroll-password" type="password" autocomplete="off"
                                prop:value=move || password.get()
                                on:input=move |ev| password.set(event_target_value(&ev))/>
                        </label>
                        <Show when=move || error.get().is_some()>
                            <p class="error" role="alert">{move || {
                                error.get().map(|e| i18n.t(e.message_key())).unwrap_or_default()
                            }}</p>
                        </Show>
                        <button id="enroll" type="submit" disabled=move || busy.get()>{tr("device.enroll")}</button>
                    </form>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn StoragePanel() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let estimate = LocalResource::new(crate::platform::storage_estimate);
    let exported = RwSignal::new(None::<bool>);
    let export = move |_| {
        leptos::task::spawn_local(async move {
            let ok = match app.store().export_unsynced().await {
                Ok(json) => {
                    let name = format!(
                        "liaison-unsynced-{}.json",
                        format_time(crate::platform::now_ms()).replace([' ', ':'], "-")
                    );
                    crate::platform::download_text(&name, &json).is_some()
                }
                Err(_) => false,
            };
            exported.set(Some(ok));
        });
    };
    let usage_line = move |e: StorageEstimate| {
        let mb = |bytes: f64| format!("{:.1}", bytes / 1_048_576.0);
        text_with(
            i18n.lang.get(),
            "storage.usage",
            &[
                ("used", mb(e.usage)),
                ("quota", mb(e.quota)),
                ("percent", format!("{:.0}", e.used_share() * 100.0)),
            ],
        )
    };
    view! {
        <section class="panel" aria-labelledby="storage-title">
            <h2 id="storage-title">{tr("storage.title")}</h2>
            {move || estimate.get().flatten().map(|e| view! {
                <p id="storage-usage">{move || usage_line(e)}</p>
                <p class="hint">{move || i18n.t(if e.persisted { "storage.persisted" } else { "storage.not_persisted" })}</p>
                <Show when=move || { e.used_share() >= STORAGE_WARN_SHARE }>
                    <p class="error" role="alert" id="storage-warning">{tr("storage.almost_full")}</p>
                </Show>
            })}
            <p class="hint">{tr("export.hint")}</p>
            <button id="export-unsynced" on:click=export>{tr("export.button")}</button>
            {move || exported.get().map(|ok| view! {
                <p role="status">{move || i18n.t(if ok { "export.done" } else { "export.failed" })}</p>
            })}
        </section>
    }
}
