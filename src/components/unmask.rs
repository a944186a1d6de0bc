//! A citizen's personal data unmasked item by item, on the back office's item page, for the
//! roles that may ([`may_unmask_personal_data`]) and items that have some: "show full details"
//! asks why (a one-line purpose, the domain's [`check_unmask_purpose`]; the dialog says that
//! the viewing is recorded), sends it, and shows name, phone and address with a note that this
//! viewing was recorded. "Hide" puts the mask back.
//!
//! What was shown lives in this component's signals only: never in IndexedDB, never cached
//! (the server answers `no-store`), gone when the page or the item changes. An answer that
//! comes after the page went touches nothing (`try_*` after the `await`).

use crate::i18n::{tr, use_i18n};
use crate::pages::capture::error_message;
use crate::state::use_app;
use crate::sync::audit::{PersonalData, unmask};
use crate::sync::office::{OfficeError, office_error_key};
use leptos::prelude::*;
use liaison_domain::account::{check_unmask_purpose, may_unmask_personal_data};
use liaison_domain::citizen::Citizen;
use liaison_domain::{Field, FieldError, OpinionId};

/// Why the citizen is not shown unmasked.
#[derive(Clone, Debug, PartialEq)]
enum UnmaskFailure {
    /// The purpose as typed is not one (the domain's rule, or the server's 422).
    Purpose(FieldError),
    /// The request failed.
    Office(OfficeError),
}

/// The purpose's error in a 422 `invalid` answer, if that is what it is.
fn purpose_error(error: &OfficeError) -> Option<FieldError> {
    match error {
        OfficeError::Invalid(errors) => errors.get(Field::Purpose).cloned(),
        _ => None,
    }
}

/// The "show full details" button, its dialog, and the citizen unmasked. `has_personal_data`:
/// whether the item shows a masked citizen (nothing to unmask otherwise).
#[component]
pub fn UnmaskCitizen(
    opinion: OpinionId,
    #[prop(into)] has_personal_data: Signal<bool>,
) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let session = app.sync.session;
    let permitted = Signal::derive(move || {
        session.with(|s| {
            s.as_ref()
                .is_some_and(|s| may_unmask_personal_data(s.user.role))
        })
    });
    let asking = RwSignal::new(false);
    let purpose = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let failure = RwSignal::new(None::<UnmaskFailure>);
    let shown = RwSignal::new(None::<Citizen>);

    let open = move |_| {
        purpose.set(String::new());
        failure.set(None);
        asking.set(true);
    };
    let cancel = move |_| {
        asking.set(false);
        failure.set(None);
    };
    let hide = move |_| {
        shown.set(None);
        failure.set(None);
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let checked = match check_unmask_purpose(&purpose.get_untracked()) {
            Ok(checked) => checked,
            Err(error) => {
                failure.set(Some(UnmaskFailure::Purpose(error)));
                return;
            }
        };
        let Some(token) = session.with_untracked(|s| s.as_ref().map(|s| s.token.clone())) else {
            failure.set(Some(UnmaskFailure::Office(OfficeError::SignInNeeded)));
            return;
        };
        failure.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let answer = unmask(&token, opinion, &checked).await;
            // The page may have gone meanwhile: then nothing is shown (nor kept).
            match answer {
                Ok(PersonalData { citizen, .. }) => {
                    if shown.try_set(Some(citizen)).is_some() {
                        return;
                    }
                    asking.try_set(false);
                }
                Err(error) => {
                    let failed = match purpose_error(&error) {
                        Some(field) => UnmaskFailure::Purpose(field),
                        None => UnmaskFailure::Office(error),
                    };
                    failure.try_set(Some(failed));
                }
            }
            busy.try_set(false);
        });
    };
    let error_text = move || {
        failure.with(|f| match f {
            Some(UnmaskFailure::Purpose(error)) => Some(error_message(i18n, error)),
            Some(UnmaskFailure::Office(error)) => Some(i18n.t(&office_error_key(error))),
            None => None,
        })
    };
    let value_or_none = move |value: Option<String>| {
        value
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| i18n.t("records.not_given"))
    };

    view! {
        <Show when=move || permitted.get() && has_personal_data.get()>
            <section class="unmask" aria-live="polite">
                {move || match shown.get() {
                    Some(citizen) => view! {
                        <dl class="unmasked">
                            <div class="row">
                                <dt>{tr("unmask.name")}</dt>
                                <dd id="unmasked-name">{value_or_none(citizen.name.clone())}</dd>
                            </div>
                            <div class="row">
                                <dt>{tr("unmask.phone")}</dt>
                                <dd id="unmasked-phone">{value_or_none(citizen.phone.as_ref().map(|p| p.as_str().to_owned()))}</dd>
                            </div>
                            <div class="row">
                                <dt>{tr("unmask.address")}</dt>
                                <dd id="unmasked-address">{value_or_none(citizen.address.clone())}</dd>
                            </div>
                        </dl>
                        <p class="hint" id="unmask-recorded">{tr("unmask.recorded")}</p>
                        <button id="unmask-hide" type="button" on:click=hide>{tr("unmask.hide")}</button>
                    }.into_any(),
                    None if asking.get() => view! {
                        <form class="unmask-dialog" role="dialog" aria-labelledby="unmask-title"
                            on:submit=on_submit novalidate=true>
                            <h3 id="unmask-title">{tr("unmask.title")}</h3>
                            <p class="hint">{tr("unmask.will_be_recorded")}</p>
                            <div class="field" class:invalid=move || failure.with(|f| matches!(f, Some(UnmaskFailure::Purpose(_))))>
                                <label for="unmask-purpose">{tr("field.purpose")}</label>
                                <input id="unmask-purpose" type="text" autocomplete="off"
                                    maxlength=liaison_domain::account::MAX_PURPOSE_CHARS.to_string()
                                    prop:value=move || purpose.get()
                                    on:input=move |ev| purpose.set(event_target_value(&ev))/>
                                <p class="hint">{tr("unmask.purpose_hint")}</p>
                            </div>
                            <div class="form-actions">
                                <button id="unmask-submit" type="submit" class="primary"
                                    disabled=move || busy.get()>{tr("unmask.submit")}</button>
                                <button id="unmask-cancel" type="button" on:click=cancel>{tr("item.cancel")}</button>
                            </div>
                        </form>
                    }.into_any(),
                    None => view! {
                        <button id="unmask" type="button" on:click=open>{tr("unmask.show")}</button>
                    }.into_any(),
                }}
                {move || error_text().map(|message| view! {
                    <p id="unmask-error" class="error" role="alert">{message}</p>
                })}
            </section>
        </Show>
    }
}
