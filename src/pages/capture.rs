//! The capture screen: the deputy records what a citizen raised and what was answered.
//!
//! The form is autosaved as a draft while typing (at most ~300 ms behind), one draft per
//! station and deputy. Inputs are uncontrolled while typing (the DOM owns the text, so Chinese
//! IME composition is never disturbed); the form is re-rendered from the draft only when a draft
//! is loaded or cleared.

use crate::i18n::{I18n, text_with, tr, use_i18n};
use crate::photo;
use crate::platform::{event_checked, new_opinion_id, new_photo_id, now_ms};
use crate::state::{AppState, use_app};
use crate::storage::{DraftKey, NewPhoto, StorageError};
use gloo_timers::callback::Timeout;
use leptos::prelude::*;
use liaison_domain::citizen::CONSENT_NOTICE_VERSION;
use liaison_domain::{
    Field, FieldError, OpinionDraft, OutcomeKind, PhotoId, RedirectChannel, ValidationErrors,
    limits,
};
use wasm_bindgen::JsCast;

/// How long after a change the draft is written. Short enough that a crash loses under a
/// second of typing, long enough not to write on every keystroke.
const AUTOSAVE_DELAY_MS: u32 = 300;

/// What the last save did, shown under the form.
#[derive(Clone, Debug, PartialEq)]
enum Notice {
    None,
    Saved,
    Invalid(usize),
    Failed(StorageError),
    PhotoFailed,
}

/// Shared by the form's fields.
#[derive(Clone, Copy)]
struct Form {
    draft: RwSignal<OpinionDraft>,
    errors: RwSignal<ValidationErrors>,
    /// Once the deputy has tried to save, errors update as they type.
    submitted: RwSignal<bool>,
    /// Bumped when the draft is replaced from storage or cleared: re-renders the inputs.
    generation: RwSignal<u32>,
    /// Whose draft the form holds; `None` while loading or saving (autosave is off then).
    owner: RwSignal<Option<DraftKey>, LocalStorage>,
    pending: StoredValue<Option<Timeout>, LocalStorage>,
}

impl Form {
    fn edit(self, app: AppState, change: impl FnOnce(&mut OpinionDraft)) {
        self.draft.update(change);
        if self.submitted.get_untracked() {
            self.revalidate(app);
        }
        self.schedule_autosave(app);
    }

    fn revalidate(self, app: AppState) {
        let duty = app.duty.get_untracked();
        let categories = app.directory.with_untracked(|d| d.categories.clone());
        let result = self
            .draft
            .with_untracked(|d| d.validate(new_opinion_id(), duty.as_ref(), &categories, now_ms()));
        self.errors.set(result.err().unwrap_or_default());
    }

    fn schedule_autosave(self, app: AppState) {
        if self.pending.with_value(Option::is_some) {
            return; // a save is already on its way and will take the latest text
        }
        let timeout = Timeout::new(AUTOSAVE_DELAY_MS, move || {
            self.pending.set_value(None);
            self.save_draft_now(app);
        });
        self.pending.set_value(Some(timeout));
    }

    fn cancel_autosave(self) {
        if let Some(t) = self.pending.try_update_value(Option::take).flatten() {
            t.cancel();
        }
    }

    fn save_draft_now(self, app: AppState) {
        let Some(owner) = self.owner.get_untracked() else {
            return;
        };
        let draft = self.draft.get_untracked();
        leptos::task::spawn_local(async move {
            if let Err(e) = app.store().save_draft(&owner, &draft, now_ms()).await {
                web_sys::console::error_1(&format!("draft not saved: {e}").into());
            }
        });
    }

    fn error_text(self, i18n: I18n, field: Field) -> Option<String> {
        self.errors
            .with(|e| e.get(field).cloned())
            .map(|error| error_message(i18n, &error))
    }
}

pub fn error_message(i18n: I18n, error: &FieldError) -> String {
    let key = format!("error.{}", error.code());
    let max = error.max().map(|m| m.to_string()).unwrap_or_default();
    let min = match error {
        FieldError::OutOfRange { min, .. } => min.to_string(),
        _ => String::new(),
    };
    text_with(i18n.lang.get(), &key, &[("max", max), ("min", min)])
}

