//! The follow-up loop over HTTP, per role, with every denied case: the units and the calendar,
//! the ledger, the item view and steps taken online (`/api/v1/opinions/{id}/steps`) or pushed
//! from a tablet (`RecordFollowUp`), and one item's whole life across four roles. Also: a shared
//! tablet pushing the steps of everyone who signed in on it, an online step sent twice with its
//! id, steps from a wrong clock, a referred item that cannot be deleted, and a referral only to
//! a unit its author may see.
//!
//! The cast ([`the_loop`]): the demo directory with an administrator, office staff of the
//! district, station staff of 幸福里 and of 和平, the deputy 张建国 on a 幸福里 tablet, the deputy
//! 王志强 of 和平, and two handling units of the district (住建局, 城管局), each with an account.

use super::accounts::app_with_accounts;
use super::sync::{client, opinion_id, scalar, stamp};
use super::{TestApp, assert_json_error, body_json};
use axum::body::Body;
use axum::http::{Method, Response, StatusCode};
use liaison_domain::followup::{
    Action, ActionKind, Actor, AttendanceKey, AttendanceMark, CHINA_UTC_OFFSET_MINUTES, Date,
    DeadlineColour, Evaluation, FeedbackMethod, FollowUp, HandlingUnit, ItemView, LedgerRow, Mark,
    NoteKind, StatusKind, TransitionError, WorkCalendar,
};
use liaison_domain::sync::{
    Change, Mutation, MutationKind, OpinionFieldValue, PushResponse, RejectCode, Rejected, Seq,
};
use liaison_domain::{
    ClientId, DutyContext, FollowUpId, Opinion, OpinionDraft, OpinionId, Outcome, OutcomeKind,
    Role, Scope, default_categories,
};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;

pub(super) const XINGFULI: &str = "station-xingfuli";
pub(super) const HEPING: &str = "station-heping";
pub(super) const HOUSING: &str = "unit-demo-housing";
pub(super) const HOUSING_NAME: &str = "区住房和城乡建设局";
pub(super) const URBAN: &str = "unit-demo-urban";
const URBAN_NAME: &str = "区城市管理局";
const DAY_MS: u64 = 86_400_000;

/// Everyone in the loop, signed in: bearer tokens, and the tablet's sync client.
pub(super) struct Loop {
    pub app: TestApp,
    /// The administrator (the only one who sets the calendar).
    pub admin: String,
    pub office: String,
    pub staff: String,
    pub heping: String,
    /// 张建国 on a 幸福里 tablet.
    pub tablet: String,
    pub tablet_client: ClientId,
    /// That tablet's device token, for other accounts to sign in on it.
    pub device: String,
    /// 王志强, deputy of 和平, signed in without a device.
    pub wang: String,
    pub housing: String,
    pub urban: String,
}

pub(super) async fn the_loop() -> Loop {
    let app = app_with_accounts().await;
    for (id, name) in [(HOUSING, HOUSING_NAME), (URBAN, URBAN_NAME)] {
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
    app.add_user(
        "deputy-wang",
        Role::Deputy,
        Some("deputy-demo-wang"),
        &[Scope::Station(HEPING.into())],
    )
    .await;
    let staff = app.token("staff-xingfuli", None).await;
    let device = body_json(app.enroll(&staff, XINGFULI).await).await;
    let device = device["device_token"].as_str().unwrap().to_owned();
    let tablet = app.token("deputy-zhang", Some(&device)).await;
    Loop {
        admin: app.token("admin", None).await,
        office: app.token("office", None).await,
        heping: app.token("staff-heping", None).await,
        wang: app.token("deputy-wang", None).await,
        housing: app.token("unit-housing", None).await,
        urban: app.token("unit-urban", None).await,
        staff,
        tablet,
        tablet_client: client(1),
        device,
        app,
    }
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Today in China, as the server counts deadlines from.
pub(super) fn today() -> Date {
    Date::from_unix_ms(now_ms() as i64, CHINA_UTC_OFFSET_MINUTES)
}

/// An opinion recorded at `station` by `deputy` with the intake decision `outcome`, `age_days`
/// ago, with a citizen's name, phone and address (consented).
pub(super) fn intake(n: u8, station: &str, deputy: &str, outcome: OutcomeKind) -> Opinion {
    intake_at(n, station, deputy, outcome, "parking", now_ms() - 60_000)
}

fn intake_at(
    n: u8,
    station: &str,
    deputy: &str,
    outcome: OutcomeKind,
    category: &str,
    created_ms: u64,
) -> Opinion {
    OpinionDraft {
        category: category.into(),
        summary: format!("事项 {n}：路灯不亮"),
        citizen_name: "张三".into(),
        citizen_phone: "13812341234".into(),
        citizen_address: "幸福里 3 号楼 2 单元".into(),
        consent: true,
        outcome: Some(outcome),
        on_site_reply: if outcome == OutcomeKind::AnsweredOnSpot {
            "已当场答复".into()
        } else {
            String::new()
        },
        ..OpinionDraft::default()
    }
    .validate(
        opinion_id(n),
        Some(&DutyContext {
            station_id: station.into(),
            deputy_id: deputy.into(),
        }),
        &default_categories(),
        created_ms,
    )
    .expect("a valid opinion")
}

pub(super) fn create(client: ClientId, seq: u64, opinion: Opinion) -> Mutation {
    Mutation::new(
        client,
        Seq(seq),
        stamp(client, seq * 10),
        MutationKind::CreateOpinion {
            opinion: Box::new(opinion),
        },
    )
}

/// A follow-up step as a tablet records it.
pub(super) fn step_by(by: &Actor, at_ms: u64, action: Action) -> FollowUp {
    FollowUp {
        id: FollowUpId::new_v7(at_ms, rand_bytes()),
        at_ms,
        by: by.clone(),
        action,
    }
}

/// Distinct enough random bytes for test ids.
fn rand_bytes() -> [u8; 10] {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes();
    [n[0], n[1], n[2], n[3], 0xf0, 0, 0, 0, 0, 1]
}

fn record(client: ClientId, seq: u64, opinion: OpinionId, step: FollowUp) -> Mutation {
    Mutation::new(
        client,
        Seq(seq),
        stamp(client, seq * 10),
        MutationKind::RecordFollowUp {
            opinion_id: opinion,
            step,
        },
    )
}

pub(super) fn refer(unit: &str, name: &str, working_days: u32, due: Date) -> Value {
    json!({
        "action": "refer",
        "unit_id": unit,
        "unit_name": name,
        "working_days": working_days,
        "due": due,
    })
}

fn conclude(reply: &str) -> Value {
    json!({"action": "conclude", "conclusion": {"kind": "resolved"}, "reply": reply})
}

fn opinion_uri(id: OpinionId) -> String {
    format!("/api/v1/opinions/{id}")
}

impl TestApp {
    /// The signed-in account as a step's author, from `/me`.
    pub(super) async fn actor(&self, token: &str) -> Actor {
        let me = body_json(
            self.call(Method::GET, "/api/v1/me", Some(token), None)
                .await,
        )
        .await;
        Actor {
            user_id: me["id"].as_str().unwrap().into(),
            name: me["display_name"].as_str().unwrap().into(),
            role: serde_json::from_value(me["role"].clone()).unwrap(),
            unit_id: me["unit_id"].as_str().map(Into::into),
        }
    }

    async fn item(&self, token: &str, id: OpinionId) -> Response<Body> {
        self.call(Method::GET, &opinion_uri(id), Some(token), None)
            .await
    }

    async fn item_ok(&self, token: &str, id: OpinionId) -> ItemView {
        let response = self.item(token, id).await;
        assert_eq!(response.status(), StatusCode::OK);
        serde_json::from_value(body_json(response).await).unwrap()
    }

    async fn step(&self, token: &str, id: OpinionId, body: Value) -> Response<Body> {
        let uri = format!("{}/steps", opinion_uri(id));
        self.call(Method::POST, &uri, Some(token), Some(body)).await
    }

    async fn step_ok(&self, token: &str, id: OpinionId, body: Value) -> ItemView {
        let response = self.step(token, id, body.clone()).await;
        let status = response.status();
        let answer = body_json(response).await;
        assert_eq!(status, StatusCode::OK, "{body} → {answer}");
        serde_json::from_value(answer).unwrap()
    }

    async fn ledger(&self, token: &str, query: &str) -> Vec<LedgerRow> {
        let response = self
            .call(
                Method::GET,
                &format!("/api/v1/ledger{query}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "ledger{query}");
        serde_json::from_value(body_json(response).await).unwrap()
    }

    async fn ledger_ids(&self, token: &str, query: &str) -> Vec<OpinionId> {
        self.ledger(token, query)
            .await
            .into_iter()
            .map(|row| row.opinion_id)
            .collect()
    }

    async fn put_calendar(&self, token: &str, calendar: &WorkCalendar) -> Response<Body> {
        self.call(
            Method::PUT,
            "/api/v1/calendar",
            Some(token),
            Some(serde_json::to_value(calendar).unwrap()),
        )
        .await
    }
}

/// The 422 `not_allowed` answer with the lifecycle's reason.
async fn assert_not_allowed(response: Response<Body>, transition: &str, what: &str) -> Value {
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{what}"
    );
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "not_allowed", "{what}: {body}");
    assert!(body["error"]["message"].is_string(), "{what}: {body}");
    assert_eq!(
        body["error"]["transition"]["code"], transition,
        "{what}: {body}"
    );
    body["error"]["transition"].clone()
}

/// The 422 `invalid` answer with its field errors.
async fn assert_invalid(response: Response<Body>, errors: Value, what: &str) {
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{what}"
    );
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "invalid", "{what}: {body}");
    assert_eq!(body["error"]["errors"], errors, "{what}: {body}");
}

