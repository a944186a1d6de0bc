//! The protected tablet's screens (issue 6): the gate in front of the tablet's own pages, the
//! lock screen (each account that has a PIN here, unlocked with it offline), choosing a PIN
//! after the first sign-in, entering it after a sign-in where only the PIN opens the key, and
//! the lock button. The rules and the keys are in [`crate::protection`].

use crate::i18n::{text_with, tr, use_i18n};
use crate::protection::{self, PinSetup, UnlockError};
use crate::state::use_app;
use crate::storage::AccountKeys;
use crate::sync::api::Session;
use leptos::prelude::*;

/// Shows `children` only while an account is unlocked; the lock screen otherwise.
#[component]
pub fn LockGate(children: ChildrenFn) -> impl IntoView {
    let app = use_app();
    move || {
        if app.unlocked.with(Option::is_some) {
            children().into_any()
        } else {
            view! { <LockScreen/> }.into_any()
        }
    }
}

/// The words for an unlock error (with the tries left).
fn error_text(error: &UnlockError, lang: crate::i18n::Lang) -> String {
    match error {
        UnlockError::WrongPin { left } => {
            text_with(lang, "lock.error.wrong_pin", &[("n", left.to_string())])
        }
        UnlockError::TryLater { seconds } => {
            text_with(lang, "lock.error.try_later", &[("n", seconds.to_string())])
        }
        other => crate::i18n::text(lang, other.message_key()),
    }
}

/// Why the last unlock or PIN did not work, while there is a reason.
#[component]
fn UnlockErrorLine(error: RwSignal<Option<UnlockError>>, id: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <Show when=move || error.with(Option::is_some)>
            <p class="error" role="alert" id=id>
                {move || error.get().map(|e| error_text(&e, i18n.lang.get())).unwrap_or_default()}
            </p>
        </Show>
    }
}

