//! One item (an opinion and its follow-up), shared by the tablet's `/records/<id>` (from the
//! tablet's own data; steps go through the outbox) and the back office's `/items/<id>` (from the
//! server; steps are posted): where it stands, its deadline in colour and words, its whole
//! history (who, when, what), and one button per step the signed-in account may take now, each
//! opening a form with only the fields that step needs.
//!
//! The page that shows the panel decides where the item comes from and how a step is saved; the
//! panel builds the step from the form and shows what came back: the domain's field errors next
//! to their fields, a refusal by the lifecycle (`transition.<code>`) or any other failure in
//! words. The form lives outside the reactive item, so a sync that refreshes the item while
//! someone types does not wipe what they typed.
//!
//! Opening a form makes the step's id ([`StepSubmission::id`]); every submission of that form
//! carries it, so a step sent again after its answer was lost is taken once. Opening a form
//! again makes a new one.

use crate::i18n::{I18n, text_with, tr, use_i18n};
use crate::pages::capture::error_message;
use crate::platform::{format_time, new_follow_up_id, today_in_china};
use crate::state::use_app;
use leptos::prelude::*;
use liaison_domain::followup::{
    Action as StepAction, ActionKind, Conclusion, Date, DeadlineColour, Evaluation, FeedbackMethod,
    FollowUp, HandlingUnit, Lifecycle, NoteKind, Status, TransitionError, WorkCalendar,
};
use liaison_domain::{
    Field, FollowUpId, Opinion, Outcome, RedirectChannel, Role, UnitId, ValidationErrors,
};

/// What the panel shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemData {
    pub opinion: Opinion,
    /// The citizen as this viewer may see them (masked), e.g. `张* 138****1234`; `None` when
    /// anonymous or not given.
    pub citizen_masked: Option<String>,
    pub lifecycle: Lifecycle,
    /// Oldest first.
    pub steps: Vec<FollowUp>,
    /// The deadline's colour while a unit holds the item.
    pub colour: Option<DeadlineColour>,
    /// The steps the signed-in account may take now; `None` when nobody is signed in.
    pub available: Option<Vec<ActionKind>>,
    /// Steps recorded on this tablet that the server has not acknowledged yet.
    pub unsynced: Vec<FollowUpId>,
}

/// A step as its form submits it: its id, made when the form opened (the same on every
/// submission of that form), and what it does.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSubmission {
    pub id: FollowUpId,
    pub action: StepAction,
}

/// Why a step was not taken, or not known to be: the page's message says which.
#[derive(Clone, Debug, PartialEq)]
pub enum StepFailure {
    /// What is wrong with which field (the domain's rules).
    Invalid(ValidationErrors),
    /// The lifecycle does not allow the step now.
    NotAllowed(TransitionError),
    /// Anything else, as the translation key of a message saying what to do.
    Message(String),
}

/// The deadline shown for an item a unit holds: its due date.
pub fn current_due(lifecycle: &Lifecycle) -> Option<Date> {
    match &lifecycle.status {
        Status::Referred { due, .. } | Status::InProgress { due, .. } => Some(*due),
        _ => None,
    }
}

/// The unit of the latest referral, by name, from the history.
fn current_unit_name(item: &ItemData) -> Option<String> {
    let unit = item.lifecycle.unit_id.as_ref()?;
    item.steps.iter().rev().find_map(|step| match &step.action {
        StepAction::Refer {
            unit_id, unit_name, ..
        } if unit_id == unit => Some(unit_name.clone()),
        _ => None,
    })
}

/// A deadline's colour as a badge: a colour and its words (never colour alone).
pub fn colour_badge(i18n: I18n, colour: Option<DeadlineColour>) -> impl IntoView {
    colour.map(|colour| {
        let key = format!("deadline.{}", colour.code());
        view! {
            <span class=format!("colour-badge colour-{}", colour.code())>{move || i18n.t(&key)}</span>
        }
    })
}

/// The form's inputs, kept while the item refreshes.
#[derive(Clone, Copy)]
struct StepForm {
    unit: RwSignal<String>,
    working_days: RwSignal<String>,
    extend_due: RwSignal<String>,
    reason: RwSignal<String>,
    reply: RwSignal<String>,
    conclusion: RwSignal<String>,
    feedback_method: RwSignal<String>,
    feedback_on: RwSignal<String>,
    evaluation: RwSignal<String>,
    note_kind: RwSignal<String>,
    channel: RwSignal<String>,
    note: RwSignal<String>,
}

