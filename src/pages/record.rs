//! `/records/<id>` on the tablet: one record with its follow-up, from the tablet's own data, so
//! it works offline. A step taken here is checked by the lifecycle, applied to what the tablet
//! shows and queued in the outbox in one transaction ([`Store::record_follow_up`]); it shows at
//! once and goes to the server with the next sync. Should the server refuse it later (someone
//! else moved the item on first), it leaves the history and shows among the refused records on
//! `/sync`, with the reason.
//!
//! The record's texts (category, summary, details, place, reply) can be corrected here too
//! ([`EditForm`], [`Store::edit_opinion`]): saved on the tablet and queued like a step. The
//! citizen and the intake decision are not in that form (the tablet holds the citizen masked
//! only; the follow-up goes by the decision).
//!
//! The steps offered are the ones the lifecycle allows the signed-in account
//! ([`Lifecycle::available`]); with nobody signed in the history is shown with a hint to sign in.
//!
//! [`Store::record_follow_up`]: crate::storage::Store::record_follow_up
//! [`Store::edit_opinion`]: crate::storage::Store::edit_opinion
//! [`Lifecycle::available`]: liaison_domain::followup::Lifecycle::available

use crate::components::item::{ItemData, ItemPanel, StepFailure, StepSubmission};
use crate::i18n::{tr, use_i18n};
use crate::pages::capture::error_message;
use crate::platform::{now_ms, today_in_china};
use crate::state::use_app;
use crate::storage::{EditError, FollowUpError, LocalItem, StorageError};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use liaison_domain::followup::{FollowUp, WorkCalendar};
use liaison_domain::{Field, Opinion, OpinionEdit, OpinionId, ValidationErrors, limits};

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
    let editing = RwSignal::new(false);
    let edited = RwSignal::new(false);

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
                {move || if editing.get() {
                    let opinion = shown.with_untracked(|s| s.as_ref().map(|s| s.opinion.clone()));
                    opinion.map(|opinion| view! {
                        <EditForm opinion=opinion done=Callback::new(move |saved: bool| {
                            editing.set(false);
                            edited.set(saved);
                        })/>
                    }.into_any())
                } else {
                    Some(view! {
                        <p class="record-edit">
                            <button type="button" id="record-edit" on:click=move |_| {
                                edited.set(false);
                                editing.set(true);
                            }>{tr("record.edit")}</button>
                            <Show when=move || edited.get()>
                                <span class="hint" id="record-edit-saved" role="status">{tr("record.edit_saved")}</span>
                            </Show>
                        </p>
                    }.into_any())
                }}
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

