//! One opinion (意见建议) a citizen raised, the form's draft, and the rules that turn a draft
//! into an opinion. The same `validate` runs in the browser (errors next to the field) and on
//! the server (nothing invalid is stored).

use crate::category::Category;
use crate::citizen::{CONSENT_NOTICE_VERSION, Citizen, Consent, Phone};
use crate::error::{Field, FieldError, ValidationErrors};
use crate::ids::{DeputyId, OpinionId, PhotoId, StationId};
use crate::sync::OpinionFieldValue;
use serde::{Deserialize, Serialize};

/// Length limits, in characters (a Chinese character counts as one).
pub mod limits {
    pub const SUMMARY: usize = 200;
    pub const DETAILS: usize = 5000;
    pub const PLACE: usize = 200;
    pub const NAME: usize = 50;
    pub const ADDRESS: usize = 200;
    pub const ON_SITE_REPLY: usize = 2000;
    pub const PHOTOS: usize = 6;
}

/// Where and by whom an opinion is recorded: the station and the deputy on duty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DutyContext {
    pub station_id: StationId,
    pub deputy_id: DeputyId,
}

/// The channel a citizen is directed to when an opinion is not accepted (不予受理).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedirectChannel {
    /// 诉讼
    Litigation,
    /// 仲裁
    Arbitration,
    /// 行政复议
    AdministrativeReview,
    /// 信访
    Petition,
    /// 12345 热线. Named explicitly: serde's snake_case would spell it `hotline12345`, and the
    /// stored and sent form must equal [`RedirectChannel::code`].
    #[serde(rename = "hotline_12345")]
    Hotline12345,
}

impl RedirectChannel {
    pub const ALL: [RedirectChannel; 5] = [
        RedirectChannel::Litigation,
        RedirectChannel::Arbitration,
        RedirectChannel::AdministrativeReview,
        RedirectChannel::Petition,
        RedirectChannel::Hotline12345,
    ];

    /// Code used in storage, element values and translation keys (`channel.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            RedirectChannel::Litigation => "litigation",
            RedirectChannel::Arbitration => "arbitration",
            RedirectChannel::AdministrativeReview => "administrative_review",
            RedirectChannel::Petition => "petition",
            RedirectChannel::Hotline12345 => "hotline_12345",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// What the deputy decided at intake, without its data: the form's radio buttons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// 现场答复
    AnsweredOnSpot,
    /// 拟转办
    ToBeReferred,
    /// 代表自行办理
    HandledByDeputy,
    /// 不予受理
    NotAccepted,
}

impl OutcomeKind {
    pub const ALL: [OutcomeKind; 4] = [
        OutcomeKind::AnsweredOnSpot,
        OutcomeKind::ToBeReferred,
        OutcomeKind::HandledByDeputy,
        OutcomeKind::NotAccepted,
    ];

    /// Code used in storage, indexes, element values and translation keys (`outcome.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            OutcomeKind::AnsweredOnSpot => "answered_on_spot",
            OutcomeKind::ToBeReferred => "to_be_referred",
            OutcomeKind::HandledByDeputy => "handled_by_deputy",
            OutcomeKind::NotAccepted => "not_accepted",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// What the deputy decided at intake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    AnsweredOnSpot,
    ToBeReferred,
    HandledByDeputy,
    NotAccepted { channel: RedirectChannel },
}

impl Outcome {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::AnsweredOnSpot => OutcomeKind::AnsweredOnSpot,
            Outcome::ToBeReferred => OutcomeKind::ToBeReferred,
            Outcome::HandledByDeputy => OutcomeKind::HandledByDeputy,
            Outcome::NotAccepted { .. } => OutcomeKind::NotAccepted,
        }
    }
}

/// A photo stored beside the opinion (the bytes live in their own store as a blob).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoRef {
    pub id: PhotoId,
    pub mime: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u32,
}

/// The capture form as typed, autosaved as a draft. Everything is raw text so that a half-typed
/// form, even an invalid one, survives a reload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OpinionDraft {
    pub category: String,
    pub summary: String,
    pub details: String,
    pub place: String,
    pub anonymous: bool,
    pub citizen_name: String,
    pub citizen_phone: String,
    pub citizen_address: String,
    pub consent: bool,
    pub on_site_reply: String,
    pub outcome: Option<OutcomeKind>,
    pub channel: Option<RedirectChannel>,
    pub photos: Vec<PhotoRef>,
}

