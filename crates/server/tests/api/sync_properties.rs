//! The sync's acceptance properties against the real server (router, HTTP routes with bearer
//! tokens, SQLite on disk):
//!
//! - the same push fired ten times at once stores one opinion and one change;
//! - a property test of 2–4 simulated tablets and a back-office client, each with a local
//!   replica and an outbox as the app keeps them, doing random edits, pushes (in batches) and
//!   pulls (in pages), with faults: responses dropped after the server committed, duplicated and
//!   late deliveries, batches sent out of order, client crashes that keep only what the tablet
//!   persists, and server restarts on the same data directory. After a final sync round every
//!   mutation must be stored exactly once, every replica must hold exactly the server's state (as pulled: the citizen masked),
//!   and the server's state must be what the domain's merge makes of the mutations.

use super::accounts::app_with_accounts;
use super::sync::{client, count, opinion_id, scalar, valid_opinion};
use super::{TestApp, body_json};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use liaison_domain::sync::{
    Change, Clock, Cursor, Hlc, Mutation, MutationKind, OpinionFieldValue, OpinionReplica,
    PROTOCOL_VERSION, PullResponse, PushRequest, PushResponse, RejectCode, Rejected, Seq,
};
use liaison_domain::{ClientId, OpinionId, default_categories};
use liaison_server::Settings;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};
use tower::ServiceExt;

const PUSH: &str = "/api/v1/sync/push";
const PULL: &str = "/api/v1/sync/pull";
/// The tablets' station; the back office also writes to [`ELSEWHERE`], which tablets never see.
const STATION: &str = "station-xingfuli";
const ELSEWHERE: &str = "station-heping";

fn push_body(client_id: ClientId, mutations: &[Mutation]) -> Value {
    serde_json::to_value(PushRequest {
        protocol: PROTOCOL_VERSION,
        app_version: Settings::DEFAULT_MIN_APP_VERSION.into(),
        client_id,
        mutations: mutations.to_vec(),
    })
    .unwrap()
}