/// The form that corrects a record's texts ([`OpinionEdit`]), filled with what it says now.
/// `done` is called with `true` once the edit is saved, `false` when it is cancelled or changed
/// nothing. A refused edit keeps the form, with the errors by field.
#[component]
fn EditForm(opinion: Opinion, done: Callback<bool>) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let id = opinion.id;
    let edit = RwSignal::new(OpinionEdit::of(&opinion));
    let before = StoredValue::new(opinion);
    let errors = RwSignal::new(ValidationErrors::default());
    let failure = RwSignal::new(None::<&'static str>);
    let save = Action::new_local(move |edit: &OpinionEdit| {
        let edit = edit.clone();
        async move {
            let categories = app.directory.with_untracked(|d| d.categories.clone());
            let saved = app.store().edit_opinion(id, &edit, &categories).await;
            match saved {
                // Saved, or nothing changed (then nothing was queued, and nothing is said).
                Ok(after) => {
                    let changed = before.with_value(|b| *b != after);
                    if changed {
                        app.local_change();
                    }
                    done.run(changed);
                }
                Err(EditError::Invalid(found)) => errors.set(found),
                // Deleted meanwhile (by a pull): say why it is gone.
                Err(EditError::NotFound) => failure.set(Some("item.not_on_tablet")),
                Err(EditError::Storage(error)) => failure.set(Some(match error {
                    StorageError::QuotaExceeded => "record.edit_storage_full",
                    _ => "record.edit_storage_failed",
                })),
            }
        }
    });
    let error_of = move |field: Field| {
        errors
            .with(|e| e.get(field).cloned())
            .map(|e| error_message(i18n, &e))
    };
    let text_field = move |field: Field,
                           max: usize,
                           multi: bool,
                           get: fn(&OpinionEdit) -> &String,
                           set: fn(&mut OpinionEdit, String)| {
        let id = format!("edit-{}", field.name());
        let label_key = format!("field.{}", field.name());
        let initial = edit.with_untracked(|e| get(e).clone());
        let on_input = move |ev: web_sys::Event| {
            let value = event_target_value(&ev);
            edit.update(|e| set(e, value));
        };
        let control = if multi {
            view! {
                <textarea id=id.clone() rows="4" maxlength=max.to_string() on:input=on_input>{initial}</textarea>
            }
            .into_any()
        } else {
            view! {
                <input id=id.clone() type="text" autocomplete="off" maxlength=max.to_string()
                    value=initial on:input=on_input/>
            }
            .into_any()
        };
        view! {
            <div class="field" class:invalid=move || errors.with(|e| e.get(field).is_some())>
                <label for=id.clone()>{move || i18n.t(&label_key)}</label>
                {control}
                <p class="error" id=format!("{id}-error")>{move || error_of(field)}</p>
            </div>
        }
    };
    view! {
        <form id="record-edit-form" class="edit-form" on:submit=move |ev| {
            ev.prevent_default();
            errors.set(ValidationErrors::default());
            failure.set(None);
            save.dispatch(edit.get_untracked());
        }>
            <h2>{tr("record.edit_title")}</h2>
            <p class="hint">{tr("record.edit_hint")}</p>
            <div class="field" class:invalid=move || errors.with(|e| e.get(Field::Category).is_some())>
                <label for="edit-category">{tr("field.category")}</label>
                <select id="edit-category" on:change=move |ev| {
                    let value = event_target_value(&ev);
                    edit.update(|e| e.category = value);
                }>
                    {move || {
                        let english = i18n.lang.get().is_english();
                        let current = edit.with_untracked(|e| e.category.clone());
                        let mut categories = app.directory.get().categories;
                        let listed = categories.iter().any(|c| c.code == current);
                        let options = categories
                            .drain(..)
                            .map(|c| {
                                let selected = c.code == current;
                                view! { <option value=c.code.clone() selected=selected>{c.label(english).to_owned()}</option> }
                            })
                            .collect_view();
                        // A category since removed from the list stays the record's until
                        // another is chosen.
                        let kept = (!listed).then(|| view! { <option value=current.clone() selected=true>{current.clone()}</option> });
                        view! { {kept} {options} }
                    }}
                </select>
                <p class="error" id="edit-category-error">{move || error_of(Field::Category)}</p>
            </div>
            {text_field(Field::Summary, limits::SUMMARY, false, |e| &e.summary, |e, v| e.summary = v)}
            {text_field(Field::Details, limits::DETAILS, true, |e| &e.details, |e, v| e.details = v)}
            {text_field(Field::Place, limits::PLACE, false, |e| &e.place, |e, v| e.place = v)}
            {text_field(Field::OnSiteReply, limits::ON_SITE_REPLY, true, |e| &e.on_site_reply, |e, v| e.on_site_reply = v)}
            <Show when=move || !errors.with(ValidationErrors::is_empty)>
                <p class="error" role="alert" id="record-edit-invalid">{tr("item.fix_fields")}</p>
            </Show>
            {move || failure.get().map(|key| view! { <p class="error" role="alert" id="record-edit-failed">{move || i18n.t(key)}</p> })}
            <p class="actions">
                <button type="submit" id="record-edit-save" class="primary" disabled=move || save.pending().get()>
                    {tr("record.edit_save")}
                </button>
                <button type="button" id="record-edit-cancel" on:click=move |_| done.run(false)>
                    {tr("item.cancel")}
                </button>
            </p>
        </form>
    }
}
