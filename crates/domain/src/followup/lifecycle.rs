//! The opinion lifecycle (see `../shared/domain.md`) as a state machine over append-only steps.
//!
//! Every step taken on an opinion after intake is a [`FollowUp`]: who took it, when, and the
//! [`Action`] with its reasons. Nothing is edited or removed; the [`Status`] is whatever the steps
//! lead to, replayed from the intake decision ([`Lifecycle::replay`]). The same rule decides on
//! the tablet (which buttons to offer, offline) and on the server (which pushed steps to accept):
//! [`Lifecycle::check`].
//!
//! ```text
//!                        ┌──────────── intake decision ────────────┐
//!   answered_on_spot   registered   handled_by_deputy   not_accepted
//!        │               │  ▲ ▲          │                  │
//!        │        refer  ▼  │ └─ dissatisfied ─┐            │
//!        │          referred ── return ─▶ returned ─ refer ─┘ (back to referred)
//!        │               │ accept                           │
//!        │          in_progress ◀─ extend                   │
//!        │               │ conclude          conclude ◀─────┘ (the deputy's own handling)
//!        │          concluded ─ feed back ─▶ fed_back ─ evaluate ─▶ evaluated ─ archive ─▶ archived
//!        └──────────── evaluate / archive ─────────────────────────┘
//! ```
//!
//! A dissatisfied evaluation reopens the item (重办): it goes back to `reopened`, from where it
//! is referred again or handled by the deputy, under supervision. Notes (reminders, visits,
//! return visits, a unit's progress report) are steps that change no status.
//!
//! Who may take a step is part of the rule ([`Lifecycle::check`] takes the [`Actor`]): a handling
//! unit only acts on what is referred to it, now; deputies do not refer or archive. Whether the
//! actor's scope covers the opinion's station is the server's check
//! ([`can_write_station`](crate::account::can_write_station)), made before this one.

use crate::account::Role;
use crate::error::{Field, FieldError, ValidationErrors};
use crate::followup::calendar::Date;
use crate::ids::{FollowUpId, UnitId};
use crate::opinion::{Outcome, RedirectChannel};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Length limits of a step's texts, in characters.
pub mod limits {
    /// A reason, a note, a reply.
    pub const TEXT: usize = 2000;
    /// The longest referral deadline, in working days (a planned item is concluded as "planned",
    /// not kept open for a year).
    pub const MAX_WORKING_DAYS: u32 = 250;
    /// A unit's name as recorded with a referral.
    pub const UNIT_NAME: usize = 200;
    /// An actor's display name as recorded with a step.
    pub const ACTOR_NAME: usize = 100;
    /// How far ahead of the server's clock a step's time may be (a tablet clock a little fast).
    pub const CLOCK_AHEAD_MS: u64 = 10 * 60 * 1000;
    /// How far before the item's creation a step's time may be (the devices' clocks differ a
    /// little; a day more is a wrong clock).
    pub const CLOCK_BEHIND_MS: u64 = 24 * 60 * 60 * 1000;
}

/// How a unit concluded an item (办结).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Conclusion {
    /// 已解决
    Resolved,
    /// 列入计划逐步解决
    Planned,
    /// 确实不能解决并说明原因: the reason is required.
    CannotBeSolved { reason: String },
}

impl Conclusion {
    /// Code used in translation keys (`conclusion.<code>`) and statistics.
    pub fn code(&self) -> &'static str {
        match self {
            Conclusion::Resolved => "resolved",
            Conclusion::Planned => "planned",
            Conclusion::CannotBeSolved { .. } => "cannot_be_solved",
        }
    }
}

/// The citizen's evaluation (评价).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evaluation {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意: reopens the item.
    Dissatisfied,
}

impl Evaluation {
    pub const ALL: [Evaluation; 3] = [
        Evaluation::Satisfied,
        Evaluation::BasicallySatisfied,
        Evaluation::Dissatisfied,
    ];

    /// Code used in element values and translation keys (`evaluation.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            Evaluation::Satisfied => "satisfied",
            Evaluation::BasicallySatisfied => "basically_satisfied",
            Evaluation::Dissatisfied => "dissatisfied",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

/// How the citizen was told the result (反馈方式).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackMethod {
    /// 当面 (at a return visit or at the station)
    InPerson,
    /// 电话
    Phone,
    /// 短信 / 微信
    Message,
    /// 书面
    Letter,
}