/// The default referral deadline, in working days.
const DEFAULT_WORKING_DAYS: &str = "15";

impl StepForm {
    fn new() -> StepForm {
        StepForm {
            unit: RwSignal::new(String::new()),
            working_days: RwSignal::new(DEFAULT_WORKING_DAYS.to_owned()),
            extend_due: RwSignal::new(String::new()),
            reason: RwSignal::new(String::new()),
            reply: RwSignal::new(String::new()),
            conclusion: RwSignal::new(String::new()),
            feedback_method: RwSignal::new(String::new()),
            feedback_on: RwSignal::new(String::new()),
            evaluation: RwSignal::new(String::new()),
            note_kind: RwSignal::new(String::new()),
            channel: RwSignal::new(String::new()),
            note: RwSignal::new(String::new()),
        }
    }

    /// Empties the form for a new step (the inputs are made anew with these values).
    fn reset(self, role: Option<Role>) {
        self.unit.set(String::new());
        self.working_days.set(DEFAULT_WORKING_DAYS.to_owned());
        self.extend_due.set(String::new());
        self.reason.set(String::new());
        self.reply.set(String::new());
        self.conclusion.set("resolved".to_owned());
        self.feedback_method
            .set(FeedbackMethod::InPerson.code().to_owned());
        self.feedback_on.set(today_in_china().to_string());
        self.evaluation.set(Evaluation::Satisfied.code().to_owned());
        self.note_kind.set(note_kinds(role)[0].code().to_owned());
        self.channel.set(String::new());
        self.note.set(String::new());
    }

    /// The referral's deadline as typed so far: `working_days` working days after today on
    /// `calendar` (whether that number is allowed is the domain's check, on submit).
    fn referral_due(self, calendar: Option<&WorkCalendar>) -> Option<Date> {
        let days: u32 = self.working_days.get().trim().parse().ok()?;
        Some(calendar?.add_working_days(today_in_china(), days))
    }

    /// The step of `kind` as filled in, checked by the domain's rules (texts trimmed).
    fn build(
        self,
        kind: ActionKind,
        units: &[HandlingUnit],
        calendar: Option<&WorkCalendar>,
    ) -> Result<StepAction, StepFailure> {
        let mut missing = ValidationErrors::default();
        let text = |signal: RwSignal<String>| signal.get_untracked();
        let date = |signal: RwSignal<String>, missing: &mut ValidationErrors| {
            let parsed = Date::parse(&signal.get_untracked());
            if parsed.is_none() {
                missing.push(Field::Due, liaison_domain::FieldError::Required);
            }
            parsed.unwrap_or(Date::from_unix_ms(0, 0))
        };
        let action = match kind {
            ActionKind::Refer => {
                let unit_id = UnitId(text(self.unit));
                let unit_name = units
                    .iter()
                    .find(|u| u.id == unit_id)
                    .map(|u| u.name.clone())
                    .unwrap_or_default();
                let working_days: u32 = text(self.working_days).trim().parse().unwrap_or(0);
                let due = match calendar {
                    Some(calendar) => calendar.add_working_days(today_in_china(), working_days),
                    None => {
                        return Err(StepFailure::Message("item.calendar_missing".into()));
                    }
                };
                StepAction::Refer {
                    unit_id,
                    unit_name,
                    working_days,
                    due,
                    note: text(self.note),
                }
            }
            ActionKind::Accept => StepAction::Accept,
            ActionKind::Return => StepAction::Return {
                reason: text(self.reason),
            },
            ActionKind::Extend => StepAction::Extend {
                due: date(self.extend_due, &mut missing),
                reason: text(self.reason),
            },
            ActionKind::HandleByDeputy => StepAction::HandleByDeputy {
                note: text(self.note),
            },
            ActionKind::ConvertToSuggestion => StepAction::ConvertToSuggestion {
                note: text(self.note),
            },
            ActionKind::NotAccept => {
                let channel = RedirectChannel::from_code(&text(self.channel));
                if channel.is_none() {
                    missing.push(Field::Channel, liaison_domain::FieldError::Required);
                }
                StepAction::NotAccept {
                    channel: channel.unwrap_or(RedirectChannel::ALL[0]),
                    note: text(self.note),
                }
            }
            ActionKind::Conclude => StepAction::Conclude {
                conclusion: match text(self.conclusion).as_str() {
                    "planned" => Conclusion::Planned,
                    "cannot_be_solved" => Conclusion::CannotBeSolved {
                        reason: text(self.reason),
                    },
                    _ => Conclusion::Resolved,
                },
                reply: text(self.reply),
            },
            ActionKind::FeedBack => StepAction::FeedBack {
                method: FeedbackMethod::from_code(&text(self.feedback_method))
                    .unwrap_or(FeedbackMethod::InPerson),
                on: date(self.feedback_on, &mut missing),
                note: text(self.note),
            },
            ActionKind::Evaluate => StepAction::Evaluate {
                evaluation: Evaluation::from_code(&text(self.evaluation))
                    .unwrap_or(Evaluation::Satisfied),
                note: text(self.note),
            },
            ActionKind::Archive => StepAction::Archive,
            ActionKind::Note => StepAction::Note {
                kind: NoteKind::from_code(&text(self.note_kind)).unwrap_or(NoteKind::Reminder),
                text: text(self.note),
            },
        };
        let checked = action.validate();
        match checked {
            Ok(action) if missing.is_empty() => Ok(action),
            Ok(_) => Err(StepFailure::Invalid(missing)),
            Err(mut errors) => {
                errors.0.extend(missing.0);
                Err(StepFailure::Invalid(errors))
            }
        }
    }
}

