//! The rules a mutation must pass before it is applied: the capture form's rules, reused, so an
//! opinion edited later or received by the server is held to exactly what the form enforces,
//! and errors come back with the same field codes the form shows.

use crate::category::Category;
use crate::error::{Field, FieldError, ValidationErrors};
use crate::followup::TransitionError;
use crate::opinion::{
    CitizenInput, DutyContext, Opinion, OpinionDraft, check_category, check_citizen, check_line,
    check_text, limits,
};
use crate::sync::merge::OpinionReplica;
use crate::sync::protocol::{MutationKind, OpinionFieldValue, RejectCode, Rejected, Seq};
use crate::text::check_single_line;
use std::mem::discriminant;

/// Checks one edited field on its own and returns it normalised the way the capture form
/// normalises (texts trimmed). The tablet puts the returned value into its mutation, so what it
/// shows is what the server stores. Rules that tie fields together (an answer on the spot needs
/// the reply) are checked against the whole record by [`validate_set_fields`].
pub fn validate_field(
    value: &OpinionFieldValue,
    categories: &[Category],
) -> Result<OpinionFieldValue, ValidationErrors> {
    let one = |field: Field, result: Result<String, FieldError>| {
        result.map_err(|e| ValidationErrors(vec![(field, e)]))
    };
    Ok(match value {
        OpinionFieldValue::Category(v) => {
            OpinionFieldValue::Category(one(Field::Category, check_category(v, categories))?)
        }
        OpinionFieldValue::Summary(v) => {
            OpinionFieldValue::Summary(one(Field::Summary, check_line(v, limits::SUMMARY, true))?)
        }
        OpinionFieldValue::Details(v) => {
            OpinionFieldValue::Details(one(Field::Details, check_text(v, limits::DETAILS, false))?)
        }
        OpinionFieldValue::Place(v) => {
            OpinionFieldValue::Place(one(Field::Place, check_line(v, limits::PLACE, false))?)
        }
        OpinionFieldValue::OnSiteReply(v) => OpinionFieldValue::OnSiteReply(one(
            Field::OnSiteReply,
            check_text(v, limits::ON_SITE_REPLY, false),
        )?),
        // An `Outcome` cannot be built without what it needs (a channel for "not accepted").
        OpinionFieldValue::Outcome(v) => OpinionFieldValue::Outcome(*v),
        OpinionFieldValue::Citizen(citizen) => {
            let mut errors = ValidationErrors::default();
            // Through the form's own checks, phone parser included; the consent as recorded is
            // kept (the check would stamp a new one).
            let checked = check_citizen(&mut errors, &CitizenInput::of(citizen), 0);
            if !errors.is_empty() {
                return Err(errors);
            }
            OpinionFieldValue::Citizen(crate::citizen::Citizen {
                consent: checked.consent.and(citizen.consent.clone()),
                ..checked
            })
        }
    })
}

/// The form fields whose errors an edit of this field can cause.
fn fields_touched(value: &OpinionFieldValue) -> &'static [Field] {
    match value {
        OpinionFieldValue::Category(_) => &[Field::Category],
        OpinionFieldValue::Summary(_) => &[Field::Summary],
        OpinionFieldValue::Details(_) => &[Field::Details],
        OpinionFieldValue::Place(_) => &[Field::Place],
        OpinionFieldValue::OnSiteReply(_) => &[Field::OnSiteReply],
        OpinionFieldValue::Outcome(_) => &[Field::Outcome, Field::Channel, Field::OnSiteReply],
        OpinionFieldValue::Citizen(_) => &[
            Field::CitizenName,
            Field::CitizenPhone,
            Field::CitizenAddress,
            Field::Consent,
        ],
    }
}

/// Re-runs the capture form's rules on a whole opinion (one a tablet sent, or one after edits).
pub fn validate_opinion(
    opinion: &Opinion,
    categories: &[Category],
) -> Result<(), ValidationErrors> {
    let context = DutyContext {
        station_id: opinion.station_id.clone(),
        deputy_id: opinion.deputy_id.clone(),
    };
    OpinionDraft::from(opinion)
        .validate(
            opinion.id,
            Some(&context),
            categories,
            opinion.created_at_ms,
        )
        .map(|_| ())
}

