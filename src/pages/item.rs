//! `/items/<id>` in the back office (office staff, station staff, handling units): one item from
//! the server (`GET /api/v1/opinions/{id}`, personal data masked, the steps this account may
//! take), and its steps taken online (`POST /api/v1/opinions/{id}/steps`; the page then shows
//! the item the server answers with). The back office needs the network: offline or when the
//! server fails, the page says so and what to do, and nothing is half-saved.
//!
//! A step sent without a clear answer (no answer, a 5xx, someone else's page) may have been
//! taken all the same. The page then loads the item again: if its history holds the step (by
//! the id its form made), it was taken; if not, the page says that it may still have been and
//! to look at the history before sending it again. It never says that nothing was saved then.
//!
//! Staff who may see personal data unmask the citizen here, item by item, with a purpose
//! ([`UnmaskCitizen`]); what was shown is forgotten when the page or the item changes.

use crate::components::item::{ItemData, ItemPanel, StepFailure, StepSubmission};
use crate::components::unmask::UnmaskCitizen;
use crate::i18n::{tr, use_i18n};
use crate::state::use_app;
use crate::sync::office::{self, OfficeError, office_error_key};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use liaison_domain::followup::ItemView;
use liaison_domain::{FollowUpId, OpinionId};

fn item_data(view: ItemView) -> ItemData {
    ItemData {
        opinion: view.opinion,
        citizen_masked: view.citizen_masked,
        lifecycle: view.lifecycle,
        steps: view.steps,
        colour: view.colour,
        available: Some(view.available),
        unsynced: Vec::new(),
    }
}

/// What became of the step `step_id`, sent without a clear answer, judged from the item loaded
/// again afterwards (`reloaded`): taken if the history holds it; otherwise it may still have
/// been (the server may take it after this look), so the person is told to check the history
/// before sending it again.
pub fn after_unanswered_step(
    step_id: FollowUpId,
    reloaded: &Result<ItemView, OfficeError>,
) -> Result<(), StepFailure> {
    match reloaded {
        Ok(view) if view.steps.iter().any(|step| step.id == step_id) => Ok(()),
        Ok(_) => Err(StepFailure::Message("item.step_outcome_unknown".into())),
        Err(_) => Err(StepFailure::Message(
            "item.step_outcome_unknown_not_reloaded".into(),
        )),
    }
}

#[component]
pub fn ItemScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| OpinionId::parse(&s)));
    let session = app.sync.session;
    let retry = RwSignal::new(0u32);
    // The item as the server last described it: from the page's fetch, then from each step.
    let item = RwSignal::new(None::<ItemData>);
    let load_error = RwSignal::new(None::<OfficeError>);
    let loading = RwSignal::new(false);
    Effect::new(move |_| {
        retry.track();
        let (Some(requested), Some(session)) = (id.get(), session.get()) else {
            return;
        };
        if item.with_untracked(|i| i.as_ref().is_some_and(|i| i.opinion.id != requested)) {
            item.set(None);
        }
        loading.set(true);
        leptos::task::spawn_local(async move {
            let answer = office::item(&session.token, requested).await;
            // Another item was opened meanwhile (or the page went): this answer is not for the
            // page any more.
            if id.try_get_untracked() != Some(Some(requested)) {
                return;
            }
            match answer {
                Ok(view) => {
                    item.set(Some(item_data(view)));
                    load_error.set(None);
                }
                Err(error) => load_error.set(Some(error)),
            }
            loading.set(false);
        });
        leptos::task::spawn_local(async move { app.refresh_units_and_calendar().await });
    });
    let submit = Action::new_local(move |submission: &StepSubmission| {
        let StepSubmission {
            id: step_id,
            action,
        } = submission.clone();
        async move {
            let (Some(requested), Some(session)) = (id.get_untracked(), session.get_untracked())
            else {
                return Err(StepFailure::Message("office.error.sign_in_needed".into()));
            };
            // Shows an item the server described, unless another item was opened meanwhile.
            let show = move |view: ItemView| {
                if id.try_get_untracked() == Some(Some(requested)) {
                    item.set(Some(item_data(view)));
                    load_error.set(None);
                }
            };
            match office::take_step(&session.token, requested, step_id, &action).await {
                Ok(view) => {
                    show(view);
                    Ok(())
                }
                Err(OfficeError::NotAllowed(error)) => Err(StepFailure::NotAllowed(error)),
                Err(OfficeError::Invalid(errors)) => Err(StepFailure::Invalid(errors)),
                Err(error) if error.outcome_unknown() => {
                    // The server may have taken the step before its answer went astray: look.
                    let reloaded = office::item(&session.token, requested).await;
                    let outcome = after_unanswered_step(step_id, &reloaded);
                    match reloaded {
                        Ok(view) => show(view),
                        Err(error) => {
                            if id.try_get_untracked() == Some(Some(requested)) {
                                load_error.set(Some(error));
                            }
                        }
                    }
                    outcome
                }
                Err(error) => Err(StepFailure::Message(office_error_key(&error))),
            }
        }
    });
    let role = Signal::derive(move || session.with(|s| s.as_ref().map(|s| s.user.role)));
    // The server masked a citizen who gave personal data: there is something to unmask.
    let has_personal_data = Signal::derive(move || {
        item.with(|i| {
            i.as_ref().is_some_and(|i| {
                !i.opinion.citizen.anonymous
                    && i.citizen_masked
                        .as_ref()
                        .is_some_and(|c| !c.trim().is_empty())
            })
        })
    });

    view! {
        <section class="item-page">
            <p class="back"><A href="/ledger" attr:class="back-link">{tr("item.back_to_ledger")}</A></p>
            <Show when=move || session.with(Option::is_none)>
                <p class="hint" id="office-sign-in">{tr("office.sign_in_first")} " "
                    <A href="/sync">{tr("nav.sync")}</A></p>
            </Show>
            <Show when=move || id.with(Option::is_none)>
                <p class="error" role="alert">{tr("office.error.not_found")}</p>
            </Show>
            {move || load_error.get().map(|error| {
                let key = office_error_key(&error);
                view! {
                    <div class="problem-box" role="alert" id="item-load-error">
                        <p>{move || i18n.t(&key)}</p>
                        <button id="item-retry" type="button" disabled=move || loading.get()
                            on:click=move |_| retry.update(|n| *n += 1)>{tr("office.retry")}</button>
                    </div>
                }
            })}
            <Show when=move || loading.get() && item.with(Option::is_none)>
                <p class="loading">{tr("app.loading")}</p>
            </Show>
            <Show when=move || item.with(Option::is_some)>
                <ItemPanel
                    item=Signal::derive(move || item.get().expect("shown once loaded"))
                    role=role
                    units=app.units
                    calendar=app.calendar
                    submit=submit
                    saves_hint="item.saved_on_server"
                    below_facts=move || {
                        // Keyed by the item: another item forgets what this one showed.
                        id.get().map(|opinion| view! {
                            <UnmaskCitizen opinion=opinion has_personal_data=has_personal_data/>
                        })
                    }
                />
            </Show>
        </section>
    }
}