impl FeedbackMethod {
    pub const ALL: [FeedbackMethod; 4] = [
        FeedbackMethod::InPerson,
        FeedbackMethod::Phone,
        FeedbackMethod::Message,
        FeedbackMethod::Letter,
    ];

    /// Code used in element values and translation keys (`feedback_method.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            FeedbackMethod::InPerson => "in_person",
            FeedbackMethod::Phone => "phone",
            FeedbackMethod::Message => "message",
            FeedbackMethod::Letter => "letter",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code)
    }
}

/// A supervision note logged against an item; it changes no status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// 电话提醒 / 催办: a reminder to the handling unit.
    Reminder,
    /// 调研走访: a visit to the site or the unit.
    Visit,
    /// 回访: a return visit to the citizen.
    ReturnVisit,
    /// 办理进展: the handling unit's progress report.
    Progress,
}

impl NoteKind {
    pub const ALL: [NoteKind; 4] = [
        NoteKind::Reminder,
        NoteKind::Visit,
        NoteKind::ReturnVisit,
        NoteKind::Progress,
    ];

    /// Code used in element values and translation keys (`note.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            NoteKind::Reminder => "reminder",
            NoteKind::Visit => "visit",
            NoteKind::ReturnVisit => "return_visit",
            NoteKind::Progress => "progress",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.code() == code)
    }
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// 交办: to a handling unit, due `due` (`working_days` working days after the referral, as
    /// the referring side's calendar counted them; the server checks it with its own).
    Refer {
        unit_id: UnitId,
        unit_name: String,
        working_days: u32,
        due: Date,
        #[serde(default)]
        note: String,
    },
    /// 签收: the unit takes the item on.
    Accept,
    /// 退回: the unit sends it back, saying why; it is then referred again.
    Return { reason: String },
    /// 延期: a later deadline, with the reason.
    Extend { due: Date, reason: String },
    /// 代表自行办理: the deputy takes it on.
    HandleByDeputy {
        #[serde(default)]
        note: String,
    },
    /// 转为代表建议
    ConvertToSuggestion {
        #[serde(default)]
        note: String,
    },
    /// 不予受理, with the channel the citizen was directed to.
    NotAccept {
        channel: RedirectChannel,
        #[serde(default)]
        note: String,
    },
    /// 办结, with the reply.
    Conclude {
        conclusion: Conclusion,
        reply: String,
    },
    /// 反馈: how and when the citizen was told.
    FeedBack {
        method: FeedbackMethod,
        on: Date,
        #[serde(default)]
        note: String,
    },
    /// 评价
    Evaluate {
        evaluation: Evaluation,
        #[serde(default)]
        note: String,
    },
    /// 归档 / 销号
    Archive,
    /// A supervision note (reminder, visit, return visit, progress).
    Note { kind: NoteKind, text: String },
}

/// An action's kind, without its data: for translation keys and permission tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Refer,
    Accept,
    Return,
    Extend,
    HandleByDeputy,
    ConvertToSuggestion,
    NotAccept,
    Conclude,
    FeedBack,
    Evaluate,
    Archive,
    Note,
}

impl ActionKind {
    pub const ALL: [ActionKind; 12] = [
        ActionKind::Refer,
        ActionKind::Accept,
        ActionKind::Return,
        ActionKind::Extend,
        ActionKind::HandleByDeputy,
        ActionKind::ConvertToSuggestion,
        ActionKind::NotAccept,
        ActionKind::Conclude,
        ActionKind::FeedBack,
        ActionKind::Evaluate,
        ActionKind::Archive,
        ActionKind::Note,
    ];

