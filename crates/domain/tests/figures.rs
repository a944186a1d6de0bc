//! The figures' definitions on real step histories: an item's facts derived from its steps, and
//! the counts over periods that cut through its life. Plus the property that every additive
//! figure's breakdown rows sum to its total.

use liaison_domain::figures::{
    ActivityFact, AttendanceFact, Breakdown, OpinionFacts, Period, count, count_by,
};
use liaison_domain::followup::{
    Action, Actor, Conclusion, Date, Evaluation, FeedbackMethod, FollowUp, StatusKind,
};
use liaison_domain::{
    Citizen, DeputyId, FollowUpId, Opinion, OpinionId, Outcome, Role, StationId, UnitId,
};
use proptest::prelude::*;

const HOUR: u64 = 3_600_000;

fn day(text: &str) -> Date {
    Date::parse(text).unwrap()
}

/// 10:00 in Beijing on `text`.
fn at(text: &str) -> u64 {
    let days = u64::try_from(day(text).days_since_epoch()).unwrap();
    days * 24 * HOUR + 2 * HOUR
}

fn period(from: &str, to: &str) -> Period {
    Period::new(day(from), day(to)).unwrap()
}

fn actor(role: Role) -> Actor {
    Actor {
        user_id: format!("user-{role}"),
        name: role.to_string(),
        role,
        unit_id: (role == Role::HandlingUnit).then(|| UnitId("unit-a".into())),
    }
}

fn opinion(n: u8, station: &str, on: &str, outcome: Outcome) -> Opinion {
    Opinion {
        id: OpinionId::new_v7(at(on), [n; 10]),
        station_id: StationId(station.into()),
        deputy_id: DeputyId("deputy-a".into()),
        category: "parking".into(),
        summary: format!("opinion {n}"),
        details: String::new(),
        place: String::new(),
        citizen: Citizen {
            anonymous: true,
            name: None,
            phone: None,
            address: None,
            consent: None,
        },
        on_site_reply: String::new(),
        outcome,
        photos: vec![],
        created_at_ms: at(on),
    }
}

fn step(n: u8, on: &str, role: Role, action: Action) -> FollowUp {
    FollowUp {
        id: FollowUpId::new_v7(at(on) + u64::from(n), [n; 10]),
        at_ms: at(on) + u64::from(n),
        by: actor(role),
        action,
    }
}

fn refer(n: u8, on: &str, due: &str) -> FollowUp {
    step(
        n,
        on,
        Role::OfficeStaff,
        Action::Refer {
            unit_id: UnitId("unit-a".into()),
            unit_name: "区住建局".into(),
            working_days: 5,
            due: day(due),
            note: String::new(),
        },
    )
}

fn conclude(n: u8, on: &str) -> FollowUp {
    step(
        n,
        on,
        Role::HandlingUnit,
        Action::Conclude {
            conclusion: Conclusion::Resolved,
            reply: "已解决".into(),
        },
    )
}

fn feed_back(n: u8, on: &str) -> FollowUp {
    step(
        n,
        on,
        Role::StationStaff,
        Action::FeedBack {
            method: FeedbackMethod::Phone,
            on: day(on),
            note: String::new(),
        },
    )
}

fn evaluate(n: u8, on: &str, evaluation: Evaluation) -> FollowUp {
    step(
        n,
        on,
        Role::StationStaff,
        Action::Evaluate {
            evaluation,
            note: String::new(),
        },
    )
}

/// Recorded in January, referred in February, concluded late in March, evaluated dissatisfied
/// (reopened), referred again in April, concluded on time, evaluated satisfied in May.
fn reopened_item() -> OpinionFacts {
    let o = opinion(1, "s1", "2026-01-30", Outcome::ToBeReferred);
    let steps = [
        refer(1, "2026-02-02", "2026-02-27"),
        step(2, "2026-02-03", Role::HandlingUnit, Action::Accept),
        conclude(3, "2026-03-02"),
        feed_back(4, "2026-03-03"),
        evaluate(5, "2026-03-04", Evaluation::Dissatisfied),
        refer(6, "2026-04-01", "2026-04-30"),
        step(7, "2026-04-02", Role::HandlingUnit, Action::Accept),
        conclude(8, "2026-04-20"),
        feed_back(9, "2026-04-21"),
        evaluate(10, "2026-05-06", Evaluation::Satisfied),
    ];
    OpinionFacts::derive(&o, &steps)
}