#[component]
pub fn CaptureScreen() -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let form = Form {
        draft: RwSignal::new(OpinionDraft::default()),
        errors: RwSignal::new(ValidationErrors::default()),
        submitted: RwSignal::new(false),
        generation: RwSignal::new(0),
        owner: RwSignal::new_local(None),
        pending: StoredValue::new_local(None),
    };
    let notice = RwSignal::new(Notice::None);
    let busy = RwSignal::new(false);

    // Load the draft of whoever is on duty; write the previous deputy's pending text first.
    Effect::new(move |_| {
        let duty = app.duty.get();
        if form.pending.with_value(Option::is_some) {
            form.cancel_autosave();
            form.save_draft_now(app);
        }
        form.owner.set(None);
        let Some(duty) = duty else {
            form.draft.set(OpinionDraft::default());
            form.generation.update(|g| *g += 1);
            return;
        };
        let key = DraftKey::for_context(&duty);
        leptos::task::spawn_local(async move {
            let loaded = app
                .store()
                .load_draft(&key)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            form.draft.set(loaded);
            form.errors.set(ValidationErrors::default());
            form.submitted.set(false);
            form.generation.update(|g| *g += 1);
            form.owner.set(Some(key));
        });
    });
    // The last keystrokes are written at once when the tab is hidden or closed, or when the app
    // must let go of storage.
    let flush = move || {
        if form.pending.with_value(Option::is_some) {
            form.cancel_autosave();
            form.save_draft_now(app);
        }
    };
    let _ = window_event_listener(leptos::ev::pagehide, move |_| flush());
    Effect::new(move |first: Option<()>| {
        app.flush.track();
        if first.is_some() {
            flush();
        }
    });
    on_cleanup(move || form.cancel_autosave());
    // For the start-up benchmark (and real-user timing): when the form can be used.
    request_animation_frame(|| {
        if let Some(performance) = web_sys::window().and_then(|w| w.performance()) {
            let _ = performance.mark("capture-form-ready");
        }
    });

    let save = move |_| {
        form.submitted.set(true);
        let duty = app.duty.get_untracked();
        let categories = app.directory.with_untracked(|d| d.categories.clone());
        let draft = form.draft.get_untracked();
        let opinion = match draft.validate(new_opinion_id(), duty.as_ref(), &categories, now_ms()) {
            Ok(opinion) => opinion,
            Err(errors) => {
                notice.set(Notice::Invalid(errors.0.len()));
                focus_field(errors.0.first().map(|(f, _)| *f));
                form.errors.set(errors);
                return;
            }
        };
        let key = duty.as_ref().map(DraftKey::for_context);
        form.cancel_autosave();
        form.owner.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            match app.store().save_opinion(&opinion, key.as_ref()).await {
                Ok(()) => {
                    form.draft.set(OpinionDraft::default());
                    form.errors.set(ValidationErrors::default());
                    form.submitted.set(false);
                    form.generation.update(|g| *g += 1);
                    notice.set(Notice::Saved);
                    app.local_change();
                }
                // Nothing was written. The form still shows everything; write it to the draft
                // now (the autosave was cancelled for the save) so a reload keeps it too.
                Err(e) => {
                    notice.set(Notice::Failed(e));
                    form.owner.set(key.clone());
                    form.save_draft_now(app);
                }
            }
            form.owner.set(key);
            busy.set(false);
        });
    };

    let discard = move |_| {
        let Some(duty) = app.duty.get_untracked() else {
            return;
        };
        let confirmed = web_sys::window()
            .and_then(|w| {
                w.confirm_with_message(&i18n.t("capture.discard_confirm"))
                    .ok()
            })
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        form.cancel_autosave();
        let key = DraftKey::for_context(&duty);
        leptos::task::spawn_local(async move {
            if app.store().discard_draft(&key).await.is_ok() {
                form.draft.set(OpinionDraft::default());
                form.errors.set(ValidationErrors::default());
                form.submitted.set(false);
                form.generation.update(|g| *g += 1);
                notice.set(Notice::None);
            }
        });
    };

    view! {
        <section class="capture">
            <h1>{tr("capture.title")}</h1>
            <Show when=move || app.duty.get().is_none()>
                <p class="error" id="error-deputy" role="alert">{tr("capture.need_duty")}</p>
            </Show>
            // Keyed by the generation: a new draft mounts fresh inputs. (A plain reactive block
            // would patch the old inputs in place and keep the text the deputy typed.)
            <For
                each=move || std::iter::once(form.generation.get())
                key=|generation| *generation
                children=move |_| view! { <FormFields form=form notice=notice/> }
            />
            <div class="actions">
                <button
                    id="save-opinion"
                    class="primary"
                    on:click=save
                    disabled=move || busy.get() || app.duty.get().is_none()
                >
                    {tr("capture.save")}
                </button>
                <button id="discard-draft" class="secondary" on:click=discard>
                    {tr("capture.discard")}
                </button>
            </div>
            <p id="save-notice" class="notice" role="status" aria-live="polite">
                {move || match notice.get() {
                    Notice::None => String::new(),
                    Notice::Saved => i18n.t("capture.saved"),
                    Notice::Invalid(n) => text_with(i18n.lang.get(), "capture.invalid", &[("n", n.to_string())]),
                    Notice::Failed(e) => format!("{} {}", i18n.t(e.message_key()), i18n.t("capture.kept_in_draft")),
                    Notice::PhotoFailed => i18n.t("capture.photo_failed"),
                }}
            </p>
        </section>
    }
}