    /// Code used in translation keys (`action.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            ActionKind::Refer => "refer",
            ActionKind::Accept => "accept",
            ActionKind::Return => "return",
            ActionKind::Extend => "extend",
            ActionKind::HandleByDeputy => "handle_by_deputy",
            ActionKind::ConvertToSuggestion => "convert_to_suggestion",
            ActionKind::NotAccept => "not_accept",
            ActionKind::Conclude => "conclude",
            ActionKind::FeedBack => "feed_back",
            ActionKind::Evaluate => "evaluate",
            ActionKind::Archive => "archive",
            ActionKind::Note => "note",
        }
    }
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Refer { .. } => ActionKind::Refer,
            Action::Accept => ActionKind::Accept,
            Action::Return { .. } => ActionKind::Return,
            Action::Extend { .. } => ActionKind::Extend,
            Action::HandleByDeputy { .. } => ActionKind::HandleByDeputy,
            Action::ConvertToSuggestion { .. } => ActionKind::ConvertToSuggestion,
            Action::NotAccept { .. } => ActionKind::NotAccept,
            Action::Conclude { .. } => ActionKind::Conclude,
            Action::FeedBack { .. } => ActionKind::FeedBack,
            Action::Evaluate { .. } => ActionKind::Evaluate,
            Action::Archive => ActionKind::Archive,
            Action::Note { .. } => ActionKind::Note,
        }
    }

    /// The step's own rules (texts present and within limits, a sane deadline), independent of
    /// the item's status. Returns the action with its texts trimmed.
    pub fn validate(&self) -> Result<Action, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut text = |field: Field, value: &str, required: bool| -> String {
            let value = value.trim();
            if required && value.is_empty() {
                errors.push(field, FieldError::Required);
            } else if value.chars().count() > limits::TEXT {
                errors.push(field, FieldError::TooLong { max: limits::TEXT });
            } else if let Err(e) = crate::text::check_multi_line(value) {
                errors.push(field, e);
            }
            value.to_owned()
        };
        let action = match self {
            Action::Refer {
                unit_id,
                unit_name,
                working_days,
                due,
                note,
            } => {
                let note = text(Field::Note, note, false);
                if unit_id.0.trim().is_empty() {
                    errors.push(Field::Unit, FieldError::Required);
                } else if let Err(e) = crate::text::check_single_line(&unit_id.0)
                    .and_then(|()| crate::text::check_single_line(unit_name))
                {
                    errors.push(Field::Unit, e);
                } else if unit_name.trim().chars().count() > limits::UNIT_NAME {
                    errors.push(
                        Field::Unit,
                        FieldError::TooLong {
                            max: limits::UNIT_NAME,
                        },
                    );
                }
                if !(1..=limits::MAX_WORKING_DAYS).contains(working_days) {
                    errors.push(
                        Field::WorkingDays,
                        FieldError::OutOfRange {
                            min: 1,
                            max: limits::MAX_WORKING_DAYS as usize,
                        },
                    );
                }
                Action::Refer {
                    unit_id: unit_id.clone(),
                    unit_name: unit_name.trim().to_owned(),
                    working_days: *working_days,
                    due: *due,
                    note,
                }
            }
            Action::Accept => Action::Accept,
            Action::Return { reason } => Action::Return {
                reason: text(Field::Reason, reason, true),
            },
            Action::Extend { due, reason } => Action::Extend {
                due: *due,
                reason: text(Field::Reason, reason, true),
            },
            Action::HandleByDeputy { note } => Action::HandleByDeputy {
                note: text(Field::Note, note, false),
            },
            Action::ConvertToSuggestion { note } => Action::ConvertToSuggestion {
                note: text(Field::Note, note, false),
            },
            Action::NotAccept { channel, note } => Action::NotAccept {
                channel: *channel,
                note: text(Field::Note, note, false),
            },
            Action::Conclude { conclusion, reply } => {
                let conclusion = match conclusion {
                    Conclusion::CannotBeSolved { reason } => Conclusion::CannotBeSolved {
                        reason: text(Field::Reason, reason, true),
                    },
                    other => other.clone(),
                };
                Action::Conclude {
                    conclusion,
                    reply: text(Field::Reply, reply, true),
                }
            }
            Action::FeedBack { method, on, note } => Action::FeedBack {
                method: *method,
                on: *on,
                note: text(Field::Note, note, false),
            },
            Action::Evaluate { evaluation, note } => Action::Evaluate {
                evaluation: *evaluation,
                note: text(Field::Note, note, false),
            },
            Action::Archive => Action::Archive,
            Action::Note { kind, text: body } => Action::Note {
                kind: *kind,
                text: text(Field::Note, body, true),
            },
        };
        errors.into_result(action)
    }
}