impl From<&Opinion> for OpinionDraft {
    /// The form as it would have been typed to make `opinion`: the way to edit a stored opinion,
    /// and the way the server re-runs the form's rules on an opinion a tablet sent.
    fn from(opinion: &Opinion) -> Self {
        let citizen = &opinion.citizen;
        OpinionDraft {
            category: opinion.category.clone(),
            summary: opinion.summary.clone(),
            details: opinion.details.clone(),
            place: opinion.place.clone(),
            anonymous: citizen.anonymous,
            citizen_name: citizen.name.clone().unwrap_or_default(),
            citizen_phone: citizen.phone.clone().map(String::from).unwrap_or_default(),
            citizen_address: citizen.address.clone().unwrap_or_default(),
            consent: citizen.consent.is_some(),
            on_site_reply: opinion.on_site_reply.clone(),
            outcome: Some(opinion.outcome.kind()),
            channel: match opinion.outcome {
                Outcome::NotAccepted { channel } => Some(channel),
                _ => None,
            },
            photos: opinion.photos.clone(),
        }
    }
}

impl OpinionDraft {
    /// True when nothing worth keeping has been entered.
    pub fn is_blank(&self) -> bool {
        *self == OpinionDraft::default()
    }

    /// Checks the draft and, if it is valid, makes the opinion. All errors are reported at once,
    /// in form order. `now_ms` stamps the opinion and the consent.
    pub fn validate(
        &self,
        id: OpinionId,
        context: Option<&DutyContext>,
        categories: &[Category],
        now_ms: u64,
    ) -> Result<Opinion, ValidationErrors> {
        let mut errors = ValidationErrors::default();

        match context {
            None => errors.push(Field::Deputy, FieldError::Required),
            // Ids come from the directory, but a pushed opinion names them itself.
            Some(context) => {
                for (field, id) in [
                    (Field::Station, context.station_id.0.as_str()),
                    (Field::Deputy, context.deputy_id.0.as_str()),
                ] {
                    if let Err(e) = crate::text::check_single_line(id) {
                        errors.push(field, e);
                    }
                }
            }
        }

        let category = match check_category(&self.category, categories) {
            Ok(code) => code,
            Err(e) => {
                errors.push(Field::Category, e);
                String::new()
            }
        };

        let summary = required_line(&mut errors, Field::Summary, &self.summary, limits::SUMMARY);
        let details = optional_text(&mut errors, Field::Details, &self.details, limits::DETAILS);
        let place = optional_line(&mut errors, Field::Place, &self.place, limits::PLACE);

        let citizen = check_citizen(
            &mut errors,
            &CitizenInput {
                anonymous: self.anonymous,
                name: &self.citizen_name,
                phone: &self.citizen_phone,
                address: &self.citizen_address,
                consent: self.consent,
            },
            now_ms,
        );

        let reply = optional_text(
            &mut errors,
            Field::OnSiteReply,
            &self.on_site_reply,
            limits::ON_SITE_REPLY,
        );

        let outcome = match self.outcome {
            None => {
                errors.push(Field::Outcome, FieldError::Required);
                None
            }
            Some(OutcomeKind::AnsweredOnSpot) => {
                // An answer on the spot must say what was answered.
                if reply.is_empty() && self.on_site_reply.chars().count() <= limits::ON_SITE_REPLY {
                    errors.push(Field::OnSiteReply, FieldError::Required);
                }
                Some(Outcome::AnsweredOnSpot)
            }
            Some(OutcomeKind::ToBeReferred) => Some(Outcome::ToBeReferred),
            Some(OutcomeKind::HandledByDeputy) => Some(Outcome::HandledByDeputy),
            Some(OutcomeKind::NotAccepted) => match self.channel {
                Some(channel) => Some(Outcome::NotAccepted { channel }),
                None => {
                    errors.push(Field::Channel, FieldError::Required);
                    None
                }
            },
        };

        if self.photos.len() > limits::PHOTOS {
            errors.push(
                Field::Photos,
                FieldError::TooMany {
                    max: limits::PHOTOS,
                },
            );
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        let context = context.expect("checked above").clone();
        Ok(Opinion {
            id,
            station_id: context.station_id,
            deputy_id: context.deputy_id,
            category,
            summary,
            details,
            place,
            citizen,
            on_site_reply: reply,
            outcome: outcome.expect("checked above"),
            photos: self.photos.clone(),
            created_at_ms: now_ms,
        })
    }
}

/// Trims a text field and holds it to its limit. Shared with sync's field edits, so an edit made
/// later is held to the same rules as the capture form.
pub(crate) fn check_text(raw: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(FieldError::Required);
    }
    if text.chars().count() > max {
        return Err(FieldError::TooLong { max });
    }
    crate::text::check_multi_line(text)?;
    Ok(text.to_owned())
}

