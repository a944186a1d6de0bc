//! The lifecycle state machine, checked against the rules restated as a plain table: every
//! status, every step, every role. Each refusal must carry the right reason.

use liaison_domain::followup::{
    Action, ActionKind, Actor, Conclusion, Date, Evaluation, FeedbackMethod, FollowUp, Lifecycle,
    NoteKind, Status, StatusKind, TransitionError, WorkCalendar, check_referral_deadline,
    check_step_time,
};
use liaison_domain::{FollowUpId, Outcome, RedirectChannel, Role, UnitId};

const T0: u64 = 1_795_741_200_000; // 2026-11-27 09:00 in Beijing, a Friday.

fn actor(role: Role) -> Actor {
    Actor {
        user_id: format!("user-{role}"),
        name: role.to_string(),
        role,
        unit_id: (role == Role::HandlingUnit).then(|| UnitId("unit-a".into())),
    }
}

fn other_unit() -> Actor {
    Actor {
        user_id: "user-b".into(),
        name: "unit b".into(),
        role: Role::HandlingUnit,
        unit_id: Some(UnitId("unit-b".into())),
    }
}

fn day(text: &str) -> Date {
    Date::parse(text).unwrap()
}

/// A valid action of each kind, as the actor would send it.
fn action(kind: ActionKind, by: &Actor) -> Action {
    match kind {
        ActionKind::Refer => Action::Refer {
            unit_id: UnitId("unit-a".into()),
            unit_name: "区住建局".into(),
            working_days: 5,
            due: day("2026-12-04"),
            note: String::new(),
        },
        ActionKind::Accept => Action::Accept,
        ActionKind::Return => Action::Return {
            reason: "不属于本单位职责".into(),
        },
        ActionKind::Extend => Action::Extend {
            due: day("2027-01-15"),
            reason: "需要协调多个部门".into(),
        },
        ActionKind::HandleByDeputy => Action::HandleByDeputy {
            note: String::new(),
        },
        ActionKind::ConvertToSuggestion => Action::ConvertToSuggestion {
            note: String::new(),
        },
        ActionKind::NotAccept => Action::NotAccept {
            channel: RedirectChannel::Litigation,
            note: String::new(),
        },
        ActionKind::Conclude => Action::Conclude {
            conclusion: Conclusion::Resolved,
            reply: "已完成路灯维修".into(),
        },
        ActionKind::FeedBack => Action::FeedBack {
            method: FeedbackMethod::Phone,
            on: day("2026-12-05"),
            note: String::new(),
        },
        ActionKind::Evaluate => Action::Evaluate {
            evaluation: Evaluation::Satisfied,
            note: String::new(),
        },
        ActionKind::Archive => Action::Archive,
        ActionKind::Note => Action::Note {
            kind: if by.role == Role::HandlingUnit {
                NoteKind::Progress
            } else {
                NoteKind::Reminder
            },
            text: "已电话提醒".into(),
        },
    }
}

fn step(n: u8, by: Actor, action: Action) -> FollowUp {
    FollowUp {
        id: FollowUpId::new_v7(T0 + u64::from(n), [n; 10]),
        at_ms: T0 + u64::from(n) * 1000,
        by,
        action,
    }
}