#[test]
fn a_reopened_item_has_the_facts_of_its_whole_life() {
    let f = reopened_item();
    assert_eq!(f.collected, day("2026-01-30"));
    assert_eq!(f.first_referred, Some(day("2026-02-02")));
    assert_eq!(f.first_concluded, Some(day("2026-03-02")));
    // The latest referral's deadline and conclusion: on time the second time.
    assert_eq!(f.due, Some(day("2026-04-30")));
    assert_eq!(f.due_concluded, Some(day("2026-04-20")));
    assert_eq!(
        f.evaluations,
        vec![(day("2026-03-04"), false), (day("2026-05-06"), true)]
    );
    assert_eq!(f.status, StatusKind::Evaluated);
    assert_eq!(f.unit_id, Some(UnitId("unit-a".into())));
}

#[test]
fn each_event_counts_in_its_own_period() {
    let items = [reopened_item()];
    let today = day("2026-06-30");
    let month = |from: &str, to: &str| count(&items, &[], &[], &period(from, to), today);

    let january = month("2026-01-01", "2026-01-31");
    assert_eq!(
        (
            january.opinions_collected,
            january.referred,
            january.concluded
        ),
        (1, 0, 0)
    );
    let february = month("2026-02-01", "2026-02-28");
    assert_eq!(
        (
            february.opinions_collected,
            february.referred,
            february.concluded
        ),
        (0, 1, 0)
    );
    // Referred in February, not concluded by its end: a handling rate of 0 of 1.
    assert_eq!(february.referred_and_concluded, 0);
    let march = month("2026-03-01", "2026-03-31");
    assert_eq!(
        (march.concluded, march.evaluated, march.satisfied),
        (1, 1, 0)
    );
    // Concluded in April again: not a second conclusion.
    let april = month("2026-04-01", "2026-04-30");
    assert_eq!((april.referred, april.concluded), (0, 0));
    // The first half-year: one item, referred and concluded, its latest evaluation satisfied.
    let half = month("2026-01-01", "2026-06-30");
    assert_eq!(
        (
            half.opinions_collected,
            half.referred,
            half.referred_and_concluded,
            half.concluded,
            half.evaluated,
            half.satisfied
        ),
        (1, 1, 1, 1, 1, 1)
    );
    // Overdue follows the latest referral, which was concluded on time.
    assert_eq!(half.overdue, 0);
}

#[test]
fn an_item_due_on_friday_is_overdue_over_the_weekend() {
    // 2026-03-06 is a Friday.
    let o = opinion(2, "s1", "2026-03-02", Outcome::ToBeReferred);
    let open = OpinionFacts::derive(&o, &[refer(1, "2026-03-02", "2026-03-06")]);
    let weekend = period("2026-03-07", "2026-03-08");
    assert_eq!(
        count(
            std::slice::from_ref(&open),
            &[],
            &[],
            &weekend,
            day("2026-03-09")
        )
        .overdue,
        1
    );
    // Asked on the Friday itself, nothing is overdue yet.
    let week = period("2026-03-02", "2026-03-08");
    assert_eq!(
        count(
            std::slice::from_ref(&open),
            &[],
            &[],
            &week,
            day("2026-03-06")
        )
        .overdue,
        0
    );
    // Concluded on the Monday: late, so overdue that week, and not the week after.
    let late = OpinionFacts::derive(
        &o,
        &[
            refer(1, "2026-03-02", "2026-03-06"),
            step(2, "2026-03-03", Role::HandlingUnit, Action::Accept),
            conclude(3, "2026-03-09"),
        ],
    );
    assert_eq!(
        count(
            std::slice::from_ref(&late),
            &[],
            &[],
            &week,
            day("2026-04-01")
        )
        .overdue,
        1
    );
    let next = period("2026-03-10", "2026-03-16");
    assert_eq!(
        count(&[late], &[], &[], &next, day("2026-04-01")).overdue,
        0
    );
}

#[test]
fn an_item_sent_back_is_not_overdue_until_it_is_referred_again() {
    let o = opinion(3, "s1", "2026-03-02", Outcome::ToBeReferred);
    let steps = [
        refer(1, "2026-03-02", "2026-03-13"),
        step(
            2,
            "2026-03-10",
            Role::HandlingUnit,
            Action::Return {
                reason: "不属于本单位职责".into(),
            },
        ),
    ];
    let returned = OpinionFacts::derive(&o, &steps);
    assert_eq!(returned.due_concluded, Some(day("2026-03-10")));
    let after = period("2026-03-14", "2026-04-09");
    assert_eq!(
        count(
            std::slice::from_ref(&returned),
            &[],
            &[],
            &after,
            day("2026-04-30")
        )
        .overdue,
        0,
        "nobody held it"
    );
    // Referred again with a new deadline, missed: overdue from the day after that one.
    let mut again = steps.to_vec();
    again.push(refer(3, "2026-04-10", "2026-04-17"));
    let again = OpinionFacts::derive(&o, &again);
    assert_eq!(again.due_concluded, None);
    assert_eq!(again.first_referred, Some(day("2026-03-02")));
    let april = period("2026-04-01", "2026-04-30");
    assert_eq!(
        count(&[again], &[], &[], &april, day("2026-04-30")).overdue,
        1
    );
}