/// [`check_text`] for a single-line field (the form's one-line inputs): no line break either.
pub(crate) fn check_line(raw: &str, max: usize, required: bool) -> Result<String, FieldError> {
    let text = check_text(raw, max, required)?;
    crate::text::check_single_line(&text)?;
    Ok(text)
}

/// A category code must be one of the configured list.
pub(crate) fn check_category(raw: &str, categories: &[Category]) -> Result<String, FieldError> {
    let code = raw.trim();
    if code.is_empty() {
        Err(FieldError::Required)
    } else if categories.iter().any(|c| c.code == code) {
        Ok(code.to_owned())
    } else {
        Err(FieldError::UnknownChoice)
    }
}

fn optional_text(errors: &mut ValidationErrors, field: Field, raw: &str, max: usize) -> String {
    check_text(raw, max, false).unwrap_or_else(|e| {
        errors.push(field, e);
        String::new()
    })
}

fn optional_line(errors: &mut ValidationErrors, field: Field, raw: &str, max: usize) -> String {
    check_line(raw, max, false).unwrap_or_else(|e| {
        errors.push(field, e);
        String::new()
    })
}

fn required_line(errors: &mut ValidationErrors, field: Field, raw: &str, max: usize) -> String {
    check_line(raw, max, true).unwrap_or_else(|e| {
        errors.push(field, e);
        String::new()
    })
}

/// The citizen part of the form as typed.
pub(crate) struct CitizenInput<'a> {
    pub anonymous: bool,
    pub name: &'a str,
    pub phone: &'a str,
    pub address: &'a str,
    pub consent: bool,
}

impl<'a> CitizenInput<'a> {
    /// The input a stored citizen would have come from, so a citizen received in a sync
    /// mutation is checked by the very rules (and the phone parser) of the capture form.
    pub(crate) fn of(citizen: &'a Citizen) -> Self {
        CitizenInput {
            anonymous: citizen.anonymous,
            name: citizen.name.as_deref().unwrap_or(""),
            phone: citizen.phone.as_ref().map_or("", Phone::as_str),
            address: citizen.address.as_deref().unwrap_or(""),
            consent: citizen.consent.is_some(),
        }
    }
}

/// Checks the citizen's data, pushing errors in form order, and makes the citizen; the result
/// is meaningful only when nothing was pushed. `now_ms` stamps a consent given now.
pub(crate) fn check_citizen(
    errors: &mut ValidationErrors,
    input: &CitizenInput<'_>,
    now_ms: u64,
) -> Citizen {
    let name = optional_line(errors, Field::CitizenName, input.name, limits::NAME);
    let phone_text = input.phone.trim();
    let phone = if phone_text.is_empty() {
        None
    } else {
        let parsed = Phone::parse(phone_text);
        if parsed.is_none() {
            errors.push(Field::CitizenPhone, FieldError::PhoneInvalid);
        }
        parsed
    };
    let address = optional_line(
        errors,
        Field::CitizenAddress,
        input.address,
        limits::ADDRESS,
    );
    let has_personal_data =
        !input.name.trim().is_empty() || !phone_text.is_empty() || !input.address.trim().is_empty();
    if input.anonymous && has_personal_data {
        errors.push(Field::CitizenName, FieldError::AnonymousWithPersonalData);
    } else if has_personal_data && !input.consent {
        errors.push(Field::Consent, FieldError::ConsentMissing);
    }
    Citizen {
        anonymous: input.anonymous,
        name: (!name.is_empty()).then_some(name),
        phone,
        address: (!address.is_empty()).then_some(address),
        consent: (has_personal_data && input.consent).then(|| Consent {
            notice_version: CONSENT_NOTICE_VERSION.to_owned(),
            given_at_ms: now_ms,
        }),
    }
}