/// An item in `status`, reached through the steps a real item would take.
fn item_in(status: StatusKind) -> Lifecycle {
    let staff = actor(Role::StationStaff);
    let unit = actor(Role::HandlingUnit);
    let deputy = actor(Role::Deputy);
    let go = |intake: Outcome, steps: &[(Actor, ActionKind)]| {
        let mut lifecycle = Lifecycle::at_intake(&intake);
        for (n, (by, kind)) in steps.iter().enumerate() {
            let s = step(n as u8, by.clone(), action(*kind, by));
            lifecycle
                .apply(&s)
                .unwrap_or_else(|e| panic!("{kind:?} by {:?}: {e}", by.role));
        }
        lifecycle
    };
    use ActionKind as A;
    let refer = (staff.clone(), A::Refer);
    let accept = (unit.clone(), A::Accept);
    let conclude = (unit.clone(), A::Conclude);
    let feed_back = (deputy.clone(), A::FeedBack);
    let lifecycle = match status {
        StatusKind::Registered => go(Outcome::ToBeReferred, &[]),
        StatusKind::AnsweredOnSpot => go(Outcome::AnsweredOnSpot, &[]),
        StatusKind::HandledByDeputy => go(Outcome::HandledByDeputy, &[]),
        StatusKind::NotAccepted => go(
            Outcome::NotAccepted {
                channel: RedirectChannel::Petition,
            },
            &[],
        ),
        StatusKind::ConvertedToSuggestion => go(
            Outcome::ToBeReferred,
            &[(deputy.clone(), A::ConvertToSuggestion)],
        ),
        StatusKind::Referred => go(Outcome::ToBeReferred, &[refer]),
        StatusKind::Returned => go(Outcome::ToBeReferred, &[refer, (unit.clone(), A::Return)]),
        StatusKind::InProgress => go(Outcome::ToBeReferred, &[refer, accept]),
        StatusKind::Concluded => go(Outcome::ToBeReferred, &[refer, accept, conclude]),
        StatusKind::FedBack => go(Outcome::ToBeReferred, &[refer, accept, conclude, feed_back]),
        StatusKind::Evaluated => go(
            Outcome::ToBeReferred,
            &[
                refer,
                accept,
                conclude,
                feed_back,
                (deputy.clone(), A::Evaluate),
            ],
        ),
        StatusKind::Reopened => {
            let mut lifecycle = go(Outcome::ToBeReferred, &[refer, accept, conclude, feed_back]);
            let dissatisfied = Action::Evaluate {
                evaluation: Evaluation::Dissatisfied,
                note: "路灯又坏了".into(),
            };
            lifecycle
                .apply(&step(9, deputy.clone(), dissatisfied))
                .unwrap();
            lifecycle
        }
        StatusKind::Archived => go(
            Outcome::AnsweredOnSpot,
            &[(deputy.clone(), A::Evaluate), (staff.clone(), A::Archive)],
        ),
    };
    assert_eq!(lifecycle.status.kind(), status);
    lifecycle
}

/// The rules, restated: what staff (station, office, admin) may do in each status.
fn staff_may(status: StatusKind) -> &'static [ActionKind] {
    use ActionKind as A;
    match status {
        StatusKind::Registered | StatusKind::Reopened => &[
            A::Refer,
            A::HandleByDeputy,
            A::ConvertToSuggestion,
            A::NotAccept,
            A::Note,
        ],
        StatusKind::AnsweredOnSpot => &[A::Evaluate, A::Archive, A::Note],
        StatusKind::HandledByDeputy => &[A::Refer, A::Conclude, A::Note],
        StatusKind::Referred => &[A::Extend, A::Note],
        StatusKind::Returned => &[A::Refer, A::Note],
        StatusKind::InProgress => &[A::Extend, A::Conclude, A::Note],
        StatusKind::ConvertedToSuggestion => &[A::FeedBack, A::Archive, A::Note],
        StatusKind::NotAccepted => &[A::Archive, A::Note],
        StatusKind::Concluded => &[A::FeedBack, A::Note],
        StatusKind::FedBack => &[A::Evaluate, A::Archive, A::Note],
        StatusKind::Evaluated => &[A::Archive, A::Note],
        StatusKind::Archived => &[],
    }
}

/// What a deputy may do: the staff's steps except referring, extending, archiving, and
/// recording a unit's conclusion.
fn deputy_may(status: StatusKind) -> Vec<ActionKind> {
    use ActionKind as A;
    staff_may(status)
        .iter()
        .copied()
        .filter(|a| !matches!(a, A::Refer | A::Extend | A::Archive))
        .filter(|a| !(status == StatusKind::InProgress && *a == A::Conclude))
        .collect()
}