/// Who took a step, as recorded with it. The server checks that it is the signed-in account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: String,
    /// The display name at the time, so the history reads the same after a rename.
    pub name: String,
    pub role: Role,
    /// The unit of a handling-unit account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<UnitId>,
}

/// One step of an opinion's follow-up. Append-only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub id: FollowUpId,
    /// When it was recorded, by the recording device's clock (milliseconds since the epoch).
    pub at_ms: u64,
    pub by: Actor,
    #[serde(flatten)]
    pub action: Action,
}

/// Where an item stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Recorded, waiting for a decision on how it is handled (拟转办, or not yet decided).
    Registered,
    /// 现场答复: answered when it was raised.
    AnsweredOnSpot,
    /// 代表自行办理, in progress.
    HandledByDeputy,
    /// 已交办, waiting for the unit to accept it.
    Referred { unit_id: UnitId, due: Date },
    /// 已退回 by the unit; to be referred again.
    Returned { unit_id: UnitId },
    /// 办理中 at the unit.
    InProgress { unit_id: UnitId, due: Date },
    /// 已转为代表建议
    ConvertedToSuggestion,
    /// 不予受理
    NotAccepted { channel: RedirectChannel },
    /// 已办结
    Concluded { conclusion: Conclusion },
    /// 已反馈, waiting for the citizen's evaluation.
    FedBack,
    /// 已评价 (satisfied or basically satisfied).
    Evaluated { evaluation: Evaluation },
    /// 重办: evaluated dissatisfied; to be referred or handled again.
    Reopened,
    /// 已归档
    Archived,
}

/// A status without its data: for filters, translation keys and statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Registered,
    AnsweredOnSpot,
    HandledByDeputy,
    Referred,
    Returned,
    InProgress,
    ConvertedToSuggestion,
    NotAccepted,
    Concluded,
    FedBack,
    Evaluated,
    Reopened,
    Archived,
}

impl StatusKind {
    pub const ALL: [StatusKind; 13] = [
        StatusKind::Registered,
        StatusKind::AnsweredOnSpot,
        StatusKind::HandledByDeputy,
        StatusKind::Referred,
        StatusKind::Returned,
        StatusKind::InProgress,
        StatusKind::ConvertedToSuggestion,
        StatusKind::NotAccepted,
        StatusKind::Concluded,
        StatusKind::FedBack,
        StatusKind::Evaluated,
        StatusKind::Reopened,
        StatusKind::Archived,
    ];

    /// Code used in filters, storage and translation keys (`status.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            StatusKind::Registered => "registered",
            StatusKind::AnsweredOnSpot => "answered_on_spot",
            StatusKind::HandledByDeputy => "handled_by_deputy",
            StatusKind::Referred => "referred",
            StatusKind::Returned => "returned",
            StatusKind::InProgress => "in_progress",
            StatusKind::ConvertedToSuggestion => "converted_to_suggestion",
            StatusKind::NotAccepted => "not_accepted",
            StatusKind::Concluded => "concluded",
            StatusKind::FedBack => "fed_back",
            StatusKind::Evaluated => "evaluated",
            StatusKind::Reopened => "reopened",
            StatusKind::Archived => "archived",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }
}

impl Status {
    pub fn kind(&self) -> StatusKind {
        match self {
            Status::Registered => StatusKind::Registered,
            Status::AnsweredOnSpot => StatusKind::AnsweredOnSpot,
            Status::HandledByDeputy => StatusKind::HandledByDeputy,
            Status::Referred { .. } => StatusKind::Referred,
            Status::Returned { .. } => StatusKind::Returned,
            Status::InProgress { .. } => StatusKind::InProgress,
            Status::ConvertedToSuggestion => StatusKind::ConvertedToSuggestion,
            Status::NotAccepted { .. } => StatusKind::NotAccepted,
            Status::Concluded { .. } => StatusKind::Concluded,
            Status::FedBack => StatusKind::FedBack,
            Status::Evaluated { .. } => StatusKind::Evaluated,
            Status::Reopened => StatusKind::Reopened,
            Status::Archived => StatusKind::Archived,
        }
    }