/// An opinion as recorded at intake. Only made by [`OpinionDraft::validate`], so a stored
/// opinion has passed the rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opinion {
    pub id: OpinionId,
    pub station_id: StationId,
    pub deputy_id: DeputyId,
    pub category: String,
    pub summary: String,
    pub details: String,
    pub place: String,
    pub citizen: Citizen,
    pub on_site_reply: String,
    pub outcome: Outcome,
    pub photos: Vec<PhotoRef>,
    pub created_at_ms: u64,
}

/// The texts of a recorded opinion that can be corrected afterwards on the tablet: what an edit
/// form holds. Not the citizen (the tablet keeps it masked only, so it has nothing to show in a
/// form) and not the intake decision (the follow-up goes by it, and the lifecycle decides when
/// it may change).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpinionEdit {
    pub category: String,
    pub summary: String,
    pub details: String,
    pub place: String,
    pub on_site_reply: String,
}

impl OpinionEdit {
    /// The form filled with what `opinion` says now.
    pub fn of(opinion: &Opinion) -> OpinionEdit {
        OpinionEdit {
            category: opinion.category.clone(),
            summary: opinion.summary.clone(),
            details: opinion.details.clone(),
            place: opinion.place.clone(),
            on_site_reply: opinion.on_site_reply.clone(),
        }
    }

    /// The field edits that make `opinion` say what the form says, in form order (empty when
    /// nothing changed), each text trimmed and held to the capture form's rules; the edited
    /// record is then checked as the server checks an edit
    /// ([`validate_set_fields`](crate::sync::validate::validate_set_fields): an answer on the
    /// spot still needs its reply). All errors at once, by field.
    pub fn changes(
        &self,
        opinion: &Opinion,
        categories: &[Category],
    ) -> Result<Vec<OpinionFieldValue>, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let mut changes = Vec::new();
        // The category is checked only when it changes: a record whose category was since
        // removed from the list can still have its summary fixed.
        if self.category.trim() != opinion.category {
            match check_category(&self.category, categories) {
                Ok(code) => changes.push(OpinionFieldValue::Category(code)),
                Err(e) => errors.push(Field::Category, e),
            }
        }
        type Make = fn(String) -> OpinionFieldValue;
        let texts: [(Field, Result<String, FieldError>, &str, Make); 4] = [
            (
                Field::Summary,
                check_line(&self.summary, limits::SUMMARY, true),
                &opinion.summary,
                OpinionFieldValue::Summary,
            ),
            (
                Field::Details,
                check_text(&self.details, limits::DETAILS, false),
                &opinion.details,
                OpinionFieldValue::Details,
            ),
            (
                Field::Place,
                check_line(&self.place, limits::PLACE, false),
                &opinion.place,
                OpinionFieldValue::Place,
            ),
            (
                Field::OnSiteReply,
                check_text(&self.on_site_reply, limits::ON_SITE_REPLY, false),
                &opinion.on_site_reply,
                OpinionFieldValue::OnSiteReply,
            ),
        ];
        for (field, checked, before, make) in texts {
            match checked {
                Ok(text) if text != before => changes.push(make(text)),
                Ok(_) => {}
                Err(e) => errors.push(field, e),
            }
        }
        // The rules across fields, on the changes that passed their own (a field already in
        // error is reported once).
        if let Err(more) = crate::sync::validate::validate_set_fields(opinion, &changes, categories)
        {
            for (field, error) in more.0 {
                if errors.get(field).is_none() {
                    errors.push(field, error);
                }
            }
        }
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(errors)
        }
    }
}

