//! The follow-up loop in storage, against the browser's real IndexedDB: a step recorded on the
//! tablet (offline) is in the outbox and in what the tablet shows at once, in one transaction; a
//! pull shows the server's steps with the unsynced ones on top; a step the server refuses leaves
//! the history; attendance marks from the outbox and from a pulled state merge.

use liaison_app::storage::{FollowUpError, Store, migrations};
use liaison_domain::followup::{
    Action, Attendance, AttendanceKey, AttendanceMark, Conclusion, Date, Mark, StatusKind,
    TransitionError,
};
use liaison_domain::opinion::OpinionFilter;
use liaison_domain::sync::{
    Change, Cursor, Hlc, Mutation, MutationKind, OpinionReplica, PullResponse, PushResponse,
    RejectCode, Rejected, Seq,
};
use liaison_domain::{ClientId, OpinionId, OutcomeKind, Role};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen_test::*;

mod common;
use common::{actor, opinion, step, test_source};

wasm_bindgen_test_configure!(run_in_browser);

fn other_client() -> ClientId {
    ClientId::new_v7(1_700_000_000_000, [0xEE; 10])
}

fn stamp(wall_ms: u64) -> Hlc {
    Hlc {
        wall_ms,
        counter: 0,
        node: other_client(),
    }
}

/// A mutation of another tablet (or of the server's own back office).
fn theirs(seq: u64, kind: MutationKind) -> Mutation {
    Mutation::new(
        other_client(),
        Seq(seq),
        stamp(1_700_000_000_000 + seq),
        kind,
    )
}

fn page(changes: Vec<Change>, next_cursor: u64) -> PullResponse {
    PullResponse {
        changes,
        next_cursor: Cursor(next_cursor),
        more: false,
        reset_required: false,
    }
}

async fn status(store: &Store, id: OpinionId) -> StatusKind {
    store
        .local_item(id)
        .await
        .unwrap()
        .expect("on the tablet")
        .lifecycle
        .status
        .kind()
}

async fn listed_status(store: &Store, station: &str) -> Vec<StatusKind> {
    store
        .list_opinions(&station.into(), &OpinionFilter::default(), None, 50)
        .await
        .unwrap()
        .statuses
}

#[wasm_bindgen_test]
async fn a_step_saved_offline_is_in_the_outbox_and_in_the_view_at_once() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-followup-step", &clock).await;
    let item = opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);
    store.save_opinion(&item, None).await.unwrap();
    assert_eq!(status(&store, item.id).await, StatusKind::Registered);
    assert_eq!(
        listed_status(&store, "st-a").await,
        vec![StatusKind::Registered]
    );

    // The deputy decides to handle it, offline.
    let deputy = actor(Role::Deputy);
    let handle = step(
        1,
        deputy.clone(),
        Action::HandleByDeputy {
            note: "我来联系物业".into(),
        },
        1_700_000_200_000,
    );
    let shown = store.record_follow_up(item.id, &handle).await.unwrap();
    assert_eq!(shown.lifecycle.status.kind(), StatusKind::HandledByDeputy);
    assert_eq!(shown.steps, vec![handle.clone()]);
    assert_eq!(shown.unsynced, vec![handle.id]);
    // Both effects of the one transaction: the mutation, numbered after the creation...
    let pending = store.pending_mutations(10).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[1].seq, Seq(2));
    assert_eq!(
        pending[1].kind,
        MutationKind::RecordFollowUp {
            opinion_id: item.id,
            step: handle.clone(),
        }
    );
    // ...and the status the tablet shows, on the item and in the list.
    assert_eq!(status(&store, item.id).await, StatusKind::HandledByDeputy);
    assert_eq!(
        listed_status(&store, "st-a").await,
        vec![StatusKind::HandledByDeputy]
    );

    // A step the lifecycle refuses writes nothing: no mutation, no change to the view.
    let refer = step(
        2,
        deputy.clone(),
        Action::Refer {
            unit_id: "unit-1".into(),
            unit_name: "区住建局".into(),
            working_days: 5,
            due: Date::parse("2023-11-22").unwrap(),
            note: String::new(),
        },
        1_700_000_300_000,
    );
    assert!(matches!(
        store.record_follow_up(item.id, &refer).await,
        Err(FollowUpError::NotAllowed(
            TransitionError::RoleMayNot { .. }
        ))
    ));
    let unknown = OpinionId::new_v7(1_700_000_000_000, [0x77; 10]);
    assert_eq!(
        store.record_follow_up(unknown, &handle).await,
        Err(FollowUpError::NotFound)
    );
    assert_eq!(store.outbox_counts().await.unwrap(), (2, 0));
    assert_eq!(
        store.local_item(item.id).await.unwrap().unwrap().steps,
        vec![handle.clone()]
    );

    // Kept across reopening.
    store.close();
    let store = Store::open_with(
        "test-followup-step",
        migrations::CURRENT_VERSION,
        test_source(&clock, 1),
    )
    .await
    .unwrap();
    assert_eq!(status(&store, item.id).await, StatusKind::HandledByDeputy);
    store.close();
}