    /// The status an item starts in, from the deputy's decision at intake.
    pub fn at_intake(outcome: &Outcome) -> Status {
        match outcome {
            Outcome::AnsweredOnSpot => Status::AnsweredOnSpot,
            Outcome::ToBeReferred => Status::Registered,
            Outcome::HandledByDeputy => Status::HandledByDeputy,
            Outcome::NotAccepted { channel } => Status::NotAccepted { channel: *channel },
        }
    }
}

/// Why a step is refused. Stable codes; the UI translates `transition.<code>`.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TransitionError {
    /// The step does not apply to an item in this status (e.g. concluding an item nobody
    /// accepted, evaluating before the citizen was told).
    #[error("cannot {action:?} an item that is {status:?}")]
    NotInThisStatus {
        action: ActionKind,
        status: StatusKind,
    },
    /// The actor's role never takes this step (a deputy referring, a unit archiving).
    #[error("a {role} account cannot {action:?}")]
    RoleMayNot { role: Role, action: ActionKind },
    /// A handling unit acting on an item that is not (or no longer) referred to it.
    #[error("the item is not referred to this handling unit")]
    NotYourUnit,
    /// An extension that does not move the deadline later.
    #[error("an extension must set a later deadline than {current}")]
    ExtensionNotLater { current: Date },
    /// A referral whose deadline does not match its working days on the server's calendar.
    #[error(
        "the deadline {given} does not match {working_days} working days (expected {expected})"
    )]
    DeadlineMismatch {
        given: Date,
        expected: Date,
        working_days: u32,
    },
    /// The intake decision can only change while no follow-up step was taken.
    #[error("the intake decision cannot change after follow-up began")]
    IntakeDecisionLocked,
    /// The item has a follow-up history, which is never erased: it cannot be deleted.
    #[error("an item whose follow-up has begun cannot be deleted")]
    FollowUpBegun,
    /// The step's time is impossible (after the server's now, or well before the item was
    /// recorded): the recording device's clock is wrong.
    #[error("the time of the step is impossible: the device's clock is wrong")]
    ClockWrong,
    /// A step's texts or numbers break the rules (see the errors).
    // A struct variant: serde cannot write a newtype variant holding a sequence with an
    // internal tag.
    #[error("invalid step: {errors}")]
    Invalid { errors: ValidationErrors },
}

impl TransitionError {
    /// The stable code (`transition.<code>`).
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::NotInThisStatus { .. } => "not_in_this_status",
            TransitionError::RoleMayNot { .. } => "role_may_not",
            TransitionError::NotYourUnit => "not_your_unit",
            TransitionError::ExtensionNotLater { .. } => "extension_not_later",
            TransitionError::DeadlineMismatch { .. } => "deadline_mismatch",
            TransitionError::IntakeDecisionLocked => "intake_decision_locked",
            TransitionError::FollowUpBegun => "follow_up_begun",
            TransitionError::ClockWrong => "clock_wrong",
            TransitionError::Invalid { .. } => "invalid",
        }
    }
}

/// Which steps a role ever takes. The status decides the rest.
pub fn role_may(role: Role, action: ActionKind) -> bool {
    use ActionKind::*;
    match role {
        Role::Admin | Role::OfficeStaff | Role::StationStaff => !matches!(action, Accept | Return),
        Role::Deputy => matches!(
            action,
            HandleByDeputy
                | ConvertToSuggestion
                | NotAccept
                | Conclude
                | FeedBack
                | Evaluate
                | Note
        ),
        Role::HandlingUnit => matches!(action, Accept | Return | Conclude | Note),
    }
}

/// An item's follow-up state: its status plus what the ledger shows about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub status: Status,
    /// The unit of the latest referral, kept after it concluded (for the ledger and statistics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<UnitId>,
    /// The deadline of the current referral (after extensions), while a unit has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Date>,
    /// Extensions granted for the current referral.
    pub extensions: u32,
    /// How many times it was referred (re-referrals after a return or a reopening count).
    pub referrals: u32,
    /// How many times a dissatisfied evaluation reopened it.
    pub reopened: u32,
    /// The latest conclusion, kept through feedback and evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conclusion: Option<Conclusion>,
    /// The latest evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// When it was concluded (ms), for "concluded within the deadline".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concluded_at_ms: Option<u64>,
    pub steps: u32,
}