#[test]
fn a_deputy_on_duty_at_two_stations_is_one_deputy() {
    let shift = |station: &str, on: &str| AttendanceFact {
        station_id: StationId(station.into()),
        deputy_id: DeputyId("deputy-a".into()),
        day: day(on),
    };
    let attendance = [shift("s1", "2026-03-02"), shift("s2", "2026-03-03")];
    let event = ActivityFact {
        station_id: StationId("s2".into()),
        day: day("2026-03-04"),
        citizens_received: 12,
        attendees: vec![DeputyId("deputy-a".into()), DeputyId("deputy-b".into())],
    };
    let p = period("2026-03-01", "2026-03-31");
    let total = count(
        &[],
        &attendance,
        std::slice::from_ref(&event),
        &p,
        day("2026-04-01"),
    );
    assert_eq!(
        (
            total.deputies_on_duty,
            total.duty_shifts,
            total.citizens_received
        ),
        (2, 2, 12)
    );
    let rows = count_by(
        Breakdown::Station,
        &[],
        &attendance,
        &[event],
        &p,
        day("2026-04-01"),
    );
    assert_eq!(rows["s1"].deputies_on_duty, 1);
    assert_eq!(rows["s2"].deputies_on_duty, 2);
    assert_eq!(rows["s2"].citizens_received, 12);
}

fn arb_date() -> impl Strategy<Value = Date> {
    (0i32..120).prop_map(|n| day("2026-01-01").add_days(n))
}

fn arb_facts() -> impl Strategy<Value = OpinionFacts> {
    (
        0u8..3,
        0u8..3,
        arb_date(),
        any::<bool>(),
        proptest::option::of((0i32..40, 0i32..30, proptest::option::of(0i32..40))),
        proptest::collection::vec((0i32..60, any::<bool>()), 0..3),
    )
        .prop_map(
            |(station, category, collected, spot, referral, evaluations)| {
                let first_referred = referral.map(|(r, _, _)| collected.add_days(r));
                let due = referral.map(|(r, d, _)| collected.add_days(r + d));
                let concluded = referral.and_then(|(r, _, c)| c.map(|c| collected.add_days(r + c)));
                OpinionFacts {
                    opinion_id: OpinionId::new_v7(1, [station; 10]),
                    station_id: StationId(format!("s{station}")),
                    deputy_id: DeputyId(format!("d{}", station % 2)),
                    category: format!("c{category}"),
                    collected,
                    answered_on_the_spot: spot && referral.is_none(),
                    first_referred,
                    unit_id: referral.map(|_| UnitId(format!("u{category}"))),
                    due,
                    due_concluded: concluded,
                    first_concluded: concluded,
                    evaluations: match concluded {
                        Some(c) => evaluations
                            .into_iter()
                            .map(|(d, s)| (c.add_days(d), s))
                            .collect(),
                        None => vec![],
                    },
                    status: StatusKind::Registered,
                }
            },
        )
}

proptest! {
    /// Counted per station, per category or per month, the additive figures add up to the total
    /// (the rates and distinct deputies are not additive, and are not checked here).
    #[test]
    fn breakdowns_add_up_to_the_total(
        items in proptest::collection::vec(arb_facts(), 0..30),
        from in arb_date(),
        length in 0i32..90,
    ) {
        let p = Period::new(from, from.add_days(length)).unwrap();
        let today = day("2026-03-15");
        let total = count(&items, &[], &[], &p, today);
        for by in [Breakdown::Station, Breakdown::Month, Breakdown::Day, Breakdown::Category] {
            let rows = count_by(by, &items, &[], &[], &p, today);
            let sum = |f: fn(&liaison_domain::figures::Figures) -> u64| rows.values().map(f).sum::<u64>();
            prop_assert_eq!(sum(|f| f.opinions_collected), total.opinions_collected);
            prop_assert_eq!(sum(|f| f.answered_on_the_spot), total.answered_on_the_spot);
            prop_assert_eq!(sum(|f| f.referred), total.referred);
            prop_assert_eq!(sum(|f| f.concluded), total.concluded);
            if by != Breakdown::Month && by != Breakdown::Day {
                // Per group (not per time bucket) each item is in exactly one row.
                prop_assert_eq!(sum(|f| f.overdue), total.overdue);
                prop_assert_eq!(sum(|f| f.evaluated), total.evaluated);
                prop_assert_eq!(sum(|f| f.satisfied), total.satisfied);
                prop_assert_eq!(sum(|f| f.referred_and_concluded), total.referred_and_concluded);
            }
        }
    }
}