/// Checks an edit against the record it edits: the form's rules on the record as it would be
/// afterwards, reporting only errors the edited fields can cause. A record that already breaks a
/// rule elsewhere (say its category was since removed from the list) can still have its summary
/// fixed.
pub fn validate_set_fields(
    current: &Opinion,
    fields: &[OpinionFieldValue],
    categories: &[Category],
) -> Result<(), ValidationErrors> {
    let edited = current.clone().with_fields(fields);
    let touched: Vec<Field> = fields
        .iter()
        .flat_map(|v| fields_touched(v).iter().copied())
        .collect();
    match validate_opinion(&edited, categories) {
        Ok(()) => Ok(()),
        Err(errors) => {
            let relevant: Vec<_> = errors
                .0
                .into_iter()
                .filter(|(field, _)| touched.contains(field))
                .collect();
            ValidationErrors(relevant).into_result(())
        }
    }
}

/// Why the server refuses a mutation, before it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectCode,
    pub errors: ValidationErrors,
    pub transition: Option<TransitionError>,
}

impl Rejection {
    pub fn new(code: RejectCode) -> Self {
        Rejection {
            code,
            errors: ValidationErrors::default(),
            transition: None,
        }
    }

    /// A step the lifecycle refuses.
    pub fn not_allowed(error: TransitionError) -> Self {
        Rejection {
            code: RejectCode::NotAllowed,
            errors: ValidationErrors::default(),
            transition: Some(error),
        }
    }

    /// The entry for [`PushResponse::rejected`](crate::sync::PushResponse).
    pub fn into_rejected(self, seq: Seq) -> Rejected {
        let message = if let Some(transition) = &self.transition {
            format!("{}: {transition}", self.code.code())
        } else if self.errors.is_empty() {
            self.code.code().to_owned()
        } else {
            let fields: Vec<String> = self
                .errors
                .0
                .iter()
                .map(|(f, e)| format!("{}: {}", f.name(), e.code()))
                .collect();
            format!("{}: {}", self.code.code(), fields.join(", "))
        };
        Rejected {
            seq,
            code: self.code,
            message,
            errors: self.errors,
            transition: self.transition,
        }
    }
}