fn action_codes(view: &ItemView) -> Vec<&'static str> {
    view.steps.iter().map(|s| s.action.kind().code()).collect()
}

/// The same opinion recorded on the tablet and pushed.
async fn captured_on_the_tablet(l: &Loop, n: u8, seq: u64, outcome: OutcomeKind) -> OpinionId {
    let opinion = intake(n, XINGFULI, "deputy-demo-zhang", outcome);
    let id = opinion.id;
    let answer = l
        .app
        .push_ok(
            &l.tablet,
            l.tablet_client,
            vec![create(l.tablet_client, seq, opinion)],
        )
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    id
}

/// An opinion of 和平, pushed by its station staff with their own client.
async fn captured_at_heping(l: &Loop, n: u8, seq: u64) -> OpinionId {
    let opinion = intake(n, HEPING, "deputy-demo-wang", OutcomeKind::ToBeReferred);
    let id = opinion.id;
    let c = client(90);
    let answer = l
        .app
        .push_ok(&l.heping, c, vec![create(c, seq, opinion)])
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    id
}

/// One opinion's whole life across four roles, through the API: captured on the tablet,
/// referred by office staff (on a calendar with a holiday), accepted and concluded by the unit,
/// fed back and evaluated dissatisfied on the tablet, reopened, referred again, concluded again,
/// evaluated satisfied, archived by station staff. The ledger and the tablet's pulls follow each
/// step, and the online steps poke the change-event stream.
#[tokio::test]
async fn one_items_whole_life_across_four_roles() {
    let l = the_loop().await;
    let app = &l.app;
    let deputy = app.actor(&l.tablet).await;
    let tc = l.tablet_client;

    // Captured on the tablet and synced: registered, to be referred.
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let rows = app.ledger(&l.office, "").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, StatusKind::Registered);
    assert_eq!(rows[0].colour, None);

    // The office refers it to the housing bureau, five working days, with tomorrow's working
    // day a holiday on the server's calendar.
    let holiday = WorkCalendar::weekdays_only().add_working_days(today(), 1);
    let calendar = WorkCalendar {
        holidays: [holiday].into_iter().collect(),
        ..WorkCalendar::default()
    };
    let response = app.put_calendar(&l.admin, &calendar).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let due = calendar.add_working_days(today(), 5);
    let mut events = app.open_events(&l.staff).await;
    let before = events.next_change().await;
    let view = app
        .step_ok(&l.office, id, refer(HOUSING, HOUSING_NAME, 5, due))
        .await;
    assert_eq!(view.lifecycle.status.kind(), StatusKind::Referred);
    assert_eq!(view.lifecycle.due, Some(due));
    assert_eq!(view.colour, Some(DeadlineColour::OnTime));
    assert!(
        events.next_change().await > before,
        "an online step pokes the tablets like a push"
    );
    let office = app.actor(&l.office).await;
    assert_eq!(
        view.steps[0].by, office,
        "the session's account is the actor"
    );
    let rows = app.ledger(&l.office, "").await;
    assert_eq!(rows[0].status, StatusKind::Referred);
    assert_eq!(rows[0].unit_id, Some(HOUSING.into()));
    assert_eq!(rows[0].unit_name.as_deref(), Some(HOUSING_NAME));
    assert_eq!(rows[0].due, Some(due));
    assert_eq!(rows[0].colour, Some(DeadlineColour::OnTime));

    // The unit sees it in its ledger, accepts and concludes it.
    assert_eq!(app.ledger_ids(&l.housing, "").await, vec![id]);
    let view = app.item_ok(&l.housing, id).await;
    assert_eq!(
        view.available,
        vec![ActionKind::Accept, ActionKind::Return, ActionKind::Note]
    );
    let view = app
        .step_ok(&l.housing, id, json!({"action": "accept"}))
        .await;
    assert_eq!(view.lifecycle.status.kind(), StatusKind::InProgress);
    let view = app.step_ok(&l.housing, id, conclude("已更换路灯")).await;
    assert_eq!(view.lifecycle.status.kind(), StatusKind::Concluded);
    assert_eq!(view.colour, None, "no deadline once concluded");

    // The tablet pulls the three online steps (taken by two other accounts).
    let pulled = app.pull(&l.tablet).await;
    let states: Vec<_> = pulled
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Opinion { state, .. } if state.id() == id => Some(state),
            _ => None,
        })
        .collect();
    assert_eq!(states.len(), 1, "one change per record per page");
    assert_eq!(states[0].steps().count(), 3);
    assert_eq!(
        states[0].lifecycle().unwrap().status.kind(),
        StatusKind::Concluded
    );

    // At a return visit, offline: feedback and a dissatisfied evaluation, pushed later.
    let at = now_ms();
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![
                record(
                    tc,
                    2,
                    id,
                    step_by(
                        &deputy,
                        at,
                        Action::FeedBack {
                            method: FeedbackMethod::InPerson,
                            on: today(),
                            note: String::new(),
                        },
                    ),
                ),
                record(
                    tc,
                    3,
                    id,
                    step_by(
                        &deputy,
                        at + 1,
                        Action::Evaluate {
                            evaluation: Evaluation::Dissatisfied,
                            note: "灯还是不亮".into(),
                        },
                    ),
                ),
            ],
        )
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    let view = app.item_ok(&l.office, id).await;
    assert_eq!(view.lifecycle.status.kind(), StatusKind::Reopened);
    assert_eq!(view.lifecycle.reopened, 1);
    assert_eq!(
        app.ledger_ids(&l.office, "?status=reopened").await,
        vec![id]
    );

    // Referred again, accepted and concluded again.
    let due = calendar.add_working_days(today(), 3);
    app.step_ok(&l.office, id, refer(HOUSING, HOUSING_NAME, 3, due))
        .await;
    assert_eq!(
        app.ledger(&l.office, "").await[0].colour,
        Some(DeadlineColour::DueSoon)
    );
    app.step_ok(&l.housing, id, json!({"action": "accept"}))
        .await;
    app.step_ok(&l.housing, id, conclude("已更换灯杆线路"))
        .await;

    // Fed back and evaluated satisfied on the tablet, archived by the station staff.
    let at = now_ms();
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![
                record(
                    tc,
                    4,
                    id,
                    step_by(
                        &deputy,
                        at,
                        Action::FeedBack {
                            method: FeedbackMethod::Phone,
                            on: today(),
                            note: String::new(),
                        },
                    ),
                ),
                record(
                    tc,
                    5,
                    id,
                    step_by(
                        &deputy,
                        at + 1,
                        Action::Evaluate {
                            evaluation: Evaluation::Satisfied,
                            note: String::new(),
                        },
                    ),
                ),
            ],
        )
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    let view = app
        .step_ok(&l.staff, id, json!({"action": "archive"}))
        .await;
    assert_eq!(view.lifecycle.status.kind(), StatusKind::Archived);
    assert!(view.available.is_empty(), "nothing more to do");
    let expected = [
        "refer",
        "accept",
        "conclude",
        "feed_back",
        "evaluate",
        "refer",
        "accept",
        "conclude",
        "feed_back",
        "evaluate",
        "archive",
    ];
    assert_eq!(action_codes(&view), expected);
    assert_eq!(view.lifecycle.referrals, 2);
    assert_eq!(
        view.lifecycle.evaluation,
        Some(Evaluation::Satisfied),
        "the latest evaluation"
    );
    for token in [&l.office, &l.staff, &l.tablet, &l.housing] {
        assert!(app.item_ok(token, id).await.available.is_empty());
    }
    let rows = app.ledger(&l.office, "?status=archived").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].steps, 11);

    // The tablet ends with the whole history.
    let pulled = app.pull(&l.tablet).await;
    let Some(Change::Opinion { state, .. }) = pulled.changes.last() else {
        panic!("the opinion is pulled: {pulled:?}");
    };
    let steps: Vec<_> = state.steps().map(|s| s.action.kind().code()).collect();
    assert_eq!(steps, expected);

    // Every step went through the sync store: the tablet's in its own stream, each online one
    // in its account's server-side stream (office, unit, station staff), numbered from 1.
    let streams = scalar(
        &app.db,
        "SELECT COUNT(DISTINCT client_id) AS value FROM mutations \
         WHERE kind = 'record_follow_up'",
    )
    .await;
    assert_eq!(streams, 4);
    let office_steps = scalar(
        &app.db,
        "SELECT MAX(m.seq) AS value FROM mutations m \
         JOIN users u ON u.server_client_id = m.client_id WHERE u.username = 'office'",
    )
    .await;
    assert_eq!(office_steps, 2);
}