#[wasm_bindgen_test]
async fn a_pull_shows_the_servers_steps_with_the_unsynced_ones_on_top() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-followup-pull", &clock).await;
    // Another tablet's record, referred and accepted on the server.
    let item = opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);
    let office = actor(Role::OfficeStaff);
    let unit = actor(Role::HandlingUnit);
    let refer = step(
        1,
        office,
        Action::Refer {
            unit_id: "unit-1".into(),
            unit_name: "区住建局".into(),
            working_days: 5,
            due: Date::parse("2023-11-22").unwrap(),
            note: String::new(),
        },
        1_700_000_010_000,
    );
    let accept = step(2, unit.clone(), Action::Accept, 1_700_000_020_000);
    let mut server = OpinionReplica::new(item.id);
    server.apply(&theirs(
        1,
        MutationKind::CreateOpinion {
            opinion: Box::new(item.clone()),
        },
    ));
    for (seq, s) in [(2, &refer), (3, &accept)] {
        server.apply(&theirs(
            seq,
            MutationKind::RecordFollowUp {
                opinion_id: item.id,
                step: s.clone(),
            },
        ));
    }
    store
        .apply_pulled_page(&page(
            vec![Change::Opinion {
                cursor: Cursor(3),
                state: server.clone(),
            }],
            3,
        ))
        .await
        .unwrap();
    let shown = store.local_item(item.id).await.unwrap().unwrap();
    assert_eq!(shown.lifecycle.status.kind(), StatusKind::InProgress);
    assert_eq!(shown.steps, vec![refer.clone(), accept.clone()]);
    assert!(shown.unsynced.is_empty());

    // A reminder logged here, offline; then the unit's conclusion arrives by a pull before the
    // reminder is pushed: the view is the server's steps with the reminder on top.
    let reminder = step(
        3,
        actor(Role::StationStaff),
        Action::Note {
            kind: liaison_domain::followup::NoteKind::Reminder,
            text: "电话提醒承办单位".into(),
        },
        1_700_000_030_000,
    );
    store.record_follow_up(item.id, &reminder).await.unwrap();
    let conclude = step(
        4,
        unit,
        Action::Conclude {
            conclusion: Conclusion::Resolved,
            reply: "已修复".into(),
        },
        1_700_000_040_000,
    );
    server.apply(&theirs(
        4,
        MutationKind::RecordFollowUp {
            opinion_id: item.id,
            step: conclude.clone(),
        },
    ));
    store
        .apply_pulled_page(&page(
            vec![Change::Opinion {
                cursor: Cursor(4),
                state: server.clone(),
            }],
            4,
        ))
        .await
        .unwrap();
    let shown = store.local_item(item.id).await.unwrap().unwrap();
    assert_eq!(shown.lifecycle.status.kind(), StatusKind::Concluded);
    assert_eq!(
        shown.steps,
        vec![
            refer.clone(),
            accept.clone(),
            conclude.clone(),
            reminder.clone()
        ]
    );
    assert_eq!(shown.unsynced, vec![reminder.id]);

    // Once the server has the reminder too, nothing is unsynced and nothing shows twice.
    store
        .apply_push_response(&PushResponse {
            acknowledged_through: Seq(1),
            rejected: vec![],
        })
        .await
        .unwrap();
    let ours = store.client_id().await.unwrap();
    server.apply(&Mutation::new(
        ours,
        Seq(1),
        Hlc {
            wall_ms: 1_700_000_050_000,
            counter: 0,
            node: ours,
        },
        MutationKind::RecordFollowUp {
            opinion_id: item.id,
            step: reminder.clone(),
        },
    ));
    store
        .apply_pulled_page(&page(
            vec![Change::Opinion {
                cursor: Cursor(5),
                state: server,
            }],
            5,
        ))
        .await
        .unwrap();
    let shown = store.local_item(item.id).await.unwrap().unwrap();
    assert_eq!(shown.steps, vec![refer, accept, conclude, reminder]);
    assert!(shown.unsynced.is_empty());
    assert_eq!(shown.lifecycle.status.kind(), StatusKind::Concluded);
    store.close();
}