impl Lifecycle {
    /// An item just recorded with this intake decision.
    pub fn at_intake(outcome: &Outcome) -> Lifecycle {
        Lifecycle {
            status: Status::at_intake(outcome),
            unit_id: None,
            due: None,
            extensions: 0,
            referrals: 0,
            reopened: 0,
            conclusion: None,
            evaluation: None,
            concluded_at_ms: None,
            steps: 0,
        }
    }

    /// The state after `steps`, in order, from the intake decision. A step that does not apply
    /// (which the server never stores, but an unsynced one on a tablet may be, if another device
    /// moved the item on first) is skipped.
    pub fn replay<'a>(outcome: &Outcome, steps: impl IntoIterator<Item = &'a FollowUp>) -> Self {
        let mut lifecycle = Lifecycle::at_intake(outcome);
        for step in steps {
            let _ = lifecycle.apply(step);
        }
        lifecycle
    }

    /// Whether `actor` may take `action` now. The deadline of a referral is checked against the
    /// calendar by the caller that has one ([`check_referral_deadline`]).
    pub fn check(&self, actor: &Actor, action: &Action) -> Result<(), TransitionError> {
        let kind = action.kind();
        if !role_may(actor.role, kind) {
            return Err(TransitionError::RoleMayNot {
                role: actor.role,
                action: kind,
            });
        }
        action
            .validate()
            .map_err(|errors| TransitionError::Invalid { errors })?;
        let status = self.status.kind();
        let wrong_status = || TransitionError::NotInThisStatus {
            action: kind,
            status,
        };
        let is_unit = actor.role == Role::HandlingUnit;
        // A unit acts only on what its unit holds now.
        let unit_holds = |unit: &UnitId| !is_unit || actor.unit_id.as_ref() == Some(unit);
        match (action, &self.status) {
            (_, Status::Archived) => Err(wrong_status()),
            (
                Action::Refer { .. },
                Status::Registered
                | Status::Reopened
                | Status::Returned { .. }
                | Status::HandledByDeputy,
            ) => Ok(()),
            (Action::Accept | Action::Return { .. }, Status::Referred { unit_id, .. }) => {
                unit_holds(unit_id)
                    .then_some(())
                    .ok_or(TransitionError::NotYourUnit)
            }
            (
                Action::Extend { due: new_due, .. },
                Status::Referred { due, .. } | Status::InProgress { due, .. },
            ) => {
                if new_due > due {
                    Ok(())
                } else {
                    Err(TransitionError::ExtensionNotLater { current: *due })
                }
            }
            (
                Action::HandleByDeputy { .. }
                | Action::ConvertToSuggestion { .. }
                | Action::NotAccept { .. },
                Status::Registered | Status::Reopened,
            ) => Ok(()),
            (Action::Conclude { .. }, Status::InProgress { unit_id, .. }) => {
                if !is_unit {
                    // Staff record a unit's conclusion only when the unit has no account
                    // (a reply by letter): allowed, and recorded under their own name.
                    return match actor.role {
                        Role::Deputy => Err(wrong_status()),
                        _ => Ok(()),
                    };
                }
                unit_holds(unit_id)
                    .then_some(())
                    .ok_or(TransitionError::NotYourUnit)
            }
            (Action::Conclude { .. }, Status::HandledByDeputy) if !is_unit => Ok(()),
            (Action::FeedBack { .. }, Status::Concluded { .. } | Status::ConvertedToSuggestion) => {
                Ok(())
            }
            (Action::Evaluate { .. }, Status::FedBack | Status::AnsweredOnSpot) => Ok(()),
            (
                Action::Archive,
                Status::Evaluated { .. }
                | Status::FedBack
                | Status::AnsweredOnSpot
                | Status::NotAccepted { .. }
                | Status::ConvertedToSuggestion,
            ) => Ok(()),
            // Staff and deputies log reminders, visits and return visits on any open item; a unit
            // reports progress on what it holds, and nothing else.
            (Action::Note { kind, .. }, status) => match (is_unit, kind) {
                (false, NoteKind::Progress)
                | (true, NoteKind::Reminder)
                | (true, NoteKind::Visit)
                | (true, NoteKind::ReturnVisit) => Err(TransitionError::RoleMayNot {
                    role: actor.role,
                    action: ActionKind::Note,
                }),
                (false, _) => Ok(()),
                (true, NoteKind::Progress) => match status {
                    Status::Referred { unit_id, .. } | Status::InProgress { unit_id, .. } => {
                        unit_holds(unit_id)
                            .then_some(())
                            .ok_or(TransitionError::NotYourUnit)
                    }
                    _ => Err(self.unit_refusal(actor, wrong_status())),
                },
            },
            _ if is_unit => Err(self.unit_refusal(actor, wrong_status())),
            _ => Err(wrong_status()),
        }
    }

    /// What a unit is told when a step does not apply: a unit that never held the item learns
    /// only that it is not theirs, not its status.
    fn unit_refusal(&self, actor: &Actor, wrong_status: TransitionError) -> TransitionError {
        match self.unit_id.as_ref() {
            Some(unit) if actor.unit_id.as_ref() == Some(unit) => wrong_status,
            _ => TransitionError::NotYourUnit,
        }
    }
    /// Takes `step` if [`check`](Self::check) allows it; a refused step changes nothing.
    pub fn apply(&mut self, step: &FollowUp) -> Result<(), TransitionError> {
        self.check(&step.by, &step.action)?;
        self.steps += 1;
        let next = match &step.action {
            Action::Refer { unit_id, due, .. } => {
                self.unit_id = Some(unit_id.clone());
                self.due = Some(*due);
                self.extensions = 0;
                self.referrals += 1;
                self.conclusion = None;
                self.concluded_at_ms = None;
                Some(Status::Referred {
                    unit_id: unit_id.clone(),
                    due: *due,
                })
            }
            Action::Accept => match &self.status {
                Status::Referred { unit_id, due } => Some(Status::InProgress {
                    unit_id: unit_id.clone(),
                    due: *due,
                }),
                _ => None,
            },
            Action::Return { .. } => {
                self.due = None;
                self.unit_id
                    .clone()
                    .map(|unit_id| Status::Returned { unit_id })
            }
            Action::Extend { due, .. } => {
                self.due = Some(*due);
                self.extensions += 1;
                match &self.status {
                    Status::Referred { unit_id, .. } => Some(Status::Referred {
                        unit_id: unit_id.clone(),
                        due: *due,
                    }),
                    Status::InProgress { unit_id, .. } => Some(Status::InProgress {
                        unit_id: unit_id.clone(),
                        due: *due,
                    }),
                    _ => None,
                }
            }
            Action::HandleByDeputy { .. } => Some(Status::HandledByDeputy),
            Action::ConvertToSuggestion { .. } => Some(Status::ConvertedToSuggestion),
            Action::NotAccept { channel, .. } => Some(Status::NotAccepted { channel: *channel }),
            Action::Conclude { conclusion, .. } => {
                self.conclusion = Some(conclusion.clone());
                self.concluded_at_ms = Some(step.at_ms);
                Some(Status::Concluded {
                    conclusion: conclusion.clone(),
                })
            }
            Action::FeedBack { .. } => Some(Status::FedBack),
            Action::Evaluate { evaluation, .. } => {
                self.evaluation = Some(*evaluation);
                if *evaluation == Evaluation::Dissatisfied {
                    self.reopened += 1;
                    self.due = None;
                    Some(Status::Reopened)
                } else {
                    Some(Status::Evaluated {
                        evaluation: *evaluation,
                    })
                }
            }
            Action::Archive => Some(Status::Archived),
            Action::Note { .. } => None,
        };
        if let Some(next) = next {
            self.status = next;
        }
        Ok(())
    }

    /// The steps `actor` could take now, for the buttons to offer. Steps with data are checked
    /// with placeholder data that passes [`Action::validate`].
    pub fn available(&self, actor: &Actor) -> Vec<ActionKind> {
        ActionKind::ALL
            .into_iter()
            .filter(|kind| {
                self.check(actor, &sample_action(*kind, self, actor))
                    .is_ok()
            })
            .collect()
    }

    /// The deadline colour while a unit holds the item; `None` otherwise.
    pub fn deadline_colour(
        &self,
        calendar: &crate::followup::calendar::WorkCalendar,
        today: Date,
    ) -> Option<crate::followup::calendar::DeadlineColour> {
        match &self.status {
            Status::Referred { due, .. } | Status::InProgress { due, .. } => Some(
                crate::followup::calendar::deadline_colour(calendar, today, *due),
            ),
            _ => None,
        }
    }
}

