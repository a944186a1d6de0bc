//! The sync store on a real database (SQLite, or PostgreSQL with `LIAISON_TEST_DATABASE_URL`):
//! [`Db::push`] and [`Db::pull`] (the HTTP routes over them are tested in `sync_routes.rs`),
//! including concurrent pushers against a paging puller, and pushes grouped in one transaction
//! (exactly once, change numbers dense and in order, a failing push rolled back alone).

use liaison_domain::sync::{
    Change, Cursor, DEFAULT_MAX_AHEAD_MS, Hlc, MAX_PUSH_MUTATIONS, Mutation, MutationKind,
    OpinionFieldValue, OpinionReplica, PullResponse, PushError, PushResponse, RejectCode, Seq,
};
use liaison_domain::{
    ClientId, DutyContext, Field, Opinion, OpinionDraft, OpinionId, Outcome, OutcomeKind,
    StationId, default_categories,
};
use liaison_server::Db;
use liaison_server::db::PushFailure;
use liaison_server::db::{Backend, Decodable, PooledConn};
use std::collections::{BTreeMap, BTreeSet};
use tokio::task::JoinSet;

use super::TestStorage;

/// Authorisation that lets every station through (the routes' own is tested in `sync_routes`).
const ANY: &(dyn Fn(&StationId) -> bool + Send + Sync) = &|_| true;

/// The server's clock in these tests.
pub(super) const NOW: u64 = 1_767_225_600_000;

/// A fresh database; keep the [`TestStorage`] alive as long as the [`Db`].
async fn open_db() -> (Db, TestStorage) {
    let storage = TestStorage::new().await;
    (storage.open().await, storage)
}

pub(super) fn client(n: u8) -> ClientId {
    ClientId::new_v7(NOW - 86_400_000, [n; 10])
}

pub(super) fn opinion_id(n: u8) -> OpinionId {
    OpinionId::new_v7(NOW - 3_600_000, [n; 10])
}

fn station() -> StationId {
    "st-1".into()
}

/// A stamp of `client`'s clock, `ms` after [`NOW`] minus a minute (so well within the clamp).
pub(super) fn stamp(client: ClientId, ms: u64) -> Hlc {
    Hlc {
        wall_ms: NOW - 60_000 + ms,
        counter: 0,
        node: client,
    }
}

pub(super) fn valid_opinion(id: OpinionId, station: &str) -> Opinion {
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
        id,
        Some(&DutyContext {
            station_id: station.into(),
            deputy_id: "dep-1".into(),
        }),
        &default_categories(),
        NOW - 120_000,
    )
    .expect("a valid opinion")
}

pub(super) fn create(client: ClientId, seq: u64, ms: u64, opinion: Opinion) -> Mutation {
    Mutation::new(
        client,
        Seq(seq),
        stamp(client, ms),
        MutationKind::CreateOpinion {
            opinion: Box::new(opinion),
        },
    )
}

pub(super) fn set(
    client: ClientId,
    seq: u64,
    ms: u64,
    id: OpinionId,
    fields: Vec<OpinionFieldValue>,
) -> Mutation {
    Mutation::new(
        client,
        Seq(seq),
        stamp(client, ms),
        MutationKind::SetOpinionFields { id, fields },
    )
}

/// The one value the query returns in its column `value`.
pub(super) async fn value<T: Decodable>(db: &Db, sql: &str) -> T {
    let mut conn = db.acquire().await.unwrap();
    conn.query(sql)
        .fetch_one()
        .await
        .unwrap()
        .try_get("value")
        .unwrap()
}

/// One `i64` the query returns in its column `value`.
pub(super) async fn scalar(db: &Db, sql: &str) -> i64 {
    value(db, sql).await
}

/// One text the query returns in its column `value`.
pub(super) async fn text(db: &Db, sql: &str) -> String {
    value(db, sql).await
}

pub(super) async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    let mut conn = db.acquire().await.unwrap();
    conn.query(&sql)
        .fetch_one()
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

async fn pull_all(db: &Db) -> PullResponse {
    db.pull(Cursor::START, 500, &[station()]).await.unwrap()
}

fn states(response: &PullResponse) -> Vec<&OpinionReplica> {
    response
        .changes
        .iter()
        .map(|change| match change {
            Change::Opinion { state, .. } => state,
            Change::Attendance { .. } => panic!("only opinions were pushed"),
        })
        .collect()
}

#[tokio::test]
async fn a_push_applies_and_a_pull_returns_it() {
    let (db, _storage) = open_db().await;
    let opinion = valid_opinion(opinion_id(1), "st-1");
    let response = db
        .push(
            client(1),
            &[create(client(1), 1, 0, opinion.clone())],
            NOW,
            ANY,
        )
        .await
        .unwrap();
    assert_eq!(
        response,
        PushResponse {
            acknowledged_through: Seq(1),
            rejected: vec![],
        }
    );

    let pulled = pull_all(&db).await;
    assert_eq!(pulled.changes.len(), 1);
    assert_eq!(states(&pulled)[0].opinion(), Some(opinion));
    assert_eq!(pulled.next_cursor, pulled.changes[0].cursor());
    assert!(!pulled.more);
    assert!(!pulled.reset_required);

    // Scoped by station: another station's pull sees nothing, and no station means nothing.
    let other = db.pull(Cursor::START, 500, &["st-2".into()]).await.unwrap();
    assert!(other.changes.is_empty());
    assert_eq!(other.next_cursor, Cursor::START);
    assert!(
        db.pull(Cursor::START, 500, &[])
            .await
            .unwrap()
            .changes
            .is_empty()
    );
}