#[wasm_bindgen_test]
async fn a_step_the_server_refuses_leaves_the_history_and_is_listed_with_its_reason() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-followup-refused", &clock).await;
    let item = opinion(1, "st-a", "parking", OutcomeKind::HandledByDeputy);
    store.save_opinion(&item, None).await.unwrap();
    let deputy = actor(Role::Deputy);
    let note = step(
        1,
        deputy.clone(),
        Action::Note {
            kind: liaison_domain::followup::NoteKind::Visit,
            text: "现场查看".into(),
        },
        1_700_000_200_000,
    );
    let conclude = step(
        2,
        deputy,
        Action::Conclude {
            conclusion: Conclusion::Planned,
            reply: "已列入明年计划".into(),
        },
        1_700_000_300_000,
    );
    store.record_follow_up(item.id, &note).await.unwrap();
    store.record_follow_up(item.id, &conclude).await.unwrap();
    assert_eq!(status(&store, item.id).await, StatusKind::Concluded);

    // The server takes the creation and the note, and refuses the conclusion.
    let refusal = TransitionError::NotInThisStatus {
        action: liaison_domain::followup::ActionKind::Conclude,
        status: StatusKind::Referred,
    };
    store
        .apply_push_response(&PushResponse {
            acknowledged_through: Seq(3),
            rejected: vec![Rejected {
                seq: Seq(3),
                code: RejectCode::NotAllowed,
                message: "cannot conclude".into(),
                errors: Default::default(),
                transition: Some(refusal.clone()),
            }],
        })
        .await
        .unwrap();
    let shown = store.local_item(item.id).await.unwrap().unwrap();
    assert_eq!(
        shown.steps,
        vec![note.clone()],
        "the acknowledged note stays until the pull brings it"
    );
    assert_eq!(shown.lifecycle.status.kind(), StatusKind::HandledByDeputy);
    let refused = store.rejected_mutations().await.unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].code, RejectCode::NotAllowed);
    assert_eq!(refused[0].transition, Some(refusal));
    assert!(matches!(
        refused[0].mutation.kind,
        MutationKind::RecordFollowUp { .. }
    ));
    store.close();
}

fn key(station: &str, deputy: &str, day: &str) -> AttendanceKey {
    AttendanceKey {
        station_id: station.into(),
        deputy_id: deputy.into(),
        day: Date::parse(day).unwrap(),
    }
}

fn mark(key: &AttendanceKey, mark: Mark, at_ms: u64) -> AttendanceMark {
    AttendanceMark {
        key: key.clone(),
        mark,
        at_ms,
    }
}

// 2023-11-15 09:00 and 17:00 in Beijing.
const NINE: u64 = 1_700_010_000_000;
const FIVE: u64 = NINE + 8 * 3_600_000;