fn focus_field(field: Option<Field>) {
    let Some(field) = field else { return };
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(&format!("field-{}", field.name())));
    if let Some(el) = element.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.focus();
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Input {
    Line,
    Tel,
    Multi,
}

#[component]
fn TextField(
    form: Form,
    field: Field,
    input: Input,
    max: usize,
    get: fn(&OpinionDraft) -> &String,
    set: fn(&mut OpinionDraft, String),
    #[prop(optional)] required: bool,
) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let id = format!("field-{}", field.name());
    let error_id = format!("error-{}", field.name());
    let label_key = format!("field.{}", field.name());
    let initial = form.draft.with_untracked(|d| get(d).clone());
    let on_input = move |ev: web_sys::Event| {
        let value = event_target_value(&ev);
        form.edit(app, |d| set(d, value));
    };
    let control = match input {
        Input::Multi => view! {
            <textarea id=id.clone() rows="4" maxlength=max.to_string() aria-describedby=error_id.clone()
                on:input=on_input>{initial}</textarea>
        }
        .into_any(),
        Input::Line | Input::Tel => view! {
            <input
                id=id.clone()
                type=if input == Input::Tel { "tel" } else { "text" }
                inputmode=if input == Input::Tel { "tel" } else { "text" }
                autocomplete="off"
                maxlength=max.to_string()
                aria-describedby=error_id.clone()
                value=initial
                on:input=on_input
            />
        }
        .into_any(),
    };
    view! {
        <div class="field" class:invalid=move || form.errors.with(|e| e.get(field).is_some())>
            <label for=id>
                {move || i18n.t(&label_key)}
                {required.then(|| view! { <span class="required">" *"</span> })}
            </label>
            {control}
            <p class="error" id=error_id>{move || form.error_text(i18n, field)}</p>
        </div>
    }
}