/// The note kinds a role logs: a unit reports progress; everyone else logs reminders, visits
/// and return visits.
fn note_kinds(role: Option<Role>) -> Vec<NoteKind> {
    if role == Some(Role::HandlingUnit) {
        vec![NoteKind::Progress]
    } else {
        vec![NoteKind::Reminder, NoteKind::Visit, NoteKind::ReturnVisit]
    }
}

#[component]
pub fn ItemPanel(
    #[prop(into)] item: Signal<ItemData>,
    /// The signed-in account's role (which note kinds to offer).
    #[prop(into)]
    role: Signal<Option<Role>>,
    #[prop(into)] units: Signal<Vec<HandlingUnit>>,
    #[prop(into)] calendar: Signal<Option<WorkCalendar>>,
    /// Saves a step; the page updates `item` when it succeeds.
    submit: Action<StepSubmission, Result<(), StepFailure>>,
    /// Said under the buttons: where the step goes (the outbox, or the server).
    saves_hint: &'static str,
    /// Shown right under the item's facts (the back office's unmasking of the citizen).
    #[prop(optional, into)]
    below_facts: Option<ViewFn>,
) -> impl IntoView {
    let i18n = use_i18n();
    let app = use_app();
    let form = StepForm::new();
    let open = RwSignal::new(None::<ActionKind>);
    // The id of the step the open form takes: made when it opens, sent with every submission.
    let step_id = StoredValue::new(None::<FollowUpId>);
    let failure = RwSignal::new(None::<StepFailure>);
    // A step saved closes its form; a refusal stays in it, next to what was typed.
    Effect::new(move |_| {
        if let Some(result) = submit.value().get() {
            match result {
                Ok(()) => {
                    open.set(None);
                    failure.set(None);
                }
                Err(error) => failure.set(Some(error)),
            }
        }
    });
    let start = move |kind: ActionKind| {
        form.reset(role.get_untracked());
        step_id.set_value(Some(new_follow_up_id()));
        failure.set(None);
        open.set(Some(kind));
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(kind) = open.get_untracked() else {
            return;
        };
        if submit.pending().get_untracked() {
            return;
        }
        let built = units.with_untracked(|units| {
            calendar.with_untracked(|calendar| form.build(kind, units, calendar.as_ref()))
        });
        match built {
            Ok(action) => {
                let id = step_id.get_value().unwrap_or_else(|| {
                    let id = new_follow_up_id();
                    step_id.set_value(Some(id));
                    id
                });
                failure.set(None);
                submit.dispatch(StepSubmission { id, action });
            }
            Err(error) => failure.set(Some(error)),
        }
    };

    let status_code = move || item.with(|i| i.lifecycle.status.kind().code());
    let due = move || item.with(|i| current_due(&i.lifecycle).map(|d| (d, i.colour)));
    let facts = move || {
        let directory = app.directory.get();
        let english = i18n.lang.get().is_english();
        item.with(|i| {
            let o = &i.opinion;
            let category = directory
                .categories
                .iter()
                .find(|c| c.code == o.category)
                .map_or_else(|| o.category.clone(), |c| c.label(english).to_owned());
            let deputy = directory
                .deputy(&o.deputy_id)
                .map_or_else(|| o.deputy_id.0.clone(), |d| d.name.clone());
            let station = directory
                .station(&o.station_id)
                .map_or_else(|| o.station_id.0.clone(), |s| s.name.clone());
            let citizen = if o.citizen.anonymous {
                i18n.t("records.anonymous")
            } else {
                i.citizen_masked
                    .clone()
                    .unwrap_or_else(|| i18n.t("records.not_given"))
            };
            let rows = [
                ("field.category", category),
                ("field.outcome", outcome_text(i18n, &o.outcome)),
                ("field.details", o.details.clone()),
                ("field.place", o.place.clone()),
                ("records.citizen", citizen),
                ("field.on_site_reply", o.on_site_reply.clone()),
                ("records.deputy", deputy),
                ("field.station", station),
                ("item.recorded_at", format_time(o.created_at_ms)),
            ];
            rows.into_iter()
                .filter(|(_, value)| !value.trim().is_empty())
                .map(|(key, value)| {
                    view! {
                        <div class="row">
                            <dt>{move || i18n.t(key)}</dt>
                            <dd>{value}</dd>
                        </div>
                    }
                })
                .collect_view()
        })
    };

    view! {
        <article class="item">
            <header class="item-head">
                <h1 class="item-summary">{move || item.with(|i| i.opinion.summary.clone())}</h1>
                <div class="item-state">
                    <span id="item-status" class="status-badge" data-status=status_code>
                        {move || i18n.t(&format!("status.{}", status_code()))}
                    </span>
                    {move || due().map(|(due, colour)| view! {
                        <span id="item-due" class="due" data-colour=colour.map(|c| c.code()).unwrap_or_default()>
                            {move || text_with(i18n.lang.get(), "item.due", &[("due", due.to_string())])}
                            " "
                            {colour_badge(i18n, colour)}
                        </span>
                    })}
                    {move || item.with(current_unit_name).filter(|_| due().is_some()).map(|unit| view! {
                        <span class="unit">{move || text_with(i18n.lang.get(), "item.held_by", &[("unit", unit.clone())])}</span>
                    })}
                </div>
            </header>
            <dl class="item-facts">{facts}</dl>
            {below_facts.map(|below| below.run())}

            <section class="item-history" aria-labelledby="item-history-title">
                <h2 id="item-history-title">{tr("item.history")}</h2>
                <Show when=move || item.with(|i| i.steps.is_empty())>
                    <p class="hint">{tr("item.no_steps")}</p>
                </Show>
                <ol id="item-steps">
                    {move || item.with(|i| {
                        i.steps
                            .iter()
                            .map(|step| step_view(i18n, step, i.unsynced.contains(&step.id)))
                            .collect_view()
                    })}
                </ol>
            </section>

            <section class="item-actions" aria-labelledby="item-actions-title">
                <h2 id="item-actions-title">{tr("item.next_steps")}</h2>
                {move || match item.with(|i| i.available.clone()) {
                    None => view! { <p class="hint" id="item-sign-in-hint">{tr("item.sign_in_hint")}</p> }.into_any(),
                    Some(kinds) if kinds.is_empty() => view! { <p class="hint">{tr("item.nothing_to_do")}</p> }.into_any(),
                    Some(kinds) => view! {
                        <div class="step-buttons">
                            {kinds.into_iter().map(|kind| {
                                let key = format!("action.{}", kind.code());
                                view! {
                                    <button
                                        type="button"
                                        id=format!("step-{}", kind.code())
                                        class="step-button"
                                        class:chosen=move || open.get() == Some(kind)
                                        aria-expanded=move || (open.get() == Some(kind)).to_string()
                                        on:click=move |_| start(kind)
                                    >
                                        {move || i18n.t(&key)}
                                    </button>
                                }
                            }).collect_view()}
                        </div>
                        <p class="hint">{tr(saves_hint)}</p>
                    }.into_any(),
                }}
                {move || open.get().map(|kind| view! {
                    <StepFormView kind=kind form=form failure=failure role=role units=units calendar=calendar
                        busy=submit.pending() on_submit=on_submit on_cancel=move || open.set(None)/>
                })}
            </section>
        </article>
    }
}