/// What the unit an item is referred to may do.
fn unit_may(status: StatusKind) -> &'static [ActionKind] {
    use ActionKind as A;
    match status {
        StatusKind::Referred => &[A::Accept, A::Return, A::Note],
        StatusKind::InProgress => &[A::Conclude, A::Note],
        _ => &[],
    }
}

fn never_taken_by(role: Role, action: ActionKind) -> bool {
    use ActionKind as A;
    match role {
        Role::Deputy => matches!(
            action,
            A::Refer | A::Extend | A::Archive | A::Accept | A::Return
        ),
        Role::HandlingUnit => !matches!(action, A::Accept | A::Return | A::Conclude | A::Note),
        _ => matches!(action, A::Accept | A::Return),
    }
}

#[test]
fn every_step_in_every_status_for_every_role_is_allowed_or_refused_with_its_reason() {
    let mut checked = 0;
    for status in StatusKind::ALL {
        let lifecycle = item_in(status);
        for role in Role::ALL {
            let by = actor(role);
            let allowed: Vec<ActionKind> = match role {
                Role::Deputy => deputy_may(status),
                Role::HandlingUnit => unit_may(status).to_vec(),
                _ => staff_may(status).to_vec(),
            };
            for kind in ActionKind::ALL {
                let result = lifecycle.check(&by, &action(kind, &by));
                checked += 1;
                if allowed.contains(&kind) {
                    assert_eq!(result, Ok(()), "{kind:?} by {role} when {status:?}");
                    continue;
                }
                let error = result.expect_err(&format!("{kind:?} by {role} when {status:?}"));
                let expected = if never_taken_by(role, kind) {
                    "role_may_not"
                } else if role == Role::HandlingUnit
                    && !matches!(
                        status,
                        StatusKind::Referred
                            | StatusKind::InProgress
                            | StatusKind::Returned
                            | StatusKind::Concluded
                            | StatusKind::FedBack
                            | StatusKind::Evaluated
                            | StatusKind::Reopened
                            | StatusKind::Archived
                    )
                {
                    // Never referred to this unit: it learns nothing about the item.
                    "not_your_unit"
                } else {
                    "not_in_this_status"
                };
                assert_eq!(
                    error.code(),
                    expected,
                    "{kind:?} by {role} when {status:?}: {error}"
                );
            }
            assert_eq!(
                lifecycle.available(&by),
                allowed,
                "the buttons offered to {role} when {status:?}"
            );
        }
    }
    assert_eq!(checked, 13 * 5 * 12);
}

#[test]
fn a_unit_acts_only_on_what_is_referred_to_it() {
    let other = other_unit();
    for status in [StatusKind::Referred, StatusKind::InProgress] {
        let lifecycle = item_in(status);
        for kind in [
            ActionKind::Accept,
            ActionKind::Return,
            ActionKind::Conclude,
            ActionKind::Note,
        ] {
            assert_eq!(
                lifecycle.check(&other, &action(kind, &other)),
                Err(TransitionError::NotYourUnit),
                "{kind:?} by another unit when {status:?}"
            );
        }
        assert!(lifecycle.available(&other).is_empty());
    }
    // Once it was returned, the unit cannot accept it again until it is re-referred.
    let returned = item_in(StatusKind::Returned);
    let unit = actor(Role::HandlingUnit);
    assert_eq!(
        returned.check(&unit, &Action::Accept).unwrap_err().code(),
        "not_in_this_status"
    );
    // A unit may not log reminders or return visits: those are the supervisors'.
    let in_progress = item_in(StatusKind::InProgress);
    let reminder = Action::Note {
        kind: NoteKind::Reminder,
        text: "x".into(),
    };
    assert!(matches!(
        in_progress.check(&unit, &reminder),
        Err(TransitionError::RoleMayNot { .. })
    ));
    // And staff do not write the unit's progress reports.
    let progress = Action::Note {
        kind: NoteKind::Progress,
        text: "x".into(),
    };
    assert!(matches!(
        in_progress.check(&actor(Role::OfficeStaff), &progress),
        Err(TransitionError::RoleMayNot { .. })
    ));
}