/// The accounts that can unlock here with a PIN, and the PIN field for the one chosen.
#[component]
pub fn LockScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let accounts = LocalResource::new(move || async move {
        app.store()
            .account_keys()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a.pin.is_some())
            .collect::<Vec<AccountKeys>>()
    });
    let chosen = RwSignal::new(None::<AccountKeys>);
    let pin = RwSignal::new(String::new());
    let error = RwSignal::new(None::<UnlockError>);
    let busy = RwSignal::new(false);
    let unlock = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(account) = chosen.get_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let typed = pin.get_untracked();
        leptos::task::spawn_local(async move {
            let store = app.store();
            match protection::unlock_with_pin(&store, &account.username, &typed, None).await {
                Ok(session) => {
                    pin.set(String::new());
                    app.unlocked_as(account.user.clone(), session).await;
                }
                Err(e) => {
                    pin.set(String::new());
                    if matches!(e, UnlockError::PinUsedUp) {
                        chosen.set(None);
                        accounts.refetch();
                    }
                    error.set(Some(e));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <section class="lock-screen panel" id="lock-screen">
            <h1>{tr("lock.title")}</h1>
            <p class="hint">{tr("lock.hint")}</p>
            <div class="lock-accounts">
                {move || accounts.get().map(|list| {
                    if list.is_empty() {
                        return view! { <p id="lock-nobody">{tr("lock.nobody")}</p> }.into_any();
                    }
                    list.into_iter().map(|account| {
                        let name = account.user.display_name.clone();
                        let username = account.username.clone();
                        let selected = {
                            let username = username.clone();
                            move || chosen.with(|c| c.as_ref().is_some_and(|c| c.username == username))
                        };
                        view! {
                            <button type="button" class="lock-account"
                                class:selected=selected
                                data-username=username
                                on:click=move |_| {
                                    error.set(None);
                                    pin.set(String::new());
                                    chosen.set(Some(account.clone()));
                                }>
                                {name}
                            </button>
                        }
                    }).collect_view().into_any()
                })}
            </div>
            <Show when=move || chosen.with(Option::is_some)>
                <form id="lock-form" on:submit=unlock>
                    <label>
                        <span>{move || text_with(
                            i18n.lang.get(),
                            "lock.pin_of",
                            &[("name", chosen.with(|c| c.as_ref().map(|c| c.user.display_name.clone()).unwrap_or_default()))],
                        )}</span>
                        <input id="lock-pin" type="password" inputmode="numeric" autocomplete="off"
                            prop:value=move || pin.get()
                            on:input=move |ev| pin.set(event_target_value(&ev))/>
                    </label>
                    <button id="lock-unlock" class="primary" type="submit" disabled=move || busy.get()>
                        {move || if busy.get() { i18n.t("lock.unlocking") } else { i18n.t("lock.unlock") }}
                    </button>
                </form>
            </Show>
            <UnlockErrorLine error=error id="lock-error"/>
            <p><a id="lock-sign-in" href="/sync">{tr("lock.sign_in_with_password")}</a></p>
        </section>
    }
}

/// Choosing a PIN after the first sign-in on this tablet (or after the PIN was used up).
#[component]
pub fn ChoosePinForm(setup: PinSetup, on_done: Callback<()>) -> impl IntoView {
    let app = use_app();
    let typed = RwSignal::new(String::new());
    let repeated = RwSignal::new(String::new());
    let error = RwSignal::new(None::<UnlockError>);
    let busy = RwSignal::new(false);
    let setup = StoredValue::new(setup);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let setup = setup.get_value();
        let (first, second) = (typed.get_untracked(), repeated.get_untracked());
        leptos::task::spawn_local(async move {
            match protection::choose_pin(&app.store(), &setup, &first, &second).await {
                Ok(()) => {
                    typed.set(String::new());
                    repeated.set(String::new());
                    let session = setup.session.clone();
                    app.unlocked_as(session.user.clone(), Some(session)).await;
                    on_done.run(());
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <form id="pin-setup-form" on:submit=submit>
            <p>{tr("lock.choose_pin_hint")}</p>
            <label>
                <span>{tr("lock.new_pin")}</span>
                <input id="pin-new" type="password" inputmode="numeric" autocomplete="new-password"
                    prop:value=move || typed.get()
                    on:input=move |ev| typed.set(event_target_value(&ev))/>
            </label>
            <label>
                <span>{tr("lock.repeat_pin")}</span>
                <input id="pin-repeat" type="password" inputmode="numeric" autocomplete="new-password"
                    prop:value=move || repeated.get()
                    on:input=move |ev| repeated.set(event_target_value(&ev))/>
            </label>
            <UnlockErrorLine error=error id="pin-error"/>
            <button id="pin-set" class="primary" type="submit" disabled=move || busy.get()>
                {tr("lock.set_pin")}
            </button>
        </form>
    }
}

/// Entering the PIN after a sign-in, where only the PIN opens the account's key here.
#[component]
pub fn EnterPinForm(session: Session, on_done: Callback<()>) -> impl IntoView {
    let app = use_app();
    let pin = RwSignal::new(String::new());
    let error = RwSignal::new(None::<UnlockError>);
    let busy = RwSignal::new(false);
    let session = StoredValue::new(session);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let session = session.get_value();
        let typed = pin.get_untracked();
        leptos::task::spawn_local(async move {
            let store = app.store();
            match protection::unlock_with_pin(
                &store,
                &session.user.username,
                &typed,
                Some(&session),
            )
            .await
            {
                Ok(_) => {
                    app.unlocked_as(session.user.clone(), Some(session)).await;
                    on_done.run(());
                }
                Err(e) => {
                    pin.set(String::new());
                    error.set(Some(e));
                }
            }
            busy.set(false);
        });
    };
    view! {
        <form id="pin-enter-form" on:submit=submit>
            <p>{tr("lock.enter_pin_hint")}</p>
            <label>
                <span>{tr("lock.pin")}</span>
                <input id="pin-entry" type="password" inputmode="numeric" autocomplete="off"
                    prop:value=move || pin.get()
                    on:input=move |ev| pin.set(event_target_value(&ev))/>
            </label>
            <UnlockErrorLine error=error id="pin-error"/>
            <button id="pin-unlock" class="primary" type="submit" disabled=move || busy.get()>
                {tr("lock.unlock")}
            </button>
        </form>
    }
}

/// "Lock": for the header, while an account is unlocked.
#[component]
pub fn LockButton() -> impl IntoView {
    let app = use_app();
    view! {
        <Show when=move || app.unlocked.with(Option::is_some)>
            <button id="lock-now" class="lock" title=move || app.unlocked.with(|u| u.as_ref().map(|u| u.display_name.clone()).unwrap_or_default())
                on:click=move |_| leptos::task::spawn_local(async move { app.lock().await })>
                {tr("lock.lock_now")}
            </button>
        </Show>
    }
}