fn outcome_text(i18n: I18n, outcome: &Outcome) -> String {
    let base = i18n.t(&format!("outcome.{}", outcome.kind().code()));
    match outcome {
        Outcome::NotAccepted { channel } => format!(
            "{base}（{}）",
            i18n.t(&format!("channel.{}", channel.code()))
        ),
        _ => base,
    }
}

/// One step of the history: what, who (name and role), when, and its data in words.
fn step_view(i18n: I18n, step: &FollowUp, unsynced: bool) -> impl IntoView + use<> {
    let kind = step.action.kind();
    let action_key = format!("action.{}", kind.code());
    let role_key = format!("role.{}", step.by.role.as_str());
    let name = step.by.name.clone();
    let at = format_time(step.at_ms);
    let rows = step_rows(i18n, &step.action)
        .into_iter()
        .map(|(key, value)| {
            view! {
                <div class="row">
                    <dt>{move || i18n.t(key)}</dt>
                    <dd>{value}</dd>
                </div>
            }
        })
        .collect_view();
    view! {
        <li class="step" class:unsynced=unsynced data-action=kind.code()>
            <div class="step-head">
                <strong class="step-action">{move || i18n.t(&action_key)}</strong>
                <span class="step-who">{move || format!("{name}（{}）", i18n.t(&role_key))}</span>
                <time class="step-when">{at}</time>
                {unsynced.then(|| view! { <span class="step-unsynced">{tr("item.unsynced")}</span> })}
            </div>
            <dl class="step-data">{rows}</dl>
        </li>
    }
}