fn push_request(token: &str, body: &Value) -> Request<Body> {
    Request::post(PUSH)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A tablet on an enrolled 幸福里 device, signed in as the deputy: its bearer token.
async fn tablet_token(app: &TestApp, staff: &str) -> String {
    let device = body_json(app.enroll(staff, STATION).await).await;
    app.token(
        "deputy-zhang",
        Some(device["device_token"].as_str().unwrap()),
    )
    .await
}

/// Statuses a client may meet under load and simply retry later. The server should not need
/// them here (SQLite's busy timeout queues the writers), but they would be clean answers.
fn retryable(status: StatusCode) -> bool {
    [
        StatusCode::REQUEST_TIMEOUT,
        StatusCode::TOO_MANY_REQUESTS,
        StatusCode::SERVICE_UNAVAILABLE,
    ]
    .contains(&status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_push_fired_ten_times_at_once_stores_one_opinion() {
    let app = app_with_accounts().await;
    let staff = app.token("staff-xingfuli", None).await;
    let tablet = tablet_token(&app, &staff).await;
    let c = client(1);
    let opinion = valid_opinion(opinion_id(1), STATION);
    let body = push_body(c, &[super::sync::create(c, 1, 0, opinion.clone())]);

    let pushes = (0..10).map(|_| {
        let request = push_request(&tablet, &body);
        let router = app.router.clone();
        tokio::spawn(async move {
            let response = router.oneshot(request).await.unwrap();
            (response.status(), body_json(response).await)
        })
    });
    let answers = futures_util::future::join_all(pushes).await;

    let mut acknowledged = 0;
    for answer in answers {
        let (status, body) = answer.expect("no panic");
        if status == StatusCode::OK {
            let response: PushResponse = serde_json::from_value(body).unwrap();
            assert_eq!(
                response,
                PushResponse {
                    acknowledged_through: Seq(1),
                    rejected: vec![],
                }
            );
            acknowledged += 1;
        } else {
            assert!(retryable(status), "{status}: {body}");
            assert!(body["error"]["code"].is_string(), "{body}");
        }
    }
    assert!(acknowledged >= 1, "at least one push got through");
    assert_eq!(count(&app.db, "mutations").await, 1);
    assert_eq!(count(&app.db, "opinions").await, 1);
    let counter: i64 = scalar(&app.db, "SELECT value FROM sync_counter").await;
    assert_eq!(counter, 1, "one change");

    let response = app
        .call(
            Method::POST,
            PULL,
            Some(&tablet),
            Some(json!({"protocol": PROTOCOL_VERSION, "cursor": 0, "limit": 500})),
        )
        .await;
    let pulled: PullResponse = serde_json::from_value(body_json(response).await).unwrap();
    assert_eq!(pulled.changes.len(), 1, "exactly one change to pull");
    let Change::Opinion { cursor, state } = &pulled.changes[0] else {
        panic!("only opinions were pushed");
    };
    assert_eq!(*cursor, Cursor(1));
    assert_eq!(state.opinion(), Some(opinion.with_citizen_masked()));
}

// --- The simulated clients -----------------------------------------------------------------

/// What can go wrong on the way of a push.
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    /// The server commits the first batch, the answer never arrives; the client stops and
    /// resends later.
    ResponseDropped,
    /// The first batch arrives twice, at the same time.
    Duplicated,
    /// A copy of the first batch is held up in the network and delivered later.
    DelayedCopy,
    /// The second batch overtakes the first (409 `gap` unless the server has the first already).
    OutOfOrder,
}

#[derive(Clone, Debug)]
enum Op {
    /// A new opinion; the back office sometimes files it at the other station.
    Create {
        actor: usize,
        elsewhere: bool,
    },
    /// New values for some fields (field, value) of a visible opinion.
    Set {
        actor: usize,
        pick: Index,
        fields: Vec<(u8, u8)>,
    },
    Delete {
        actor: usize,
        pick: Index,
    },
    Push {
        actor: usize,
        batch: usize,
        fault: Fault,
    },
    /// Up to `pages` pages of `limit` changes (stopping early like a tablet going offline).
    Pull {
        actor: usize,
        limit: u32,
        pages: u8,
    },
    /// The app is killed: only what it persists survives.
    Crash {
        actor: usize,
    },
    DeliverDelayed {
        pick: Index,
    },
    RestartServer,
}

#[derive(Clone, Debug)]
struct Scenario {
    tablets: usize,
    /// Each client's clock offset from the server's, in ms; beyond +60 s the server clamps.
    skews_ms: Vec<i64>,
    ops: Vec<Op>,
}

fn op() -> impl Strategy<Value = Op> {
    // Actors are taken modulo the number of clients (tablets + the back office).
    let actor = 0usize..5;
    let fault = prop_oneof![
        4 => Just(Fault::None),
        1 => Just(Fault::ResponseDropped),
        1 => Just(Fault::Duplicated),
        1 => Just(Fault::DelayedCopy),
        1 => Just(Fault::OutOfOrder),
    ];
    prop_oneof![
        4 => (actor.clone(), prop::bool::weighted(0.3))
            .prop_map(|(actor, elsewhere)| Op::Create { actor, elsewhere }),
        4 => (actor.clone(), any::<Index>(), prop::collection::vec((0u8..5, 0u8..4), 1..4))
            .prop_map(|(actor, pick, fields)| Op::Set { actor, pick, fields }),
        1 => (actor.clone(), any::<Index>()).prop_map(|(actor, pick)| Op::Delete { actor, pick }),
        4 => (actor.clone(), 1usize..4, fault)
            .prop_map(|(actor, batch, fault)| Op::Push { actor, batch, fault }),
        3 => (actor.clone(), 1u32..4, 1u8..4)
            .prop_map(|(actor, limit, pages)| Op::Pull { actor, limit, pages }),
        1 => actor.prop_map(|actor| Op::Crash { actor }),
        1 => any::<Index>().prop_map(|pick| Op::DeliverDelayed { pick }),
        1 => Just(Op::RestartServer),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..=4)
        .prop_flat_map(|tablets| {
            (
                Just(tablets),
                prop::collection::vec(
                    prop_oneof![3 => -120_000i64..30_000, 1 => 90_000i64..600_000],
                    tablets + 1,
                ),
                prop::collection::vec(op(), 1..45),
            )
        })
        .prop_map(|(tablets, skews_ms, ops)| Scenario {
            tablets,
            skews_ms,
            ops,
        })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn field_value(field: u8, v: u8) -> OpinionFieldValue {
    match field {
        0 => {
            let categories = default_categories();
            OpinionFieldValue::Category(categories[v as usize % categories.len()].code.clone())
        }
        1 => OpinionFieldValue::Summary(format!("意见摘要 {v}")),
        2 => OpinionFieldValue::Details(format!("详细情况 {v}")),
        3 => OpinionFieldValue::Place(format!("地点 {v}")),
        _ => OpinionFieldValue::OnSiteReply(format!("现场答复 {v}")),
    }
}

/// One client (a tablet or the back office) as the app models it.
struct Actor {
    name: String,
    token: String,
    client_id: ClientId,
    /// The stations whose opinions this client may pull.
    reads: Vec<&'static str>,
    skew_ms: i64,
    created: u16,

    // Persisted (IndexedDB on the tablet), written in one transaction with each change.
    /// Mutations not acknowledged yet, in seq order.
    outbox: Vec<Mutation>,
    /// The last seq handed out; never reused, even once the outbox is empty.
    last_seq: Seq,
    /// The clock as persisted with each outbox entry.
    persisted_clock: Hlc,
    /// The server's state of each record from the pulls: replaced, never merged into.
    pulled: BTreeMap<OpinionId, OpinionReplica>,
    cursor: Cursor,
    /// Rejections heard, by seq.
    rejected: BTreeMap<Seq, Rejected>,

    // In memory only.
    clock: Clock,
    /// The highest `acknowledged_through` heard since the app started.
    acknowledged: Seq,

    // Test bookkeeping, not the client's.
    history: Vec<Mutation>,
}

impl Actor {
    fn new(
        name: String,
        token: String,
        client_id: ClientId,
        reads: Vec<&'static str>,
        skew_ms: i64,
    ) -> Self {
        Actor {
            name,
            token,
            client_id,
            reads,
            skew_ms,
            created: 0,
            outbox: Vec::new(),
            last_seq: Seq::NONE,
            persisted_clock: Hlc::zero(client_id),
            pulled: BTreeMap::new(),
            cursor: Cursor::START,
            rejected: BTreeMap::new(),
            clock: Clock::new(client_id),
            acknowledged: Seq::NONE,
            history: Vec::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        now_ms().saturating_add_signed(self.skew_ms)
    }

    /// What the user sees: the pulled state with the outbox applied on top.
    fn view(&self) -> BTreeMap<OpinionId, OpinionReplica> {
        let mut view = self.pulled.clone();
        for mutation in &self.outbox {
            // The tablets of this test record opinions only.
            let Some(id) = mutation.kind.opinion_id() else {
                continue;
            };
            view.entry(id)
                .or_insert_with(|| OpinionReplica::new(id))
                .apply(mutation);
        }
        view
    }

    fn visible(&self) -> Vec<OpinionId> {
        self.view()
            .into_iter()
            .filter(|(_, state)| state.opinion().is_some())
            .map(|(id, _)| id)
            .collect()
    }

    /// Records a local change: stamped, numbered and put in the outbox in one go.
    fn record(&mut self, kind: MutationKind) {
        let stamp = self.clock.tick(self.now_ms());
        self.last_seq = self.last_seq.next();
        let mutation = Mutation::new(self.client_id, self.last_seq, stamp, kind);
        self.persisted_clock = stamp;
        self.outbox.push(mutation.clone());
        self.history.push(mutation);
    }

    /// The app restarts: memory is rebuilt from what was persisted. The clock resumes after
    /// everything the tablet stored (its own stamps and the pulled records').
    fn crash(&mut self) {
        let last = std::iter::once(self.persisted_clock)
            .chain(self.outbox.iter().map(|m| m.hlc))
            .chain(self.pulled.values().filter_map(OpinionReplica::last_stamp))
            .max()
            .unwrap();
        self.clock = Clock::resume(Hlc {
            node: self.client_id,
            ..last
        });
        self.acknowledged = Seq::NONE;
    }

    /// Takes in a push answer the client heard.
    fn heard(&mut self, response: PushResponse) -> Result<(), TestCaseError> {
        prop_assert!(
            response.acknowledged_through <= self.last_seq,
            "{}: acknowledged {:?} beyond the last seq {:?}",
            self.name,
            response.acknowledged_through,
            self.last_seq
        );
        prop_assert!(
            response.acknowledged_through >= self.acknowledged,
            "acks never go back"
        );
        self.acknowledged = response.acknowledged_through;
        self.outbox
            .retain(|m| m.seq > response.acknowledged_through);
        for rejected in response.rejected {
            prop_assert!(rejected.seq <= response.acknowledged_through);
            self.rejected.insert(rejected.seq, rejected);
        }
        Ok(())
    }
}

struct World {
    app: TestApp,
    actors: Vec<Actor>,
    /// Copies of pushes held up in the network: (actor, body).
    delayed: Vec<(usize, Value)>,
}

impl World {
    async fn new(scenario: &Scenario) -> World {
        let app = app_with_accounts().await;
        let staff = app.token("staff-xingfuli", None).await;
        let mut actors = Vec::new();
        for i in 0..scenario.tablets {
            let token = tablet_token(&app, &staff).await;
            actors.push(Actor::new(
                format!("tablet {i}"),
                token,
                client(i as u8 + 1),
                vec![STATION],
                scenario.skews_ms[i],
            ));
        }
        let office = app.token("office", None).await;
        actors.push(Actor::new(
            "back office".into(),
            office,
            client(100),
            vec![STATION, ELSEWHERE],
            scenario.skews_ms[scenario.tablets],
        ));
        World {
            app,
            actors,
            delayed: Vec::new(),
        }
    }

    async fn send(&self, actor: usize, body: &Value) -> (StatusCode, Value) {
        let response = self
            .app
            .request(push_request(&self.actors[actor].token, body))
            .await;
        let status = response.status();
        (status, body_json(response).await)
    }

    /// Sends one batch; returns the answer if it was a 200, or the expected seq of a 409 gap.
    async fn send_batch(
        &self,
        actor: usize,
        batch: &[Mutation],
    ) -> Result<Result<PushResponse, Seq>, TestCaseError> {
        let body = push_body(self.actors[actor].client_id, batch);
        let (status, answer) = self.send(actor, &body).await;
        match status {
            StatusCode::OK => Ok(Ok(serde_json::from_value(answer).unwrap())),
            StatusCode::CONFLICT if answer["error"]["code"] == "gap" => {
                Ok(Err(Seq(answer["error"]["expected"].as_u64().unwrap())))
            }
            _ => Err(TestCaseError::fail(format!(
                "{}: push answered {status}: {answer}",
                self.actors[actor].name
            ))),
        }
    }

    async fn push(&mut self, actor: usize, size: usize, fault: Fault) -> Result<(), TestCaseError> {
        let batches: Vec<Vec<Mutation>> = self.actors[actor]
            .outbox
            .chunks(size)
            .map(<[Mutation]>::to_vec)
            .collect();
        let Some(first) = batches.first() else {
            // An empty push asks what the server has; the answer acknowledges nothing new.
            let answer = self.send_batch(actor, &[]).await?;
            prop_assert!(answer.is_ok());
            return self.actors[actor].heard(answer.unwrap());
        };
        match fault {
            Fault::ResponseDropped => {
                let answer = self.send_batch(actor, first).await?;
                prop_assert!(
                    answer.is_ok(),
                    "the first unacknowledged batch is never a gap"
                );
                return Ok(());
            }
            Fault::Duplicated => {
                let body = push_body(self.actors[actor].client_id, first);
                let (one, two) = tokio::join!(self.send(actor, &body), self.send(actor, &body));
                prop_assert_eq!(one.0, StatusCode::OK, "{}", one.1);
                prop_assert_eq!(&one, &two, "a duplicate gets the same answer");
            }
            Fault::DelayedCopy => {
                let body = push_body(self.actors[actor].client_id, first);
                self.delayed.push((actor, body));
            }
            Fault::OutOfOrder if batches.len() > 1 => {
                match self.send_batch(actor, &batches[1]).await? {
                    Ok(answer) => {
                        // The server had the first batch already (an answer was lost before).
                        self.actors[actor].heard(answer)?;
                    }
                    Err(expected) => {
                        prop_assert!(
                            expected >= first[0].seq && expected < batches[1][0].seq,
                            "gap expects {expected:?}, outbox starts at {:?}",
                            first[0].seq
                        );
                    }
                }
            }
            Fault::OutOfOrder | Fault::None => {}
        }
        for batch in &batches {
            match self.send_batch(actor, batch).await? {
                Ok(answer) => self.actors[actor].heard(answer)?,
                Err(expected) => {
                    return Err(TestCaseError::fail(format!(
                        "in-order batch from {:?} refused with a gap at {expected:?}",
                        batch[0].seq
                    )));
                }
            }
        }
        prop_assert!(self.actors[actor].outbox.is_empty());
        Ok(())
    }

    async fn pull(
        &mut self,
        actor: usize,
        limit: u32,
        pages: Option<u8>,
    ) -> Result<(), TestCaseError> {
        let mut page = 0;
        loop {
            let me = &self.actors[actor];
            let request =
                json!({"protocol": PROTOCOL_VERSION, "cursor": me.cursor, "limit": limit});
            let response = self
                .app
                .call(Method::POST, PULL, Some(&me.token), Some(request))
                .await;
            prop_assert_eq!(response.status(), StatusCode::OK);
            let answer: PullResponse = serde_json::from_value(body_json(response).await).unwrap();
            prop_assert!(answer.changes.len() <= limit as usize);
            prop_assert!(!answer.reset_required);
            let mut previous = me.cursor;
            for cursor in answer.changes.iter().map(Change::cursor) {
                prop_assert!(
                    cursor > previous,
                    "cursors increase: {previous:?} then {cursor:?}"
                );
                previous = cursor;
            }
            prop_assert_eq!(answer.next_cursor, previous);
            let station_of = self.stations().await;
            let me = &mut self.actors[actor];
            for change in answer.changes {
                let Change::Opinion { state, .. } = change else {
                    prop_assert!(false, "only opinions were pushed");
                    continue;
                };
                let station = station_of[&state.id()].as_str();
                prop_assert!(me.reads.contains(&station), "{} pulled {station}", me.name);
                if let Some(stamp) = state.last_stamp() {
                    let now = me.now_ms();
                    me.clock.observe(&stamp, now);
                }
                me.pulled.insert(state.id(), state);
            }
            me.cursor = answer.next_cursor;
            page += 1;
            if !answer.more || pages.is_some_and(|pages| page >= pages) {
                return Ok(());
            }
        }
    }

    /// Each stored opinion's station.
    async fn stations(&self) -> BTreeMap<OpinionId, String> {
        let mut conn = self.app.db.acquire().await.unwrap();
        conn.query("SELECT id, station_id FROM opinions")
            .fetch_all()
            .await
            .unwrap()
            .into_iter()
            .map(|row| {
                let id: String = row.try_get("id").unwrap();
                (
                    OpinionId::parse(&id).unwrap(),
                    row.try_get("station_id").unwrap(),
                )
            })
            .collect()
    }

    async fn run(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let n = self.actors.len();
        match op {
            Op::Create { actor, elsewhere } => {
                let me = &mut self.actors[actor % n];
                let station = if *elsewhere && me.reads.contains(&ELSEWHERE) {
                    ELSEWHERE
                } else {
                    STATION
                };
                me.created += 1;
                let [hi, lo] = me.created.to_be_bytes();
                let id = OpinionId::new_v7(
                    super::sync::NOW - 3_600_000,
                    [(actor % n) as u8, hi, lo, 0, 0, 0, 0, 0, 0, 1],
                );
                me.record(MutationKind::CreateOpinion {
                    opinion: Box::new(valid_opinion(id, station)),
                });
            }
            Op::Set {
                actor,
                pick,
                fields,
            } => {
                let me = &mut self.actors[actor % n];
                let visible = me.visible();
                if visible.is_empty() {
                    return Ok(());
                }
                let mut seen = BTreeSet::new();
                let fields = fields
                    .iter()
                    .filter(|(field, _)| seen.insert(*field))
                    .map(|&(field, v)| field_value(field, v))
                    .collect();
                me.record(MutationKind::SetOpinionFields {
                    id: *pick.get(&visible),
                    fields,
                });
            }
            Op::Delete { actor, pick } => {
                let me = &mut self.actors[actor % n];
                let visible = me.visible();
                if !visible.is_empty() {
                    me.record(MutationKind::DeleteOpinion {
                        id: *pick.get(&visible),
                    });
                }
            }
            Op::Push {
                actor,
                batch,
                fault,
            } => self.push(actor % n, *batch, *fault).await?,
            Op::Pull {
                actor,
                limit,
                pages,
            } => self.pull(actor % n, *limit, Some(*pages)).await?,
            Op::Crash { actor } => self.actors[actor % n].crash(),
            Op::DeliverDelayed { pick } => {
                if !self.delayed.is_empty() {
                    let i = pick.index(self.delayed.len());
                    let (actor, body) = self.delayed.remove(i);
                    // Late and possibly long acknowledged: skipped (or applied, if it is still
                    // the oldest news), never a gap. Nobody is waiting for the answer.
                    let (status, answer) = self.send(actor, &body).await;
                    prop_assert_eq!(status, StatusCode::OK, "{}", answer);
                }
            }
            Op::RestartServer => {
                self.app.restart().await;
            }
        }
        Ok(())
    }

    /// Everybody pushes everything (late copies arrive first), then pulls to the end.
    async fn final_sync(&mut self) -> Result<(), TestCaseError> {
        for (actor, body) in std::mem::take(&mut self.delayed) {
            let (status, answer) = self.send(actor, &body).await;
            prop_assert_eq!(status, StatusCode::OK, "{}", answer);
        }
        for actor in 0..self.actors.len() {
            self.push(actor, 3, Fault::None).await?;
        }
        for actor in 0..self.actors.len() {
            self.pull(actor, 3, None).await?;
        }
        Ok(())
    }

    async fn check(&self) -> Result<(), TestCaseError> {
        let db = &self.app.db;
        let everything: BTreeMap<(ClientId, Seq), &Mutation> = self
            .actors
            .iter()
            .flat_map(|a| a.history.iter().map(|m| ((m.client_id, m.seq), m)))
            .collect();

        // Every mutation any client made is stored exactly once (the key is unique, so one row
        // per mutation and no row that nobody made), as it was sent.
        // The changing mutations in the order of their changes, then the others (which changed
        // nothing when they came, and so change nothing after them either: registers only grow).
        let sql = "SELECT client_id, seq, hlc, body, outcome, reject_code, change_seq \
                   FROM mutations \
                   ORDER BY CASE WHEN change_seq IS NULL THEN 1 ELSE 0 END, change_seq";
        let rows = db
            .acquire()
            .await
            .unwrap()
            .query(sql)
            .fetch_all()
            .await
            .unwrap();
        prop_assert_eq!(rows.len(), everything.len(), "one row per mutation");
        let mut server: BTreeMap<OpinionId, OpinionReplica> = BTreeMap::new();
        let mut changes = 0i64;
        for row in &rows {
            let client_id = ClientId::parse(&row.try_get::<String>("client_id").unwrap()).unwrap();
            let seq = Seq(row.try_get::<i64>("seq").unwrap() as u64);
            let sent = everything.get(&(client_id, seq));
            prop_assert!(sent.is_some(), "a row nobody sent: {client_id} {seq:?}");
            let body: Mutation =
                serde_json::from_str(&row.try_get::<String>("body").unwrap()).unwrap();
            prop_assert_eq!(&body, *sent.unwrap());

            let outcome: String = row.try_get("outcome").unwrap();
            if outcome == "rejected" {
                // The only refusal these clients can meet: an edit of an opinion someone
                // deleted meanwhile. Its client must have been told.
                let code: String = row.try_get("reject_code").unwrap();
                prop_assert_eq!(&code, "deleted");
                let actor = self
                    .actors
                    .iter()
                    .find(|a| a.client_id == client_id)
                    .unwrap();
                prop_assert_eq!(
                    actor.rejected.get(&seq).map(|r| r.code),
                    Some(RejectCode::Deleted),
                    "{} was not told of the rejection of {:?}",
                    actor.name,
                    seq
                );
                continue;
            }
            // Replayed in change order with the stamp the server used: each mutation recorded as
            // a change changes the state and was the next tick of the change counter; the others
            // change nothing.
            let stamp: Hlc = row.try_get::<String>("hlc").unwrap().parse().unwrap();
            let change_seq: Option<i64> = row.try_get("change_seq").unwrap();
            let Some(id) = body.kind.opinion_id() else {
                prop_assert!(false, "only opinions were pushed");
                continue;
            };
            let stamped = Mutation { hlc: stamp, ..body };
            let changed = server
                .entry(id)
                .or_insert_with(|| OpinionReplica::new(id))
                .apply(&stamped);
            prop_assert_eq!(
                changed,
                change_seq.is_some(),
                "{} {:?} changed",
                client_id,
                seq
            );
            if let Some(change_seq) = change_seq {
                changes += 1;
                prop_assert_eq!(change_seq, changes, "changes are numbered densely in order");
            }
        }
        let counter: i64 = scalar(db, "SELECT value FROM sync_counter").await;
        prop_assert_eq!(counter, changes, "one change per state-changing mutation");

        // The stored states are exactly the merge of the applied mutations.
        let stored: BTreeMap<OpinionId, (String, OpinionReplica)> = db
            .acquire()
            .await
            .unwrap()
            .query("SELECT id, station_id, state FROM opinions")
            .fetch_all()
            .await
            .unwrap()
            .into_iter()
            .map(|row| {
                let id = OpinionId::parse(&row.try_get::<String>("id").unwrap()).unwrap();
                let state = serde_json::from_str(&row.try_get::<String>("state").unwrap()).unwrap();
                (id, (row.try_get("station_id").unwrap(), state))
            })
            .collect();
        let stored_states: BTreeMap<_, _> =
            stored.iter().map(|(id, (_, s))| (*id, s.clone())).collect();
        prop_assert_eq!(&stored_states, &server);

        // After the final round every client holds exactly the server's state of what it may
        // read: nothing pending, nothing missed by a cursor, nothing extra.
        for actor in &self.actors {
            prop_assert!(actor.outbox.is_empty(), "{} has unsent work", actor.name);
            let readable: BTreeMap<_, _> = stored
                .iter()
                .filter(|(_, (station, _))| actor.reads.contains(&station.as_str()))
                // As the pull sends it: the citizen masked.
                .map(|(id, (_, state))| (*id, state.clone().with_citizen_masked()))
                .collect();
            prop_assert_eq!(
                &actor.view(),
                &readable,
                "{} differs from the server",
                actor.name
            );
        }
        Ok(())
    }
}

async fn run_scenario(scenario: Scenario) -> Result<(), TestCaseError> {
    let mut world = World::new(&scenario).await;
    for op in &scenario.ops {
        world.run(op).await?;
    }
    world.final_sync().await?;
    world.check().await
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn tablets_with_faults_and_server_restarts_converge_with_every_mutation_stored_once(
        scenario in scenario()
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run_scenario(scenario))?;
    }
}