#[component]
fn FormFields(form: Form, notice: RwSignal<Notice>) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let draft = form.draft;
    let initial = draft.get_untracked();
    let anonymous = move || draft.with(|d| d.anonymous);
    let outcome = move || draft.with(|d| d.outcome);

    view! {
        <div class="field" class:invalid=move || form.errors.with(|e| e.get(Field::Category).is_some())>
            <label for="field-category">{tr("field.category")}<span class="required">" *"</span></label>
            <select
                id="field-category"
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    form.edit(app, |d| d.category = value);
                }
            >
                <option value="">{tr("capture.choose")}</option>
                {move || {
                    let english = i18n.lang.get().is_english();
                    let current = draft.with_untracked(|d| d.category.clone());
                    app.directory
                        .get()
                        .categories
                        .into_iter()
                        .map(|c| {
                            let selected = c.code == current;
                            view! { <option value=c.code.clone() selected=selected>{c.label(english).to_owned()}</option> }
                        })
                        .collect_view()
                }}
            </select>
            <p class="error" id="error-category">{move || form.error_text(i18n, Field::Category)}</p>
        </div>
        <TextField form=form field=Field::Summary input=Input::Line max=limits::SUMMARY required=true
            get=|d| &d.summary set=|d, v| d.summary = v/>
        <TextField form=form field=Field::Details input=Input::Multi max=limits::DETAILS
            get=|d| &d.details set=|d, v| d.details = v/>
        <TextField form=form field=Field::Place input=Input::Line max=limits::PLACE
            get=|d| &d.place set=|d, v| d.place = v/>

        <fieldset class="citizen">
            <legend>{tr("capture.citizen")}</legend>
            <label class="check">
                <input
                    id="field-anonymous"
                    type="checkbox"
                    checked=initial.anonymous
                    on:change=move |ev| {
                        let on = event_checked(&ev);
                        form.edit(app, |d| d.anonymous = on);
                    }
                />
                {tr("field.anonymous")}
            </label>
            <Show when=move || !anonymous()>
                <TextField form=form field=Field::CitizenName input=Input::Line max=limits::NAME
                    get=|d| &d.citizen_name set=|d, v| d.citizen_name = v/>
                <TextField form=form field=Field::CitizenPhone input=Input::Tel max=32
                    get=|d| &d.citizen_phone set=|d, v| d.citizen_phone = v/>
                <TextField form=form field=Field::CitizenAddress input=Input::Line max=limits::ADDRESS
                    get=|d| &d.citizen_address set=|d, v| d.citizen_address = v/>
                <div class="field" class:invalid=move || form.errors.with(|e| e.get(Field::Consent).is_some())>
                    <p class="notice-text" data-notice-version=CONSENT_NOTICE_VERSION>{tr("consent.notice")}</p>
                    <label class="check">
                        <input
                            id="field-consent"
                            type="checkbox"
                            checked=draft.with_untracked(|d| d.consent)
                            on:change=move |ev| {
                                let on = event_checked(&ev);
                                form.edit(app, |d| d.consent = on);
                            }
                        />
                        {tr("field.consent")}
                    </label>
                    <p class="error" id="error-consent">{move || form.error_text(i18n, Field::Consent)}</p>
                </div>
            </Show>
            <Show when=anonymous>
                <p class="hint">{tr("capture.anonymous_hint")}</p>
            </Show>
        </fieldset>

        <TextField form=form field=Field::OnSiteReply input=Input::Multi max=limits::ON_SITE_REPLY
            get=|d| &d.on_site_reply set=|d, v| d.on_site_reply = v/>

        <fieldset class="outcome" class:invalid=move || form.errors.with(|e| e.get(Field::Outcome).is_some())>
            <legend>{tr("field.outcome")}<span class="required">" *"</span></legend>
            {OutcomeKind::ALL
                .into_iter()
                .map(|kind| {
                    let label_key = format!("outcome.{}", kind.code());
                    view! {
                        <label class="radio">
                            <input
                                type="radio"
                                name="outcome"
                                id=format!("outcome-{}", kind.code())
                                value=kind.code()
                                checked=initial.outcome == Some(kind)
                                on:change=move |_| form.edit(app, |d| d.outcome = Some(kind))
                            />
                            {move || i18n.t(&label_key)}
                        </label>
                    }
                })
                .collect_view()}
            <p class="error" id="error-outcome">{move || form.error_text(i18n, Field::Outcome)}</p>
        </fieldset>
        <Show when=move || outcome() == Some(OutcomeKind::NotAccepted)>
            <div class="field" class:invalid=move || form.errors.with(|e| e.get(Field::Channel).is_some())>
                <label for="field-channel">{tr("field.channel")}<span class="required">" *"</span></label>
                <select
                    id="field-channel"
                    on:change=move |ev| {
                        let channel = RedirectChannel::from_code(&event_target_value(&ev));
                        form.edit(app, |d| d.channel = channel);
                    }
                >
                    <option value="">{tr("capture.choose")}</option>
                    {RedirectChannel::ALL
                        .into_iter()
                        .map(|c| {
                            let key = format!("channel.{}", c.code());
                            let selected = draft.with_untracked(|d| d.channel == Some(c));
                            view! { <option value=c.code() selected=selected>{move || i18n.t(&key)}</option> }
                        })
                        .collect_view()}
                </select>
                <p class="error" id="error-channel">{move || form.error_text(i18n, Field::Channel)}</p>
            </div>
        </Show>

        <PhotoField form=form notice=notice/>
    }
}