/// A valid action of `kind` for [`Lifecycle::available`].
fn sample_action(kind: ActionKind, lifecycle: &Lifecycle, actor: &Actor) -> Action {
    let later = lifecycle
        .due
        .map_or(Date::from_ymd(2000, 1, 1).expect("valid"), |d| {
            d.add_days(1)
        });
    let text = || "-".to_owned();
    match kind {
        ActionKind::Refer => Action::Refer {
            unit_id: UnitId("-".into()),
            unit_name: text(),
            working_days: 1,
            due: later,
            note: String::new(),
        },
        ActionKind::Accept => Action::Accept,
        ActionKind::Return => Action::Return { reason: text() },
        ActionKind::Extend => Action::Extend {
            due: later,
            reason: text(),
        },
        ActionKind::HandleByDeputy => Action::HandleByDeputy {
            note: String::new(),
        },
        ActionKind::ConvertToSuggestion => Action::ConvertToSuggestion {
            note: String::new(),
        },
        ActionKind::NotAccept => Action::NotAccept {
            channel: RedirectChannel::Petition,
            note: String::new(),
        },
        ActionKind::Conclude => Action::Conclude {
            conclusion: Conclusion::Resolved,
            reply: text(),
        },
        ActionKind::FeedBack => Action::FeedBack {
            method: FeedbackMethod::Phone,
            on: later,
            note: String::new(),
        },
        ActionKind::Evaluate => Action::Evaluate {
            evaluation: Evaluation::Satisfied,
            note: String::new(),
        },
        ActionKind::Archive => Action::Archive,
        ActionKind::Note => Action::Note {
            kind: if actor.role == Role::HandlingUnit {
                NoteKind::Progress
            } else {
                NoteKind::ReturnVisit
            },
            text: text(),
        },
    }
}