#[test]
fn the_whole_life_of_an_item_with_a_return_an_extension_and_a_reopening() {
    let staff = actor(Role::OfficeStaff);
    let unit = actor(Role::HandlingUnit);
    let deputy = actor(Role::Deputy);
    let refer = |days: u32, due: &str| Action::Refer {
        unit_id: UnitId("unit-a".into()),
        unit_name: "区住建局".into(),
        working_days: days,
        due: day(due),
        note: String::new(),
    };
    let steps = vec![
        step(1, staff.clone(), refer(5, "2026-12-04")),
        step(2, unit.clone(), action(ActionKind::Return, &unit)),
        step(3, staff.clone(), refer(5, "2026-12-04")),
        step(4, unit.clone(), Action::Accept),
        step(
            5,
            staff.clone(),
            Action::Extend {
                due: day("2026-12-18"),
                reason: "汛期施工".into(),
            },
        ),
        step(6, unit.clone(), action(ActionKind::Note, &unit)),
        step(7, unit.clone(), action(ActionKind::Conclude, &unit)),
        step(8, deputy.clone(), action(ActionKind::FeedBack, &deputy)),
        step(
            9,
            deputy.clone(),
            Action::Evaluate {
                evaluation: Evaluation::Dissatisfied,
                note: String::new(),
            },
        ),
        step(10, staff.clone(), refer(3, "2026-12-02")),
        step(11, unit.clone(), Action::Accept),
        step(
            12,
            unit.clone(),
            Action::Conclude {
                conclusion: Conclusion::Planned,
                reply: "已列入明年计划".into(),
            },
        ),
        step(13, deputy.clone(), action(ActionKind::FeedBack, &deputy)),
        step(
            14,
            deputy.clone(),
            Action::Evaluate {
                evaluation: Evaluation::BasicallySatisfied,
                note: String::new(),
            },
        ),
        step(15, staff.clone(), Action::Archive),
    ];
    let mut lifecycle = Lifecycle::at_intake(&Outcome::ToBeReferred);
    let mut seen = vec![];
    for s in &steps {
        lifecycle
            .apply(s)
            .unwrap_or_else(|e| panic!("{:?}: {e}", s.action));
        seen.push(lifecycle.status.kind());
    }
    use StatusKind as S;
    assert_eq!(
        seen,
        vec![
            S::Referred,
            S::Returned,
            S::Referred,
            S::InProgress,
            S::InProgress,
            S::InProgress,
            S::Concluded,
            S::FedBack,
            S::Reopened,
            S::Referred,
            S::InProgress,
            S::Concluded,
            S::FedBack,
            S::Evaluated,
            S::Archived,
        ]
    );
    assert_eq!(lifecycle.referrals, 3);
    assert_eq!(lifecycle.reopened, 1);
    assert_eq!(lifecycle.conclusion, Some(Conclusion::Planned));
    assert_eq!(lifecycle.evaluation, Some(Evaluation::BasicallySatisfied));
    assert_eq!(lifecycle.steps, 15);
    assert_eq!(Lifecycle::replay(&Outcome::ToBeReferred, &steps), lifecycle);
}

#[test]
fn a_step_that_no_longer_applies_is_skipped_on_replay() {
    // Two tablets record feedback offline for the same concluded item; the server took one
    // first. The other, replayed on top, is skipped rather than breaking the history.
    let deputy = actor(Role::Deputy);
    let mut lifecycle = item_in(StatusKind::Concluded);
    let first = step(20, deputy.clone(), action(ActionKind::FeedBack, &deputy));
    let second = step(21, deputy.clone(), action(ActionKind::FeedBack, &deputy));
    lifecycle.apply(&first).unwrap();
    assert_eq!(
        lifecycle.apply(&second),
        Err(TransitionError::NotInThisStatus {
            action: ActionKind::FeedBack,
            status: StatusKind::FedBack
        })
    );
    assert_eq!(lifecycle.status, Status::FedBack);
}