#[tokio::test]
async fn resending_a_batch_stores_nothing_twice_and_gets_the_same_acknowledgement() {
    let (db, _storage) = open_db().await;
    let c = client(1);
    let id = opinion_id(1);
    let batch = vec![
        create(c, 1, 0, valid_opinion(id, "st-1")),
        set(c, 2, 1, id, vec![OpinionFieldValue::Place("幸福里".into())]),
    ];
    let first = db.push(c, &batch, NOW, ANY).await.unwrap();
    let cursor_after_first = pull_all(&db).await.next_cursor;

    let again = db.push(c, &batch, NOW + 1_000, ANY).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(again.acknowledged_through, Seq(2));
    assert_eq!(count(&db, "mutations").await, 2);
    assert_eq!(count(&db, "opinions").await, 1);
    // No change was emitted by the resend.
    assert_eq!(pull_all(&db).await.next_cursor, cursor_after_first);

    // A batch overlapping what was taken applies only the new part.
    let mut overlapping = batch.clone();
    overlapping.push(set(
        c,
        3,
        2,
        id,
        vec![OpinionFieldValue::Details("晚上".into())],
    ));
    let third = db.push(c, &overlapping, NOW, ANY).await.unwrap();
    assert_eq!(third.acknowledged_through, Seq(3));
    assert_eq!(count(&db, "mutations").await, 3);
}

#[tokio::test]
async fn a_gap_is_refused_with_the_expected_seq_and_stores_nothing() {
    let (db, _storage) = open_db().await;
    let c = client(1);

    // A new client must start at seq 1.
    let err = db
        .push(
            c,
            &[create(c, 2, 0, valid_opinion(opinion_id(1), "st-1"))],
            NOW,
            ANY,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, PushFailure::Refused(PushError::Gap { expected }) if expected == Seq(1)),
        "{err:?}"
    );
    assert_eq!(count(&db, "sync_clients").await, 0);

    db.push(
        c,
        &[create(c, 1, 0, valid_opinion(opinion_id(1), "st-1"))],
        NOW,
        ANY,
    )
    .await
    .unwrap();
    let cursor = pull_all(&db).await.next_cursor;
    let err = db
        .push(
            c,
            &[
                create(c, 3, 1, valid_opinion(opinion_id(2), "st-1")),
                create(c, 4, 2, valid_opinion(opinion_id(3), "st-1")),
            ],
            NOW,
            ANY,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, PushFailure::Refused(PushError::Gap { expected }) if expected == Seq(2)),
        "{err:?}"
    );
    assert_eq!(count(&db, "mutations").await, 1);
    assert_eq!(count(&db, "opinions").await, 1);
    assert_eq!(pull_all(&db).await.next_cursor, cursor);

    // The client's seq did not move: seq 2 is still the next one.
    let ok = db
        .push(
            c,
            &[create(c, 2, 1, valid_opinion(opinion_id(2), "st-1"))],
            NOW,
            ANY,
        )
        .await
        .unwrap();
    assert_eq!(ok.acknowledged_through, Seq(2));
}