/// A deputy reads and acts on its own station's items only; another station's item is a 404
/// like an id that does not exist, in the item view, the steps and the ledger; pushing a step on
/// it is forbidden.
#[tokio::test]
async fn a_deputy_cannot_read_or_act_on_another_stations_items() {
    let l = the_loop().await;
    let app = &l.app;
    let theirs = captured_at_heping(&l, 2, 1).await;
    let ours = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;

    let unknown = app.item(&l.tablet, opinion_id(77)).await;
    let unknown_body = body_json(unknown).await;
    let response = app.item(&l.tablet, theirs).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body_json(response).await,
        unknown_body,
        "no hint that it exists"
    );
    let response = app
        .step(
            &l.tablet,
            theirs,
            json!({"action": "note", "kind": "visit", "text": "走访"}),
        )
        .await;
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "step at 和平").await;
    assert_eq!(app.ledger_ids(&l.tablet, "").await, vec![ours]);
    assert!(
        app.ledger(&l.tablet, &format!("?station={HEPING}"))
            .await
            .is_empty()
    );

    // Its own deputy (and the office) read it; 和平's staff do not read 幸福里's.
    assert_eq!(app.item_ok(&l.wang, theirs).await.opinion.id, theirs);
    assert_eq!(app.ledger_ids(&l.wang, "").await, vec![theirs]);
    assert_eq!(app.ledger(&l.office, "").await.len(), 2);
    let response = app.item(&l.heping, ours).await;
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "和平 reading").await;

    // Pushed from the tablet: forbidden, and nothing changes.
    let deputy = app.actor(&l.tablet).await;
    let tc = l.tablet_client;
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![record(
                tc,
                2,
                theirs,
                step_by(
                    &deputy,
                    now_ms(),
                    Action::HandleByDeputy {
                        note: String::new(),
                    },
                ),
            )],
        )
        .await;
    assert_eq!(answer.rejected.len(), 1);
    assert_eq!(answer.rejected[0].code, RejectCode::Forbidden);
    assert!(app.item_ok(&l.wang, theirs).await.steps.is_empty());

    // A deleted item is gone for everyone.
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![Mutation::new(
                tc,
                Seq(3),
                stamp(tc, 100),
                MutationKind::DeleteOpinion { id: ours },
            )],
        )
        .await;
    assert!(answer.rejected.is_empty());
    let response = app.item(&l.office, ours).await;
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "deleted").await;
    assert_eq!(app.ledger_ids(&l.office, "").await, vec![theirs]);
}

/// A unit reads only what was ever referred to it, and acts only while it holds it: another
/// unit's item is a 404; after returning an item it may not take it up again; after it went to
/// another unit it still reads it but every step is `not_your_unit`.
#[tokio::test]
async fn a_unit_sees_only_what_was_referred_to_it_and_acts_only_while_it_holds_it() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let never = captured_on_the_tablet(&l, 2, 2, OutcomeKind::ToBeReferred).await;
    let due = WorkCalendar::weekdays_only().add_working_days(today(), 5);

    // Before any referral a unit sees nothing.
    assert!(app.ledger(&l.housing, "").await.is_empty());
    let response = app.item(&l.housing, id).await;
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "not referred").await;

    app.step_ok(&l.office, id, refer(HOUSING, HOUSING_NAME, 5, due))
        .await;
    // The other unit: not its item.
    assert!(app.ledger(&l.urban, "").await.is_empty());
    let response = app.item(&l.urban, id).await;
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "urban reads").await;
    let response = app.step(&l.urban, id, conclude("越权办结")).await;
    assert_json_error(
        response,
        StatusCode::NOT_FOUND,
        "not_found",
        "urban concludes",
    )
    .await;
    let response = app.item(&l.housing, never).await;
    assert_json_error(
        response,
        StatusCode::NOT_FOUND,
        "not_found",
        "never referred",
    )
    .await;

    // The unit returns it, and cannot take it up again itself.
    let view = app
        .step_ok(
            &l.housing,
            id,
            json!({"action": "return", "reason": "不属于本单位职责"}),
        )
        .await;
    assert_eq!(view.lifecycle.status.kind(), StatusKind::Returned);
    assert!(view.available.is_empty());
    // A refused online step leaves nothing behind: no mutation row, no seq used up.
    let mutations = scalar(&app.db, "SELECT COUNT(*) AS value FROM mutations").await;
    let seqs = scalar(
        &app.db,
        "SELECT CAST(COALESCE(SUM(last_seq), 0) AS BIGINT) AS value FROM sync_clients",
    )
    .await;
    let response = app.step(&l.housing, id, json!({"action": "accept"})).await;
    assert_not_allowed(response, "not_in_this_status", "accept after return").await;
    assert_eq!(
        scalar(&app.db, "SELECT COUNT(*) AS value FROM mutations").await,
        mutations
    );
    assert_eq!(
        scalar(
            &app.db,
            "SELECT CAST(COALESCE(SUM(last_seq), 0) AS BIGINT) AS value FROM sync_clients",
        )
        .await,
        seqs
    );

    // Re-referred to the urban bureau: housing still reads it (it was referred there once) but
    // may do nothing with it.
    app.step_ok(&l.office, id, refer(URBAN, URBAN_NAME, 5, due))
        .await;
    let view = app.item_ok(&l.housing, id).await;
    assert!(view.available.is_empty());
    assert_eq!(app.ledger_ids(&l.housing, "").await, vec![id]);
    let response = app.step(&l.housing, id, json!({"action": "accept"})).await;
    assert_not_allowed(response, "not_your_unit", "accept another unit's item").await;
    let response = app
        .step(
            &l.housing,
            id,
            json!({"action": "note", "kind": "progress", "text": "进展"}),
        )
        .await;
    assert_not_allowed(response, "not_your_unit", "progress on another unit's item").await;

    // The urban bureau now reads and accepts it; concluding before accepting is refused.
    let response = app.step(&l.urban, id, conclude("已办结")).await;
    assert_not_allowed(response, "not_in_this_status", "conclude before accepting").await;
    app.step_ok(&l.urban, id, json!({"action": "accept"})).await;
    let response = app.step(&l.housing, id, conclude("越权办结")).await;
    assert_not_allowed(response, "not_your_unit", "conclude another unit's item").await;
    let view = app.step_ok(&l.urban, id, conclude("已办结")).await;
    assert_eq!(view.lifecycle.status.kind(), StatusKind::Concluded);

    // A unit pushing a step (it works online, but the sync route is open to it): on an item
    // never referred to it, forbidden.
    let unit = app.actor(&l.housing).await;
    let uc = client(40);
    let answer = app
        .push_ok(
            &l.housing,
            uc,
            vec![record(
                uc,
                1,
                never,
                step_by(&unit, now_ms(), Action::Accept),
            )],
        )
        .await;
    assert_eq!(answer.rejected[0].code, RejectCode::Forbidden);
}

