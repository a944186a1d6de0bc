//! One sync round (`liaison_app::sync::round::run_round`) against real IndexedDB and a `fetch`
//! the test answers: the pushes overlap the tablet's own work but are still sent one after the
//! other, each only once the one before is answered; the pull asks for the next page while it
//! applies one, and applies them in order.

use gloo_timers::future::TimeoutFuture;
use liaison_app::storage::{Store, migrations};
use liaison_app::sync::api::{Session, SignedInUser};
use liaison_app::sync::round::{RoundReport, run_round};
use liaison_domain::sync::{
    Change, Cursor, MAX_PUSH_MUTATIONS, Mutation, OpinionReplica, PullResponse, PushResponse,
    RejectCode, Rejected, Seq,
};
use liaison_domain::{OutcomeKind, Role};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen_test::*;

mod common;
use common::dom::until;
use common::net::HeldFetch;
use common::{opinion, test_source};

wasm_bindgen_test_configure!(run_in_browser);

fn session() -> Session {
    Session {
        token: "test-token".into(),
        user: SignedInUser {
            id: "account-deputy".into(),
            username: "deputy".into(),
            display_name: "Deputy".into(),
            role: Role::Deputy,
            deputy_id: None,
            device: None,
            session_expires_at: 0,
            unit_id: None,
            scopes: vec![],
        },
    }
}

/// Waits for the round's next request, lets it stay alone a moment (a second request sent
/// before this one is answered would show up), and returns its address.
async fn next_request(held: &HeldFetch) -> String {
    until("the next request", || (held.waiting() > 0).then_some(())).await;
    TimeoutFuture::new(100).await;
    assert_eq!(
        held.waiting(),
        1,
        "one request at a time: {:?}",
        held.urls()
    );
    held.urls().remove(0)
}

fn state_of(create: &Mutation) -> OpinionReplica {
    let mut state = OpinionReplica::new(create.kind.opinion_id().unwrap());
    state.apply(create);
    state
}

#[wasm_bindgen_test]
async fn a_round_pushes_batches_one_after_the_other_and_pulls_its_pages_in_order() {
    let name = "test-round-pipelined";
    Store::delete_database(name).await.unwrap();
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    let total = MAX_PUSH_MUTATIONS as u64 + 50;
    common::unlock(&store, "deputy").await;
    for n in 0..total {
        let o = opinion(n, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
        store.save_opinion(&o, None).await.unwrap();
    }
    let creates = store.pending_mutations(total as u32).await.unwrap();

    let held = HeldFetch::install();
    let outcome = Rc::new(RefCell::new(None));
    {
        let (store, outcome) = (store.clone(), outcome.clone());
        wasm_bindgen_futures::spawn_local(async move {
            *outcome.borrow_mut() = Some(run_round(&store, &session()).await);
        });
    }

    // First batch: a full one. Its answer comes; the next batch was read meanwhile.
    assert!(next_request(&held).await.ends_with("/api/v1/sync/push"));
    let first = PushResponse {
        acknowledged_through: Seq(MAX_PUSH_MUTATIONS as u64),
        rejected: vec![],
    };
    held.answer(200, &serde_json::to_string(&first).unwrap());
    // Second batch: the rest, sent only now; one of it refused.
    assert!(next_request(&held).await.ends_with("/api/v1/sync/push"));
    let refused = Seq(MAX_PUSH_MUTATIONS as u64 + 10);
    let second = PushResponse {
        acknowledged_through: Seq(total),
        rejected: vec![Rejected {
            seq: refused,
            code: RejectCode::Invalid,
            message: "bad".into(),
            errors: Default::default(),
            transition: None,
        }],
    };
    held.answer(200, &serde_json::to_string(&second).unwrap());

    // Two pages of the tablet's own records: the second is asked for with the first's cursor.
    assert!(next_request(&held).await.ends_with("/api/v1/sync/pull"));
    let page = |creates: &[Mutation], next_cursor: u64, more: bool| PullResponse {
        changes: creates
            .iter()
            .enumerate()
            .map(|(i, create)| Change::Opinion {
                cursor: Cursor(next_cursor - (creates.len() - 1 - i) as u64),
                state: state_of(create),
            })
            .collect(),
        next_cursor: Cursor(next_cursor),
        more,
        reset_required: false,
    };
    held.answer(
        200,
        &serde_json::to_string(&page(&creates[..100], 100, true)).unwrap(),
    );
    assert!(next_request(&held).await.ends_with("/api/v1/sync/pull"));
    held.answer(
        200,
        &serde_json::to_string(&page(&creates[100..150], 150, false)).unwrap(),
    );

    until("the round to end", || {
        outcome.borrow().is_some().then_some(())
    })
    .await;
    assert_eq!(held.waiting(), 0, "nothing after the last page");
    drop(held);
    let report = outcome.borrow_mut().take().unwrap().unwrap();
    assert_eq!(
        report,
        RoundReport {
            pushed: total as u32 - 1,
            rejected: 1,
            pulled: 150,
            photos: 0,
        }
    );
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 1));
    assert_eq!(
        store.rejected_mutations().await.unwrap()[0].mutation.seq,
        refused
    );
    assert_eq!(store.pull_cursor().await.unwrap(), Cursor(150));
    for create in [&creates[0], &creates[120], &creates[149]] {
        // Kept as the tablet shows it: the citizen masked.
        let state = state_of(create).with_citizen_masked();
        assert_eq!(
            store.get_opinion(state.id()).await.unwrap(),
            state.opinion(),
            "shown as pushed"
        );
        assert_eq!(store.server_state(state.id()).await.unwrap(), Some(state));
    }
    store.close();
}