/// Checks a step's time against the server's clock and the item's creation: not after the
/// server's now (give or take [`limits::CLOCK_AHEAD_MS`]), not well before the item was recorded
/// ([`limits::CLOCK_BEHIND_MS`]). A step with an impossible time would put a referral's
/// deadline, the history and the figures wrong.
///
/// Not "not before the previous step": a step recorded offline on Monday and pushed on Wednesday
/// may well be older than a step the office took online on Tuesday, and it must not be lost.
pub fn check_step_time(
    step: &FollowUp,
    server_now_ms: u64,
    item_created_at_ms: u64,
) -> Result<(), TransitionError> {
    if step.at_ms > server_now_ms.saturating_add(limits::CLOCK_AHEAD_MS) {
        return Err(TransitionError::ClockWrong);
    }
    if step.at_ms.saturating_add(limits::CLOCK_BEHIND_MS) < item_created_at_ms {
        return Err(TransitionError::ClockWrong);
    }
    Ok(())
}

/// Checks a referral's or extension's deadline against the server's calendar: `due` must be
/// `working_days` working days after the day the step was recorded (in China's time zone).
pub fn check_referral_deadline(
    calendar: &crate::followup::calendar::WorkCalendar,
    step: &FollowUp,
) -> Result<(), TransitionError> {
    if let Action::Refer {
        working_days, due, ..
    } = &step.action
    {
        let referred_on = Date::from_unix_ms(
            i64::try_from(step.at_ms).unwrap_or(i64::MAX),
            crate::followup::calendar::CHINA_UTC_OFFSET_MINUTES,
        );
        let expected = calendar.add_working_days(referred_on, *working_days);
        if expected != *due {
            return Err(TransitionError::DeadlineMismatch {
                given: *due,
                expected,
                working_days: *working_days,
            });
        }
    }
    Ok(())
}
