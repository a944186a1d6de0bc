//! Validation errors. Each carries the field it belongs to and a stable code; the UI looks the
//! code up in its translation files (`error.<code>`), so the message is in the user's language
//! and shown next to the field. The server answers with the same codes.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A form field an error can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Station,
    Deputy,
    Category,
    Summary,
    Details,
    Place,
    CitizenName,
    CitizenPhone,
    CitizenAddress,
    Consent,
    OnSiteReply,
    Outcome,
    Channel,
    Photos,
    /// A follow-up step's note or text.
    Note,
    /// A follow-up step's reason (a return, an extension, "cannot be solved").
    Reason,
    /// A handling unit's reply.
    Reply,
    /// The handling unit of a referral.
    Unit,
    /// A referral's deadline in working days.
    WorkingDays,
    /// A new deadline.
    Due,
    /// An activity's title.
    Title,
    /// An activity's attendees.
    Attendees,
    /// Why personal data is unmasked.
    Purpose,
}

impl Field {
    /// The name used in element ids and translation keys (`field.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            Field::Station => "station",
            Field::Deputy => "deputy",
            Field::Category => "category",
            Field::Summary => "summary",
            Field::Details => "details",
            Field::Place => "place",
            Field::CitizenName => "citizen_name",
            Field::CitizenPhone => "citizen_phone",
            Field::CitizenAddress => "citizen_address",
            Field::Consent => "consent",
            Field::OnSiteReply => "on_site_reply",
            Field::Outcome => "outcome",
            Field::Channel => "channel",
            Field::Photos => "photos",
            Field::Note => "note",
            Field::Reason => "reason",
            Field::Reply => "reply",
            Field::Unit => "unit",
            Field::WorkingDays => "working_days",
            Field::Due => "due",
            Field::Title => "title",
            Field::Attendees => "attendees",
            Field::Purpose => "purpose",
        }
    }
}

/// What is wrong with one field.
#[derive(Clone, Debug, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FieldError {
    #[error("required")]
    Required,
    #[error("too long: at most {max} characters")]
    TooLong { max: usize },
    #[error("not a valid phone number")]
    PhoneInvalid,
    #[error("not in the list")]
    UnknownChoice,
    #[error("personal data given for an anonymous citizen")]
    AnonymousWithPersonalData,
    #[error("consent is required when personal data is recorded")]
    ConsentMissing,
    #[error("too many photos: at most {max}")]
    TooMany { max: usize },
    #[error("out of range: {min} to {max}")]
    OutOfRange { min: usize, max: usize },
    /// A control character (a NUL, an escape; in a single-line field also a line break):
    /// [`crate::text`].
    #[error("contains a control character")]
    ControlCharacter,
}

impl FieldError {
    /// The stable code; the translation key is `error.<code>`.
    pub fn code(&self) -> &'static str {
        match self {
            FieldError::Required => "required",
            FieldError::TooLong { .. } => "too_long",
            FieldError::PhoneInvalid => "phone_invalid",
            FieldError::UnknownChoice => "unknown_choice",
            FieldError::AnonymousWithPersonalData => "anonymous_with_personal_data",
            FieldError::ConsentMissing => "consent_missing",
            FieldError::TooMany { .. } => "too_many",
            FieldError::OutOfRange { .. } => "out_of_range",
            FieldError::ControlCharacter => "control_character",
        }
    }

    /// The number a translated message may need (`{max}`).
    pub fn max(&self) -> Option<usize> {
        match self {
            FieldError::TooLong { max }
            | FieldError::TooMany { max }
            | FieldError::OutOfRange { max, .. } => Some(*max),
            _ => None,
        }
    }
}

/// Every problem found in one form, in field order. Never empty when returned as an error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Error, Serialize, Deserialize)]
#[error("{} field(s) invalid", .0.len())]
pub struct ValidationErrors(pub Vec<(Field, FieldError)>);

impl ValidationErrors {
    pub fn push(&mut self, field: Field, error: FieldError) {
        self.0.push((field, error));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first error for a field, if any.
    pub fn get(&self, field: Field) -> Option<&FieldError> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, e)| e)
    }

    /// Turns a collection into a result: `Ok(value)` only when nothing was pushed.
    pub fn into_result<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}