/// A step's data as `(label key, value in words)` rows; empty texts are left out.
fn step_rows(i18n: I18n, action: &StepAction) -> Vec<(&'static str, String)> {
    let t = |key: String| i18n.t(&key);
    let lang = i18n.lang.get();
    let rows = match action {
        StepAction::Refer {
            unit_name,
            working_days,
            due,
            note,
            ..
        } => vec![
            ("field.unit", unit_name.clone()),
            (
                "field.working_days",
                text_with(
                    lang,
                    "item.working_days",
                    &[("n", working_days.to_string())],
                ),
            ),
            ("field.due", due.to_string()),
            ("field.note", note.clone()),
        ],
        StepAction::Accept | StepAction::Archive => vec![],
        StepAction::Return { reason } => vec![("field.reason", reason.clone())],
        StepAction::Extend { due, reason } => vec![
            ("field.due", due.to_string()),
            ("field.reason", reason.clone()),
        ],
        StepAction::HandleByDeputy { note } | StepAction::ConvertToSuggestion { note } => {
            vec![("field.note", note.clone())]
        }
        StepAction::NotAccept { channel, note } => vec![
            ("field.channel", t(format!("channel.{}", channel.code()))),
            ("field.note", note.clone()),
        ],
        StepAction::Conclude { conclusion, reply } => {
            let mut rows = vec![(
                "field.conclusion",
                t(format!("conclusion.{}", conclusion.code())),
            )];
            if let Conclusion::CannotBeSolved { reason } = conclusion {
                rows.push(("field.reason", reason.clone()));
            }
            rows.push(("field.reply", reply.clone()));
            rows
        }
        StepAction::FeedBack { method, on, note } => vec![
            (
                "field.feedback_method",
                t(format!("feedback_method.{}", method.code())),
            ),
            ("field.feedback_on", on.to_string()),
            ("field.note", note.clone()),
        ],
        StepAction::Evaluate { evaluation, note } => vec![
            (
                "field.evaluation",
                t(format!("evaluation.{}", evaluation.code())),
            ),
            ("field.note", note.clone()),
        ],
        StepAction::Note { kind, text } => vec![
            ("field.note_kind", t(format!("note.{}", kind.code()))),
            ("field.note", text.clone()),
        ],
    };
    rows.into_iter()
        .filter(|(_, value)| !value.trim().is_empty())
        .collect()
}