impl Opinion {
    /// The opinion with `fields` set (the later of two edits of one field wins, as in the order
    /// a tablet makes them).
    pub fn with_fields(mut self, fields: &[OpinionFieldValue]) -> Opinion {
        for value in fields {
            match value.clone() {
                OpinionFieldValue::Category(v) => self.category = v,
                OpinionFieldValue::Summary(v) => self.summary = v,
                OpinionFieldValue::Details(v) => self.details = v,
                OpinionFieldValue::Place(v) => self.place = v,
                OpinionFieldValue::OnSiteReply(v) => self.on_site_reply = v,
                OpinionFieldValue::Outcome(v) => self.outcome = v,
                OpinionFieldValue::Citizen(v) => self.citizen = v,
            }
        }
        self
    }

    /// The opinion with its citizen [masked](Citizen::masked).
    pub fn with_citizen_masked(mut self) -> Opinion {
        self.citizen = self.citizen.masked();
        self
    }

    /// Case-insensitive search over the texts a deputy would remember an opinion by. Personal
    /// data is deliberately not searched, so a search never reveals it.
    pub fn matches_text(&self, query: &str) -> bool {
        let query = query.trim().to_lowercase();
        if query.is_empty() {
            return true;
        }
        [
            &self.summary,
            &self.details,
            &self.place,
            &self.on_site_reply,
        ]
        .iter()
        .any(|t| t.to_lowercase().contains(&query))
    }
}

/// What the records list shows: everything, or narrowed by text, category and outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpinionFilter {
    pub text: String,
    pub category: Option<String>,
    pub outcome: Option<OutcomeKind>,
    /// Only this deputy's records: on a shared tablet, a deputy sees only what it received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deputy_id: Option<DeputyId>,
}

