//! The statistics over HTTP (`GET /api/v1/figures`), the reception register (`GET
//! /api/v1/register`) and the facts behind them (`opinion_facts` and their rollups
//! `figure_days` and `figure_months`, kept by the push transaction and rebuilt at startup when
//! their version is older). After every kind of change the fixture's figures are compared with
//! the domain's `count` and the rollups with a rebuild
//! ([`the_rollups_follow_every_change_of_the_facts`]).
//!
//! **The fixture** ([`fixture`]) is built through the real API: opinions, their follow-up steps
//! and attendance pushed as the tablets and the back office do (dated in the past: the clock
//! checks only refuse steps ahead of the server or before their item), station events posted.
//! Every figure of it is counted by hand below. Days of 2026; the deadlines on the server's
//! calendar (no holidays set: weekdays).
//!
//! Stations: 幸福里 (X, in 幸福街道 ⊂ 示范区), 和平 (H, directly in 示范区), and 另一区代表之家
//! (O, in 另一区, outside the office's district). Deputies: 张建国 (X), 李秀英 (X and H),
//! 王志强 (H), 陈丽华 (H and X), 赵国强 (O).
//!
//! | # | station, deputy, category | recorded | what happens |
//! | --- | --- | --- | --- |
//! | 1 | X 张 parking | 01-05 | answered on the spot; evaluated satisfied 01-06 |
//! | 2 | X 张 parking | 01-20 | referred (住建局) 02-02, due 02-09; concluded 03-02 (late); fed back; evaluated dissatisfied 03-04 → reopened; referred again (城管局) 03-05, due 03-10; concluded 03-09; evaluated satisfied 04-01 |
//! | 3 | X 李 elevators | 02-25 | referred (住建局) 02-26, due Friday 02-27; accepted; never concluded |
//! | 4 | H 王 parking | 02-26 | referred (城管局) 02-26, due Friday 02-27; concluded Monday 03-02 |
//! | 5 | H 李 parking | 03-10 | handled by the deputy; concluded 03-16; evaluated basically satisfied 03-18 |
//! | 6 | X 陈 parking | 03-31 | deleted: counts nowhere |
//! | 7 | O 赵 parking | 03-03 | answered on the spot |
//! | 8 | H 陈 elderly subsidies | 01-31 | not accepted (petition), anonymous |
//!
//! Attendance with a sign-in: X 张 01-05 (and out), X 李 01-05, X 张 02-02, X 李 03-02, H 李 01-06,
//! H 王 02-26, O 赵 03-03; H 陈 03-02 has only a sign-out (no shift). Events: H 01-06 collective
//! reception, 12 citizens, attended by 王 and 陈; X 03-02 survey, no citizens, attended by 陈.

use super::accounts::app_with_accounts;
use super::sync::{client, opinion_id, stamp};
use super::{TestApp, assert_json_error, body_json};
use axum::http::{Method, StatusCode};
use liaison_domain::figures::{
    ActivityFact, AttendanceFact, Breakdown, FigureReport, Figures, OpinionFacts, Period, count,
    count_by,
};
use liaison_domain::followup::{
    Action, Actor, AttendanceKey, AttendanceMark, Conclusion, Date, Evaluation, FeedbackMethod,
    FollowUp, HandlingUnit, Mark, RegisterRow, StatusKind, WorkCalendar,
};
use liaison_domain::sync::{Mutation, MutationKind, OpinionFieldValue, OpinionReplica, Seq};
use liaison_domain::{
    ClientId, DutyContext, FollowUpId, OpinionDraft, OpinionId, OutcomeKind, RedirectChannel, Role,
    StationId, default_categories,
};
use liaison_server::db::facts::FACTS_VERSION;
use liaison_server::db::figures::SQLITE_MAX_LISTED;
use liaison_server::db::followup::Period as DutyPeriod;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

pub(super) const X: &str = "station-xingfuli";
pub(super) const H: &str = "station-heping";
pub(super) const O: &str = "station-other";
pub(super) const ZHANG: &str = "deputy-demo-zhang";
pub(super) const LI: &str = "deputy-demo-li";
pub(super) const WANG: &str = "deputy-demo-wang";
pub(super) const CHEN: &str = "deputy-demo-chen";
pub(super) const ZHAO: &str = "deputy-demo-zhao";
const HOUSING: &str = "unit-demo-housing";
const URBAN: &str = "unit-demo-urban";

pub(super) fn d(text: &str) -> Date {
    Date::parse(text).unwrap_or_else(|| panic!("not a day: {text}"))
}

/// Noon in China (04:00 UTC) on `day`.
pub(super) fn noon(day: &str) -> u64 {
    let days = d("1970-01-01").days_until(d(day));
    u64::try_from(days).unwrap() * 86_400_000 + 4 * 3_600_000
}

/// The figures in a fixed order, to write the hand counts compactly: deputies on duty, duty
/// shifts, citizens received, opinions collected, answered on the spot, referred, concluded,
/// overdue, referred and concluded by the period's end, evaluated, satisfied.
pub(super) fn fig(n: [u64; 11]) -> Figures {
    Figures {
        deputies_on_duty: n[0],
        duty_shifts: n[1],
        citizens_received: n[2],
        opinions_collected: n[3],
        answered_on_the_spot: n[4],
        referred: n[5],
        concluded: n[6],
        overdue: n[7],
        referred_and_concluded: n[8],
        evaluated: n[9],
        satisfied: n[10],
    }
}

const ZERO: [u64; 11] = [0; 11];

/// One account pushing one mutation at a time with its own sync client.
pub(super) struct Pusher {
    pub token: String,
    pub actor: Actor,
    client: ClientId,
    seq: u64,
}

impl Pusher {
    async fn new(app: &TestApp, token: String, client_number: u8) -> Self {
        Pusher {
            actor: app.actor(&token).await,
            token,
            client: client(client_number),
            seq: 0,
        }
    }

    pub(super) async fn push(&mut self, app: &TestApp, kind: MutationKind) {
        self.seq += 1;
        let mutation = Mutation::new(
            self.client,
            Seq(self.seq),
            stamp(self.client, self.seq * 10),
            kind,
        );
        let answer = app.push_ok(&self.token, self.client, vec![mutation]).await;
        assert!(answer.rejected.is_empty(), "{answer:?}");
    }

    async fn step(&mut self, app: &TestApp, opinion: OpinionId, day: &str, action: Action) {
        static NEXT: AtomicU32 = AtomicU32::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        let at_ms = noon(day);
        let step = FollowUp {
            id: FollowUpId::new_v7(at_ms, [n[0], n[1], n[2], n[3], 0xf1, 0, 0, 0, 0, 2]),
            at_ms,
            by: self.actor.clone(),
            action,
        };
        self.push(
            app,
            MutationKind::RecordFollowUp {
                opinion_id: opinion,
                step,
            },
        )
        .await;
    }

    async fn mark(&mut self, app: &TestApp, station: &str, deputy: &str, day: &str, mark: Mark) {
        let at_ms = match mark {
            Mark::SignIn => noon(day) - 3 * 3_600_000,
            Mark::SignOut => noon(day) + 3 * 3_600_000,
        };
        self.push(
            app,
            MutationKind::MarkAttendance {
                mark: AttendanceMark {
                    key: AttendanceKey {
                        station_id: station.into(),
                        deputy_id: deputy.into(),
                        day: d(day),
                    },
                    mark,
                    at_ms,
                },
            },
        )
        .await;
    }
}

