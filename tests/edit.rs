//! Correcting a record on the tablet, against the browser's real IndexedDB: the edit shows and
//! is queued in one transaction, a bad or empty one stores nothing, a pull keeps the unsynced
//! edit on top of the server's state, and an edit the server refuses shows the server's record
//! again and is listed with its reason.

use liaison_app::storage::EditError;
use liaison_domain::sync::{
    Change, Cursor, Hlc, Mutation, MutationKind, OpinionFieldValue, OpinionReplica, PullResponse,
    PushResponse, RejectCode, Rejected, Seq,
};
use liaison_domain::{
    ClientId, Field, FieldError, OpinionEdit, OpinionId, OutcomeKind, ValidationErrors,
    default_categories,
};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen_test::*;

mod common;
use common::opinion;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn an_edit_shows_and_is_queued_at_once_and_a_bad_one_stores_nothing() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-edit-queued", &clock).await;
    let categories = default_categories();
    let item = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    store.save_opinion(&item, None).await.unwrap();
    let shown = store.get_opinion(item.id).await.unwrap().unwrap();

    let mut edit = OpinionEdit::of(&shown);
    edit.summary = " 小区夜间停车难 ".into();
    edit.place = "幸福里 3 号楼".into();
    let edited = store
        .edit_opinion(item.id, &edit, &categories)
        .await
        .unwrap();
    assert_eq!(edited.summary, "小区夜间停车难");
    assert_eq!(
        store.get_opinion(item.id).await.unwrap(),
        Some(edited.clone())
    );
    assert_eq!(edited.citizen, shown.citizen, "the citizen stays as shown");
    let pending = store.pending_mutations(10).await.unwrap();
    assert_eq!(pending.len(), 2, "the creation and the edit");
    assert_eq!(
        pending[1].kind,
        MutationKind::SetOpinionFields {
            id: item.id,
            fields: vec![
                OpinionFieldValue::Summary("小区夜间停车难".into()),
                OpinionFieldValue::Place("幸福里 3 号楼".into()),
            ],
        }
    );

    // Nothing changed: nothing queued.
    let again = store
        .edit_opinion(item.id, &OpinionEdit::of(&edited), &categories)
        .await
        .unwrap();
    assert_eq!(again, edited);
    assert_eq!(store.pending_mutations(10).await.unwrap().len(), 2);

    // A bad edit: the errors by field, and nothing stored.
    let mut bad = OpinionEdit::of(&edited);
    bad.summary = String::new();
    bad.on_site_reply = "  ".into();
    let Err(EditError::Invalid(errors)) = store.edit_opinion(item.id, &bad, &categories).await
    else {
        panic!("a bad edit is refused");
    };
    let expected: ValidationErrors = ValidationErrors(vec![
        (Field::Summary, FieldError::Required),
        (Field::OnSiteReply, FieldError::Required),
    ]);
    assert_eq!(errors, expected);
    assert_eq!(
        store.get_opinion(item.id).await.unwrap(),
        Some(edited.clone())
    );
    assert_eq!(store.pending_mutations(10).await.unwrap().len(), 2);

    let elsewhere = OpinionId::new_v7(1_700_000_000_999, [9; 10]);
    assert_eq!(
        store.edit_opinion(elsewhere, &edit, &categories).await,
        Err(EditError::NotFound)
    );
    store.close();
}

#[wasm_bindgen_test]
async fn a_pulled_record_keeps_the_unsynced_edit_on_top_and_a_refused_edit_goes() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-edit-refused", &clock).await;
    let categories = default_categories();
    // Another tablet's record, pulled.
    let theirs = ClientId::new_v7(1_700_000_000_000, [0xEE; 10]);
    let item = opinion(2, "st-a", "parking", OutcomeKind::ToBeReferred);
    let mut server = OpinionReplica::new(item.id);
    server.apply(&Mutation::new(
        theirs,
        Seq(1),
        Hlc {
            wall_ms: 1_700_000_000_010,
            counter: 0,
            node: theirs,
        },
        MutationKind::CreateOpinion {
            opinion: Box::new(item.clone()),
        },
    ));
    let page = |state: &OpinionReplica, cursor: u64| PullResponse {
        changes: vec![Change::Opinion {
            cursor: Cursor(cursor),
            state: state.clone(),
        }],
        next_cursor: Cursor(cursor),
        more: false,
        reset_required: false,
    };
    store.apply_pulled_page(&page(&server, 1)).await.unwrap();
    let shown = store.get_opinion(item.id).await.unwrap().unwrap();

    let mut edit = OpinionEdit::of(&shown);
    edit.details = "补充：晚上十点后最严重".into();
    store
        .edit_opinion(item.id, &edit, &categories)
        .await
        .unwrap();

    // The other tablet's older edit of another field arrives: both show.
    server.apply(&Mutation::new(
        theirs,
        Seq(2),
        Hlc {
            wall_ms: 1_700_000_000_020,
            counter: 0,
            node: theirs,
        },
        MutationKind::SetOpinionFields {
            id: item.id,
            fields: vec![OpinionFieldValue::Place("幸福里东门".into())],
        },
    ));
    store.apply_pulled_page(&page(&server, 2)).await.unwrap();
    let both = store.get_opinion(item.id).await.unwrap().unwrap();
    assert_eq!(both.details, "补充：晚上十点后最严重");
    assert_eq!(both.place, "幸福里东门");

    // The server refuses the edit (say the record was deleted there meanwhile): the record
    // shows as the server has it, and the refusal is listed with its reason.
    store
        .apply_push_response(&PushResponse {
            acknowledged_through: Seq(1),
            rejected: vec![Rejected {
                seq: Seq(1),
                code: RejectCode::Invalid,
                message: "refused".into(),
                errors: Default::default(),
                transition: None,
            }],
        })
        .await
        .unwrap();
    let after = store.get_opinion(item.id).await.unwrap().unwrap();
    assert_eq!(
        after.details, item.details,
        "the refused edit no longer shows"
    );
    assert_eq!(after.place, "幸福里东门");
    let refused = store.rejected_mutations().await.unwrap();
    assert_eq!(refused.len(), 1);
    assert!(matches!(
        refused[0].mutation.kind,
        MutationKind::SetOpinionFields { .. }
    ));
    assert!(store.pending_mutations(10).await.unwrap().is_empty());
    store.close();
}