/// Deputies never refer: online and pushed alike, `not_allowed` with `role_may_not`, and the
/// item view does not offer it.
#[tokio::test]
async fn a_deputy_may_not_refer() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let due = WorkCalendar::weekdays_only().add_working_days(today(), 5);

    let view = app.item_ok(&l.tablet, id).await;
    assert!(!view.available.contains(&ActionKind::Refer));
    assert!(view.available.contains(&ActionKind::HandleByDeputy));
    let response = app
        .step(&l.tablet, id, refer(HOUSING, HOUSING_NAME, 5, due))
        .await;
    let transition = assert_not_allowed(response, "role_may_not", "deputy refers").await;
    assert_eq!(
        transition,
        json!({"code": "role_may_not", "role": "deputy", "action": "refer"})
    );

    let deputy = app.actor(&l.tablet).await;
    let tc = l.tablet_client;
    let step = step_by(
        &deputy,
        now_ms(),
        Action::Refer {
            unit_id: HOUSING.into(),
            unit_name: HOUSING_NAME.into(),
            working_days: 5,
            due,
            note: String::new(),
        },
    );
    let answer = app
        .push_ok(&l.tablet, tc, vec![record(tc, 2, id, step)])
        .await;
    assert_eq!(answer.rejected[0].code, RejectCode::NotAllowed);
    assert_eq!(
        answer.rejected[0].transition,
        Some(TransitionError::RoleMayNot {
            role: Role::Deputy,
            action: ActionKind::Refer
        })
    );
    assert!(app.item_ok(&l.office, id).await.steps.is_empty());
}

/// A tablet cannot record a step under another account: another user, the right user with
/// another role, or with a unit, are all `forbidden`.
#[tokio::test]
async fn a_step_signed_by_someone_else_is_forbidden() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let deputy = app.actor(&l.tablet).await;
    let staff = app.actor(&l.staff).await;
    let tc = l.tablet_client;
    let note = || Action::Note {
        kind: NoteKind::ReturnVisit,
        text: "回访".into(),
    };
    let forged = [
        staff.clone(),
        Actor {
            role: Role::StationStaff,
            ..deputy.clone()
        },
        Actor {
            unit_id: Some(HOUSING.into()),
            ..deputy.clone()
        },
    ];
    let mutations: Vec<Mutation> = forged
        .iter()
        .enumerate()
        .map(|(i, by)| record(tc, 2 + i as u64, id, step_by(by, now_ms(), note())))
        .collect();
    let answer = app.push_ok(&l.tablet, tc, mutations).await;
    let codes: Vec<_> = answer.rejected.iter().map(|r| (r.seq, r.code)).collect();
    assert_eq!(
        codes,
        vec![
            (Seq(2), RejectCode::Forbidden),
            (Seq(3), RejectCode::Forbidden),
            (Seq(4), RejectCode::Forbidden),
        ]
    );
    // Its own name on it: taken (a renamed display name does not matter).
    let own = step_by(
        &Actor {
            name: "旧名字".into(),
            ..deputy
        },
        now_ms(),
        note(),
    );
    let answer = app
        .push_ok(&l.tablet, tc, vec![record(tc, 5, id, own)])
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    assert_eq!(app.item_ok(&l.office, id).await.steps.len(), 1);
}

/// A referral's deadline is its working days on the server's calendar. Pushed from a tablet, a
/// `due` counted otherwise (here without a holiday) is `not_allowed` `deadline_mismatch` with the
/// expected date, kept and returned identically on a resend; online the server counts it itself
/// from today, whatever the page sent (the page only previews it). An unknown unit is `invalid`
/// either way.
#[tokio::test]
async fn a_referrals_deadline_is_counted_on_the_servers_calendar() {
    let l = the_loop().await;
    let app = &l.app;
    let pushed = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let online = captured_on_the_tablet(&l, 2, 2, OutcomeKind::ToBeReferred).await;
    let next_working_day = WorkCalendar::weekdays_only().add_working_days(today(), 1);
    let calendar = WorkCalendar {
        holidays: [next_working_day].into_iter().collect(),
        ..WorkCalendar::default()
    };
    assert_eq!(
        app.put_calendar(&l.admin, &calendar).await.status(),
        StatusCode::NO_CONTENT
    );
    let wrong = WorkCalendar::weekdays_only().add_working_days(today(), 5);
    let right = calendar.add_working_days(today(), 5);
    assert_ne!(wrong, right, "the holiday moves the deadline");

    // Pushed by station staff from their own session (no device).
    let staff = app.actor(&l.staff).await;
    let sc = client(30);
    let referral = |due: Date, unit: &str| {
        step_by(
            &staff,
            now_ms(),
            Action::Refer {
                unit_id: unit.into(),
                unit_name: HOUSING_NAME.into(),
                working_days: 5,
                due,
                note: String::new(),
            },
        )
    };
    let batch = vec![
        record(sc, 1, pushed, referral(wrong, HOUSING)),
        record(sc, 2, pushed, referral(right, "unit-made-up")),
    ];
    let answer = app.push_ok(&l.staff, sc, batch.clone()).await;
    assert_eq!(answer.acknowledged_through, Seq(2));
    assert_eq!(answer.rejected.len(), 2);
    assert_eq!(answer.rejected[0].code, RejectCode::NotAllowed);
    assert_eq!(
        answer.rejected[0].transition,
        Some(TransitionError::DeadlineMismatch {
            given: wrong,
            expected: right,
            working_days: 5
        })
    );
    assert_eq!(answer.rejected[1].code, RejectCode::Invalid);
    assert_eq!(
        serde_json::to_value(&answer.rejected[1].errors).unwrap(),
        json!([["unit", {"code": "unknown_choice"}]])
    );
    let again = app.push_ok(&l.staff, sc, batch).await;
    assert_eq!(again, answer, "a resend gets the identical rejections");
    assert!(app.item_ok(&l.office, pushed).await.steps.is_empty());
    // The right deadline is taken.
    let answer = app
        .push_ok(
            &l.staff,
            sc,
            vec![record(sc, 3, pushed, referral(right, HOUSING))],
        )
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    assert_eq!(
        app.item_ok(&l.office, pushed).await.lifecycle.due,
        Some(right)
    );

    // Online, an unknown unit is `invalid` with the field.
    let response = app
        .step(&l.office, online, refer("unit-made-up", "无", 5, right))
        .await;
    assert_invalid(
        response,
        json!([["unit", {"code": "unknown_choice"}]]),
        "unknown unit",
    )
    .await;
    // Online, the page counted without the holiday: the server's own count is recorded.
    let view = app
        .step_ok(&l.office, online, refer(HOUSING, HOUSING_NAME, 5, wrong))
        .await;
    assert_eq!(view.lifecycle.due, Some(right));
    assert!(
        matches!(view.steps[..], [FollowUp { action: Action::Refer { due, .. }, .. }] if due == right),
        "{:?}",
        view.steps
    );
}