/// The form of one step: only the fields it needs, then submit and cancel.
#[component]
fn StepFormView(
    kind: ActionKind,
    form: StepForm,
    failure: RwSignal<Option<StepFailure>>,
    role: Signal<Option<Role>>,
    units: Signal<Vec<HandlingUnit>>,
    calendar: Signal<Option<WorkCalendar>>,
    busy: Memo<bool>,
    on_submit: impl Fn(leptos::ev::SubmitEvent) + 'static,
    on_cancel: impl Fn() + 'static,
) -> impl IntoView {
    let i18n = use_i18n();
    let invalid = move |field: Field| {
        failure.with(
            |f| matches!(f, Some(StepFailure::Invalid(errors)) if errors.get(field).is_some()),
        )
    };
    let field_error = move |field: Field| {
        move || {
            failure.with(|f| match f {
                Some(StepFailure::Invalid(errors)) => errors.get(field).map(|e| {
                    view! { <p class="field-error error" role="alert">{error_message(i18n, e)}</p> }
                }),
                _ => None,
            })
        }
    };
    let title_key = format!("action.{}", kind.code());
    let uses = |fields: &[ActionKind]| fields.contains(&kind);
    let text_area =
        move |id: &'static str, label: &'static str, signal: RwSignal<String>, field: Field| {
            view! {
                <div class="field">
                    <label for=id>{tr(label)}</label>
                    <textarea id=id rows="3" prop:value=signal.get_untracked()
                        on:input=move |ev| signal.set(event_target_value(&ev))></textarea>
                    {field_error(field)}
                </div>
            }
        };
    let select = move |id: &'static str,
                       label: &'static str,
                       signal: RwSignal<String>,
                       options: Vec<(String, String)>,
                       placeholder: bool,
                       field: Option<Field>| {
        view! {
            <div class="field" class:invalid=move || field.is_some_and(invalid)>
                <label for=id>{tr(label)}</label>
                <select id=id on:change=move |ev| signal.set(event_target_value(&ev))>
                    {placeholder.then(|| view! { <option value="" selected=move || signal.get().is_empty()>{tr("capture.choose")}</option> })}
                    {options.into_iter().map(|(value, text)| {
                        let selected = {
                            let value = value.clone();
                            move || signal.get() == value
                        };
                        view! { <option value=value selected=selected>{text}</option> }
                    }).collect_view()}
                </select>
                {field.map(field_error)}
            </div>
        }
    };
    let coded = move |prefix: &'static str, codes: Vec<&'static str>| {
        codes
            .into_iter()
            .map(|code| (code.to_owned(), i18n.t(&format!("{prefix}.{code}"))))
            .collect::<Vec<_>>()
    };

    let refer = uses(&[ActionKind::Refer]).then(|| {
        let unit_options = move || {
            units
                .get()
                .into_iter()
                .map(|u| (u.id.0, u.name))
                .collect::<Vec<_>>()
        };
        view! {
            {move || select("step-unit", "field.unit", form.unit, unit_options(), true, Some(Field::Unit))}
            <Show when=move || units.with(Vec::is_empty)>
                <p class="hint" role="alert">{tr("item.units_missing")}</p>
            </Show>
            <div class="field" class:invalid=move || invalid(Field::WorkingDays)>
                <label for="step-working-days">{tr("field.working_days")}</label>
                <input id="step-working-days" type="number" inputmode="numeric" min="1"
                    max=liaison_domain::followup::lifecycle::limits::MAX_WORKING_DAYS.to_string()
                    prop:value=form.working_days.get_untracked()
                    on:input=move |ev| form.working_days.set(event_target_value(&ev))/>
                {field_error(Field::WorkingDays)}
            </div>
            <div class="field">
                <span class="label">{tr("field.due")}</span>
                <output id="step-due" class="computed-due">
                    {move || calendar.with(|c| match form.referral_due(c.as_ref()) {
                        Some(due) => due.to_string(),
                        None if c.is_none() => i18n.t("item.calendar_missing"),
                        None => "—".to_owned(),
                    })}
                </output>
                <p class="hint">{tr("item.due_hint")}</p>
            </div>
        }
    });
    let extend = uses(&[ActionKind::Extend]).then(|| {
        view! {
            <div class="field">
                <label for="step-extend-due">{tr("item.new_due")}</label>
                <input id="step-extend-due" type="date"
                    on:input=move |ev| form.extend_due.set(event_target_value(&ev))
                    on:change=move |ev| form.extend_due.set(event_target_value(&ev))/>
                {field_error(Field::Due)}
            </div>
        }
    });
    let channel = uses(&[ActionKind::NotAccept]).then(|| {
        let options = coded(
            "channel",
            RedirectChannel::ALL.iter().map(|c| c.code()).collect(),
        );
        select(
            "step-channel",
            "field.channel",
            form.channel,
            options,
            true,
            Some(Field::Channel),
        )
    });
    let conclusion = uses(&[ActionKind::Conclude]).then(|| {
        let options = coded(
            "conclusion",
            vec!["resolved", "planned", "cannot_be_solved"],
        );
        select(
            "step-conclusion",
            "field.conclusion",
            form.conclusion,
            options,
            false,
            None,
        )
    });
    let feed_back = uses(&[ActionKind::FeedBack]).then(|| {
        let options = coded(
            "feedback_method",
            FeedbackMethod::ALL.iter().map(|m| m.code()).collect(),
        );
        view! {
            {select("step-feedback-method", "field.feedback_method", form.feedback_method, options, false, None)}
            <div class="field">
                <label for="step-feedback-on">{tr("field.feedback_on")}</label>
                <input id="step-feedback-on" type="date" prop:value=form.feedback_on.get_untracked()
                    on:input=move |ev| form.feedback_on.set(event_target_value(&ev))
                    on:change=move |ev| form.feedback_on.set(event_target_value(&ev))/>
                {field_error(Field::Due)}
            </div>
        }
    });
    let evaluation = uses(&[ActionKind::Evaluate]).then(|| {
        let options = coded(
            "evaluation",
            Evaluation::ALL.iter().map(|e| e.code()).collect(),
        );
        view! {
            {select("step-evaluation", "field.evaluation", form.evaluation, options, false, None)}
            <p class="hint">{tr("item.dissatisfied_reopens")}</p>
        }
    });
    let note_kind = uses(&[ActionKind::Note]).then(|| {
        let options = coded(
            "note",
            note_kinds(role.get_untracked())
                .iter()
                .map(|k| k.code())
                .collect(),
        );
        select(
            "step-note-kind",
            "field.note_kind",
            form.note_kind,
            options,
            false,
            None,
        )
    });
    // The reason: a return, an extension, and a conclusion that it cannot be solved.
    let reason = move || {
        let needed = match kind {
            ActionKind::Return | ActionKind::Extend => true,
            ActionKind::Conclude => form.conclusion.get() == "cannot_be_solved",
            _ => false,
        };
        needed.then(|| text_area("step-reason", "field.reason", form.reason, Field::Reason))
    };
    let reply = uses(&[ActionKind::Conclude])
        .then(|| text_area("step-reply", "field.reply", form.reply, Field::Reply));
    let note = uses(&[
        ActionKind::Refer,
        ActionKind::HandleByDeputy,
        ActionKind::ConvertToSuggestion,
        ActionKind::NotAccept,
        ActionKind::FeedBack,
        ActionKind::Evaluate,
        ActionKind::Note,
    ])
    .then(|| {
        let label = if kind == ActionKind::Note {
            "field.note_text"
        } else {
            "field.note"
        };
        text_area("step-note", label, form.note, Field::Note)
    });
    let confirm_only = uses(&[ActionKind::Accept, ActionKind::Archive]).then(|| {
        let key = format!("item.confirm.{}", kind.code());
        view! { <p class="hint">{move || i18n.t(&key)}</p> }
    });

    view! {
        <form class="step-form" on:submit=on_submit novalidate=true>
            <h3>{move || i18n.t(&title_key)}</h3>
            {confirm_only}
            {refer}
            {extend}
            {channel}
            {conclusion}
            {reason}
            {reply}
            {feed_back}
            {evaluation}
            {note_kind}
            {note}
            <Show when=move || failure.with(|f| matches!(f, Some(StepFailure::Invalid(_))))>
                <p class="error form-error" role="alert">{tr("item.fix_fields")}</p>
            </Show>
            {move || failure.with(|f| match f {
                Some(StepFailure::NotAllowed(error)) => Some(i18n.t(&format!("transition.{}", error.code()))),
                Some(StepFailure::Message(key)) => Some(i18n.t(key)),
                _ => None,
            }).map(|message| view! { <p id="step-error" class="error" role="alert">{message}</p> })}
            <div class="form-actions">
                <button id="step-submit" type="submit" class="primary" disabled=move || busy.get()>
                    {tr("item.submit")}
                </button>
                <button id="step-cancel" type="button" on:click=move |_| on_cancel()>{tr("item.cancel")}</button>
            </div>
        </form>
    }
}