#[test]
fn steps_need_their_reasons_and_sane_deadlines() {
    let staff = actor(Role::StationStaff);
    let unit = actor(Role::HandlingUnit);
    let referred = item_in(StatusKind::Referred);
    let blank_return = Action::Return {
        reason: "  ".into(),
    };
    assert_eq!(
        referred.check(&unit, &blank_return).unwrap_err().code(),
        "invalid"
    );
    let earlier = Action::Extend {
        due: day("2026-12-03"),
        reason: "x".into(),
    };
    assert_eq!(
        referred.check(&staff, &earlier),
        Err(TransitionError::ExtensionNotLater {
            current: day("2026-12-04")
        })
    );
    let in_progress = item_in(StatusKind::InProgress);
    let no_reason = Action::Conclude {
        conclusion: Conclusion::CannotBeSolved {
            reason: String::new(),
        },
        reply: "答复".into(),
    };
    assert_eq!(
        in_progress.check(&unit, &no_reason).unwrap_err().code(),
        "invalid"
    );
    let registered = item_in(StatusKind::Registered);
    for working_days in [0, 251] {
        let refer = Action::Refer {
            unit_id: UnitId("unit-a".into()),
            unit_name: "x".into(),
            working_days,
            due: day("2026-12-04"),
            note: String::new(),
        };
        assert_eq!(
            registered.check(&staff, &refer).unwrap_err().code(),
            "invalid"
        );
    }
}

#[test]
fn a_referral_deadline_is_counted_in_working_days_on_the_servers_calendar() {
    let staff = actor(Role::OfficeStaff);
    // Referred on Friday 27 November with 5 working days: due Friday 4 December.
    let referral = |due: &str| {
        step(
            1,
            staff.clone(),
            Action::Refer {
                unit_id: UnitId("unit-a".into()),
                unit_name: "x".into(),
                working_days: 5,
                due: day(due),
                note: String::new(),
            },
        )
    };
    let weekdays = WorkCalendar::weekdays_only();
    assert_eq!(
        check_referral_deadline(&weekdays, &referral("2026-12-04")),
        Ok(())
    );
    // With Wednesday 2 December a holiday, it is due on Monday 7 December.
    let mut holiday = WorkCalendar::weekdays_only();
    holiday.holidays.insert(day("2026-12-02"));
    assert_eq!(
        check_referral_deadline(&holiday, &referral("2026-12-04")),
        Err(TransitionError::DeadlineMismatch {
            given: day("2026-12-04"),
            expected: day("2026-12-07"),
            working_days: 5,
        })
    );
    assert_eq!(
        check_referral_deadline(&holiday, &referral("2026-12-07")),
        Ok(())
    );
}

mod random_histories {
    use super::*;
    use proptest::prelude::*;

    fn any_actor() -> impl Strategy<Value = Actor> {
        prop_oneof![
            Just(actor(Role::Deputy)),
            Just(actor(Role::StationStaff)),
            Just(actor(Role::OfficeStaff)),
            Just(actor(Role::HandlingUnit)),
            Just(other_unit()),
        ]
    }

    fn any_action() -> impl Strategy<Value = ActionKind> {
        proptest::sample::select(ActionKind::ALL.to_vec())
    }

    fn any_intake() -> impl Strategy<Value = Outcome> {
        prop_oneof![
            Just(Outcome::AnsweredOnSpot),
            Just(Outcome::ToBeReferred),
            Just(Outcome::HandledByDeputy),
            Just(Outcome::NotAccepted {
                channel: RedirectChannel::Arbitration
            }),
        ]
    }