/// Opinion `n` as recorded at intake.
fn intake(
    n: u8,
    station: &str,
    deputy: &str,
    category: &str,
    outcome: OutcomeKind,
    day: &str,
) -> MutationKind {
    let anonymous = outcome == OutcomeKind::NotAccepted;
    let draft = OpinionDraft {
        category: category.into(),
        summary: format!("事项 {n}"),
        place: format!("地点 {n}"),
        anonymous,
        citizen_name: if anonymous {
            String::new()
        } else {
            "张三".into()
        },
        citizen_phone: if anonymous {
            String::new()
        } else {
            "13812341234".into()
        },
        citizen_address: if anonymous {
            String::new()
        } else {
            "幸福里 3 号楼".into()
        },
        consent: !anonymous,
        outcome: Some(outcome),
        channel: (outcome == OutcomeKind::NotAccepted).then_some(RedirectChannel::Petition),
        on_site_reply: if outcome == OutcomeKind::AnsweredOnSpot {
            "已当场答复".into()
        } else {
            String::new()
        },
        ..OpinionDraft::default()
    };
    let opinion = draft
        .validate(
            opinion_id(n),
            Some(&DutyContext {
                station_id: station.into(),
                deputy_id: deputy.into(),
            }),
            &default_categories(),
            noon(day),
        )
        .expect("a valid opinion");
    MutationKind::CreateOpinion {
        opinion: Box::new(opinion),
    }
}

/// A referral on `day` for `working_days` on the server's calendar (weekdays), due `due`.
fn refer(unit: &str, day: &str, working_days: u32, due: &str) -> Action {
    assert_eq!(
        WorkCalendar::weekdays_only().add_working_days(d(day), working_days),
        d(due),
        "the deadline of a referral on {day}"
    );
    Action::Refer {
        unit_id: unit.into(),
        unit_name: String::new(),
        working_days,
        due: d(due),
        note: String::new(),
    }
}

fn conclude() -> Action {
    Action::Conclude {
        conclusion: Conclusion::Resolved,
        reply: "已解决".into(),
    }
}

fn feed_back(day: &str) -> Action {
    Action::FeedBack {
        method: FeedbackMethod::Phone,
        on: d(day),
        note: String::new(),
    }
}

fn evaluate(evaluation: Evaluation) -> Action {
    Action::Evaluate {
        evaluation,
        note: String::new(),
    }
}

/// The fixture of the module docs, with everyone signed in.
pub(super) struct Fixture {
    pub app: TestApp,
    pub admin: String,
    /// Office staff of 示范区 (X and H).
    pub office: String,
    pub staff_x: String,
    pub staff_h: String,
    /// The deputy 张建国 (scope X).
    pub deputy: String,
    pub housing: String,
}

pub(super) async fn fixture() -> Fixture {
    let app = app_with_accounts().await;
    {
        let mut conn = app.db.acquire().await.unwrap();
        for sql in [
            "INSERT INTO regions (id, name, parent_id) \
             VALUES ('region-demo-other', '另一区', 'region-demo-city')",
            "INSERT INTO stations (id, region_id, name, address) \
             VALUES ('station-other', 'region-demo-other', '另一区代表之家', '另一路 1 号')",
            "INSERT INTO deputies (id, name, level) VALUES ('deputy-demo-zhao', '赵国强', '区人大代表')",
            "INSERT INTO deputy_stations (deputy_id, station_id) \
             VALUES ('deputy-demo-zhao', 'station-other')",
        ] {
            conn.query(sql).execute().await.unwrap();
        }
    }
    for (id, name) in [(HOUSING, "区住房和城乡建设局"), (URBAN, "区城市管理局")] {
        app.db
            .put_unit(&HandlingUnit {
                id: id.into(),
                name: name.into(),
                region_id: "region-demo-district".into(),
            })
            .await
            .unwrap();
    }
    app.add_user("admin", Role::Admin, None, &[]).await;
    app.add_unit_user("unit-housing", HOUSING).await;
    app.add_unit_user("unit-urban", URBAN).await;
    let f = Fixture {
        admin: app.token("admin", None).await,
        office: app.token("office", None).await,
        staff_x: app.token("staff-xingfuli", None).await,
        staff_h: app.token("staff-heping", None).await,
        deputy: app.token("deputy-zhang", None).await,
        housing: app.token("unit-housing", None).await,
        app,
    };
    let app = &f.app;
    let mut sx = Pusher::new(app, f.staff_x.clone(), 101).await;
    let mut sh = Pusher::new(app, f.staff_h.clone(), 102).await;
    let mut ad = Pusher::new(app, f.admin.clone(), 103).await;
    let mut uh = Pusher::new(app, f.housing.clone(), 104).await;
    let mut uu = Pusher::new(app, app.token("unit-urban", None).await, 105).await;
    use OutcomeKind::*;

    // 1: answered on the spot, evaluated satisfied the next day.
    let o1 = opinion_id(1);
    sx.push(
        app,
        intake(1, X, ZHANG, "parking", AnsweredOnSpot, "2026-01-05"),
    )
    .await;
    sx.step(app, o1, "2026-01-06", evaluate(Evaluation::Satisfied))
        .await;
    // 2: across months, late at the first unit, reopened, then satisfied.
    let o2 = opinion_id(2);
    sx.push(
        app,
        intake(2, X, ZHANG, "parking", ToBeReferred, "2026-01-20"),
    )
    .await;
    sx.step(
        app,
        o2,
        "2026-02-02",
        refer(HOUSING, "2026-02-02", 5, "2026-02-09"),
    )
    .await;
    uh.step(app, o2, "2026-02-03", Action::Accept).await;
    uh.step(app, o2, "2026-03-02", conclude()).await;
    sx.step(app, o2, "2026-03-03", feed_back("2026-03-03"))
        .await;
    sx.step(app, o2, "2026-03-04", evaluate(Evaluation::Dissatisfied))
        .await;
    sx.step(
        app,
        o2,
        "2026-03-05",
        refer(URBAN, "2026-03-05", 3, "2026-03-10"),
    )
    .await;
    uu.step(app, o2, "2026-03-05", Action::Accept).await;
    uu.step(app, o2, "2026-03-09", conclude()).await;
    sx.step(app, o2, "2026-03-10", feed_back("2026-03-10"))
        .await;
    sx.step(app, o2, "2026-04-01", evaluate(Evaluation::Satisfied))
        .await;
    // 3: due on a Friday, never concluded.
    let o3 = opinion_id(3);
    sx.push(
        app,
        intake(
            3,
            X,
            LI,
            "old_building_elevators",
            ToBeReferred,
            "2026-02-25",
        ),
    )
    .await;
    sx.step(
        app,
        o3,
        "2026-02-26",
        refer(HOUSING, "2026-02-26", 1, "2026-02-27"),
    )
    .await;
    uh.step(app, o3, "2026-02-26", Action::Accept).await;
    // 4: due on a Friday, concluded the next Monday.
    let o4 = opinion_id(4);
    sh.push(
        app,
        intake(4, H, WANG, "parking", ToBeReferred, "2026-02-26"),
    )
    .await;
    sh.step(
        app,
        o4,
        "2026-02-26",
        refer(URBAN, "2026-02-26", 1, "2026-02-27"),
    )
    .await;
    uu.step(app, o4, "2026-02-27", Action::Accept).await;
    uu.step(app, o4, "2026-03-02", conclude()).await;
    // 5: handled by the deputy.
    let o5 = opinion_id(5);
    sh.push(
        app,
        intake(5, H, LI, "parking", HandledByDeputy, "2026-03-10"),
    )
    .await;
    sh.step(app, o5, "2026-03-16", conclude()).await;
    sh.step(app, o5, "2026-03-17", feed_back("2026-03-17"))
        .await;
    sh.step(
        app,
        o5,
        "2026-03-18",
        evaluate(Evaluation::BasicallySatisfied),
    )
    .await;
    // 6: deleted.
    sx.push(
        app,
        intake(6, X, CHEN, "parking", ToBeReferred, "2026-03-31"),
    )
    .await;
    sx.push(app, MutationKind::DeleteOpinion { id: opinion_id(6) })
        .await;
    // 7: at the other district's station.
    ad.push(
        app,
        intake(7, O, ZHAO, "parking", AnsweredOnSpot, "2026-03-03"),
    )
    .await;
    // 8: not accepted, anonymous.
    sh.push(
        app,
        intake(8, H, CHEN, "elderly_subsidies", NotAccepted, "2026-01-31"),
    )
    .await;

    sx.mark(app, X, ZHANG, "2026-01-05", Mark::SignIn).await;
    sx.mark(app, X, ZHANG, "2026-01-05", Mark::SignOut).await;
    sx.mark(app, X, LI, "2026-01-05", Mark::SignIn).await;
    sx.mark(app, X, ZHANG, "2026-02-02", Mark::SignIn).await;
    sx.mark(app, X, LI, "2026-03-02", Mark::SignIn).await;
    sh.mark(app, H, LI, "2026-01-06", Mark::SignIn).await;
    sh.mark(app, H, WANG, "2026-02-26", Mark::SignIn).await;
    sh.mark(app, H, CHEN, "2026-03-02", Mark::SignOut).await;
    ad.mark(app, O, ZHAO, "2026-03-03", Mark::SignIn).await;

    for (token, id, station, kind, day, citizens, attendees) in [
        (
            &f.staff_h,
            "0190a0b0-0000-7000-8000-000000000001",
            H,
            "collective_reception",
            "2026-01-06",
            12,
            vec![WANG, CHEN],
        ),
        (
            &f.staff_x,
            "0190a0b0-0000-7000-8000-000000000002",
            X,
            "survey",
            "2026-03-02",
            0,
            vec![CHEN],
        ),
    ] {
        let response = app
            .call(
                Method::POST,
                "/api/v1/activities",
                Some(token),
                Some(json!({
                    "id": id,
                    "station_id": station,
                    "kind": kind,
                    "title": "活动",
                    "day": day,
                    "attendees": attendees,
                    "citizens_received": citizens,
                })),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "activity {id}");
    }
    f
}