/// Once a follow-up step exists, the intake decision (the outcome) is fixed: an edit of it is
/// `not_allowed` `intake_decision_locked`; other fields stay editable.
#[tokio::test]
async fn an_outcome_edit_after_a_referral_is_refused() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let due = WorkCalendar::weekdays_only().add_working_days(today(), 5);
    app.step_ok(&l.office, id, refer(HOUSING, HOUSING_NAME, 5, due))
        .await;

    let tc = l.tablet_client;
    let edit = |seq: u64, field: OpinionFieldValue| {
        Mutation::new(
            tc,
            Seq(seq),
            stamp(tc, seq * 10),
            MutationKind::SetOpinionFields {
                id,
                fields: vec![field],
            },
        )
    };
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![
                edit(2, OpinionFieldValue::Outcome(Outcome::HandledByDeputy)),
                edit(3, OpinionFieldValue::Summary("路灯不亮（补充）".into())),
            ],
        )
        .await;
    assert_eq!(answer.rejected.len(), 1);
    assert_eq!(
        answer.rejected[0],
        Rejected {
            seq: Seq(2),
            code: RejectCode::NotAllowed,
            message: answer.rejected[0].message.clone(),
            errors: Default::default(),
            transition: Some(TransitionError::IntakeDecisionLocked),
        }
    );
    let view = app.item_ok(&l.office, id).await;
    assert_eq!(view.opinion.outcome, Outcome::ToBeReferred);
    assert_eq!(view.opinion.summary, "路灯不亮（补充）");
    assert_eq!(view.lifecycle.status.kind(), StatusKind::Referred);
}

/// Bad step bodies: texts that break the rules are `invalid` with the fields' codes; actions
/// that do not exist or lack their data are refused by the JSON reading; nothing is stored.
#[tokio::test]
async fn bad_steps_are_invalid_with_field_errors() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let due = WorkCalendar::weekdays_only().add_working_days(today(), 5);
    app.step_ok(&l.office, id, refer(HOUSING, HOUSING_NAME, 5, due))
        .await;

    let response = app
        .step(&l.housing, id, json!({"action": "return", "reason": "   "}))
        .await;
    assert_invalid(response, json!([["reason", {"code": "required"}]]), "blank").await;
    let response = app
        .step(
            &l.housing,
            id,
            json!({"action": "note", "kind": "progress", "text": "进".repeat(2001)}),
        )
        .await;
    assert_invalid(
        response,
        json!([["note", {"code": "too_long", "max": 2000}]]),
        "too long",
    )
    .await;
    let response = app
        .step(&l.office, id, refer(HOUSING, HOUSING_NAME, 0, due))
        .await;
    assert_invalid(
        response,
        json!([["working_days", {"code": "out_of_range", "min": 1, "max": 250}]]),
        "zero days",
    )
    .await;
    for body in [
        json!({"action": "teleport"}),
        json!({"action": "return"}),
        json!({"action": "refer", "unit_id": HOUSING, "due": "2026-02-30"}),
        json!({"kind": "resolved"}),
    ] {
        let response = app.step(&l.housing, id, body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        assert!(body_json(response).await["error"]["code"].is_string());
    }
    for bad_id in ["not-an-id", "0190a8b4-0000-7000-8000-00000000000g"] {
        let uri = format!("/api/v1/opinions/{bad_id}/steps");
        let response = app
            .call(
                Method::POST,
                &uri,
                Some(&l.office),
                Some(json!({"action": "archive"})),
            )
            .await;
        assert_json_error(response, StatusCode::NOT_FOUND, "not_found", bad_id).await;
    }
    assert_eq!(app.item_ok(&l.office, id).await.steps.len(), 1);
}

/// Staff who may read a station but are on another station's tablet: the device decides. And a
/// station staff member reads but may not act outside the station.
#[tokio::test]
async fn online_steps_need_write_access_to_the_station() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    // Office staff signed in on a 和平 tablet: 幸福里 is out of reach there.
    let device = body_json(app.enroll(&l.heping, HEPING).await).await;
    let office_on_tablet = app.token("office", device["device_token"].as_str()).await;
    let response = app.item(&office_on_tablet, id).await;
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "device").await;
    let response = app
        .step(&office_on_tablet, id, json!({"action": "archive"}))
        .await;
    assert_json_error(response, StatusCode::NOT_FOUND, "not_found", "device step").await;
    // Without a token at all: 401.
    let response = app
        .call(
            Method::POST,
            &format!("{}/steps", opinion_uri(id)),
            None,
            Some(json!({"action": "archive"})),
        )
        .await;
    assert_json_error(
        response,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "no token",
    )
    .await;
}