    proptest! {
        /// Whatever people try, in whatever order: the steps taken replay to the same state,
        /// nothing moves an archived item, and a unit's steps were all taken while it held the
        /// item.
        #[test]
        fn any_sequence_of_attempts_keeps_the_rules(
            intake in any_intake(),
            attempts in proptest::collection::vec((any_actor(), any_action()), 0..40),
        ) {
            let mut lifecycle = Lifecycle::at_intake(&intake);
            let mut taken = vec![];
            for (n, (by, kind)) in attempts.into_iter().enumerate() {
                let mut action = action(kind, &by);
                // Extensions must move the deadline on.
                if let (Action::Extend { due, .. }, Some(current)) = (&mut action, lifecycle.due) {
                    *due = current.add_days(7);
                }
                let before = lifecycle.clone();
                let s = step(n as u8, by.clone(), action);
                match lifecycle.apply(&s) {
                    Ok(()) => {
                        prop_assert!(before.status != Status::Archived);
                        if by.role == Role::HandlingUnit {
                            let held = match &before.status {
                                Status::Referred { unit_id, .. }
                                | Status::InProgress { unit_id, .. } => Some(unit_id),
                                _ => None,
                            };
                            prop_assert_eq!(held, by.unit_id.as_ref());
                        }
                        taken.push(s);
                    }
                    Err(_) => prop_assert_eq!(&lifecycle, &before, "a refused step changes nothing"),
                }
            }
            prop_assert_eq!(Lifecycle::replay(&intake, &taken), lifecycle.clone());
            prop_assert_eq!(lifecycle.steps as usize, taken.len());
        }
    }
}

#[test]
fn every_refusal_round_trips_through_json() {
    let errors = [
        TransitionError::NotInThisStatus {
            action: ActionKind::Accept,
            status: StatusKind::Archived,
        },
        TransitionError::RoleMayNot {
            role: Role::Deputy,
            action: ActionKind::Refer,
        },
        TransitionError::NotYourUnit,
        TransitionError::ExtensionNotLater {
            current: day("2026-12-04"),
        },
        TransitionError::DeadlineMismatch {
            given: day("2026-12-04"),
            expected: day("2026-12-07"),
            working_days: 5,
        },
        TransitionError::IntakeDecisionLocked,
        TransitionError::FollowUpBegun,
        TransitionError::ClockWrong,
        TransitionError::Invalid {
            errors: liaison_domain::ValidationErrors(vec![(
                liaison_domain::Field::Reason,
                liaison_domain::FieldError::Required,
            )]),
        },
    ];
    for error in errors {
        let json = serde_json::to_value(&error).expect("serialisable");
        assert_eq!(json["code"], error.code(), "{json}");
        assert_eq!(
            serde_json::from_value::<TransitionError>(json).unwrap(),
            error
        );
    }
}

#[test]
fn a_step_with_an_impossible_time_is_refused() {
    let deputy = actor(Role::Deputy);
    let s = step(
        1,
        deputy,
        action(ActionKind::FeedBack, &actor(Role::Deputy)),
    );
    let now = s.at_ms;
    let created = now - 3_600_000;
    assert_eq!(check_step_time(&s, now, created), Ok(()));
    // A tablet clock five minutes fast is fine; a day fast is not.
    assert_eq!(check_step_time(&s, now - 5 * 60_000, created), Ok(()));
    assert_eq!(
        check_step_time(&s, now - 86_400_000, created),
        Err(TransitionError::ClockWrong)
    );
    // Hours before the item was recorded on another device is a clock difference; days before
    // is a wrong clock.
    assert_eq!(check_step_time(&s, now, now + 3_600_000), Ok(()));
    assert_eq!(
        check_step_time(&s, now + 3 * 86_400_000, now + 2 * 86_400_000),
        Err(TransitionError::ClockWrong)
    );
}