#[wasm_bindgen_test]
async fn attendance_from_the_outbox_and_from_a_pull_merge_in_the_view() {
    let clock = Rc::new(Cell::new(NINE));
    let store = common::fresh_unlocked("test-attendance", &clock).await;
    let day = Date::parse("2023-11-15").unwrap();
    let zhang = key("st-a", "deputy-zhang", "2023-11-15");
    let li = key("st-a", "deputy-li", "2023-11-15");

    // Zhang signs in here at 9:00 (offline); the mark is in the outbox and in the view.
    let sign_in = mark(&zhang, Mark::SignIn, NINE);
    let shown = store.mark_attendance(&sign_in).await.unwrap();
    assert_eq!(shown.signed_in_at_ms, Some(NINE));
    assert_eq!(
        store.pending_mutations(10).await.unwrap()[0].kind,
        MutationKind::MarkAttendance {
            mark: sign_in.clone()
        }
    );
    assert_eq!(
        store.attendance_on(&"st-a".into(), day).await.unwrap(),
        vec![shown]
    );

    // The server knows what another tablet recorded: Zhang in at 9:10 and out at 17:00, and
    // Li. The view merges: the earlier sign-in (ours, still unsynced) and the server's sign-out.
    let mut server_zhang = Attendance::new(zhang.clone());
    server_zhang.apply(&mark(&zhang, Mark::SignIn, NINE + 600_000));
    server_zhang.apply(&mark(&zhang, Mark::SignOut, FIVE));
    let mut server_li = Attendance::new(li.clone());
    server_li.apply(&mark(&li, Mark::SignIn, NINE + 60_000));
    // Another day and another station are not listed.
    let mut yesterday = Attendance::new(key("st-a", "deputy-zhang", "2023-11-14"));
    yesterday.signed_in_at_ms = Some(NINE - 86_400_000);
    let mut elsewhere = Attendance::new(key("st-b", "deputy-wang", "2023-11-15"));
    elsewhere.signed_in_at_ms = Some(NINE);
    let changes = [
        server_zhang.clone(),
        server_li.clone(),
        yesterday,
        elsewhere,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, state)| Change::Attendance {
        cursor: Cursor(i as u64 + 1),
        state,
    })
    .collect();
    store.apply_pulled_page(&page(changes, 4)).await.unwrap();
    assert_eq!(store.pull_cursor().await.unwrap(), Cursor(4));
    let listed = store.attendance_on(&"st-a".into(), day).await.unwrap();
    let merged_zhang = Attendance {
        key: zhang.clone(),
        signed_in_at_ms: Some(NINE),
        signed_out_at_ms: Some(FIVE),
    };
    assert_eq!(listed, vec![server_li.clone(), merged_zhang.clone()]);
    assert_eq!(store.outbox_counts().await.unwrap(), (1, 0));

    // A sign-out recorded here later than the server's wins too.
    let late = mark(&zhang, Mark::SignOut, FIVE + 600_000);
    store.mark_attendance(&late).await.unwrap();
    let listed = store.attendance_on(&"st-a".into(), day).await.unwrap();
    assert_eq!(listed[1].signed_in_at_ms, Some(NINE));
    assert_eq!(listed[1].signed_out_at_ms, Some(FIVE + 600_000));

    // The server takes the sign-in and refuses the late sign-out: the view goes back to the
    // server's state with the acknowledged (not yet pulled) sign-in merged in.
    store
        .apply_push_response(&PushResponse {
            acknowledged_through: Seq(2),
            rejected: vec![Rejected {
                seq: Seq(2),
                code: RejectCode::Forbidden,
                message: "not this deputy".into(),
                errors: Default::default(),
                transition: None,
            }],
        })
        .await
        .unwrap();
    let listed = store.attendance_on(&"st-a".into(), day).await.unwrap();
    assert_eq!(listed, vec![server_li.clone(), merged_zhang.clone()]);
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 1));

    // The next pull brings the server's merged record: one record, the same as shown.
    let mut merged_on_server = server_zhang;
    merged_on_server.apply(&sign_in);
    store
        .apply_pulled_page(&page(
            vec![Change::Attendance {
                cursor: Cursor(5),
                state: merged_on_server,
            }],
            5,
        ))
        .await
        .unwrap();
    assert_eq!(
        store.attendance_on(&"st-a".into(), day).await.unwrap(),
        vec![server_li, merged_zhang]
    );
    store.close();
}