impl TestApp {
    pub(super) async fn figures(&self, token: &str, query: &str) -> FigureReport {
        let response = self
            .call(
                Method::GET,
                &format!("/api/v1/figures?{query}"),
                Some(token),
                None,
            )
            .await;
        let status = response.status();
        let body = body_json(response).await;
        assert_eq!(status, StatusCode::OK, "figures?{query}: {body}");
        serde_json::from_value(body).unwrap()
    }

    async fn figure_rows(&self, token: &str, query: &str) -> BTreeMap<String, Figures> {
        self.figures(token, query)
            .await
            .rows
            .into_iter()
            .map(|row| (row.key, row.figures))
            .collect()
    }
}

fn rows(expected: &[(&str, [u64; 11])]) -> BTreeMap<String, Figures> {
    expected
        .iter()
        .map(|(key, n)| ((*key).to_owned(), fig(*n)))
        .collect()
}

#[tokio::test]
async fn the_figures_of_a_known_fixture_are_the_hand_counted_ones() {
    let f = fixture().await;
    let app = &f.app;
    // The office's district (X and H), period by period. Columns as in `fig`.
    for (from, to, expected) in [
        // Jan: shifts 张 X, 李 X, 李 H; on duty also 王 and 陈 at H's event; citizens 3 + 12.
        (
            "2026-01-01",
            "2026-01-31",
            [4, 3, 15, 3, 1, 0, 0, 0, 0, 1, 1],
        ),
        // Feb: #2, #3, #4 referred; #3 and #4 overdue on Saturday the 28th.
        (
            "2026-02-01",
            "2026-02-28",
            [2, 2, 2, 2, 0, 3, 0, 2, 0, 0, 0],
        ),
        // Mar: 陈's sign-out is no shift; #2, #4, #5 concluded; #3 and #4 (concluded on the
        // 2nd, overdue on the 1st) overdue; #2 dissatisfied, #5 satisfied.
        (
            "2026-03-01",
            "2026-03-31",
            [2, 1, 1, 1, 0, 0, 3, 2, 0, 2, 1],
        ),
        // Apr: #3 still overdue; #2 satisfied at last.
        (
            "2026-04-01",
            "2026-04-30",
            [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1],
        ),
        // Q1: #2's latest evaluation in it is the dissatisfied one; #2 and #4 concluded by the
        // end of it; #2's first deadline does not count (its latest referral was on time).
        (
            "2026-01-01",
            "2026-03-31",
            [4, 6, 18, 6, 1, 3, 3, 2, 2, 3, 2],
        ),
        // Jan to Apr: #2 evaluated once, as satisfied.
        (
            "2026-01-01",
            "2026-04-30",
            [4, 6, 18, 6, 1, 3, 3, 2, 2, 3, 3],
        ),
        // The deadline Friday: nothing is overdue yet.
        ("2026-02-27", "2026-02-27", ZERO),
        // The weekend after it: both overdue.
        (
            "2026-02-28",
            "2026-03-01",
            [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0],
        ),
        // The Monday #4 was concluded on: still overdue that day.
        (
            "2026-03-02",
            "2026-03-02",
            [2, 1, 0, 0, 0, 0, 2, 2, 0, 0, 0],
        ),
    ] {
        let report = app
            .figures(&f.office, &format!("from={from}&to={to}"))
            .await;
        assert_eq!(report.total, fig(expected), "district {from}..{to}");
        assert_eq!(report.period, Period::new(d(from), d(to)).unwrap());
        assert!(report.rows.is_empty() && report.by.is_none());
    }

    let q1 = "from=2026-01-01&to=2026-03-31";
    let x_q1 = [3, 4, 3, 3, 1, 2, 1, 1, 1, 2, 1];
    let h_q1 = [3, 2, 15, 3, 0, 1, 2, 1, 1, 1, 1];
    let all_q1 = [5, 7, 19, 7, 2, 3, 3, 2, 2, 3, 2];
    // Scopes: a station, a region (幸福街道 holds X only; 示范区 both), everything readable.
    for (token, scope, expected) in [
        (&f.office, format!("&station={X}"), x_q1),
        (&f.office, format!("&station={H}"), h_q1),
        (&f.office, "&region=region-demo-street".to_owned(), x_q1),
        (
            &f.office,
            "&region=region-demo-district".to_owned(),
            [4, 6, 18, 6, 1, 3, 3, 2, 2, 3, 2],
        ),
        (&f.admin, String::new(), all_q1),
        (&f.admin, "&region=region-demo-city".to_owned(), all_q1),
        (
            &f.admin,
            "&region=region-demo-other".to_owned(),
            [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
        ),
        (&f.staff_x, String::new(), x_q1),
        // The district as seen by X's staff: only what they may read.
        (&f.staff_x, "&region=region-demo-district".to_owned(), x_q1),
        (&f.deputy, String::new(), x_q1),
    ] {
        let report = app.figures(token, &format!("{q1}{scope}")).await;
        assert_eq!(report.total, fig(expected), "{scope}");
    }

    // Breakdowns of the district's Q1. The totals are not the rows' sums: 李 was on duty at
    // both stations, 陈 at both stations' events.
    let by_station = app.figures(&f.office, &format!("{q1}&by=station")).await;
    assert_eq!(by_station.total, fig([4, 6, 18, 6, 1, 3, 3, 2, 2, 3, 2]));
    assert_eq!(by_station.by, Some(Breakdown::Station));
    let labels: Vec<(&str, &str)> = by_station
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.label.as_str()))
        .collect();
    assert_eq!(
        labels,
        [(H, "和平街道代表之家"), (X, "幸福里社区人大代表联络站")]
    );
    assert_eq!(
        app.figure_rows(&f.office, &format!("{q1}&by=station"))
            .await,
        rows(&[(H, h_q1), (X, x_q1)])
    );
    assert_eq!(
        app.figure_rows(&f.admin, &format!("{q1}&by=station")).await,
        rows(&[(H, h_q1), (O, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]), (X, x_q1)])
    );
    // Per deputy: an event's citizens belong to no deputy, its attendees are on duty.
    let by_deputy = app.figures(&f.office, &format!("{q1}&by=deputy")).await;
    assert_eq!(
        by_deputy
            .rows
            .iter()
            .map(|r| r.label.as_str())
            .collect::<Vec<_>>(),
        ["陈丽华", "李秀英", "王志强", "张建国"]
    );
    assert_eq!(
        app.figure_rows(&f.office, &format!("{q1}&by=deputy")).await,
        rows(&[
            (CHEN, [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]),
            (LI, [1, 3, 2, 2, 0, 1, 1, 1, 0, 1, 1]),
            (WANG, [1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0]),
            (ZHANG, [1, 2, 2, 2, 1, 1, 1, 0, 1, 2, 1]),
        ])
    );
    // Per category: the opinions' figures only.
    let by_category = app.figures(&f.office, &format!("{q1}&by=category")).await;
    assert_eq!(
        by_category
            .rows
            .iter()
            .map(|r| r.label.as_str())
            .collect::<Vec<_>>(),
        ["养老补贴", "老旧小区加装电梯", "停车难"]
    );
    assert_eq!(
        app.figure_rows(&f.office, &format!("{q1}&by=category"))
            .await,
        rows(&[
            ("elderly_subsidies", [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
            ("old_building_elevators", [0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0]),
            ("parking", [0, 0, 0, 4, 1, 2, 3, 1, 2, 3, 2]),
        ])
    );
    // Per unit: by the latest referral's unit (#2 is 城管局's now, with its whole history).
    let by_unit = app.figures(&f.office, &format!("{q1}&by=unit")).await;
    assert_eq!(
        by_unit
            .rows
            .iter()
            .map(|r| r.label.as_str())
            .collect::<Vec<_>>(),
        ["区住房和城乡建设局", "区城市管理局"]
    );
    assert_eq!(
        app.figure_rows(&f.office, &format!("{q1}&by=unit")).await,
        rows(&[
            (HOUSING, [0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0]),
            (URBAN, [0, 0, 0, 0, 0, 2, 2, 1, 2, 1, 0]),
        ])
    );
    // Per month: each month as its own period; all months there, empty ones too.
    let by_month = app
        .figures(&f.office, "from=2026-01-01&to=2026-05-31&by=month")
        .await;
    assert_eq!(
        by_month
            .rows
            .iter()
            .map(|r| (r.key.as_str(), r.label.as_str()))
            .collect::<Vec<_>>(),
        [
            ("2026-01", "2026-01"),
            ("2026-02", "2026-02"),
            ("2026-03", "2026-03"),
            ("2026-04", "2026-04"),
            ("2026-05", "2026-05"),
        ]
    );
    assert_eq!(
        app.figure_rows(&f.office, "from=2026-01-01&to=2026-05-31&by=month")
            .await,
        rows(&[
            ("2026-01", [4, 3, 15, 3, 1, 0, 0, 0, 0, 1, 1]),
            ("2026-02", [2, 2, 2, 2, 0, 3, 0, 2, 0, 0, 0]),
            ("2026-03", [2, 1, 1, 1, 0, 0, 3, 2, 0, 2, 1]),
            ("2026-04", [0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1]),
            ("2026-05", [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
        ])
    );
    // Months clipped to the period: February from the 15th has no referral of #2 (the 2nd).
    assert_eq!(
        app.figure_rows(&f.office, "from=2026-02-15&to=2026-03-01&by=month")
            .await,
        rows(&[
            ("2026-02", [1, 1, 2, 2, 0, 2, 0, 2, 0, 0, 0]),
            ("2026-03", [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]),
        ])
    );
    // Per day around the weekend.
    assert_eq!(
        app.figure_rows(&f.office, "from=2026-02-26&to=2026-03-03&by=day")
            .await,
        rows(&[
            ("2026-02-26", [1, 1, 1, 1, 0, 2, 0, 0, 0, 0, 0]),
            ("2026-02-27", ZERO),
            ("2026-02-28", [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]),
            ("2026-03-01", [0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0]),
            ("2026-03-02", [2, 1, 0, 0, 0, 0, 2, 2, 0, 0, 0]),
            ("2026-03-03", [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
        ])
    );
    // A period with nothing in it has no station, deputy, category or unit rows.
    for by in ["station", "deputy", "category", "unit"] {
        let report = app
            .figures(&f.office, &format!("from=2026-02-27&to=2026-02-27&by={by}"))
            .await;
        assert!(report.rows.is_empty(), "{by}: {:?}", report.rows);
    }
}

/// The facts the domain counts from, derived here from what the server stores (the merged
/// opinions, attendance and events), for `stations`.
async fn domain_inputs(
    app: &TestApp,
    stations: &[&str],
) -> (Vec<OpinionFacts>, Vec<AttendanceFact>, Vec<ActivityFact>) {
    let replicas: Vec<OpinionReplica> = app
        .db
        .acquire()
        .await
        .unwrap()
        .query("SELECT state FROM opinions")
        .fetch_all()
        .await
        .unwrap()
        .iter()
        .map(|row| serde_json::from_str(&row.try_get::<String>("state").unwrap()).unwrap())
        .collect();
    let opinions = replicas
        .iter()
        .filter_map(|r| r.opinion().map(|o| OpinionFacts::derive(&o, r.steps())))
        .filter(|f| stations.contains(&f.station_id.0.as_str()))
        .collect();
    let ids: Vec<StationId> = stations.iter().map(|s| (*s).into()).collect();
    let attendance = app
        .db
        .attendance(&ids, DutyPeriod::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.signed_in_at_ms.is_some())
        .map(|a| AttendanceFact {
            station_id: a.key.station_id,
            deputy_id: a.key.deputy_id,
            day: a.key.day,
        })
        .collect();
    let activities = app
        .db
        .activities(&ids, DutyPeriod::default())
        .await
        .unwrap()
        .into_iter()
        .map(|a| ActivityFact {
            station_id: a.station_id,
            day: a.day,
            citizens_received: a.citizens_received,
            attendees: a.attendees,
        })
        .collect();
    (opinions, attendance, activities)
}

/// The SQL of `/figures` against the domain's [`count`] and [`count_by`] on the same facts, for
/// every breakdown over several periods and scopes: the two can never drift apart.
#[tokio::test]
async fn the_sql_figures_equal_the_domain_count_on_the_same_facts() {
    let f = fixture().await;
    let app = &f.app;
    let periods = [
        ("2026-01-01", "2026-01-31"),
        ("2026-02-01", "2026-02-28"),
        ("2026-03-01", "2026-03-31"),
        ("2026-01-01", "2026-03-31"),
        ("2026-01-15", "2026-04-10"),
        ("2026-02-26", "2026-03-03"),
        ("2026-02-28", "2026-03-01"),
        ("2026-03-02", "2026-03-02"),
        // Deadline days: not yet overdue on them.
        ("2026-02-27", "2026-02-27"),
        ("2026-02-01", "2026-02-27"),
        ("2026-03-09", "2026-03-10"),
        // Past today: overdue is counted up to today.
        ("2025-12-01", "2026-12-31"),
    ];
    for (token, query, stations) in [
        (&f.office, String::new(), vec![X, H]),
        (&f.admin, String::new(), vec![X, H, O]),
        (&f.office, format!("&station={X}"), vec![X]),
        (&f.admin, "&region=region-demo-other".to_owned(), vec![O]),
    ] {
        let (opinions, attendance, activities) = domain_inputs(app, &stations).await;
        for (from, to) in periods {
            let period = Period::new(d(from), d(to)).unwrap();
            let base = format!("from={from}&to={to}{query}");
            let report = app.figures(token, &base).await;
            assert_eq!(
                report.total,
                count(&opinions, &attendance, &activities, &period, report.today),
                "{base}"
            );
            for by in Breakdown::ALL {
                let query = format!("{base}&by={}", by.code());
                let report = app.figures(token, &query).await;
                let expected = count_by(
                    by,
                    &opinions,
                    &attendance,
                    &activities,
                    &period,
                    report.today,
                );
                let got: BTreeMap<String, Figures> = report
                    .rows
                    .into_iter()
                    .map(|row| (row.key, row.figures))
                    .collect();
                assert_eq!(got, expected, "{query}");
                assert_eq!(
                    report.total,
                    count(&opinions, &attendance, &activities, &period, report.today),
                    "{query}"
                );
            }
        }
    }
}

#[tokio::test]
async fn who_may_read_which_figures() {
    let f = fixture().await;
    let app = &f.app;
    let q1 = "from=2026-01-01&to=2026-03-31";
    let call = |token: String, query: String| async move {
        app.call(
            Method::GET,
            &format!("/api/v1/figures?{query}"),
            Some(&token),
            None,
        )
        .await
    };
    // Handling units have no stations.
    assert_json_error(
        call(f.housing.clone(), q1.to_owned()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        "a unit",
    )
    .await;
    // Station staff: their station only.
    let report = app.figures(&f.staff_x, &format!("{q1}&by=station")).await;
    assert_eq!(
        report
            .rows
            .iter()
            .map(|r| r.key.as_str())
            .collect::<Vec<_>>(),
        [X]
    );
    for (token, query, status, code) in [
        (
            &f.staff_x,
            format!("{q1}&station={H}"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &f.deputy,
            format!("{q1}&station={H}"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &f.office,
            format!("{q1}&region=region-demo-other"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &f.office,
            format!("{q1}&station={O}"),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            &f.office,
            format!("{q1}&station=nowhere"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            &f.office,
            format!("{q1}&region=nowhere"),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ] {
        assert_json_error(
            call(token.clone(), query.clone()).await,
            status,
            code,
            &query,
        )
        .await;
    }
    // Without a token: 401.
    let response = app
        .call(Method::GET, &format!("/api/v1/figures?{q1}"), None, None)
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_figure_requests_are_refused_with_their_reason() {
    let f = fixture().await;
    let app = &f.app;
    for (query, code) in [
        ("", "missing_period"),
        ("from=2026-01-01", "missing_period"),
        ("from=&to=2026-01-01", "missing_period"),
        ("from=2026-01-01&to=tomorrow", "invalid_date"),
        ("from=2026-1-1&to=2026-01-31", "invalid_date"),
        ("from=2026-02-30&to=2026-03-31", "invalid_date"),
        ("from=2026-03-01&to=2026-02-01", "period_ends_before_start"),
        ("from=2000-01-01&to=2026-01-01", "period_too_long"),
        ("from=2026-01-01&to=2026-01-31&by=week", "invalid_breakdown"),
        (
            "from=2026-01-01&to=2026-01-31&station=station-heping&region=region-demo-district",
            "invalid_scope",
        ),
    ] {
        for path in ["/api/v1/figures", "/api/v1/register"] {
            if path.ends_with("register") && code == "invalid_breakdown" {
                continue;
            }
            let response = app
                .call(
                    Method::GET,
                    &format!("{path}?{query}"),
                    Some(&f.office),
                    None,
                )
                .await;
            assert_json_error(
                response,
                StatusCode::BAD_REQUEST,
                code,
                &format!("{path}?{query}"),
            )
            .await;
        }
    }
}

impl TestApp {
    pub(super) async fn register(&self, token: &str, query: &str) -> Vec<RegisterRow> {
        let response = self
            .call(
                Method::GET,
                &format!("/api/v1/register?{query}"),
                Some(token),
                None,
            )
            .await;
        let status = response.status();
        let body = body_json(response).await;
        assert_eq!(status, StatusCode::OK, "register?{query}: {body}");
        serde_json::from_value(body).unwrap()
    }
}

/// The opinions of the fixture in the register's order for the district's first quarter.
pub(super) const Q1_REGISTER: [u8; 6] = [1, 2, 8, 3, 4, 5];

#[tokio::test]
async fn the_register_lists_the_period_by_day_then_station_masked() {
    let f = fixture().await;
    let app = &f.app;
    let rows = app
        .register(&f.office, "from=2026-01-01&to=2026-03-31")
        .await;
    assert_eq!(
        rows.iter().map(|r| r.opinion_id).collect::<Vec<_>>(),
        Q1_REGISTER.map(opinion_id).to_vec()
    );
    let first = &rows[0];
    assert_eq!(first.collected, d("2026-01-05"));
    assert_eq!(first.station_id, X.into());
    assert_eq!(first.station_name, "幸福里社区人大代表联络站");
    assert_eq!(first.deputy_name, "张建国");
    assert_eq!(first.citizen, "张* 138****1234", "masked");
    assert_eq!(first.category, "parking");
    assert_eq!(first.summary, "事项 1");
    assert_eq!(first.place, "地点 1");
    assert_eq!(first.outcome, OutcomeKind::AnsweredOnSpot);
    assert_eq!(first.on_site_reply, "已当场答复");
    assert_eq!(first.status, StatusKind::Evaluated);
    assert_eq!(rows[2].citizen, "", "anonymous");
    assert_eq!(rows[2].outcome, OutcomeKind::NotAccepted);
    assert_eq!(rows[3].status, StatusKind::InProgress);
    // The deleted #6 (recorded 03-31) is not there; the other district's #7 neither.
    let march = app
        .register(&f.admin, "from=2026-03-01&to=2026-03-31")
        .await;
    assert_eq!(
        march.iter().map(|r| r.opinion_id).collect::<Vec<_>>(),
        [opinion_id(7), opinion_id(5)]
    );
    // A station, a region; what the caller reads.
    let heping = app
        .register(
            &f.office,
            &format!("from=2026-01-01&to=2026-03-31&station={H}"),
        )
        .await;
    assert_eq!(
        heping.iter().map(|r| r.opinion_id).collect::<Vec<_>>(),
        [8, 4, 5].map(opinion_id).to_vec()
    );
    let street = app
        .register(
            &f.staff_x,
            "from=2026-01-01&to=2026-03-31&region=region-demo-district",
        )
        .await;
    assert_eq!(
        street.iter().map(|r| r.opinion_id).collect::<Vec<_>>(),
        [1, 2, 3].map(opinion_id).to_vec()
    );
    let response = app
        .call(
            Method::GET,
            "/api/v1/register?from=2026-01-01&to=2026-03-31",
            Some(&f.housing),
            None,
        )
        .await;
    assert_json_error(response, StatusCode::FORBIDDEN, "forbidden", "a unit").await;
}

/// The stored facts, as rows of text for comparison.
async fn stored_facts(app: &TestApp) -> Vec<String> {
    let mut conn = app.db.acquire().await.unwrap();
    let mut out = Vec::new();
    for row in conn
        .query(
            "SELECT opinion_id, station_id, deputy_id, category, collected, \
                 answered_on_the_spot, first_referred, unit_id, due, due_concluded, \
                 first_concluded, status FROM opinion_facts ORDER BY opinion_id",
        )
        .fetch_all()
        .await
        .unwrap()
    {
        let text = |c: &str| {
            row.try_get::<Option<String>>(c)
                .unwrap()
                .unwrap_or_default()
        };
        out.push(format!(
            "{} {} {} {} {} {} {} {} {} {} {} {}",
            text("opinion_id"),
            text("station_id"),
            text("deputy_id"),
            text("category"),
            text("collected"),
            row.try_get::<bool>("answered_on_the_spot").unwrap(),
            text("first_referred"),
            text("unit_id"),
            text("due"),
            text("due_concluded"),
            text("first_concluded"),
            text("status"),
        ));
    }
    for row in conn
        .query(
            "SELECT opinion_id, ord, station_id, day, satisfied, is_last \
             FROM opinion_evaluations ORDER BY opinion_id, ord",
        )
        .fetch_all()
        .await
        .unwrap()
    {
        out.push(format!(
            "{} {} {} {} {} {}",
            row.try_get::<String>("opinion_id").unwrap(),
            row.try_get::<i64>("ord").unwrap(),
            row.try_get::<String>("station_id").unwrap(),
            row.try_get::<String>("day").unwrap(),
            row.try_get::<bool>("satisfied").unwrap(),
            row.try_get::<bool>("is_last").unwrap(),
        ));
    }
    for row in conn
        .query("SELECT id, signed_in FROM attendance ORDER BY id")
        .fetch_all()
        .await
        .unwrap()
    {
        out.push(format!(
            "{} {}",
            row.try_get::<String>("id").unwrap(),
            row.try_get::<bool>("signed_in").unwrap()
        ));
    }
    out
}

/// The push keeps the facts equal to what the domain derives from the stored opinions; a
/// database whose facts are older than [`FACTS_VERSION`] (or missing) gets them rebuilt, in
/// batches, at startup; a current one is left alone.
#[tokio::test]
async fn the_facts_are_kept_by_every_push_and_rebuilt_when_outdated() {
    let mut f = fixture().await;
    let before = stored_facts(&f.app).await;
    // What the push wrote is what the domain derives: one row per live opinion (not #6).
    let (derived, _, _) = domain_inputs(&f.app, &[X, H, O]).await;
    assert_eq!(derived.len(), 7);
    let facts_rows = before.iter().filter(|r| r.split(' ').count() == 12).count();
    assert_eq!(facts_rows, 7);
    let two = opinion_id(2);
    assert!(before.contains(&format!("{two} 0 {X} 2026-03-04 false false")));
    assert!(before.contains(&format!("{two} 1 {X} 2026-04-01 true true")));
    let two = derived.iter().find(|o| o.opinion_id == two).unwrap();
    assert_eq!(
        two.evaluations,
        vec![(d("2026-03-04"), false), (d("2026-04-01"), true)]
    );
    assert_eq!(
        (
            two.first_referred,
            two.due,
            two.due_concluded,
            two.first_concluded
        ),
        (
            Some(d("2026-02-02")),
            Some(d("2026-03-10")),
            Some(d("2026-03-09")),
            Some(d("2026-03-02"))
        )
    );
    assert!(before.contains(&format!(
        "{} {X} {ZHANG} parking 2026-01-20 false 2026-02-02 {URBAN} 2026-03-10 2026-03-09 \
         2026-03-02 evaluated",
        opinion_id(2)
    )));
    assert!(
        before.contains(&format!("{H}|{CHEN}|2026-03-02 false")),
        "a sign-out only"
    );
    assert!(before.contains(&format!("{H}|{WANG}|2026-02-26 true")));
    assert_eq!(f.app.db.facts_version().await.unwrap(), FACTS_VERSION);
    assert_eq!(
        f.app.db.rebuild_facts_if_outdated(2).await.unwrap(),
        None,
        "current facts are left alone"
    );

    // Facts lost (or from an older definition): rebuilt in batches of two.
    let wipe = [
        "DELETE FROM opinion_facts",
        "DELETE FROM opinion_evaluations",
        "DELETE FROM figure_days",
        "DELETE FROM figure_months",
        "DELETE FROM duty_months",
        "DELETE FROM duty_days",
        "UPDATE attendance SET signed_in = TRUE",
        "UPDATE server_meta SET value = 0 WHERE key = 'facts_version'",
    ];
    async fn run(app: &TestApp, statements: &[&str]) {
        let mut conn = app.db.acquire().await.unwrap();
        for sql in statements {
            conn.query(sql).execute().await.unwrap();
        }
    }
    run(&f.app, &wipe).await;
    assert_ne!(stored_facts(&f.app).await, before);
    let q1 = "from=2026-01-01&to=2026-03-31";
    assert_eq!(
        f.app.figures(&f.office, q1).await.total.opinions_collected,
        0,
        "no facts, nothing counted"
    );
    // Eight opinions stored (the deleted one too).
    assert_eq!(
        f.app.db.rebuild_facts_if_outdated(2).await.unwrap(),
        Some(8)
    );
    assert_eq!(stored_facts(&f.app).await, before);
    assert_eq!(f.app.db.facts_version().await.unwrap(), FACTS_VERSION);

    // And at startup.
    run(&f.app, &wipe).await;
    f.app.restart().await;
    assert_eq!(stored_facts(&f.app).await, before);
    assert_eq!(
        f.app.figures(&f.office, q1).await.total,
        fig([4, 6, 18, 6, 1, 3, 3, 2, 2, 3, 2])
    );
}

/// A small deterministic random source (xorshift), for [`random_facts_count_the_same_in_sql_and_in_the_domain`].
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn day(&mut self, from: Date, span: u64) -> Date {
        from.add_days(i32::try_from(self.below(span)).unwrap())
    }
}

/// Facts written straight into the tables (every combination the counting must handle, some
/// that the lifecycle never makes: the SQL and the domain must agree on anything), then the
/// figures of many random periods, scopes and breakdowns through [`Db::count_figures`] against
/// the domain's [`count`] and [`count_by`].
///
/// [`Db::count_figures`]: liaison_server::Db::count_figures
#[tokio::test]
async fn random_facts_count_the_same_in_sql_and_in_the_domain() {
    use liaison_domain::followup::{Activity, ActivityKind, Attendance};
    use liaison_domain::{DeputyId, UnitId};

    let app = app_with_accounts().await;
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let start = d("2025-11-01");
    let stations = [X, H];
    let deputies = [ZHANG, LI, WANG, CHEN];
    let categories = ["parking", "other", "roads_lighting"];
    let units = ["u1", "u2"];
    let mut opinions = Vec::new();
    for n in 0..300u64 {
        let collected = random.day(start, 150);
        let referred = random.chance(60);
        let first_referred = referred.then(|| collected.add_days(random.below(20) as i32));
        let due = first_referred.map(|r| r.add_days(random.below(15) as i32 + 1));
        let first_concluded =
            (random.chance(60)).then(|| collected.add_days(random.below(60) as i32));
        let due_concluded = due.and_then(|due| {
            random
                .chance(70)
                .then(|| due.add_days(random.below(20) as i32 - 8))
        });
        let mut evaluations = Vec::new();
        for _ in 0..random.below(4) {
            // Not always in day order: offline steps arrive late.
            evaluations.push((
                collected.add_days(random.below(90) as i32),
                random.chance(60),
            ));
        }
        opinions.push(OpinionFacts {
            opinion_id: OpinionId::new_v7(1_700_000_000_000 + n, [7; 10]),
            station_id: stations[random.below(2) as usize].into(),
            deputy_id: deputies[random.below(4) as usize].into(),
            category: categories[random.below(3) as usize].into(),
            collected,
            answered_on_the_spot: random.chance(40),
            first_referred,
            unit_id: referred.then(|| UnitId(units[random.below(2) as usize].into())),
            due,
            due_concluded,
            first_concluded,
            evaluations,
            status: StatusKind::Registered,
        });
    }
    let mut conn = app.db.acquire().await.unwrap();
    let day = |d: Option<Date>| d.map(|d| d.to_string());
    for o in &opinions {
        conn.query(
            "INSERT INTO opinion_facts (opinion_id, station_id, deputy_id, category, collected, \
                 answered_on_the_spot, first_referred, unit_id, due, due_concluded, \
                 first_concluded, status) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'registered')",
        )
        .bind(o.opinion_id.to_string())
        .bind(o.station_id.0.clone())
        .bind(o.deputy_id.0.clone())
        .bind(o.category.clone())
        .bind(o.collected.to_string())
        .bind(o.answered_on_the_spot)
        .bind(day(o.first_referred))
        .bind(o.unit_id.as_ref().map(|u| u.0.clone()))
        .bind(day(o.due))
        .bind(day(o.due_concluded))
        .bind(day(o.first_concluded))
        .execute()
        .await
        .unwrap();
        for (ord, (day, satisfied)) in o.evaluations.iter().enumerate() {
            conn.query(
                "INSERT INTO opinion_evaluations (opinion_id, ord, station_id, day, satisfied, \
                     is_last, category, deputy_id, unit_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(o.opinion_id.to_string())
            .bind(ord as i64)
            .bind(o.station_id.0.clone())
            .bind(day.to_string())
            .bind(*satisfied)
            .bind(ord + 1 == o.evaluations.len())
            .bind(o.category.clone())
            .bind(o.deputy_id.0.clone())
            .bind(o.unit_id.as_ref().map(|u| u.0.clone()))
            .execute()
            .await
            .unwrap();
        }
    }
    let mut attendance = Vec::new();
    let mut seq = 0i64;
    for station in stations {
        for deputy in deputies {
            for _ in 0..15 {
                let key = AttendanceKey {
                    station_id: station.into(),
                    deputy_id: deputy.into(),
                    day: random.day(start, 150),
                };
                let mut record = Attendance::new(key.clone());
                let signed_in = random.chance(80);
                if signed_in {
                    record.signed_in_at_ms = Some(1);
                } else {
                    record.signed_out_at_ms = Some(2);
                }
                seq += 1;
                let stored = conn
                    .query(
                        "INSERT INTO attendance (id, station_id, deputy_id, day, state, \
                             change_seq, signed_in) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(key.id())
                    .bind(station)
                    .bind(deputy)
                    .bind(key.day.to_string())
                    .bind(serde_json::to_string(&record).unwrap())
                    .bind(seq)
                    .bind(signed_in)
                    .execute()
                    .await
                    .unwrap();
                if stored == 1 && signed_in {
                    attendance.push(AttendanceFact {
                        station_id: key.station_id,
                        deputy_id: key.deputy_id,
                        day: key.day,
                    });
                }
            }
        }
    }
    // Facts written around the push path: their rollups are counted the way the startup
    // rebuild counts them.
    app.db.rebuild_rollups(1).await.unwrap();
    let user: String = conn
        .query("SELECT id FROM users ORDER BY id LIMIT 1")
        .fetch_one()
        .await
        .unwrap()
        .try_get("id")
        .unwrap();
    drop(conn);
    let mut activities = Vec::new();
    for n in 0..25u64 {
        let attendees: Vec<DeputyId> = deputies
            .iter()
            .filter(|_| random.chance(40))
            .map(|d| (*d).into())
            .collect();
        let activity = Activity {
            id: format!("0190a0b0-0000-7000-8000-{n:012}"),
            station_id: stations[random.below(2) as usize].into(),
            kind: ActivityKind::Survey,
            title: "活动".into(),
            day: random.day(start, 150),
            attendees: attendees.clone(),
            citizens_received: random.below(30) as u32,
            note: String::new(),
        };
        app.db.add_activity(&activity, &user, 0).await.unwrap();
        activities.push(ActivityFact {
            station_id: activity.station_id,
            day: activity.day,
            citizens_received: activity.citizens_received,
            attendees,
        });
    }

    let today = d("2026-02-10");
    for round in 0..40 {
        let mut from = random.day(d("2025-10-20"), 180);
        let mut to = from.add_days(random.below(if round % 5 == 0 { 200 } else { 45 }) as i32);
        // Whole months (the rollups' months with nothing counted around them), and periods
        // ending on today or in today's month.
        if round % 4 == 1 {
            from = Date::from_ymd(from.ymd().0, from.ymd().1, 1).unwrap();
            let (y, m, _) = to.ymd();
            let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            to = Date::from_ymd(y, m, 1).unwrap().add_days(-1);
        } else if round % 4 == 3 {
            to = today.add_days(random.below(40) as i32 - 20);
            from = from.min(to);
        }
        let period = Period::new(from, to).unwrap();
        let scope: Vec<&str> = match round % 3 {
            0 => vec![X, H],
            1 => vec![X],
            _ => vec![H],
        };
        let ids: Vec<StationId> = scope.iter().map(|s| (*s).into()).collect();
        let in_scope = |s: &StationId| scope.contains(&s.0.as_str());
        let o: Vec<OpinionFacts> = opinions
            .iter()
            .filter(|o| in_scope(&o.station_id))
            .cloned()
            .collect();
        let a: Vec<AttendanceFact> = attendance
            .iter()
            .filter(|a| in_scope(&a.station_id))
            .cloned()
            .collect();
        let e: Vec<ActivityFact> = activities
            .iter()
            .filter(|e| in_scope(&e.station_id))
            .cloned()
            .collect();
        let counted = app
            .db
            .count_figures(&ids, &period, today, None)
            .await
            .unwrap();
        assert_eq!(
            counted.total,
            count(&o, &a, &e, &period, today),
            "{from}..{to} {scope:?}"
        );
        if round == 0 {
            // More stations than SQLite lists one by one (they go as a JSON array).
            let mut many = ids.clone();
            many.extend((0..SQLITE_MAX_LISTED).map(|n| StationId(format!("nowhere-{n}"))));
            for by in [
                None,
                Some(Breakdown::Station),
                Some(Breakdown::Month),
                Some(Breakdown::Day),
            ] {
                assert_eq!(
                    app.db
                        .count_figures(&many, &period, today, by)
                        .await
                        .unwrap(),
                    app.db
                        .count_figures(&ids, &period, today, by)
                        .await
                        .unwrap(),
                    "{by:?}"
                );
            }
        }
        for by in Breakdown::ALL {
            let counted = app
                .db
                .count_figures(&ids, &period, today, Some(by))
                .await
                .unwrap();
            assert_eq!(
                counted.rows,
                count_by(by, &o, &a, &e, &period, today),
                "{from}..{to} {scope:?} by {by:?}"
            );
            assert_eq!(
                counted.total,
                count(&o, &a, &e, &period, today),
                "{from}..{to} {scope:?} by {by:?}: the totals"
            );
        }
    }
}

/// The rollups' rows with a count (the pushes leave rows counted down to zero; a rebuild
/// writes none), as text.
async fn rollup_rows(app: &TestApp) -> Vec<String> {
    let mut conn = app.db.acquire().await.unwrap();
    let mut out = Vec::new();
    for (table, keys, counts) in [
        ("figure_days", "station_id, day", "referred_concluded_day"),
        ("figure_months", "station_id, dim, month, key", "0"),
    ] {
        // PostgreSQL's counts are INTEGER.
        let counts = format!(
            "CAST(collected AS BIGINT) AS collected, CAST(answered AS BIGINT) AS answered, \
             CAST(referred AS BIGINT) AS referred, \
             CAST({counts} AS BIGINT) AS referred_concluded_day, \
             CAST(referred_concluded_month AS BIGINT) AS referred_concluded_month, \
             CAST(concluded AS BIGINT) AS concluded, \
             CAST(overdue_from AS BIGINT) AS overdue_from, \
             CAST(overdue_to AS BIGINT) AS overdue_to, \
             CAST(evaluated_last AS BIGINT) AS evaluated_last, \
             CAST(satisfied_last AS BIGINT) AS satisfied_last"
        );
        for row in conn
            .query(&format!(
                "SELECT {keys}, {counts} FROM {table} ORDER BY {keys}"
            ))
            .fetch_all()
            .await
            .unwrap()
        {
            let numbers: Vec<i64> = [
                "collected",
                "answered",
                "referred",
                "referred_concluded_day",
                "referred_concluded_month",
                "concluded",
                "overdue_from",
                "overdue_to",
                "evaluated_last",
                "satisfied_last",
            ]
            .iter()
            .map(|c| row.try_get::<i64>(c).unwrap())
            .collect();
            if numbers.iter().all(|n| *n == 0) {
                continue;
            }
            let keys: Vec<String> = keys
                .split(", ")
                .map(|k| row.try_get::<String>(k).unwrap())
                .collect();
            out.push(format!("{table} {} {numbers:?}", keys.join(" ")));
        }
    }
    // Who was on duty, per station, month and deputy (a row with no shift: events only).
    for row in conn
        .query(
            "SELECT station_id, month, deputy_id, CAST(shifts AS BIGINT) AS shifts \
             FROM duty_months ORDER BY station_id, month, deputy_id",
        )
        .fetch_all()
        .await
        .unwrap()
    {
        out.push(format!(
            "duty_months {} {} {} {}",
            row.try_get::<String>("station_id").unwrap(),
            row.try_get::<String>("month").unwrap(),
            row.try_get::<String>("deputy_id").unwrap(),
            row.try_get::<i64>("shifts").unwrap()
        ));
    }
    // And per day (kept by triggers, see `0014_duty_days.sql`).
    for row in conn
        .query(
            "SELECT day, deputy_id, station_id, CAST(shifts AS BIGINT) AS shifts \
             FROM duty_days ORDER BY day, deputy_id, station_id",
        )
        .fetch_all()
        .await
        .unwrap()
    {
        out.push(format!(
            "duty_days {} {} {} {}",
            row.try_get::<String>("day").unwrap(),
            row.try_get::<String>("deputy_id").unwrap(),
            row.try_get::<String>("station_id").unwrap(),
            row.try_get::<i64>("shifts").unwrap()
        ));
    }
    out
}

/// The figures of `stations` as `token` reads them equal the domain's [`count`] and
/// [`count_by`] over the facts derived from what the server stores, for periods around the
/// fixture's changes; and the rollups kept by the pushes equal those the rebuild counts.
async fn figures_equal_the_domain(app: &TestApp, token: &str, stations: &[&str], after: &str) {
    assert_eq!(
        rollup_rows(app).await,
        {
            let kept = rollup_rows(app).await;
            app.db.rebuild_rollups(1).await.unwrap();
            let rebuilt = rollup_rows(app).await;
            assert_eq!(
                kept, rebuilt,
                "after {after}: the rollups kept by the pushes"
            );
            rebuilt
        },
        "after {after}"
    );
    let (opinions, attendance, activities) = domain_inputs(app, stations).await;
    let scope: String = stations.iter().map(|s| format!("&station={s}")).collect();
    let scope = if stations.len() == 1 {
        scope
    } else {
        String::new()
    };
    for (from, to) in [
        ("2026-01-01", "2026-12-31"),
        ("2026-02-01", "2026-03-31"),
        ("2026-02-15", "2026-04-10"),
        ("2026-03-02", "2026-03-02"),
        ("2026-03-01", "2026-03-25"),
        ("2025-12-01", "2027-01-31"),
    ] {
        let period = Period::new(d(from), d(to)).unwrap();
        let base = format!("from={from}&to={to}{scope}");
        let report = app.figures(token, &base).await;
        let expected = count(&opinions, &attendance, &activities, &period, report.today);
        assert_eq!(report.total, expected, "after {after}: {base}");
        for by in Breakdown::ALL {
            let query = format!("{base}&by={}", by.code());
            let report = app.figures(token, &query).await;
            let expected = count_by(
                by,
                &opinions,
                &attendance,
                &activities,
                &period,
                report.today,
            );
            let got: BTreeMap<String, Figures> = report
                .rows
                .into_iter()
                .map(|row| (row.key, row.figures))
                .collect();
            assert_eq!(got, expected, "after {after}: {query}");
        }
    }
}

/// The rollups follow every change of an opinion's facts and of attendance, pushed as the
/// tablets and the back office push them: after each change the figures still equal the
/// domain's count, and the rollups equal a rebuild from the facts.
#[tokio::test]
async fn the_rollups_follow_every_change_of_the_facts() {
    let f = fixture().await;
    let app = &f.app;
    let mut sx = Pusher::new(app, f.staff_x.clone(), 111).await;
    let mut sh = Pusher::new(app, f.staff_h.clone(), 112).await;
    let mut uh = Pusher::new(app, f.housing.clone(), 113).await;
    let mut uu = Pusher::new(app, app.token("unit-urban", None).await, 114).await;
    let scope = [X, H];
    figures_equal_the_domain(app, &f.office, &scope, "the fixture").await;

    // Re-categorised: its counts move from parking to elevators.
    sx.push(
        app,
        MutationKind::SetOpinionFields {
            id: opinion_id(1),
            fields: vec![OpinionFieldValue::Category("old_building_elevators".into())],
        },
    )
    .await;
    figures_equal_the_domain(app, &f.office, &scope, "a new category").await;

    // #3, overdue since 02-28, concluded at last: no longer held.
    uh.step(app, opinion_id(3), "2026-03-20", conclude()).await;
    figures_equal_the_domain(app, &f.office, &scope, "a late conclusion").await;

    // A new item, referred, returned by the unit, referred elsewhere and concluded.
    let o9 = opinion_id(9);
    sx.push(
        app,
        intake(
            9,
            X,
            ZHANG,
            "parking",
            OutcomeKind::ToBeReferred,
            "2026-03-23",
        ),
    )
    .await;
    figures_equal_the_domain(app, &f.office, &scope, "a new item").await;
    sx.step(
        app,
        o9,
        "2026-03-24",
        refer(HOUSING, "2026-03-24", 1, "2026-03-25"),
    )
    .await;
    figures_equal_the_domain(app, &f.office, &scope, "a referral").await;
    uh.step(
        app,
        o9,
        "2026-03-27",
        Action::Return {
            reason: "不属于本单位".into(),
        },
    )
    .await;
    figures_equal_the_domain(app, &f.office, &scope, "a return").await;
    sx.step(
        app,
        o9,
        "2026-03-30",
        refer(URBAN, "2026-03-30", 2, "2026-04-01"),
    )
    .await;
    uu.step(app, o9, "2026-03-31", Action::Accept).await;
    uu.step(app, o9, "2026-04-03", conclude()).await;
    figures_equal_the_domain(app, &f.office, &scope, "a conclusion").await;

    // #4, concluded 03-02: evaluated dissatisfied, reopened, concluded again, re-evaluated.
    let o4 = opinion_id(4);
    sh.step(app, o4, "2026-03-03", feed_back("2026-03-03"))
        .await;
    sh.step(app, o4, "2026-03-04", evaluate(Evaluation::Dissatisfied))
        .await;
    figures_equal_the_domain(app, &f.office, &scope, "an evaluation").await;
    sh.step(
        app,
        o4,
        "2026-03-05",
        refer(URBAN, "2026-03-05", 3, "2026-03-10"),
    )
    .await;
    uu.step(app, o4, "2026-03-06", Action::Accept).await;
    uu.step(app, o4, "2026-03-12", conclude()).await;
    sh.step(app, o4, "2026-03-13", feed_back("2026-03-13"))
        .await;
    sh.step(app, o4, "2026-03-13", evaluate(Evaluation::Satisfied))
        .await;
    figures_equal_the_domain(app, &f.office, &scope, "a re-evaluation").await;

    // Deleted: it counts nowhere any more.
    sh.push(app, MutationKind::DeleteOpinion { id: opinion_id(8) })
        .await;
    figures_equal_the_domain(app, &f.office, &scope, "a deletion").await;

    // Attendance: a sign-out only, then its sign-in; a new shift.
    sh.mark(app, H, CHEN, "2026-03-02", Mark::SignIn).await;
    sx.mark(app, X, ZHANG, "2026-03-24", Mark::SignIn).await;
    figures_equal_the_domain(app, &f.office, &scope, "attendance").await;
    figures_equal_the_domain(app, &f.staff_h, &[H], "everything (one station)").await;
}

/// Pushes at once (several tablets, on PostgreSQL several servers' connections) keep the
/// rollups exact: each push changes them in its own transaction, after the push lock.
#[tokio::test]
async fn concurrent_pushes_keep_the_rollups_exact() {
    let f = fixture().await;
    let app = &f.app;
    let mut sx = Pusher::new(app, f.staff_x.clone(), 121).await;
    let mut sh = Pusher::new(app, f.staff_h.clone(), 122).await;
    let x = async {
        for n in 0..6u8 {
            sx.push(
                app,
                intake(
                    20 + n,
                    X,
                    ZHANG,
                    "parking",
                    OutcomeKind::AnsweredOnSpot,
                    "2026-03-23",
                ),
            )
            .await;
        }
    };
    let h = async {
        for n in 0..6u8 {
            sh.push(
                app,
                intake(
                    40 + n,
                    H,
                    WANG,
                    "parking",
                    OutcomeKind::AnsweredOnSpot,
                    "2026-03-23",
                ),
            )
            .await;
        }
    };
    tokio::join!(x, h);
    figures_equal_the_domain(app, &f.office, &[X, H], "concurrent pushes").await;
    let day = f
        .app
        .figures(&f.office, "from=2026-03-23&to=2026-03-23")
        .await;
    assert_eq!(day.total.opinions_collected, 12);
}