impl OpinionFilter {
    pub fn matches(&self, opinion: &Opinion) -> bool {
        self.deputy_id
            .as_ref()
            .is_none_or(|d| &opinion.deputy_id == d)
            && self
                .category
                .as_ref()
                .is_none_or(|c| &opinion.category == c)
            && self.outcome.is_none_or(|o| opinion.outcome.kind() == o)
            && opinion.matches_text(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::category::default_categories;

    fn context() -> DutyContext {
        DutyContext {
            station_id: "st-1".into(),
            deputy_id: "dep-1".into(),
        }
    }

    fn id() -> OpinionId {
        OpinionId::new_v7(1_700_000_000_000, [3; 10])
    }

    fn valid_draft() -> OpinionDraft {
        OpinionDraft {
            category: "parking".into(),
            summary: "小区停车难".into(),
            details: "晚上车位不够，消防通道被占".into(),
            place: "幸福里社区".into(),
            citizen_name: "张三".into(),
            citizen_phone: "138 1234 1234".into(),
            consent: true,
            on_site_reply: "已联系物业，本周内划定临时车位".into(),
            outcome: Some(OutcomeKind::AnsweredOnSpot),
            ..OpinionDraft::default()
        }
    }

    /// A stored opinion as the tablet keeps it: the citizen masked.
    fn stored() -> Opinion {
        valid_draft()
            .validate(id(), Some(&context()), &default_categories(), 1)
            .unwrap()
            .with_citizen_masked()
    }

    #[test]
    fn an_edit_changes_only_what_differs_trimmed_in_form_order() {
        let opinion = stored();
        let cats = default_categories();
        let unchanged = OpinionEdit::of(&opinion);
        assert_eq!(unchanged.changes(&opinion, &cats), Ok(vec![]));

        let mut edit = unchanged.clone();
        edit.place = "  幸福里 3 号楼  ".into();
        edit.summary = "小区夜间停车难".into();
        edit.category = "elderly_subsidies".into();
        let changes = edit.changes(&opinion, &cats).unwrap();
        assert_eq!(
            changes,
            vec![
                OpinionFieldValue::Category("elderly_subsidies".into()),
                OpinionFieldValue::Summary("小区夜间停车难".into()),
                OpinionFieldValue::Place("幸福里 3 号楼".into()),
            ]
        );
        let edited = opinion.clone().with_fields(&changes);
        assert_eq!(OpinionEdit::of(&edited).place, "幸福里 3 号楼");
        assert_eq!(
            edited.citizen, opinion.citizen,
            "the citizen is not touched"
        );
        assert_eq!(OpinionEdit::of(&edited).changes(&edited, &cats), Ok(vec![]));
    }

    #[test]
    fn an_edit_is_held_to_the_capture_forms_rules() {
        let opinion = stored();
        let cats = default_categories();
        let mut edit = OpinionEdit::of(&opinion);
        edit.summary = "   ".into();
        edit.place = "一行\n两行".into();
        edit.category = "no-such".into();
        edit.details = "x".repeat(limits::DETAILS + 1);
        let errors = edit.changes(&opinion, &cats).unwrap_err();
        assert_eq!(errors.get(Field::Summary), Some(&FieldError::Required));
        assert_eq!(
            errors.get(Field::Category),
            Some(&FieldError::UnknownChoice)
        );
        assert!(errors.get(Field::Place).is_some(), "{errors:?}");
        assert_eq!(
            errors.get(Field::Details),
            Some(&FieldError::TooLong {
                max: limits::DETAILS
            })
        );

        // An answer on the spot keeps its reply (a rule across fields, the server's too).
        let mut edit = OpinionEdit::of(&opinion);
        edit.on_site_reply = " ".into();
        let errors = edit.changes(&opinion, &cats).unwrap_err();
        assert_eq!(errors.get(Field::OnSiteReply), Some(&FieldError::Required));
        assert_eq!(
            errors.0.len(),
            1,
            "nothing about the masked citizen: {errors:?}"
        );
        // Reported with the other fields' errors at once.
        edit.summary = String::new();
        let errors = edit.changes(&opinion, &cats).unwrap_err();
        assert_eq!(
            errors.0,
            vec![
                (Field::Summary, FieldError::Required),
                (Field::OnSiteReply, FieldError::Required)
            ]
        );
    }

    fn errors_of(draft: &OpinionDraft) -> ValidationErrors {
        draft
            .validate(id(), Some(&context()), &default_categories(), 1)
            .expect_err("draft should be invalid")
    }

    #[test]
    fn a_valid_draft_becomes_a_trimmed_opinion_with_recorded_consent() {
        let mut draft = valid_draft();
        draft.summary = "  小区停车难 ".into();
        let opinion = draft
            .validate(id(), Some(&context()), &default_categories(), 42)
            .unwrap();
        assert_eq!(opinion.summary, "小区停车难");
        assert_eq!(
            opinion.citizen.phone.as_ref().unwrap().as_str(),
            "13812341234"
        );
        assert_eq!(opinion.citizen.name.as_deref(), Some("张三"));
        assert_eq!(opinion.citizen.address, None);
        let consent = opinion.citizen.consent.as_ref().unwrap();
        assert_eq!(consent.notice_version, CONSENT_NOTICE_VERSION);
        assert_eq!(consent.given_at_ms, 42);
        assert_eq!(opinion.outcome, Outcome::AnsweredOnSpot);
        assert_eq!(opinion.created_at_ms, 42);
        assert_eq!(opinion.station_id, "st-1".into());
    }

    #[test]
    fn empty_or_blank_summary_is_required() {
        for summary in ["", "   ", "\n\t"] {
            let mut draft = valid_draft();
            draft.summary = summary.into();
            assert_eq!(
                errors_of(&draft).get(Field::Summary),
                Some(&FieldError::Required)
            );
        }
    }

    #[test]
    fn over_long_texts_are_rejected_counting_characters_not_bytes() {
        let mut draft = valid_draft();
        draft.summary = "停".repeat(limits::SUMMARY);
        assert!(
            draft
                .validate(id(), Some(&context()), &default_categories(), 1)
                .is_ok()
        );

        draft.summary = "停".repeat(limits::SUMMARY + 1);
        draft.details = "x".repeat(limits::DETAILS + 1);
        draft.place = "x".repeat(limits::PLACE + 1);
        draft.citizen_name = "x".repeat(limits::NAME + 1);
        draft.citizen_address = "x".repeat(limits::ADDRESS + 1);
        draft.on_site_reply = "x".repeat(limits::ON_SITE_REPLY + 1);
        let errors = errors_of(&draft);
        for (field, max) in [
            (Field::Summary, limits::SUMMARY),
            (Field::Details, limits::DETAILS),
            (Field::Place, limits::PLACE),
            (Field::CitizenName, limits::NAME),
            (Field::CitizenAddress, limits::ADDRESS),
            (Field::OnSiteReply, limits::ON_SITE_REPLY),
        ] {
            assert_eq!(
                errors.get(field),
                Some(&FieldError::TooLong { max }),
                "{field:?}"
            );
        }
    }

    #[test]
    fn bad_phone_numbers_are_reported_on_the_phone_field() {
        for phone in ["12345", "23812341234", "138-1234-123x", "1381234123"] {
            let mut draft = valid_draft();
            draft.citizen_phone = phone.into();
            assert_eq!(
                errors_of(&draft).get(Field::CitizenPhone),
                Some(&FieldError::PhoneInvalid),
                "{phone}"
            );
        }
    }

    #[test]
    fn not_accepted_needs_the_channel_the_citizen_was_told_about() {
        let mut draft = valid_draft();
        draft.outcome = Some(OutcomeKind::NotAccepted);
        draft.channel = None;
        assert_eq!(
            errors_of(&draft).get(Field::Channel),
            Some(&FieldError::Required)
        );

        draft.channel = Some(RedirectChannel::Litigation);
        let opinion = draft
            .validate(id(), Some(&context()), &default_categories(), 1)
            .unwrap();
        assert_eq!(
            opinion.outcome,
            Outcome::NotAccepted {
                channel: RedirectChannel::Litigation
            }
        );
    }

    #[test]
    fn an_outcome_is_required_and_an_answer_on_the_spot_needs_the_reply() {
        let mut draft = valid_draft();
        draft.outcome = None;
        assert_eq!(
            errors_of(&draft).get(Field::Outcome),
            Some(&FieldError::Required)
        );

        let mut draft = valid_draft();
        draft.on_site_reply = "  ".into();
        assert_eq!(
            errors_of(&draft).get(Field::OnSiteReply),
            Some(&FieldError::Required)
        );

        draft.outcome = Some(OutcomeKind::ToBeReferred);
        assert!(
            draft
                .validate(id(), Some(&context()), &default_categories(), 1)
                .is_ok()
        );
    }

    #[test]
    fn personal_data_needs_consent_and_anonymous_means_none() {
        let mut draft = valid_draft();
        draft.consent = false;
        assert_eq!(
            errors_of(&draft).get(Field::Consent),
            Some(&FieldError::ConsentMissing)
        );

        draft.anonymous = true;
        assert_eq!(
            errors_of(&draft).get(Field::CitizenName),
            Some(&FieldError::AnonymousWithPersonalData)
        );

        draft.citizen_name.clear();
        draft.citizen_phone.clear();
        let opinion = draft
            .validate(id(), Some(&context()), &default_categories(), 1)
            .unwrap();
        assert!(opinion.citizen.anonymous);
        assert!(!opinion.citizen.has_personal_data());
        assert_eq!(
            opinion.citizen.consent, None,
            "no personal data, no consent recorded"
        );
    }

    #[test]
    fn category_must_come_from_the_list_and_a_duty_context_is_required() {
        let mut draft = valid_draft();
        draft.category = "".into();
        assert_eq!(
            errors_of(&draft).get(Field::Category),
            Some(&FieldError::Required)
        );
        draft.category = "made_up".into();
        assert_eq!(
            errors_of(&draft).get(Field::Category),
            Some(&FieldError::UnknownChoice)
        );

        let errors = valid_draft()
            .validate(id(), None, &default_categories(), 1)
            .unwrap_err();
        assert_eq!(errors.get(Field::Deputy), Some(&FieldError::Required));
    }

    #[test]
    fn all_errors_are_reported_at_once() {
        let draft = OpinionDraft {
            citizen_phone: "123".into(),
            outcome: Some(OutcomeKind::NotAccepted),
            ..OpinionDraft::default()
        };
        let errors = draft
            .validate(id(), None, &default_categories(), 1)
            .unwrap_err();
        let fields: Vec<Field> = errors.0.iter().map(|(f, _)| *f).collect();
        assert_eq!(
            fields,
            vec![
                Field::Deputy,
                Field::Category,
                Field::Summary,
                Field::CitizenPhone,
                Field::Consent,
                Field::Channel
            ]
        );
    }

    #[test]
    fn too_many_photos_are_rejected() {
        let mut draft = valid_draft();
        draft.photos = (0..=limits::PHOTOS as u64)
            .map(|i| PhotoRef {
                id: PhotoId::new_v7(i, [0; 10]),
                mime: "image/jpeg".into(),
                width: 1,
                height: 1,
                bytes: 1,
            })
            .collect();
        assert_eq!(
            errors_of(&draft).get(Field::Photos),
            Some(&FieldError::TooMany {
                max: limits::PHOTOS
            })
        );
    }

    #[test]
    fn filter_matches_text_category_and_outcome_but_never_personal_data() {
        let opinion = valid_draft()
            .validate(id(), Some(&context()), &default_categories(), 1)
            .unwrap();
        let f = |text: &str, category: Option<&str>, outcome| OpinionFilter {
            text: text.into(),
            category: category.map(Into::into),
            outcome,
            deputy_id: None,
        };
        assert!(f("", None, None).matches(&opinion));
        assert!(f("停车", None, None).matches(&opinion));
        assert!(f("消防", Some("parking"), Some(OutcomeKind::AnsweredOnSpot)).matches(&opinion));
        assert!(!f("电梯", None, None).matches(&opinion));
        assert!(!f("", Some("roads_lighting"), None).matches(&opinion));
        assert!(!f("", None, Some(OutcomeKind::NotAccepted)).matches(&opinion));
        assert!(
            !f("张三", None, None).matches(&opinion),
            "names are not searchable"
        );
        assert!(
            !f("1381234", None, None).matches(&opinion),
            "phones are not searchable"
        );
        let of = |deputy: &str| OpinionFilter {
            deputy_id: Some(deputy.into()),
            ..OpinionFilter::default()
        };
        assert!(of("dep-1").matches(&opinion), "the deputy's own");
        assert!(!of("dep-2").matches(&opinion), "never another deputy's");
    }

    #[test]
    fn drafts_survive_json_and_missing_fields_default() {
        let draft = valid_draft();
        let json = serde_json::to_string(&draft).unwrap();
        assert_eq!(serde_json::from_str::<OpinionDraft>(&json).unwrap(), draft);
        let old: OpinionDraft = serde_json::from_str(r#"{"summary":"x"}"#).unwrap();
        assert_eq!(old.summary, "x");
        assert!(OpinionDraft::default().is_blank());
        assert!(!old.is_blank());
    }

    #[test]
    fn an_opinion_turned_back_into_a_draft_validates_to_itself() {
        let opinion = valid_draft()
            .validate(id(), Some(&context()), &default_categories(), 42)
            .unwrap();
        let again = OpinionDraft::from(&opinion)
            .validate(id(), Some(&context()), &default_categories(), 42)
            .unwrap();
        assert_eq!(again, opinion);

        let mut draft = valid_draft();
        draft.outcome = Some(OutcomeKind::NotAccepted);
        draft.channel = Some(RedirectChannel::Petition);
        let opinion = draft
            .validate(id(), Some(&context()), &default_categories(), 1)
            .unwrap();
        assert_eq!(
            OpinionDraft::from(&opinion).channel,
            Some(RedirectChannel::Petition)
        );
    }

    #[test]
    fn the_stored_form_of_every_code_is_the_code() {
        for c in RedirectChannel::ALL {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.code())
            );
        }
        for k in OutcomeKind::ALL {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.code())
            );
        }
    }

    #[test]
    fn codes_round_trip() {
        for k in OutcomeKind::ALL {
            assert_eq!(OutcomeKind::from_code(k.code()), Some(k));
        }
        for c in RedirectChannel::ALL {
            assert_eq!(RedirectChannel::from_code(c.code()), Some(c));
        }
        assert_eq!(OutcomeKind::from_code("nope"), None);
    }
}