#[tokio::test]
async fn an_invalid_mutation_is_rejected_recorded_returned_and_consumes_its_seq() {
    let (db, _storage) = open_db().await;
    let c = client(1);
    let mut invalid = valid_opinion(opinion_id(1), "st-1");
    invalid.summary = String::new();
    let batch = vec![
        create(c, 1, 0, invalid),
        create(c, 2, 1, valid_opinion(opinion_id(2), "st-1")),
    ];

    let response = db.push(c, &batch, NOW, ANY).await.unwrap();
    assert_eq!(response.acknowledged_through, Seq(2));
    assert_eq!(response.rejected.len(), 1);
    let rejected = &response.rejected[0];
    assert_eq!(rejected.seq, Seq(1));
    assert_eq!(rejected.code, RejectCode::Invalid);
    assert!(
        rejected.errors.0.iter().any(|(f, _)| *f == Field::Summary),
        "{rejected:?}"
    );

    let row = db
        .acquire()
        .await
        .unwrap()
        .query(
            "SELECT outcome, reject_code, reject_message FROM mutations \
             WHERE seq = 1 AND client_id = $1",
        )
        .bind(c.to_string())
        .fetch_one()
        .await
        .unwrap();
    let text = |column| row.try_get::<String>(column).unwrap();
    assert_eq!(text("outcome"), "rejected");
    assert_eq!(text("reject_code"), "invalid");
    assert_eq!(text("reject_message"), rejected.message);

    // Only the valid one is stored; the rejected seq is consumed, not expected again.
    let pulled = pull_all(&db).await;
    assert_eq!(states(&pulled).len(), 1);
    assert_eq!(states(&pulled)[0].id(), opinion_id(2));
    let next = db
        .push(
            c,
            &[create(c, 3, 2, valid_opinion(opinion_id(3), "st-1"))],
            NOW,
            ANY,
        )
        .await
        .unwrap();
    assert_eq!(next.acknowledged_through, Seq(3));
    assert!(next.rejected.is_empty());

    // Resending the rejected seq returns the same rejection, read back from `mutations`.
    assert_eq!(
        db.push(c, &batch, NOW, ANY).await.unwrap().rejected,
        response.rejected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_push_fired_ten_times_at_once_is_taken_once() {
    let (db, _storage) = open_db().await;
    let c = client(1);
    let mut invalid = valid_opinion(opinion_id(2), "st-1");
    invalid.summary = String::new();
    let batch = vec![
        create(c, 1, 0, valid_opinion(opinion_id(1), "st-1")),
        create(c, 2, 1, invalid),
        set(
            c,
            3,
            2,
            opinion_id(1),
            vec![OpinionFieldValue::Summary("夜间停车难".into())],
        ),
    ];

    let mut pushes = JoinSet::new();
    for _ in 0..10 {
        let db = db.clone();
        let batch = batch.clone();
        pushes.spawn(async move { db.push(c, &batch, NOW, ANY).await });
    }
    let mut responses = Vec::new();
    while let Some(result) = pushes.join_next().await {
        responses.push(result.unwrap().expect("every push succeeds"));
    }

    assert_eq!(responses.len(), 10);
    for response in &responses {
        assert_eq!(response, &responses[0]);
    }
    assert_eq!(responses[0].acknowledged_through, Seq(3));
    assert_eq!(responses[0].rejected.len(), 1);
    assert_eq!(responses[0].rejected[0].seq, Seq(2));

    assert_eq!(count(&db, "mutations").await, 3);
    assert_eq!(count(&db, "opinions").await, 1);
    let pulled = pull_all(&db).await;
    assert_eq!(pulled.changes.len(), 1);
    // Two changes (creation, edit), each once: the counter moved exactly twice.
    assert_eq!(pulled.next_cursor, Cursor(2));
    assert_eq!(states(&pulled)[0].opinion().unwrap().summary, "夜间停车难");
}

#[tokio::test]
async fn interleaved_pushes_of_two_clients_converge_to_the_domain_merge() {
    let (a, b) = (client(1), client(2));
    let id = opinion_id(1);
    let a1 = create(a, 1, 0, valid_opinion(id, "st-1"));
    // B edits the summary later (in stamp order) than A, but its push may arrive first.
    let b1 = set(
        b,
        1,
        30,
        id,
        vec![OpinionFieldValue::Summary("B 的摘要".into())],
    );
    let a2 = set(
        a,
        2,
        20,
        id,
        vec![
            OpinionFieldValue::Summary("A 的摘要".into()),
            OpinionFieldValue::Details("A 的详情".into()),
        ],
    );
    let b2 = set(
        b,
        2,
        40,
        id,
        vec![OpinionFieldValue::Place("B 的地点".into())],
    );

    let mut expected = OpinionReplica::new(id);
    for m in [&a1, &a2, &b1, &b2] {
        expected.apply(m);
    }
    let expected_opinion = expected.opinion().unwrap();
    assert_eq!(expected_opinion.summary, "B 的摘要");
    assert_eq!(expected_opinion.details, "A 的详情");
    assert_eq!(expected_opinion.place, "B 的地点");

    let orders: [&[(ClientId, &[&Mutation])]; 2] = [
        &[(a, &[&a1]), (b, &[&b1]), (a, &[&a2]), (b, &[&b2])],
        &[(a, &[&a1, &a2]), (b, &[&b1, &b2])],
    ];
    for order in orders {
        let (db, _storage) = open_db().await;
        for (client, batch) in order {
            let batch: Vec<Mutation> = batch.iter().map(|m| (*m).clone()).collect();
            let response = db.push(*client, &batch, NOW, ANY).await.unwrap();
            assert!(response.rejected.is_empty(), "{response:?}");
        }
        let pulled = pull_all(&db).await;
        assert_eq!(states(&pulled), vec![&expected]);
    }
}

#[tokio::test]
async fn pull_pages_follow_commit_order_and_a_cursor_never_skips_a_change() {
    let (db, _storage) = open_db().await;
    let c = client(1);
    for n in 1..=3u8 {
        db.push(
            c,
            &[create(
                c,
                u64::from(n),
                u64::from(n),
                valid_opinion(opinion_id(n), "st-1"),
            )],
            NOW,
            ANY,
        )
        .await
        .unwrap();
    }

    let page1 = db.pull(Cursor::START, 2, &[station()]).await.unwrap();
    assert_eq!(page1.changes.len(), 2);
    assert!(page1.more);
    assert_eq!(page1.next_cursor, page1.changes[1].cursor());
    let ids1: Vec<_> = states(&page1).iter().map(|s| s.id()).collect();
    assert_eq!(ids1, vec![opinion_id(1), opinion_id(2)]);

    // Written after page 1: an edit of an opinion already pulled, and a new opinion.
    db.push(
        c,
        &[
            set(
                c,
                4,
                10,
                opinion_id(1),
                vec![OpinionFieldValue::Details("补充".into())],
            ),
            create(c, 5, 11, valid_opinion(opinion_id(4), "st-1")),
        ],
        NOW,
        ANY,
    )
    .await
    .unwrap();

    let page2 = db.pull(page1.next_cursor, 10, &[station()]).await.unwrap();
    assert!(!page2.more);
    let ids2: Vec<_> = states(&page2).iter().map(|s| s.id()).collect();
    assert_eq!(ids2, vec![opinion_id(3), opinion_id(1), opinion_id(4)]);
    assert_eq!(
        states(&page2)[1].opinion().unwrap().details,
        "补充",
        "the re-sent opinion carries the edit"
    );

    // Cursors strictly increase across pages: nothing repeated, nothing missed.
    let cursors: Vec<Cursor> = page1
        .changes
        .iter()
        .chain(&page2.changes)
        .map(Change::cursor)
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    let seen: BTreeSet<_> = ids1.iter().chain(&ids2).collect();
    assert_eq!(seen.len(), 4);

    let page3 = db.pull(page2.next_cursor, 10, &[station()]).await.unwrap();
    assert!(page3.changes.is_empty());
    assert!(!page3.more);
    assert_eq!(page3.next_cursor, page2.next_cursor);
}

#[tokio::test]
async fn a_far_future_stamp_is_clamped() {
    let (db, _storage) = open_db().await;
    let c = client(1);
    let id = opinion_id(1);
    let year_ahead = Hlc {
        wall_ms: NOW + 365 * 86_400_000,
        counter: 0,
        node: c,
    };
    let mut future = create(c, 1, 0, valid_opinion(id, "st-1"));
    future.hlc = year_ahead;
    db.push(c, &[future], NOW, ANY).await.unwrap();

    let pulled = pull_all(&db).await;
    let stored = states(&pulled)[0].last_stamp().unwrap();
    assert_eq!(stored.wall_ms, NOW + DEFAULT_MAX_AHEAD_MS);
    let row = db
        .acquire()
        .await
        .unwrap()
        .query("SELECT hlc, original_hlc FROM mutations WHERE seq = 1")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(row.try_get::<String>("hlc").unwrap(), String::from(stored));
    assert_eq!(
        row.try_get::<Option<String>>("original_hlc").unwrap(),
        Some(String::from(year_ahead))
    );

    // The tablet's next edit, stamped by its (still wrong or now fixed) clock earlier than the
    // clamped stamp, still sorts after it: the client's stored stamps keep increasing.
    let edit = set(c, 2, 5, id, vec![OpinionFieldValue::Summary("改正".into())]);
    db.push(c, &[edit], NOW, ANY).await.unwrap();
    let pulled = pull_all(&db).await;
    let state = states(&pulled)[0];
    assert_eq!(state.opinion().unwrap().summary, "改正");
    assert!(state.last_stamp().unwrap() > stored);
}

#[tokio::test]
async fn a_mutation_the_callback_refuses_is_rejected_forbidden_by_its_stations() {
    let (db, _storage) = open_db().await;
    let owner = client(1);
    db.push(
        owner,
        &[create(owner, 1, 0, valid_opinion(opinion_id(1), "st-1"))],
        NOW,
        ANY,
    )
    .await
    .unwrap();

    // Another client may write to st-2 only: its creation for st-1 and its edit and delete of the
    // stored st-1 opinion are refused; its st-2 creation goes through.
    let only_st2: &(dyn Fn(&StationId) -> bool + Send + Sync) = &|s| s.0 == "st-2";
    let c = client(2);
    let batch = vec![
        create(c, 1, 0, valid_opinion(opinion_id(2), "st-1")),
        set(
            c,
            2,
            1,
            opinion_id(1),
            vec![OpinionFieldValue::Summary("改掉".into())],
        ),
        Mutation::new(
            c,
            Seq(3),
            stamp(c, 2),
            MutationKind::DeleteOpinion { id: opinion_id(1) },
        ),
        create(c, 4, 3, valid_opinion(opinion_id(3), "st-2")),
    ];
    let response = db.push(c, &batch, NOW, only_st2).await.unwrap();
    assert_eq!(response.acknowledged_through, Seq(4));
    let rejected: Vec<_> = response.rejected.iter().map(|r| (r.seq, r.code)).collect();
    assert_eq!(
        rejected,
        vec![
            (Seq(1), RejectCode::Forbidden),
            (Seq(2), RejectCode::Forbidden),
            (Seq(3), RejectCode::Forbidden),
        ]
    );
    assert_eq!(count(&db, "mutations").await, 5, "every one recorded");
    assert_eq!(count(&db, "opinions").await, 2);
    let pulled = pull_all(&db).await;
    let stored = states(&pulled)[0].opinion().unwrap();
    assert_eq!(stored.summary, "小区停车难", "the edit was not applied");
}

/// The change order under load: concurrent pushers (each its own client, creating opinions and
/// editing a shared one) while a puller pages through from its cursor with small pages. If a
/// change could commit with a number below a cursor already handed out (a `SEQUENCE`, or
/// numbering outside the lock), the puller would step past it and never see it: an opinion
/// missing from its copy, or an old state of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paging_puller_misses_no_change_of_concurrent_pushers() {
    const PUSHERS: u8 = 6;
    const PUSHES: u64 = 12;
    let (db, _storage) = open_db().await;
    let shared = opinion_id(0);
    let founder = client(0);
    db.push(
        founder,
        &[create(founder, 1, 0, valid_opinion(shared, "st-1"))],
        NOW,
        ANY,
    )
    .await
    .unwrap();

    let pushers_done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let puller = tokio::spawn({
        let db = db.clone();
        let pushers_done = pushers_done.clone();
        async move {
            let mut cursor = Cursor::START;
            let mut copy: BTreeMap<OpinionId, OpinionReplica> = BTreeMap::new();
            let mut pages = 0;
            loop {
                // Read before the pull: a pull that starts after the last push committed and
                // reports nothing more has seen everything.
                let done = pushers_done.load(std::sync::atomic::Ordering::SeqCst);
                let page = db.pull(cursor, 3, &[station()]).await.unwrap();
                pages += 1;
                for change in page.changes {
                    assert!(change.cursor() > cursor, "cursors only grow");
                    cursor = change.cursor();
                    let Change::Opinion { state, .. } = change else {
                        panic!("only opinions were pushed");
                    };
                    copy.insert(state.id(), state);
                }
                assert_eq!(page.next_cursor, cursor);
                if done && !page.more {
                    return (copy, pages);
                }
                tokio::task::yield_now().await;
            }
        }
    });

    let mut pushers = JoinSet::new();
    for n in 1..=PUSHERS {
        let db = db.clone();
        pushers.spawn(async move {
            let c = client(n);
            for seq in 1..=PUSHES {
                // Ids unique per pusher and push; every third push edits the shared opinion.
                let id = OpinionId::new_v7(NOW - 3_600_000 + seq, [n; 10]);
                let mutation = if seq % 3 == 0 {
                    set(
                        c,
                        seq,
                        seq,
                        shared,
                        vec![OpinionFieldValue::Details(format!("{n}-{seq}"))],
                    )
                } else {
                    create(c, seq, seq, valid_opinion(id, "st-1"))
                };
                let response = db.push(c, &[mutation], NOW, ANY).await.unwrap();
                assert!(response.rejected.is_empty(), "{response:?}");
            }
        });
    }
    while let Some(result) = pushers.join_next().await {
        result.unwrap();
    }
    pushers_done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (copy, pages) = puller.await.unwrap();

    let everything: BTreeMap<OpinionId, OpinionReplica> = states(&pull_all(&db).await)
        .into_iter()
        .map(|state| (state.id(), state.clone()))
        .collect();
    let creations_per_pusher = PUSHES - PUSHES / 3;
    assert_eq!(
        everything.len() as u64,
        1 + u64::from(PUSHERS) * creations_per_pusher
    );
    assert_eq!(copy.len(), everything.len(), "no opinion missed");
    assert_eq!(copy, everything, "every opinion in its latest state");
    assert!(pages > 1, "the puller paged ({pages} pages)");
}

/// Holds the lock every push group takes first (SQLite's write lock, PostgreSQL's change counter
/// row), so that the pushes started meanwhile queue up and form one group when it is released
/// ([`release_writer_lock`]).
async fn hold_writer_lock(db: &Db) -> PooledConn {
    let mut conn = db.acquire().await.unwrap();
    match db.backend() {
        Backend::Sqlite => {
            conn.query("BEGIN IMMEDIATE").execute().await.unwrap();
        }
        Backend::Postgres => {
            conn.query("BEGIN").execute().await.unwrap();
            conn.query("SELECT value FROM sync_counter WHERE id = 1 FOR UPDATE")
                .fetch_one()
                .await
                .unwrap();
        }
    }
    conn
}

async fn release_writer_lock(mut conn: PooledConn) {
    conn.query("ROLLBACK").execute().await.unwrap();
}

/// Lets the pushes just spawned reach their place in the queue.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
}

