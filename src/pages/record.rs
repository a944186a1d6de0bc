//! `/records/<id>` on the tablet: one record with its follow-up, from the tablet's own data, so
//! it works offline. A step taken here is checked by the lifecycle, applied to what the tablet
//! shows and queued in the outbox in one transaction ([`Store::record_follow_up`]); it shows at
//! once and goes to the server with the next sync. Should the server refuse it later (someone
//! else moved the item on first), it leaves the history and shows among the refused records on
//! `/sync`, with the reason.
//!
//! The steps offered are the ones the lifecycle allows the signed-in account
//! ([`Lifecycle::available`]); with nobody signed in the history is shown with a hint to sign in.
//!
//! [`Store::record_follow_up`]: crate::storage::Store::record_follow_up
//! [`Lifecycle::available`]: liaison_domain::followup::Lifecycle::available

use crate::components::item::{ItemData, ItemPanel, StepFailure, StepSubmission};
use crate::i18n::{tr, use_i18n};
use crate::platform::{now_ms, today_in_china};
use crate::state::use_app;
use crate::storage::{FollowUpError, LocalItem, StorageError};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use liaison_domain::OpinionId;
use liaison_domain::followup::{FollowUp, WorkCalendar};

#[component]
pub fn RecordScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").and_then(|s| OpinionId::parse(&s)));
    let loaded = LocalResource::new(move || {
        app.records_version.track();
        let id = id.get();
        async move {
            match id {
                Some(id) => app.store().local_item(id).await,
                None => Ok(None),
            }
        }
    });
    let session = app.sync.session;
    let data = Memo::new(move |_| {
        let item: LocalItem = loaded.get().and_then(Result::ok).flatten()?;
        // A deputy opens only what it received (another deputy's record is "not found").
        let own = app.unlocked.with(|u| {
            u.as_ref()
                .and_then(|u| u.deputy_id.as_ref())
                .is_none_or(|d| *d == item.opinion.deputy_id)
        });
        if !own {
            return None;
        }
        let actor = session.with(|s| s.as_ref().and_then(|s| s.user.actor()));
        let colour = app.calendar.with(|calendar| {
            let calendar = calendar.clone().unwrap_or_else(WorkCalendar::weekdays_only);
            item.lifecycle.deadline_colour(&calendar, today_in_china())
        });
        Some(ItemData {
            available: actor.map(|actor| item.lifecycle.available(&actor)),
            citizen_masked: item.opinion.citizen.masked_summary(),
            colour,
            opinion: item.opinion,
            lifecycle: item.lifecycle,
            steps: item.steps,
            unsynced: item.unsynced,
        })
    });
    // Once shown, the panel keeps the last item it had (its form must not vanish while a sync
    // rewrites the record underneath).
    let shown = Memo::new(move |previous: Option<&Option<ItemData>>| {
        data.get().or_else(|| previous.cloned().flatten())
    });
    let submit = Action::new_local(move |submission: &StepSubmission| {
        let StepSubmission {
            id: step_id,
            action,
        } = submission.clone();
        async move {
            let Some(id) = id.get_untracked() else {
                return Err(StepFailure::Message("item.not_found".into()));
            };
            let Some(actor) = session.with_untracked(|s| s.as_ref().and_then(|s| s.user.actor()))
            else {
                return Err(StepFailure::Message("item.sign_in_hint".into()));
            };
            let step = FollowUp {
                id: step_id,
                at_ms: now_ms(),
                by: actor,
                action,
            };
            match app.store().record_follow_up(id, &step).await {
                Ok(_) => {
                    app.local_change();
                    Ok(())
                }
                Err(FollowUpError::NotAllowed(error)) => Err(StepFailure::NotAllowed(error)),
                Err(FollowUpError::NotFound) => Err(StepFailure::Message("item.not_found".into())),
                Err(FollowUpError::Storage(error)) => {
                    Err(StepFailure::Message(step_storage_key(&error).into()))
                }
            }
        }
    });
    let role = Signal::derive(move || session.with(|s| s.as_ref().map(|s| s.user.role)));

    view! {
        <section class="item-page">
            <p class="back"><A href="/records" attr:class="back-link">{tr("item.back_to_records")}</A></p>
            {move || match loaded.get() {
                None => Some(view! { <p class="loading">{tr("app.loading")}</p> }.into_any()),
                Some(Err(error)) => {
                    let key = error.message_key();
                    Some(view! { <p class="error" role="alert">{move || i18n.t(key)}</p> }.into_any())
                }
                Some(Ok(None)) => Some(view! { <p class="hint" id="item-missing">{tr("item.not_on_tablet")}</p> }.into_any()),
                Some(Ok(Some(_))) => None,
            }}
            <Show when=move || shown.with(Option::is_some)>
                <ItemPanel
                    item=Signal::derive(move || shown.get().expect("shown once loaded"))
                    role=role
                    units=app.units
                    calendar=app.calendar
                    submit=submit
                    saves_hint="item.saved_on_tablet"
                />
            </Show>
        </section>
    }
}

/// What to tell when storing a step failed: the capture form's texts speak of "this entry".
fn step_storage_key(error: &StorageError) -> &'static str {
    match error {
        StorageError::QuotaExceeded => "item.storage_full",
        _ => "item.storage_failed",
    }
}