/// The server's business check of one new mutation against the record's current state (`None`
/// when the server has never seen the opinion). Authorisation (may this deputy edit records of
/// this station?) is the server's and comes on top.
///
/// - A creation must pass the capture form's rules. Creating an existing opinion again with the
///   same content is accepted and changes nothing; with other content it is refused.
/// - An edit needs an existing, undeleted opinion, each field at most once, and must leave the
///   fields it touches valid.
/// - Deleting a deleted opinion is accepted and changes nothing.
pub fn validate_mutation(
    current: Option<&OpinionReplica>,
    kind: &MutationKind,
    categories: &[Category],
) -> Result<(), Rejection> {
    let deleted = current.is_some_and(|r| r.deleted().is_some());
    match kind {
        MutationKind::CreateOpinion { opinion } => {
            if deleted {
                return Err(Rejection::new(RejectCode::Deleted));
            }
            if let Some(existing) = current.and_then(OpinionReplica::created) {
                return if *existing == **opinion {
                    Ok(())
                } else {
                    Err(Rejection::new(RejectCode::AlreadyExists))
                };
            }
            validate_opinion(opinion, categories).map_err(|errors| Rejection {
                code: RejectCode::Invalid,
                errors,
                transition: None,
            })
        }
        MutationKind::SetOpinionFields { fields, .. } => {
            if deleted {
                return Err(Rejection::new(RejectCode::Deleted));
            }
            let Some(opinion) = current.and_then(OpinionReplica::opinion) else {
                return Err(Rejection::new(RejectCode::NotFound));
            };
            let repeated = fields.iter().enumerate().any(|(i, a)| {
                fields[..i]
                    .iter()
                    .any(|b| discriminant(a) == discriminant(b))
            });
            if repeated {
                return Err(Rejection::new(RejectCode::Malformed));
            }
            let sets_outcome = fields
                .iter()
                .any(|f| matches!(f, OpinionFieldValue::Outcome(_)));
            if sets_outcome && current.is_some_and(|r| r.steps().next().is_some()) {
                return Err(Rejection::not_allowed(
                    TransitionError::IntakeDecisionLocked,
                ));
            }
            validate_set_fields(&opinion, fields, categories).map_err(|errors| Rejection {
                code: RejectCode::Invalid,
                errors,
                transition: None,
            })
        }
        MutationKind::RecordFollowUp { step, .. } => {
            if deleted {
                return Err(Rejection::new(RejectCode::Deleted));
            }
            if step.by.name.chars().count() > crate::followup::lifecycle::limits::ACTOR_NAME {
                return Err(Rejection::new(RejectCode::Malformed));
            }
            // The author is the server's account record, never typed: a control character in
            // it did not come from a server.
            let author_ids = [Some(&step.by.user_id), Some(&step.by.name)]
                .into_iter()
                .chain([step.by.unit_id.as_ref().map(|u| &u.0)])
                .flatten();
            if author_ids
                .into_iter()
                .any(|t| check_single_line(t).is_err())
            {
                return Err(Rejection::new(RejectCode::Malformed));
            }
            if current.is_some_and(|r| r.steps().any(|s| s.id == step.id)) {
                // The same step again (from another push path): nothing to do.
                return Ok(());
            }
            let Some(lifecycle) = current.and_then(OpinionReplica::lifecycle) else {
                return Err(Rejection::new(RejectCode::NotFound));
            };
            match step.action.validate() {
                Ok(trimmed) if trimmed == step.action => {}
                // Steps are stored as sent; one that is not already in its trimmed form did
                // not come from our forms.
                Ok(_) => return Err(Rejection::new(RejectCode::Malformed)),
                Err(errors) => {
                    return Err(Rejection {
                        code: RejectCode::Invalid,
                        errors,
                        transition: None,
                    });
                }
            }
            lifecycle
                .check(&step.by, &step.action)
                .map_err(Rejection::not_allowed)
        }
        MutationKind::MarkAttendance { mark } => {
            for (field, id) in [
                (Field::Station, &mark.key.station_id.0),
                (Field::Deputy, &mark.key.deputy_id.0),
            ] {
                if let Err(e) = check_single_line(id) {
                    return Err(Rejection {
                        code: RejectCode::Invalid,
                        errors: ValidationErrors(vec![(field, e)]),
                        transition: None,
                    });
                }
            }
            mark.validate()
                .map_err(|_| Rejection::new(RejectCode::Invalid))
        }
        MutationKind::DeleteOpinion { .. } => {
            if current.is_some_and(|r| r.steps().next().is_some()) {
                // The follow-up history is the record of what the congress did; it is never
                // erased, so neither is the item it belongs to.
                return Err(Rejection::not_allowed(TransitionError::FollowUpBegun));
            }
            if current.is_some_and(OpinionReplica::exists) {
                Ok(())
            } else {
                Err(Rejection::new(RejectCode::NotFound))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::category::default_categories;
    use crate::citizen::{Citizen, Phone};
    use crate::ids::{ClientId, OpinionId};
    use crate::opinion::{Outcome, OutcomeKind};
    use crate::sync::hlc::Hlc;
    use crate::sync::protocol::Mutation;

    fn valid_opinion() -> Opinion {
        OpinionDraft {
            category: "parking".into(),
            summary: "小区停车难".into(),
            citizen_name: "张三".into(),
            citizen_phone: "13812341234".into(),
            consent: true,
            outcome: Some(OutcomeKind::AnsweredOnSpot),
            on_site_reply: "已联系物业".into(),
            ..OpinionDraft::default()
        }
        .validate(
            OpinionId::new_v7(1_700_000_000_000, [1; 10]),
            Some(&DutyContext {
                station_id: "st-1".into(),
                deputy_id: "dep-1".into(),
            }),
            &default_categories(),
            1_700_000_000_000,
        )
        .unwrap()
    }

    fn replica_with(opinion: &Opinion) -> OpinionReplica {
        let client = ClientId::new_v7(1, [2; 10]);
        let mut replica = OpinionReplica::new(opinion.id);
        replica.apply(&Mutation::new(
            client,
            Seq(1),
            Hlc::zero(client).successor(),
            MutationKind::CreateOpinion {
                opinion: Box::new(opinion.clone()),
            },
        ));
        replica
    }

    fn err(field: Field, e: FieldError) -> ValidationErrors {
        ValidationErrors(vec![(field, e)])
    }

    #[test]
    fn a_field_is_held_to_the_forms_limits_and_trimmed() {
        let cats = default_categories();
        assert_eq!(
            validate_field(&OpinionFieldValue::Summary("  停车  ".into()), &cats),
            Ok(OpinionFieldValue::Summary("停车".into()))
        );
        assert_eq!(
            validate_field(&OpinionFieldValue::Summary("   ".into()), &cats),
            Err(err(Field::Summary, FieldError::Required))
        );
        assert_eq!(
            validate_field(
                &OpinionFieldValue::Summary("停".repeat(limits::SUMMARY + 1)),
                &cats
            ),
            Err(err(
                Field::Summary,
                FieldError::TooLong {
                    max: limits::SUMMARY
                }
            ))
        );
        assert_eq!(
            validate_field(&OpinionFieldValue::Details(String::new()), &cats),
            Ok(OpinionFieldValue::Details(String::new())),
            "details may be empty"
        );
        assert_eq!(
            validate_field(
                &OpinionFieldValue::Place("x".repeat(limits::PLACE + 1)),
                &cats
            ),
            Err(err(
                Field::Place,
                FieldError::TooLong { max: limits::PLACE }
            ))
        );
        assert_eq!(
            validate_field(
                &OpinionFieldValue::OnSiteReply("x".repeat(limits::ON_SITE_REPLY + 1)),
                &cats
            )
            .unwrap_err()
            .get(Field::OnSiteReply),
            Some(&FieldError::TooLong {
                max: limits::ON_SITE_REPLY
            })
        );
        assert_eq!(
            validate_field(&OpinionFieldValue::Category("made_up".into()), &cats),
            Err(err(Field::Category, FieldError::UnknownChoice))
        );
        assert!(validate_field(&OpinionFieldValue::Category("parking".into()), &cats).is_ok());
        let outcome = OpinionFieldValue::Outcome(Outcome::HandledByDeputy);
        assert_eq!(validate_field(&outcome, &cats), Ok(outcome));
    }

    #[test]
    fn the_citizen_is_checked_by_the_forms_rules() {
        let cats = default_categories();
        let with_phone = Citizen {
            phone: Phone::parse("138 1234 1234"),
            ..Citizen::default()
        };
        assert_eq!(
            validate_field(&OpinionFieldValue::Citizen(with_phone.clone()), &cats),
            Err(err(Field::Consent, FieldError::ConsentMissing))
        );
        let anonymous_with_name = Citizen {
            anonymous: true,
            name: Some("李四".into()),
            ..Citizen::default()
        };
        assert_eq!(
            validate_field(&OpinionFieldValue::Citizen(anonymous_with_name), &cats),
            Err(err(
                Field::CitizenName,
                FieldError::AnonymousWithPersonalData
            ))
        );
        let consented = valid_opinion().citizen;
        assert_eq!(
            validate_field(&OpinionFieldValue::Citizen(consented.clone()), &cats),
            Ok(OpinionFieldValue::Citizen(consented.clone())),
            "the recorded consent is kept as it was"
        );
        let long_name = Citizen {
            name: Some("x".repeat(limits::NAME + 1)),
            ..consented
        };
        assert_eq!(
            validate_field(&OpinionFieldValue::Citizen(long_name), &cats)
                .unwrap_err()
                .get(Field::CitizenName),
            Some(&FieldError::TooLong { max: limits::NAME })
        );
        // A phone that is not a number cannot even be received: its type parses on the way in.
        let json = r#"{"field":"citizen","value":{"anonymous":false,"name":null,
            "phone":"12345","address":null,"consent":null}}"#;
        assert!(serde_json::from_str::<OpinionFieldValue>(json).is_err());
    }

    #[test]
    fn an_edit_is_checked_against_the_record_it_edits() {
        let cats = default_categories();
        let opinion = valid_opinion();
        // Emptying the reply of an opinion answered on the spot breaks a cross-field rule.
        assert_eq!(
            validate_set_fields(
                &opinion,
                &[OpinionFieldValue::OnSiteReply(String::new())],
                &cats
            ),
            Err(err(Field::OnSiteReply, FieldError::Required))
        );
        // ... unless the same edit changes the outcome too.
        assert_eq!(
            validate_set_fields(
                &opinion,
                &[
                    OpinionFieldValue::OnSiteReply(String::new()),
                    OpinionFieldValue::Outcome(Outcome::ToBeReferred),
                ],
                &cats
            ),
            Ok(())
        );
        // Errors elsewhere in the record do not block an unrelated fix.
        let mut stale = opinion.clone();
        stale.category = "retired_category".into();
        assert_eq!(
            validate_set_fields(&stale, &[OpinionFieldValue::Summary("新".into())], &cats),
            Ok(())
        );
        assert_eq!(
            validate_set_fields(&stale, &[OpinionFieldValue::Summary(String::new())], &cats),
            Err(err(Field::Summary, FieldError::Required))
        );
    }

    #[test]
    fn a_creation_must_pass_the_form_and_may_be_repeated_only_identically() {
        let cats = default_categories();
        let opinion = valid_opinion();
        let create = MutationKind::CreateOpinion {
            opinion: Box::new(opinion.clone()),
        };
        assert_eq!(validate_mutation(None, &create, &cats), Ok(()));

        let mut bad = opinion.clone();
        bad.summary = "  ".into();
        bad.citizen.consent = None;
        let rejection = validate_mutation(
            None,
            &MutationKind::CreateOpinion {
                opinion: Box::new(bad),
            },
            &cats,
        )
        .unwrap_err();
        assert_eq!(rejection.code, RejectCode::Invalid);
        assert_eq!(
            rejection.errors,
            ValidationErrors(vec![
                (Field::Summary, FieldError::Required),
                (Field::Consent, FieldError::ConsentMissing),
            ])
        );
        let rejected = rejection.into_rejected(Seq(4));
        assert_eq!(rejected.seq, Seq(4));
        assert_eq!(
            rejected.message,
            "invalid: summary: required, consent: consent_missing"
        );

        let existing = replica_with(&opinion);
        assert_eq!(validate_mutation(Some(&existing), &create, &cats), Ok(()));
        let mut other = opinion.clone();
        other.summary = "别的".into();
        assert_eq!(
            validate_mutation(
                Some(&existing),
                &MutationKind::CreateOpinion {
                    opinion: Box::new(other),
                },
                &cats
            )
            .unwrap_err()
            .code,
            RejectCode::AlreadyExists
        );
    }

    #[test]
    fn once_follow_up_began_neither_the_intake_decision_nor_the_item_can_go() {
        use crate::account::Role;
        use crate::followup::{Action, Actor, FollowUp, TransitionError};
        use crate::ids::{FollowUpId, UnitId};
        let cats = default_categories();
        let opinion = OpinionDraft {
            outcome: Some(OutcomeKind::ToBeReferred),
            on_site_reply: String::new(),
            ..OpinionDraft::from(&valid_opinion())
        }
        .validate(
            valid_opinion().id,
            Some(&DutyContext {
                station_id: "st-1".into(),
                deputy_id: "dep-1".into(),
            }),
            &cats,
            1_700_000_000_000,
        )
        .unwrap();
        let mut replica = replica_with(&opinion);
        let id = opinion.id;
        let delete = MutationKind::DeleteOpinion { id };
        let outcome = MutationKind::SetOpinionFields {
            id,
            fields: vec![OpinionFieldValue::Outcome(Outcome::HandledByDeputy)],
        };
        assert!(validate_mutation(Some(&replica), &delete, &cats).is_ok());
        assert!(validate_mutation(Some(&replica), &outcome, &cats).is_ok());
        let client = ClientId::new_v7(1, [4; 10]);
        let step = FollowUp {
            id: FollowUpId::new_v7(1_700_000_000_001, [1; 10]),
            at_ms: 1_700_000_000_001,
            by: Actor {
                user_id: "u-office".into(),
                name: "办公室".into(),
                role: Role::OfficeStaff,
                unit_id: None,
            },
            action: Action::Refer {
                unit_id: UnitId("unit-a".into()),
                unit_name: "区住建局".into(),
                working_days: 5,
                due: crate::followup::Date::parse("2023-11-21").unwrap(),
                note: String::new(),
            },
        };
        let record = MutationKind::RecordFollowUp {
            opinion_id: id,
            step: step.clone(),
        };
        assert!(validate_mutation(Some(&replica), &record, &cats).is_ok());
        replica.apply(&Mutation::new(
            client,
            Seq(1),
            Hlc::zero(client).successor(),
            record,
        ));
        let refusal = |kind| {
            validate_mutation(Some(&replica), kind, &cats)
                .unwrap_err()
                .transition
        };
        assert_eq!(refusal(&delete), Some(TransitionError::FollowUpBegun));
        assert_eq!(
            refusal(&outcome),
            Some(TransitionError::IntakeDecisionLocked)
        );
        // A step whose author's name is absurdly long did not come from our app.
        let long_name = MutationKind::RecordFollowUp {
            opinion_id: id,
            step: FollowUp {
                id: FollowUpId::new_v7(1_700_000_000_002, [2; 10]),
                by: Actor {
                    name: "名".repeat(101),
                    ..step.by.clone()
                },
                action: Action::Extend {
                    due: crate::followup::Date::parse("2023-12-21").unwrap(),
                    reason: "x".into(),
                },
                ..step
            },
        };
        assert_eq!(
            validate_mutation(Some(&replica), &long_name, &cats)
                .unwrap_err()
                .code,
            RejectCode::Malformed
        );
    }

    #[test]
    fn edits_and_deletes_need_a_live_record() {
        let cats = default_categories();
        let opinion = valid_opinion();
        let id = opinion.id;
        let edit = |fields| MutationKind::SetOpinionFields { id, fields };
        let delete = MutationKind::DeleteOpinion { id };
        let code = |current, kind: &MutationKind| {
            validate_mutation(current, kind, &cats)
                .err()
                .map(|r| r.code)
        };

        let summary = edit(vec![OpinionFieldValue::Summary("新".into())]);
        assert_eq!(code(None, &summary), Some(RejectCode::NotFound));
        assert_eq!(code(None, &delete), Some(RejectCode::NotFound));
        let only_edits = OpinionReplica::new(id);
        assert_eq!(
            code(Some(&only_edits), &summary),
            Some(RejectCode::NotFound)
        );

        let live = replica_with(&opinion);
        assert_eq!(code(Some(&live), &summary), None);
        assert_eq!(code(Some(&live), &delete), None);
        let twice = edit(vec![
            OpinionFieldValue::Summary("一".into()),
            OpinionFieldValue::Summary("二".into()),
        ]);
        assert_eq!(code(Some(&live), &twice), Some(RejectCode::Malformed));
        let invalid = validate_mutation(
            Some(&live),
            &edit(vec![OpinionFieldValue::Summary(" ".into())]),
            &cats,
        )
        .unwrap_err();
        assert_eq!(invalid.code, RejectCode::Invalid);
        assert_eq!(invalid.errors, err(Field::Summary, FieldError::Required));

        let mut gone = live.clone();
        let client = ClientId::new_v7(1, [3; 10]);
        gone.apply(&Mutation::new(
            client,
            Seq(1),
            Hlc {
                wall_ms: 9,
                counter: 0,
                node: client,
            },
            delete.clone(),
        ));
        assert_eq!(code(Some(&gone), &summary), Some(RejectCode::Deleted));
        assert_eq!(
            code(
                Some(&gone),
                &MutationKind::CreateOpinion {
                    opinion: Box::new(opinion.clone())
                }
            ),
            Some(RejectCode::Deleted)
        );
        assert_eq!(
            code(Some(&gone), &delete),
            None,
            "deleting again is harmless"
        );
    }
}