/// Every change number handed out, from the `mutations` rows, in order.
async fn change_numbers(db: &Db) -> Vec<i64> {
    let mut conn = db.acquire().await.unwrap();
    conn.query("SELECT change_seq FROM mutations WHERE change_seq IS NOT NULL ORDER BY change_seq")
        .fetch_all()
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get("change_seq").unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pushes_queued_behind_one_another_are_one_group_taken_exactly_once_in_change_order() {
    const CLIENTS: u8 = 30;
    const DUPLICATES: usize = 5;
    let (db, _storage) = open_db().await;
    let groups_before = db.push_groups_committed();
    let lock = hold_writer_lock(&db).await;

    let mut pushes = JoinSet::new();
    // The first push begins the group and waits for the lock; the others queue behind it.
    for n in 1..=CLIENTS {
        let db = db.clone();
        pushes.spawn(async move {
            let c = client(n);
            let batch: Vec<Mutation> = (1..=3u8)
                .map(|k| {
                    let id = OpinionId::new_v7(NOW - 3_600_000 + u64::from(k), [n; 10]);
                    create(c, u64::from(k), u64::from(k), valid_opinion(id, "st-1"))
                })
                .collect();
            (n, db.push(c, &batch, NOW, ANY).await)
        });
    }
    // The same push of one client, several times in the group: taken once, its rejection
    // answered again.
    let dup = client(100);
    let mut invalid_opinion = valid_opinion(opinion_id(99), "st-1");
    invalid_opinion.summary = String::new();
    let dup_batch = vec![
        create(dup, 1, 0, valid_opinion(opinion_id(100), "st-1")),
        set(
            dup,
            2,
            1,
            opinion_id(100),
            vec![OpinionFieldValue::Summary("夜间停车难".into())],
        ),
        create(dup, 3, 2, invalid_opinion),
    ];
    for _ in 0..DUPLICATES {
        let db = db.clone();
        let batch = dup_batch.clone();
        pushes.spawn(async move { (100, db.push(dup, &batch, NOW, ANY).await) });
    }
    // Two pushes of one client in the group, the second continuing the first: it must see the
    // first's seqs (no gap) and its opinion (the edit applies).
    let twice = client(101);
    {
        let db = db.clone();
        pushes.spawn(async move {
            let first = [create(twice, 1, 0, valid_opinion(opinion_id(101), "st-1"))];
            (101, db.push(twice, &first, NOW, ANY).await)
        });
    }
    settle().await;
    {
        let db = db.clone();
        pushes.spawn(async move {
            let second = [set(
                twice,
                2,
                1,
                opinion_id(101),
                vec![OpinionFieldValue::Details("第二次推送".into())],
            )];
            (102, db.push(twice, &second, NOW, ANY).await)
        });
    }
    settle().await;
    release_writer_lock(lock).await;

    let mut duplicates = Vec::new();
    while let Some(result) = pushes.join_next().await {
        let (n, response) = result.unwrap();
        let response = response.expect("every push succeeds");
        if n == 100 {
            duplicates.push(response);
            continue;
        }
        assert!(response.rejected.is_empty(), "{n}: {response:?}");
        match n {
            101 => assert_eq!(response.acknowledged_through, Seq(1)),
            102 => assert_eq!(response.acknowledged_through, Seq(2), "no gap"),
            _ => assert_eq!(response.acknowledged_through, Seq(3)),
        }
    }
    assert_eq!(duplicates.len(), DUPLICATES);
    assert_eq!(duplicates[0].acknowledged_through, Seq(3));
    assert_eq!(duplicates[0].rejected.len(), 1);
    assert_eq!(duplicates[0].rejected[0].seq, Seq(3));
    assert!(duplicates.iter().all(|r| r == &duplicates[0]));

    let groups = db.push_groups_committed() - groups_before;
    assert!(
        (1..=3).contains(&groups),
        "the queued pushes share transactions ({groups} groups for {} pushes)",
        usize::from(CLIENTS) + DUPLICATES + 2
    );

    // Each mutation once; each change numbered once, densely, and the counter at the last.
    let opinions = i64::from(CLIENTS) * 3 + 2;
    let changes = opinions + 2;
    assert_eq!(count(&db, "opinions").await, opinions);
    assert_eq!(
        count(&db, "mutations").await,
        changes + 1,
        "and the rejected one"
    );
    assert_eq!(change_numbers(&db).await, (1..=changes).collect::<Vec<_>>());
    assert_eq!(
        scalar(&db, "SELECT value FROM sync_counter WHERE id = 1").await,
        changes
    );
    // Within a client, its mutations' changes follow its seqs.
    let mut conn = db.acquire().await.unwrap();
    let rows = conn
        .query("SELECT client_id, seq, change_seq FROM mutations ORDER BY client_id, seq")
        .fetch_all()
        .await
        .unwrap();
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for row in rows {
        let client: String = row.try_get("client_id").unwrap();
        let Some(change) = row.try_get::<Option<i64>>("change_seq").unwrap() else {
            continue;
        };
        if let Some(before) = last.insert(client.clone(), change) {
            assert!(before < change, "{client}: changes follow seqs");
        }
    }
    drop(conn);

    let pulled = pull_all(&db).await;
    assert_eq!(pulled.changes.len() as i64, opinions);
    assert_eq!(pulled.next_cursor, Cursor(changes as u64));
    let by_id: BTreeMap<OpinionId, &OpinionReplica> =
        states(&pulled).into_iter().map(|s| (s.id(), s)).collect();
    assert_eq!(
        by_id[&opinion_id(100)].opinion().unwrap().summary,
        "夜间停车难"
    );
    assert_eq!(
        by_id[&opinion_id(101)].opinion().unwrap().details,
        "第二次推送"
    );
}

/// A group writes each table in multi-row statements (on SQLite at most 200 rows each, on
/// PostgreSQL one statement of arrays): three full pushes in one group, with rejections and
/// edits among them, store every row whole, its empty columns empty and its others set.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_larger_than_one_statement_stores_every_row_whole() {
    const PUSHES: u8 = 3;
    let (db, _storage) = open_db().await;
    let lock = hold_writer_lock(&db).await;
    let mut pushes = JoinSet::new();
    for n in 1..=PUSHES {
        let db = db.clone();
        pushes.spawn(async move {
            let c = client(n);
            let batch: Vec<Mutation> = (1..=MAX_PUSH_MUTATIONS as u64)
                .map(|seq| {
                    let id = OpinionId::new_v7(NOW - 3_600_000 + seq, [n; 10]);
                    let mut opinion = valid_opinion(id, "st-1");
                    if seq % 50 == 0 {
                        // Rejected: stored with its reason, as no opinion.
                        opinion.summary = String::new();
                    }
                    if seq % 2 == 0 {
                        opinion.outcome = Outcome::ToBeReferred;
                        opinion.on_site_reply.clear();
                    }
                    // A far-future stamp is clamped: its original kept beside it. (The last of
                    // the push: the stamps after a clamped one are moved after it too.)
                    let ms = if seq == MAX_PUSH_MUTATIONS as u64 {
                        10 * 86_400_000
                    } else {
                        seq
                    };
                    create(c, seq, ms, opinion)
                })
                .collect();
            db.push(c, &batch, NOW, ANY).await
        });
    }
    settle().await;
    release_writer_lock(lock).await;
    while let Some(result) = pushes.join_next().await {
        let response = result.unwrap().expect("every push succeeds");
        assert_eq!(
            response.acknowledged_through,
            Seq(MAX_PUSH_MUTATIONS as u64)
        );
        assert_eq!(response.rejected.len(), MAX_PUSH_MUTATIONS / 50);
    }

    let pushed = i64::from(PUSHES) * MAX_PUSH_MUTATIONS as i64;
    let rejected = i64::from(PUSHES) * (MAX_PUSH_MUTATIONS / 50) as i64;
    let stored = pushed - rejected;
    assert_eq!(count(&db, "mutations").await, pushed);
    assert_eq!(count(&db, "opinions").await, stored);
    assert_eq!(count(&db, "opinion_facts").await, stored);
    assert_eq!(count(&db, "sync_clients").await, i64::from(PUSHES));
    assert_eq!(change_numbers(&db).await, (1..=stored).collect::<Vec<_>>());
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS value FROM mutations \
             WHERE outcome = 'rejected' AND reject_code IS NOT NULL \
                 AND reject_message IS NOT NULL AND reject_errors IS NOT NULL \
                 AND change_seq IS NULL"
        )
        .await,
        rejected
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS value FROM mutations \
             WHERE outcome = 'applied' AND reject_code IS NULL AND reject_message IS NULL \
                 AND reject_errors IS NULL AND change_seq IS NOT NULL"
        )
        .await,
        stored
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS value FROM mutations WHERE original_hlc IS NOT NULL"
        )
        .await,
        i64::from(PUSHES),
        "the clamped stamps keep their original"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) AS value FROM opinion_facts WHERE answered_on_the_spot"
        )
        .await,
        // Odd seqs are answered on the spot; the rejected ones (seq 50, 100, ...) are even.
        i64::from(PUSHES) * (MAX_PUSH_MUTATIONS / 2) as i64
    );
    // The rollups add up to the facts.
    assert_eq!(
        scalar(&db, "SELECT SUM(collected) AS value FROM figure_days").await,
        stored
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT SUM(answered) AS value FROM figure_months WHERE dim = ''"
        )
        .await,
        i64::from(PUSHES) * (MAX_PUSH_MUTATIONS / 2) as i64
    );
    let pulled = db.pull(Cursor::START, 500, &[station()]).await.unwrap();
    assert_eq!(pulled.changes.len(), 500);
    assert!(pulled.more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_failing_in_its_group_is_rolled_back_alone() {
    let (db, _storage) = open_db().await;
    let poisoned = opinion_id(66);
    // The database refuses to store this opinion: a failure (not a rejection) of its push.
    {
        let mut conn = db.acquire().await.unwrap();
        let statements = match db.backend() {
            Backend::Sqlite => vec![format!(
                "CREATE TRIGGER poison BEFORE INSERT ON opinions WHEN NEW.id = '{poisoned}' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
            )],
            Backend::Postgres => vec![
                format!(
                    "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                     IF NEW.id = '{poisoned}' THEN RAISE EXCEPTION 'poisoned'; END IF; \
                     RETURN NEW; END $$"
                ),
                "CREATE TRIGGER poison BEFORE INSERT ON opinions FOR EACH ROW \
                 EXECUTE FUNCTION poison()"
                    .to_owned(),
            ],
        };
        for sql in &statements {
            conn.query(sql).execute().await.unwrap();
        }
    }
    let groups_before = db.push_groups_committed();
    let lock = hold_writer_lock(&db).await;

    let (a, bad, c) = (client(1), client(2), client(3));
    let batch_of = |client: ClientId, ids: &[OpinionId]| -> Vec<Mutation> {
        ids.iter()
            .enumerate()
            .map(|(k, id)| create(client, k as u64 + 1, k as u64, valid_opinion(*id, "st-1")))
            .collect()
    };
    let bad_batch = batch_of(bad, &[opinion_id(20), poisoned]);
    let mut pushes = JoinSet::new();
    for (client, batch) in [
        (a, batch_of(a, &[opinion_id(10), opinion_id(11)])),
        (bad, bad_batch.clone()),
        (c, batch_of(c, &[opinion_id(30)])),
    ] {
        let db = db.clone();
        pushes.spawn(async move { (client, db.push(client, &batch, NOW, ANY).await) });
        settle().await;
    }
    release_writer_lock(lock).await;
    while let Some(result) = pushes.join_next().await {
        let (client, response) = result.unwrap();
        if client == bad {
            assert!(
                matches!(response, Err(PushFailure::Database(_))),
                "{response:?}"
            );
        } else {
            assert!(response.unwrap().rejected.is_empty());
        }
    }
    // The group's commit failed on the one push: its pushes ran again, each alone.
    assert!(db.push_groups_committed() - groups_before <= 3);

    // The others stored, the failed push not at all (not even its first opinion), and the
    // change numbers it took handed out again.
    assert_eq!(count(&db, "opinions").await, 3);
    assert_eq!(count(&db, "opinion_facts").await, 3);
    assert_eq!(change_numbers(&db).await, vec![1, 2, 3]);
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT COUNT(*) AS value FROM sync_clients WHERE client_id = '{bad}'")
        )
        .await,
        0
    );

    // Once the database takes it, the same push is taken whole, numbered after the others.
    let drop_trigger = match db.backend() {
        Backend::Sqlite => "DROP TRIGGER poison",
        Backend::Postgres => "DROP TRIGGER poison ON opinions",
    };
    db.acquire()
        .await
        .unwrap()
        .query(drop_trigger)
        .execute()
        .await
        .unwrap();
    let response = db.push(bad, &bad_batch, NOW, ANY).await.unwrap();
    assert_eq!(response.acknowledged_through, Seq(2));
    assert!(response.rejected.is_empty());
    assert_eq!(count(&db, "opinions").await, 5);
    assert_eq!(change_numbers(&db).await, vec![1, 2, 3, 4, 5]);
}