/// The units each role sees, and the calendar: everyone reads it, only administrators set it
/// (one calendar serves every region; office staff of one region may not move the others'
/// deadlines), and a day cannot be both a holiday and a make-up working day.
#[tokio::test]
async fn units_and_the_calendar_by_role() {
    let l = the_loop().await;
    let app = &l.app;
    let admin = l.admin.clone();
    // A unit of the street (below the district) and one of a region with no stations.
    let mut conn = app.db.acquire().await.unwrap();
    conn.query("INSERT INTO regions (id, name, parent_id) VALUES ('region-other', '别区', NULL)")
        .execute()
        .await
        .unwrap();
    drop(conn);
    for (id, region) in [
        ("unit-street", "region-demo-street"),
        ("unit-other", "region-other"),
    ] {
        app.db
            .put_unit(&HandlingUnit {
                id: id.into(),
                name: id.into(),
                region_id: region.into(),
            })
            .await
            .unwrap();
    }
    let ids = |units: Value| -> Vec<String> {
        units
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for (who, token, expected) in [
        (
            "admin",
            &admin,
            vec![
                "unit-demo-housing",
                "unit-demo-urban",
                "unit-other",
                "unit-street",
            ],
        ),
        (
            "office",
            &l.office,
            vec!["unit-demo-housing", "unit-demo-urban", "unit-street"],
        ),
        (
            "幸福里 staff",
            &l.staff,
            vec!["unit-demo-housing", "unit-demo-urban", "unit-street"],
        ),
        (
            "和平 staff",
            &l.heping,
            vec!["unit-demo-housing", "unit-demo-urban"],
        ),
        (
            "和平 deputy",
            &l.wang,
            vec!["unit-demo-housing", "unit-demo-urban"],
        ),
        ("housing", &l.housing, vec!["unit-demo-housing"]),
    ] {
        let response = app
            .call(Method::GET, "/api/v1/units", Some(token), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{who}");
        assert_eq!(ids(body_json(response).await), expected, "{who}");
    }
    let units = body_json(
        app.call(Method::GET, "/api/v1/units", Some(&l.office), None)
            .await,
    )
    .await;
    assert_eq!(
        units[0],
        json!({"id": HOUSING, "name": HOUSING_NAME, "region_id": "region-demo-district"})
    );

    // The calendar.
    let d = |s: &str| Date::parse(s).unwrap();
    let calendar = WorkCalendar {
        holidays: [d("2026-10-01"), d("2026-10-02")].into_iter().collect(),
        make_up_working_days: [d("2026-10-10")].into_iter().collect(),
    };
    for (who, token) in [
        ("office staff", &l.office),
        ("station staff", &l.staff),
        ("deputy", &l.tablet),
        ("unit", &l.housing),
    ] {
        let response = app.put_calendar(token, &calendar).await;
        assert_json_error(response, StatusCode::FORBIDDEN, "forbidden", who).await;
    }
    assert_eq!(
        app.db.work_calendar().await.unwrap(),
        WorkCalendar::default(),
        "nothing changed"
    );
    assert_eq!(
        app.put_calendar(&admin, &calendar).await.status(),
        StatusCode::NO_CONTENT
    );
    for token in [&l.tablet, &l.housing, &l.heping, &admin] {
        let response = app
            .call(Method::GET, "/api/v1/calendar", Some(token), None)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let read: WorkCalendar = serde_json::from_value(body_json(response).await).unwrap();
        assert_eq!(read, calendar);
    }
    let both = WorkCalendar {
        holidays: [d("2026-10-10")].into_iter().collect(),
        make_up_working_days: [d("2026-10-10")].into_iter().collect(),
    };
    let response = app.put_calendar(&admin, &both).await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "calendar_conflict",
        "both",
    )
    .await;
    let response = app
        .call(
            Method::PUT,
            "/api/v1/calendar",
            Some(&admin),
            Some(json!({"holidays": ["2026-02-30"]})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let too_many = WorkCalendar {
        holidays: (0..5000).map(|n| d("2026-01-01").add_days(n)).collect(),
        ..WorkCalendar::default()
    };
    let response = app.put_calendar(&admin, &too_many).await;
    assert_json_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "calendar_too_large",
        "too many",
    )
    .await;
    let read: WorkCalendar = serde_json::from_value(
        body_json(
            app.call(Method::GET, "/api/v1/calendar", Some(&admin), None)
                .await,
        )
        .await,
    )
    .unwrap();
    assert_eq!(read, calendar, "refused calendars change nothing");
    // Replaced as a whole.
    let empty = WorkCalendar::default();
    assert_eq!(
        app.put_calendar(&admin, &empty).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.db.work_calendar().await.unwrap(), empty);
}

/// Several online steps of one account at once: each gets its own seq in the account's
/// server-side stream, none is lost.
#[tokio::test]
async fn concurrent_online_steps_of_one_account_all_land() {
    let l = the_loop().await;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let mut requests = JoinSet::new();
    for n in 0..8 {
        let router = l.app.router.clone();
        let token = l.office.clone();
        requests.spawn(async move {
            let request = axum::http::Request::post(format!("{}/steps", opinion_uri(id)))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(
                    json!({"action": "note", "kind": "reminder", "text": format!("催办 {n}")})
                        .to_string(),
                ))
                .unwrap();
            tower::ServiceExt::oneshot(router, request)
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = requests.join_next().await {
        assert_eq!(status.unwrap(), StatusCode::OK);
    }
    let view = l.app.item_ok(&l.office, id).await;
    assert_eq!(view.steps.len(), 8);
    let seqs = scalar(
        &l.app.db,
        "SELECT COUNT(DISTINCT m.seq) AS value FROM mutations m \
         JOIN users u ON u.server_client_id = m.client_id \
         WHERE u.username = 'office' AND m.outcome = 'applied' AND m.seq BETWEEN 1 AND 8",
    )
    .await;
    assert_eq!(seqs, 8);
}

/// The ledger: narrowed to what the caller reads, filtered by every [`LedgerQuery`] field,
/// overdue first, then due soon, then the rest, newest first within each.
///
/// [`LedgerQuery`]: liaison_domain::followup::LedgerQuery
#[tokio::test]
async fn the_ledger_filters_and_puts_the_urgent_first() {
    let l = the_loop().await;
    let app = &l.app;
    let now = now_ms();
    let staff = app.actor(&l.staff).await;
    let sc = client(30);
    let cal = WorkCalendar::weekdays_only();
    // `age` days ago, newest last.
    let items = [
        (1, XINGFULI, "deputy-demo-zhang", "parking", 45),
        (2, XINGFULI, "deputy-demo-li", "old_building_elevators", 4),
        (3, XINGFULI, "deputy-demo-zhang", "parking", 3),
        (4, HEPING, "deputy-demo-wang", "parking", 2),
        (5, XINGFULI, "deputy-demo-zhang", "parking", 1),
    ];
    let mut created = Vec::new();
    for (n, station, deputy, category, age) in items {
        let opinion = intake_at(
            n,
            station,
            deputy,
            OutcomeKind::ToBeReferred,
            category,
            now - age * DAY_MS,
        );
        let c = client(60 + n);
        let token = if station == HEPING {
            &l.heping
        } else {
            &l.staff
        };
        app.push_ok(token, c, vec![create(c, 1, opinion)]).await;
        created.push(opinion_id(n));
    }
    let [a, b, c, d, e] = created[..] else {
        unreachable!()
    };
    // a: referred 40 days ago for 5 working days: overdue. b: due in 2 working days: due soon.
    // c: 10 working days: on time, at the urban bureau. e: deleted.
    let referral = |at_ms: u64, days: u32, unit: &str| {
        let on = Date::from_unix_ms(at_ms as i64, CHINA_UTC_OFFSET_MINUTES);
        step_by(
            &staff,
            at_ms,
            Action::Refer {
                unit_id: unit.into(),
                unit_name: String::new(),
                working_days: days,
                due: cal.add_working_days(on, days),
                note: String::new(),
            },
        )
    };
    let answer = app
        .push_ok(
            &l.staff,
            sc,
            vec![
                record(sc, 1, a, referral(now - 40 * DAY_MS, 5, HOUSING)),
                record(sc, 2, b, referral(now, 2, HOUSING)),
                record(sc, 3, c, referral(now, 10, URBAN)),
                Mutation::new(
                    sc,
                    Seq(4),
                    stamp(sc, 40),
                    MutationKind::DeleteOpinion { id: e },
                ),
            ],
        )
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");

    let rows = app.ledger(&l.office, "").await;
    let order: Vec<_> = rows.iter().map(|r| (r.opinion_id, r.colour)).collect();
    assert_eq!(
        order,
        vec![
            (a, Some(DeadlineColour::Overdue)),
            (b, Some(DeadlineColour::DueSoon)),
            (d, None),
            (c, Some(DeadlineColour::OnTime)),
        ],
        "urgent first, then newest first"
    );
    assert_eq!(
        rows[3].unit_name.as_deref(),
        Some(URBAN_NAME),
        "the unit's name from the unit list"
    );
    let cases: Vec<(String, Vec<OpinionId>)> = vec![
        ("?status=referred".into(), vec![a, b, c]),
        ("?status=registered".into(), vec![d]),
        ("?colour=overdue".into(), vec![a]),
        ("?colour=due_soon".into(), vec![b]),
        (format!("?unit={URBAN}"), vec![c]),
        (format!("?unit={HOUSING}&colour=on_time"), vec![]),
        (format!("?station={HEPING}"), vec![d]),
        ("?deputy=deputy-demo-li".into(), vec![b]),
        ("?category=old_building_elevators".into(), vec![b]),
        (
            format!(
                "?from={}&to={}",
                Date::from_unix_ms((now - 4 * DAY_MS) as i64, CHINA_UTC_OFFSET_MINUTES),
                Date::from_unix_ms((now - 2 * DAY_MS) as i64, CHINA_UTC_OFFSET_MINUTES),
            ),
            vec![b, d, c],
        ),
        (
            "?station=&status=&category=&deputy=&unit=&from=&to=&colour=".into(),
            vec![a, b, d, c],
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(app.ledger_ids(&l.office, &query).await, expected, "{query}");
    }
    for query in [
        "?status=lost",
        "?colour=purple",
        "?from=yesterday",
        "?to=2026-13-01",
    ] {
        let response = app
            .call(
                Method::GET,
                &format!("/api/v1/ledger{query}"),
                Some(&l.office),
                None,
            )
            .await;
        assert_json_error(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_filter",
            query,
        )
        .await;
    }

    // Each role's own part.
    assert_eq!(app.ledger_ids(&l.staff, "").await, vec![a, b, c]);
    assert_eq!(app.ledger_ids(&l.tablet, "").await, vec![a, b, c]);
    assert_eq!(app.ledger_ids(&l.heping, "").await, vec![d]);
    assert_eq!(app.ledger_ids(&l.housing, "").await, vec![a, b]);
    assert_eq!(app.ledger_ids(&l.urban, "").await, vec![c]);
    assert!(
        app.ledger(&l.urban, &format!("?station={XINGFULI}&unit={HOUSING}"))
            .await
            .is_empty()
    );
}

/// The item view and the ledger never show personal data unmasked: the name masked, the phone
/// and address left out of the opinion, the masked line beside it.
#[tokio::test]
async fn the_item_view_masks_personal_data() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let response = app.item(&l.office, id).await;
    let json = body_json(response).await;
    let text = json.to_string();
    for secret in ["13812341234", "张三", "幸福里 3 号楼"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(json["citizen_masked"], "张* 138****1234");
    let view: ItemView = serde_json::from_value(json).unwrap();
    assert_eq!(view.opinion.citizen.name.as_deref(), Some("张*"));
    assert_eq!(view.opinion.citizen.phone, None);
    assert_eq!(view.opinion.citizen.address, None);
    assert!(view.opinion.citizen.consent.is_some());

    let ledger = app
        .call(Method::GET, "/api/v1/ledger", Some(&l.office), None)
        .await;
    let text = body_json(ledger).await.to_string();
    for secret in ["13812341234", "138****1234", "张三", "3 号楼"] {
        assert!(!text.contains(secret), "{secret} in the ledger");
    }
}

/// Online steps reach the tablets like pushed ones, and a tablet may not push with the server's
/// own client of an account.
#[tokio::test]
async fn online_steps_are_pulled_by_tablets_and_their_client_is_the_servers_own() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let cursor = app.pull(&l.tablet).await.next_cursor;
    app.step_ok(
        &l.staff,
        id,
        json!({"action": "note", "kind": "visit", "text": "现场走访"}),
    )
    .await;
    let pulled = app.pull(&l.tablet).await;
    assert!(pulled.next_cursor > cursor);
    let Some(Change::Opinion { state, cursor, .. }) = pulled.changes.last() else {
        panic!("{pulled:?}");
    };
    assert_eq!(*cursor, pulled.next_cursor);
    assert_eq!(state.steps().count(), 1);

    // The staff member's server-side client: not usable from a session, nor bindable to a tablet.
    let server_client: String = super::sync::text(
        &app.db,
        "SELECT server_client_id AS value FROM users WHERE username = 'staff-xingfuli'",
    )
    .await;
    let server_client = ClientId::parse(&server_client).unwrap();
    let body = super::sync_routes::push_body(server_client, vec![]);
    let response = app
        .call(
            Method::POST,
            "/api/v1/sync/push",
            Some(&l.staff),
            Some(body.clone()),
        )
        .await;
    assert_json_error(response, StatusCode::CONFLICT, "client_mismatch", "session").await;
    let device = body_json(app.enroll(&l.staff, XINGFULI).await).await;
    let on_tablet = app
        .token("staff-xingfuli", device["device_token"].as_str())
        .await;
    let response = app
        .call(
            Method::POST,
            "/api/v1/sync/push",
            Some(&on_tablet),
            Some(body),
        )
        .await;
    assert_json_error(response, StatusCode::CONFLICT, "client_mismatch", "device").await;
}

/// A note step, as deputies and staff record them.
fn note(text: &str) -> Action {
    Action::Note {
        kind: NoteKind::ReturnVisit,
        text: text.into(),
    }
}

/// A sign-in of `deputy` at 幸福里 at `at_ms`, on that day.
fn sign_in(client: ClientId, seq: u64, deputy: &str, at_ms: u64) -> Mutation {
    Mutation::new(
        client,
        Seq(seq),
        stamp(client, seq * 10),
        MutationKind::MarkAttendance {
            mark: AttendanceMark {
                key: AttendanceKey {
                    station_id: XINGFULI.into(),
                    deputy_id: deputy.into(),
                    day: Date::from_unix_ms(at_ms as i64, CHINA_UTC_OFFSET_MINUTES),
                },
                mark: Mark::SignIn,
                at_ms,
            },
        },
    )
}

fn rejections(answer: &PushResponse) -> Vec<(Seq, RejectCode)> {
    answer.rejected.iter().map(|r| (r.seq, r.code)).collect()
}

/// A shared tablet: 张建国 records a step and his sign-in offline and signs out; 李 signs in on
/// the same tablet, which pushes 张's work under 李's session: applied, under 张's name. A step
/// signed by an account that signed in only on another tablet is forbidden until it signs in on
/// this one; one recording a role the account does not have is forbidden. On the tablet the
/// deputy on duty may be marked by whoever is signed in; off a tablet a step is the session's own
/// and a deputy marks only itself.
#[tokio::test]
async fn a_shared_tablet_pushes_the_work_of_everyone_who_signed_in_on_it() {
    let l = the_loop().await;
    let app = &l.app;
    let tc = l.tablet_client;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let zhang = app.actor(&l.tablet).await;
    let now = now_ms();
    let response = app
        .call(Method::DELETE, "/api/v1/session", Some(&l.tablet), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT, "张 signs out");

    for (username, deputy) in [
        ("deputy-li", "deputy-demo-li"),
        ("deputy-chen", "deputy-demo-chen"),
    ] {
        app.add_user(
            username,
            Role::Deputy,
            Some(deputy),
            &[Scope::Station(XINGFULI.into())],
        )
        .await;
    }
    let li = app.token("deputy-li", Some(&l.device)).await;
    // 陈 works on another 幸福里 tablet only (so far).
    let other = body_json(app.enroll(&l.staff, XINGFULI).await).await;
    let chen_elsewhere = app
        .token("deputy-chen", other["device_token"].as_str())
        .await;
    let chen = app.actor(&chen_elsewhere).await;

    let answer = app
        .push_ok(
            &li,
            tc,
            vec![
                record(tc, 2, id, step_by(&zhang, now, note("张的回访"))),
                sign_in(tc, 3, "deputy-demo-zhang", now),
                record(tc, 4, id, step_by(&chen, now + 1, note("陈的回访"))),
                record(
                    tc,
                    5,
                    id,
                    step_by(
                        &Actor {
                            role: Role::StationStaff,
                            ..zhang.clone()
                        },
                        now + 2,
                        note("冒充站长"),
                    ),
                ),
                // The deputy on duty, picked on the tablet without signing in.
                sign_in(tc, 6, "deputy-demo-chen", now),
            ],
        )
        .await;
    assert_eq!(
        rejections(&answer),
        vec![
            (Seq(4), RejectCode::Forbidden),
            (Seq(5), RejectCode::Forbidden)
        ]
    );
    let view = app.item_ok(&l.office, id).await;
    assert_eq!(view.steps.len(), 1);
    assert_eq!(
        view.steps[0].by, zhang,
        "recorded under the account that took it"
    );
    let marked: Vec<String> = body_json(
        app.call(Method::GET, "/api/v1/attendance", Some(&l.staff), None)
            .await,
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|a| a["deputy_id"].as_str().unwrap().to_owned())
    .collect();
    assert_eq!(marked, ["deputy-demo-chen", "deputy-demo-zhang"]);

    // Once 陈 has signed in on this tablet, his steps recorded on it go through.
    app.token("deputy-chen", Some(&l.device)).await;
    let answer = app
        .push_ok(
            &li,
            tc,
            vec![record(tc, 7, id, step_by(&chen, now + 3, note("陈的回访")))],
        )
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    assert_eq!(app.item_ok(&l.office, id).await.steps.len(), 2);

    // Off a tablet, 李 pushes only his own steps and marks.
    let li_own = app.token("deputy-li", None).await;
    let lc = client(50);
    let answer = app
        .push_ok(
            &li_own,
            lc,
            vec![
                record(lc, 1, id, step_by(&zhang, now + 4, note("张的回访"))),
                sign_in(lc, 2, "deputy-demo-zhang", now),
                sign_in(lc, 3, "deputy-demo-li", now),
            ],
        )
        .await;
    assert_eq!(
        rejections(&answer),
        vec![
            (Seq(1), RejectCode::Forbidden),
            (Seq(2), RejectCode::Forbidden)
        ]
    );
    assert_eq!(app.item_ok(&l.office, id).await.steps.len(), 2);
}

/// The back office's step carries the id its page made when the form opened: sent twice (the
/// first answer lost), it is taken once and both answers are the item with that one step, also
/// after the item moved on. An id that is not a UUID is refused and nothing is stored.
#[tokio::test]
async fn an_online_step_sent_twice_with_its_id_is_taken_once() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let step_id = FollowUpId::new_v7(now_ms(), [7; 10]);
    let due = WorkCalendar::weekdays_only().add_working_days(today(), 5);
    let mut body = refer(HOUSING, HOUSING_NAME, 5, due);
    body["id"] = json!(step_id);

    let first = app.step_ok(&l.office, id, body.clone()).await;
    let second = app.step_ok(&l.office, id, body.clone()).await;
    assert_eq!(first.steps.len(), 1);
    assert_eq!(first.steps[0].id, step_id);
    assert_eq!(second, first, "the same answer");
    // After the unit accepted it, the resend still changes nothing and shows the item as it is.
    app.step_ok(&l.housing, id, json!({"action": "accept"}))
        .await;
    let third = app.step_ok(&l.office, id, body).await;
    assert_eq!(action_codes(&third), ["refer", "accept"]);
    assert_eq!(third.lifecycle.status.kind(), StatusKind::InProgress);
    let changes = scalar(
        &app.db,
        "SELECT COUNT(m.change_seq) AS value FROM mutations m \
         JOIN users u ON u.server_client_id = m.client_id WHERE u.username = 'office'",
    )
    .await;
    assert_eq!(
        changes, 1,
        "one change from the office, however often it was sent"
    );

    let response = app
        .step(
            &l.office,
            id,
            json!({"id": "not-a-uuid", "action": "note", "kind": "visit", "text": "走访"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.item_ok(&l.office, id).await.steps.len(), 2);
}

/// Once an online step is committed nothing is read any more: a database that fails on a read
/// the answer needs (here a corrupt calendar row) fails the request before the step is stored,
/// so a 500 never hides a step that was taken; sent again when the database is right, it is
/// taken once.
#[tokio::test]
async fn an_online_step_answered_500_was_not_taken() {
    let l = the_loop().await;
    let app = &l.app;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let sql = |statement: &'static str| async move {
        let mut conn = app.db.acquire().await.unwrap();
        conn.query(statement).execute().await.unwrap();
    };
    sql("INSERT INTO calendar_days (day, kind) VALUES ('not a day', 'holiday')").await;
    let body = json!({
        "id": FollowUpId::new_v7(now_ms(), [8; 10]),
        "action": "note",
        "kind": "reminder",
        "text": "催办",
    });
    let response = app.step(&l.office, id, body.clone()).await;
    assert_json_error(
        response,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "corrupt calendar",
    )
    .await;
    let steps = "SELECT COUNT(*) AS value FROM mutations WHERE kind = 'record_follow_up'";
    assert_eq!(scalar(&app.db, steps).await, 0, "nothing was taken");

    sql("DELETE FROM calendar_days WHERE day = 'not a day'").await;
    app.step_ok(&l.office, id, body.clone()).await;
    let view = app.step_ok(&l.office, id, body).await;
    assert_eq!(action_codes(&view), ["note"]);
}

/// Times that cannot be: a step stamped after the server's now (beyond a few minutes' allowance)
/// or a day before the item was recorded is `not_allowed` `clock_wrong`. A step recorded offline
/// before someone else's later step is not: it is pushed late, not wrong.
#[tokio::test]
async fn a_step_from_a_wrong_clock_is_refused() {
    let l = the_loop().await;
    let app = &l.app;
    let tc = l.tablet_client;
    // Recorded a minute ago.
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let zhang = app.actor(&l.tablet).await;
    let now = now_ms();
    const MINUTE: u64 = 60_000;
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![
                record(
                    tc,
                    2,
                    id,
                    step_by(&zhang, now + 60 * MINUTE, note("快一小时")),
                ),
                record(
                    tc,
                    3,
                    id,
                    step_by(&zhang, now + 5 * MINUTE, note("快五分钟")),
                ),
                record(tc, 4, id, step_by(&zhang, now - 2 * DAY_MS, note("慢两天"))),
                record(
                    tc,
                    5,
                    id,
                    step_by(&zhang, now - 60 * MINUTE, note("慢一小时")),
                ),
            ],
        )
        .await;
    assert_eq!(
        rejections(&answer),
        vec![
            (Seq(2), RejectCode::NotAllowed),
            (Seq(4), RejectCode::NotAllowed)
        ]
    );
    for rejected in &answer.rejected {
        assert_eq!(rejected.transition, Some(TransitionError::ClockWrong));
    }
    assert_eq!(app.item_ok(&l.office, id).await.steps.len(), 2);

    // The office reminds the unit online now; a note the deputy wrote offline ten minutes ago
    // arrives after it, and is taken.
    let response = app
        .step(
            &l.office,
            id,
            json!({"action": "note", "kind": "reminder", "text": "催办"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![record(
                tc,
                6,
                id,
                step_by(&zhang, now - 10 * MINUTE, note("离线时记下的回访")),
            )],
        )
        .await;
    assert!(answer.rejected.is_empty(), "{answer:?}");
    assert_eq!(app.item_ok(&l.office, id).await.steps.len(), 4);
}

/// An item whose follow-up has begun is never deleted: the tablet's delete of a referred item is
/// `not_allowed` `follow_up_begun`, and the unit it was referred to still reads and acts on it.
#[tokio::test]
async fn a_referred_item_cannot_be_deleted() {
    let l = the_loop().await;
    let app = &l.app;
    let tc = l.tablet_client;
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let due = WorkCalendar::weekdays_only().add_working_days(today(), 5);
    app.step_ok(&l.office, id, refer(HOUSING, HOUSING_NAME, 5, due))
        .await;
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![Mutation::new(
                tc,
                Seq(2),
                stamp(tc, 20),
                MutationKind::DeleteOpinion { id },
            )],
        )
        .await;
    assert_eq!(rejections(&answer), vec![(Seq(2), RejectCode::NotAllowed)]);
    assert_eq!(
        answer.rejected[0].transition,
        Some(TransitionError::FollowUpBegun)
    );
    assert_eq!(app.ledger_ids(&l.housing, "").await, vec![id]);
    let view = app.item_ok(&l.housing, id).await;
    assert!(view.available.contains(&ActionKind::Accept));
    assert_eq!(app.ledger_ids(&l.office, "").await, vec![id]);
}

/// A referral names a unit its author may see: office staff of the district cannot refer to a
/// unit of another region, online or pushed (`invalid`, the `unit` unknown, as for a unit that
/// does not exist); the administrator may. On a shared tablet the author is judged: station
/// staff's referral recorded on the tablet and pushed under the deputy's session goes to a unit
/// the staff may see, not to another.
#[tokio::test]
async fn a_referral_names_a_unit_its_author_may_see() {
    let l = the_loop().await;
    let app = &l.app;
    let mut conn = app.db.acquire().await.unwrap();
    conn.query("INSERT INTO regions (id, name, parent_id) VALUES ('region-other', '别区', NULL)")
        .execute()
        .await
        .unwrap();
    drop(conn);
    app.db
        .put_unit(&HandlingUnit {
            id: "unit-other".into(),
            name: "别区住建局".into(),
            region_id: "region-other".into(),
        })
        .await
        .unwrap();
    let id = captured_on_the_tablet(&l, 1, 1, OutcomeKind::ToBeReferred).await;
    let other = captured_on_the_tablet(&l, 2, 2, OutcomeKind::ToBeReferred).await;
    let due = WorkCalendar::weekdays_only().add_working_days(today(), 5);
    let unknown_unit = json!([["unit", {"code": "unknown_choice"}]]);

    let response = app
        .step(&l.office, id, refer("unit-other", "别区住建局", 5, due))
        .await;
    assert_invalid(response, unknown_unit.clone(), "office, online").await;

    let referral = |by: &Actor, unit: &str| {
        step_by(
            by,
            now_ms(),
            Action::Refer {
                unit_id: unit.into(),
                unit_name: unit.into(),
                working_days: 5,
                due,
                note: String::new(),
            },
        )
    };
    let staff = app.actor(&l.staff).await;
    let sc = client(30);
    let answer = app
        .push_ok(
            &l.staff,
            sc,
            vec![record(sc, 1, id, referral(&staff, "unit-other"))],
        )
        .await;
    assert_eq!(rejections(&answer), vec![(Seq(1), RejectCode::Invalid)]);
    assert_eq!(
        serde_json::to_value(&answer.rejected[0].errors).unwrap(),
        unknown_unit
    );

    // The station staff signed in on the tablet once; their referrals go out under 张's session.
    app.token("staff-xingfuli", Some(&l.device)).await;
    let tc = l.tablet_client;
    let answer = app
        .push_ok(
            &l.tablet,
            tc,
            vec![
                record(tc, 3, id, referral(&staff, "unit-other")),
                record(tc, 4, id, referral(&staff, HOUSING)),
            ],
        )
        .await;
    assert_eq!(rejections(&answer), vec![(Seq(3), RejectCode::Invalid)]);
    let view = app.item_ok(&l.office, id).await;
    assert_eq!(view.lifecycle.unit_id, Some(HOUSING.into()));
    assert_eq!(view.steps[0].by, staff);

    let view = app
        .step_ok(&l.admin, other, refer("unit-other", "别区住建局", 5, due))
        .await;
    assert_eq!(view.lifecycle.unit_id, Some("unit-other".into()));
}