#[component]
fn PhotoField(form: Form, notice: RwSignal<Notice>) -> impl IntoView {
    let app = use_app();
    let i18n = use_i18n();
    let working = RwSignal::new(false);
    let on_change = move |ev: web_sys::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(files) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        input.set_value("");
        let Some(owner) = form.owner.get_untracked() else {
            return;
        };
        working.set(true);
        leptos::task::spawn_local(async move {
            for file in files {
                if form.draft.with_untracked(|d| d.photos.len()) >= limits::PHOTOS {
                    break;
                }
                let stored = match photo::downscale(&file).await {
                    Ok(small) => {
                        let new = NewPhoto {
                            id: new_photo_id(),
                            blob: small.blob,
                            width: small.width,
                            height: small.height,
                        };
                        app.store().put_draft_photo(&owner, new).await.ok()
                    }
                    Err(e) => {
                        web_sys::console::warn_1(&format!("photo not read: {e}").into());
                        None
                    }
                };
                match stored {
                    Some(reference) => form.edit(app, |d| d.photos.push(reference)),
                    None => notice.set(Notice::PhotoFailed),
                }
            }
            working.set(false);
        });
    };
    let full = move || form.draft.with(|d| d.photos.len() >= limits::PHOTOS);
    let remove = move |id: PhotoId| {
        form.edit(app, |d| d.photos.retain(|p| p.id != id));
        leptos::task::spawn_local(async move {
            let _ = app.store().delete_photo(id).await;
        });
    };
    view! {
        // Two ways in: the camera, or photos already on the tablet. The native file inputs are
        // hidden behind buttons in the user's language (the browser's own "Choose Files" text
        // follows the browser's language, not the app's).
        <div class="field photos">
            <span class="label">{tr("field.photos")}</span>
            <div class="photo-buttons">
                <label class="button" for="field-photos-camera">{tr("capture.photo_camera")}</label>
                <input
                    id="field-photos-camera"
                    class="visually-hidden"
                    type="file"
                    accept="image/*"
                    capture="environment"
                    on:change=on_change
                    disabled=move || full() || working.get()
                />
                <label class="button" for="field-photos">{tr("capture.photo_pick")}</label>
                <input
                    id="field-photos"
                    class="visually-hidden"
                    type="file"
                    accept="image/*"
                    multiple=true
                    on:change=on_change
                    disabled=move || full() || working.get()
                />
            </div>
            <Show when=move || working.get()>
                <span class="hint">{tr("capture.photo_working")}</span>
            </Show>
            <ul class="thumbs">
                <For
                    each=move || form.draft.with(|d| d.photos.clone())
                    key=|p| p.id
                    children=move |p| {
                        let id = p.id;
                        view! {
                            <li>
                                <PhotoThumb id=id/>
                                <button class="remove" aria-label=move || i18n.t("capture.photo_remove")
                                    on:click=move |_| remove(id)>"×"</button>
                            </li>
                        }
                    }
                />
            </ul>
            <p class="error" id="error-photos">{move || form.error_text(i18n, Field::Photos)}</p>
        </div>
    }
}

/// A stored photo shown from its blob. The object URL is revoked when the thumbnail goes away.
/// With `fetch`, a photo this tablet does not have (taken on another tablet) is fetched from the
/// server once and kept.
#[component]
pub fn PhotoThumb(
    id: PhotoId,
    #[prop(optional)] fetch: Option<(liaison_domain::OpinionId, liaison_domain::PhotoRef)>,
) -> impl IntoView {
    let app = use_app();
    let url = RwSignal::new_local(None::<String>);
    leptos::task::spawn_local(async move {
        let store = app.store();
        let blob = match store.photo_blob(id).await {
            Ok(Some(blob)) => Some(blob),
            Ok(None) => match (fetch, app.sync.session.get_untracked()) {
                (Some((opinion, reference)), Some(session)) => {
                    let fetched = crate::sync::api::fetch_photo(&session.token, opinion, id).await;
                    if let Some(blob) = &fetched {
                        let _ = store.put_fetched_photo(opinion, &reference, blob).await;
                    }
                    fetched
                }
                _ => None,
            },
            Err(_) => None,
        };
        if let Some(blob) = blob {
            url.set(crate::platform::object_url(&blob));
        }
    });
    on_cleanup(move || {
        if let Some(u) = url.get_untracked() {
            crate::platform::revoke_object_url(&u);
        }
    });
    view! {
        <img class="thumb photo" data-photo-id=id.to_string() src=move || url.get().unwrap_or_default() alt=""/>
    }
}