/// Each instance keeps the station hierarchy it read last with the directory's version
/// (`Db::station_hierarchy_at`): a change made through another instance (another pool, as
/// another process on the same database) is seen by the next read, and a change rolled back is
/// never seen.
#[tokio::test]
async fn the_station_hierarchy_follows_every_committed_change_made_elsewhere() {
    let (db, storage) = open_db().await;
    let other = storage.open().await;
    let mut conn = other.acquire().await.unwrap();
    conn.query("INSERT INTO regions (id, name, parent_id) VALUES ('r-1', 'Region', NULL)")
        .execute()
        .await
        .unwrap();
    let names = |hierarchy: &liaison_domain::Directory| -> Vec<(String, String)> {
        hierarchy
            .stations
            .iter()
            .map(|s| (s.id.0.clone(), s.name.clone()))
            .collect()
    };
    assert!(names(&db.station_hierarchy().await.unwrap()).is_empty());

    conn.query(
        "INSERT INTO stations (id, region_id, name, address) VALUES ('st-new', 'r-1', 'New', '')",
    )
    .execute()
    .await
    .unwrap();
    let read = db.station_hierarchy().await.unwrap();
    assert_eq!(names(&read), [("st-new".to_owned(), "New".to_owned())]);
    assert_eq!(read.regions.len(), 1);

    conn.query("UPDATE stations SET name = 'Renamed' WHERE id = 'st-new'")
        .execute()
        .await
        .unwrap();
    assert_eq!(
        names(&db.station_hierarchy().await.unwrap()),
        [("st-new".to_owned(), "Renamed".to_owned())]
    );

    // Not committed: neither the rows nor the version have moved.
    conn.query("BEGIN").execute().await.unwrap();
    conn.query("DELETE FROM stations WHERE id = 'st-new'")
        .execute()
        .await
        .unwrap();
    let during = db.station_hierarchy().await.unwrap();
    conn.query("ROLLBACK").execute().await.unwrap();
    assert_eq!(
        names(&during),
        [("st-new".to_owned(), "Renamed".to_owned())]
    );

    conn.query("DELETE FROM stations WHERE id = 'st-new'")
        .execute()
        .await
        .unwrap();
    assert!(names(&db.station_hierarchy().await.unwrap()).is_empty());
}
