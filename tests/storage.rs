//! The storage module against the browser's real IndexedDB (headless Chromium through
//! wasm-bindgen-test). Each test uses its own database name and deletes it first.

use liaison_app::storage::{DraftKey, NewPhoto, RejectedMutation, Store, migrations};
use liaison_domain::opinion::OpinionFilter;
use liaison_domain::sync::{
    Change, Cursor, Hlc, Mutation, MutationKind, OpinionReplica, PullResponse, PushResponse,
    RejectCode, Rejected, Seq,
};
use liaison_domain::{
    DutyContext, Opinion, OpinionDraft, OpinionId, OutcomeKind, PhotoId, PhotoRef, StationId,
};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen_test::*;

mod common;
use common::{context, opinion, test_source};

wasm_bindgen_test_configure!(run_in_browser);

async fn fresh(name: &str) -> Store {
    Store::delete_database(name).await.unwrap();
    let store = Store::open_named(name).await.unwrap();
    common::unlock(&store, "deputy").await;
    store
}

#[wasm_bindgen_test]
async fn an_opinion_round_trips_with_every_field() {
    let store = fresh("test-round-trip").await;
    let saved = opinion(1, "st-a", "parking", OutcomeKind::NotAccepted);
    store.save_opinion(&saved, None).await.unwrap();
    let loaded = store.get_opinion(saved.id).await.unwrap().expect("stored");
    // Shown (and so stored) with the citizen masked; the outbox keeps it sealed for the push.
    assert_eq!(loaded, saved.clone().with_citizen_masked());
    assert_eq!(store.count_opinions(&"st-a".into()).await.unwrap(), 1);
    assert_eq!(store.count_opinions(&"st-b".into()).await.unwrap(), 0);
    store.close();
}

#[wasm_bindgen_test]
async fn a_thousand_records_in_one_batch_are_all_listed_newest_first() {
    let store = fresh("test-batch").await;
    let batch: Vec<Opinion> = (0..1000)
        .map(|n| {
            let category = if n % 2 == 0 {
                "parking"
            } else {
                "roads_lighting"
            };
            let outcome = if n % 4 == 0 {
                OutcomeKind::ToBeReferred
            } else {
                OutcomeKind::AnsweredOnSpot
            };
            opinion(n, "st-a", category, outcome)
        })
        .collect();
    store.put_opinions(&batch).await.unwrap();
    let station: StationId = "st-a".into();
    assert_eq!(store.count_opinions(&station).await.unwrap(), 1000);

    // Walk every page: each record once, newest first.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_opinions(&station, &OpinionFilter::default(), after, 100)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|o| o.id));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut expected: Vec<OpinionId> = batch.iter().map(|o| o.id).collect();
    expected.reverse();
    assert_eq!(seen, expected);

    // Filters use their indexes and combine.
    let by_category = OpinionFilter {
        category: Some("parking".into()),
        ..Default::default()
    };
    let page = store
        .list_opinions(&station, &by_category, None, 1000)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 500);
    assert!(page.items.iter().all(|o| o.category == "parking"));
    let by_outcome = OpinionFilter {
        outcome: Some(OutcomeKind::ToBeReferred),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_opinions(&station, &by_outcome, None, 1000)
            .await
            .unwrap()
            .items
            .len(),
        250
    );
    let both = OpinionFilter {
        category: Some("roads_lighting".into()),
        outcome: Some(OutcomeKind::ToBeReferred),
        ..Default::default()
    };
    assert_eq!(
        store
            .list_opinions(&station, &both, None, 1000)
            .await
            .unwrap()
            .items
            .len(),
        0
    );
    // A text search pages across the storage's read windows, newest first, each match once.
    let text = OpinionFilter {
        text: "details 1".into(),
        ..Default::default()
    };
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_opinions(&station, &text, after, 30)
            .await
            .unwrap();
        found.extend(page.items.iter().map(|o| o.id));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<OpinionId> = batch
        .iter()
        .rev()
        .filter(|o| o.details.starts_with("details 1"))
        .map(|o| o.id)
        .collect();
    assert_eq!(expected.len(), 111, "1, 10–19 and 100–199");
    assert_eq!(found, expected);

    let text = OpinionFilter {
        text: "意见 999:".into(),
        ..Default::default()
    };
    let page = store
        .list_opinions(&station, &text, None, 10)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].id, batch[999].id);
    assert_eq!(page.next_after, None);
    store.close();
}

#[wasm_bindgen_test]
async fn a_draft_is_saved_restored_per_deputy_and_removed_when_blank() {
    let store = fresh("test-drafts").await;
    let key_a = DraftKey::for_context(&context("st-a"));
    let key_b = DraftKey::for_context(&DutyContext {
        station_id: "st-a".into(),
        deputy_id: "deputy-2".into(),
    });
    let draft = OpinionDraft {
        summary: "半截的意见".into(),
        citizen_phone: "138".into(),
        ..Default::default()
    };
    store.save_draft(&key_a, &draft, 1).await.unwrap();
    assert_eq!(store.load_draft(&key_a).await.unwrap(), Some(draft));
    assert_eq!(
        store.load_draft(&key_b).await.unwrap(),
        None,
        "another deputy's draft is separate"
    );
    store
        .save_draft(&key_a, &OpinionDraft::default(), 2)
        .await
        .unwrap();
    assert_eq!(store.load_draft(&key_a).await.unwrap(), None);
    store.close();
}

fn test_blob(bytes: &[u8]) -> web_sys::Blob {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/jpeg");
    web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options).unwrap()
}

#[wasm_bindgen_test]
async fn saving_an_opinion_moves_its_photos_and_clears_the_draft_in_one_step() {
    let store = fresh("test-photos").await;
    let ctx = context("st-a");
    let key = DraftKey::for_context(&ctx);
    let photo_id = PhotoId::new_v7(1_700_000_000_000, [9; 10]);
    let reference = store
        .put_draft_photo(
            &key,
            NewPhoto {
                id: photo_id,
                blob: test_blob(&[1, 2, 3, 4]),
                width: 2,
                height: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(reference.bytes, 4);
    assert_eq!(reference.mime, "image/jpeg");
    let mut saved = opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);
    saved.photos = vec![reference.clone()];
    store
        .save_draft(
            &key,
            &OpinionDraft {
                summary: "x".into(),
                photos: vec![reference],
                ..Default::default()
            },
            1,
        )
        .await
        .unwrap();

    store.save_opinion(&saved, Some(&key)).await.unwrap();
    assert_eq!(store.load_draft(&key).await.unwrap(), None);
    // Discarding the (now absent) draft must not delete the opinion's photo.
    store.discard_draft(&key).await.unwrap();
    let blob = store
        .photo_blob(photo_id)
        .await
        .unwrap()
        .expect("photo kept with the opinion");
    assert_eq!(blob.size() as u32, 4);

    // Saved with its opinion, the photo waits for the server; a draft's photo does not.
    let queued = store.photos_to_upload(10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].id, photo_id);
    assert_eq!(queued[0].opinion_id, saved.id);
    assert_eq!(queued[0].mime, "image/jpeg");
    assert_eq!(store.photos_waiting().await.unwrap(), 1);
    store.mark_photo_uploaded(photo_id, false).await.unwrap();
    assert!(store.photos_to_upload(10).await.unwrap().is_empty());
    assert_eq!(store.photos_waiting().await.unwrap(), 0);
    assert!(
        store.photo_blob(photo_id).await.unwrap().is_some(),
        "still shown on the tablet"
    );
    store.close();
}

#[wasm_bindgen_test]
async fn upgrading_from_schema_v4_queues_the_photos_of_saved_opinions_only() {
    let name = "test-upgrade-v4-photos";
    Store::delete_database(name).await.unwrap();
    let v4 = Store::open_at_version(name, 4).await.unwrap();
    common::unlock(&v4, "deputy").await;
    let ctx = context("st-a");
    let key = DraftKey::for_context(&ctx);
    let mut saved = opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);
    let (saved_photo, draft_photo) = (
        PhotoId::new_v7(1_700_000_000_000, [5; 10]),
        PhotoId::new_v7(1_700_000_000_001, [6; 10]),
    );
    let reference = v4
        .put_draft_photo(
            &key,
            NewPhoto {
                id: saved_photo,
                blob: test_blob(&[1, 2, 3]),
                width: 1,
                height: 1,
            },
        )
        .await
        .unwrap();
    saved.photos = vec![reference];
    v4.save_opinion(&saved, Some(&key)).await.unwrap();
    v4.put_draft_photo(
        &key,
        NewPhoto {
            id: draft_photo,
            blob: test_blob(&[4]),
            width: 1,
            height: 1,
        },
    )
    .await
    .unwrap();
    v4.close();

    let current = Store::open_named(name).await.unwrap();
    common::unlock(&current, "deputy").await;
    assert_eq!(current.version(), migrations::CURRENT_VERSION);
    let queued = current.photos_to_upload(10).await.unwrap();
    assert_eq!(
        queued.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![saved_photo]
    );
    assert_eq!(queued[0].opinion_id, saved.id);
    assert_eq!(queued[0].blob.size(), 3.0);
    current.close();
}

#[wasm_bindgen_test]
async fn upgrading_from_schema_v5_keeps_everything_adds_follow_ups_and_attendance_and_pulls_again()
{
    let name = "test-upgrade-v5";
    Store::delete_database(name).await.unwrap();
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let v5 = Store::open_with(name, 5, test_source(&clock, 1))
        .await
        .unwrap();
    common::unlock(&v5, "deputy").await;
    assert_eq!(v5.version(), 5);
    let ctx = context("st-a");
    let key = DraftKey::for_context(&ctx);
    let photo_id = PhotoId::new_v7(1_700_000_000_000, [5; 10]);
    let reference = v5
        .put_draft_photo(
            &key,
            NewPhoto {
                id: photo_id,
                blob: test_blob(&[1, 2, 3]),
                width: 1,
                height: 1,
            },
        )
        .await
        .unwrap();
    let mut saved = opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);
    saved.photos = vec![reference];
    v5.save_opinion(&saved, Some(&key)).await.unwrap();
    // Records another tablet captured, stored by a pull before the upgrade (the last one was
    // referred on the server, but an app at v5 read its state without the steps).
    let pulled: Vec<Opinion> = (2..5)
        .map(|n| {
            let outcome = if n == 4 {
                OutcomeKind::ToBeReferred
            } else {
                OutcomeKind::AnsweredOnSpot
            };
            opinion(n, "st-a", "roads_lighting", outcome)
        })
        .collect();
    v5.put_opinions(&pulled).await.unwrap();
    let draft = OpinionDraft {
        summary: "v5 draft".into(),
        ..Default::default()
    };
    v5.save_draft(&key, &draft, 1).await.unwrap();
    // A second unsynced record, captured after the pull.
    let unsynced = opinion(6, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    v5.save_opinion(&unsynced, None).await.unwrap();
    v5.set_pull_cursor(Cursor(17)).await.unwrap();
    let client = v5.client_id().await.unwrap();
    let outbox = v5.pending_mutations(10).await.unwrap();
    assert_eq!(seqs(&outbox), vec![1, 2]);
    let last_stamp = outbox[1].hlc;
    v5.close();

    let current = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 2))
        .await
        .unwrap();
    common::unlock(&current, "deputy").await;
    assert_eq!(current.version(), migrations::CURRENT_VERSION);
    // Nothing lost: records, draft, photo and its upload mark, outbox, client id.
    assert_eq!(
        current.get_opinion(saved.id).await.unwrap(),
        Some(saved.clone().with_citizen_masked())
    );
    assert_eq!(
        current.get_opinion(unsynced.id).await.unwrap(),
        Some(unsynced.clone().with_citizen_masked())
    );
    for o in &pulled {
        assert_eq!(
            current.get_opinion(o.id).await.unwrap(),
            Some(o.clone().with_citizen_masked())
        );
    }
    assert_eq!(current.load_draft(&key).await.unwrap(), Some(draft));
    assert_eq!(
        current
            .photos_to_upload(10)
            .await
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![photo_id]
    );
    assert_eq!(current.client_id().await.unwrap(), client);
    assert_eq!(current.pending_mutations(10).await.unwrap(), outbox);
    assert_eq!(current.outbox_counts().await.unwrap(), (2, 0));
    // The cursor is back at the start: the next pull brings everything again, with the steps
    // and attendance the v5 copy never kept.
    assert_eq!(current.pull_cursor().await.unwrap(), Cursor::START);
    // Every old record has the status of its intake decision, without a history record.
    let statuses = |page: liaison_app::storage::OpinionPage| -> Vec<&'static str> {
        page.statuses.iter().map(|s| s.code()).collect()
    };
    let listed = current
        .list_opinions(&"st-a".into(), &OpinionFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 5);
    assert_eq!(
        statuses(listed),
        vec![
            "answered_on_spot",
            "registered",
            "answered_on_spot",
            "answered_on_spot",
            "registered"
        ]
    );
    let item = current.local_item(saved.id).await.unwrap().expect("kept");
    assert!(item.steps.is_empty());

    // The full pull: the referred record comes again, now with its step, and is shown with it;
    // the unsynced records stay on top, their outbox entries untouched.
    let referred = &pulled[2];
    let refer = common::step(
        1,
        common::actor(liaison_domain::Role::OfficeStaff),
        liaison_domain::followup::Action::Refer {
            unit_id: "unit-1".into(),
            unit_name: "区住建局".into(),
            working_days: 5,
            due: liaison_domain::followup::Date::parse("2023-11-22").unwrap(),
            note: String::new(),
        },
        1_700_000_010_000,
    );
    let mut state = server_state(
        referred.id,
        &[Mutation::new(
            other_client(),
            Seq(1),
            Hlc {
                wall_ms: 1_700_000_000_004,
                counter: 0,
                node: other_client(),
            },
            MutationKind::CreateOpinion {
                opinion: Box::new(referred.clone()),
            },
        )],
    );
    state.apply(&Mutation::new(
        other_client(),
        Seq(2),
        Hlc {
            wall_ms: 1_700_000_010_000,
            counter: 0,
            node: other_client(),
        },
        MutationKind::RecordFollowUp {
            opinion_id: referred.id,
            step: refer.clone(),
        },
    ));
    current
        .apply_pulled_page(&page(vec![state], 2))
        .await
        .unwrap();
    assert_eq!(current.pull_cursor().await.unwrap(), Cursor(2));
    let item = current
        .local_item(referred.id)
        .await
        .unwrap()
        .expect("pulled");
    assert_eq!(item.steps, vec![refer]);
    assert_eq!(
        item.lifecycle.status.kind(),
        liaison_domain::followup::StatusKind::Referred
    );
    assert_eq!(
        current.get_opinion(unsynced.id).await.unwrap(),
        Some(unsynced.with_citizen_masked())
    );
    assert_eq!(current.pending_mutations(10).await.unwrap(), outbox);
    // Sync bookkeeping went on where it was: the next entry is seq 3, stamped after the last
    // one even with the device's clock set back.
    clock.set(1_600_000_000_000);
    let later = opinion(7, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    current.save_opinion(&later, None).await.unwrap();
    let after = current.pending_mutations(10).await.unwrap();
    assert_eq!(seqs(&after), vec![1, 2, 3]);
    assert!(after[2].hlc > last_stamp);
    clock.set(1_700_000_100_000);
    // The new stores work on the old data.
    let attendance = liaison_domain::followup::AttendanceMark {
        key: liaison_domain::followup::AttendanceKey {
            station_id: "st-a".into(),
            deputy_id: "deputy-1".into(),
            day: liaison_domain::followup::Date::parse("2023-11-15").unwrap(),
        },
        mark: liaison_domain::followup::Mark::SignIn,
        at_ms: 1_700_000_100_000,
    };
    current.mark_attendance(&attendance).await.unwrap();
    assert_eq!(
        current
            .attendance_on(&"st-a".into(), attendance.key.day)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        current.pending_mutations(10).await.unwrap().len(),
        outbox.len() + 2
    );
    current.close();
}

#[wasm_bindgen_test]
async fn discarding_a_draft_deletes_its_photos() {
    let store = fresh("test-discard").await;
    let key = DraftKey::for_context(&context("st-a"));
    let photo_id = PhotoId::new_v7(1_700_000_000_000, [5; 10]);
    store
        .put_draft_photo(
            &key,
            NewPhoto {
                id: photo_id,
                blob: test_blob(&[7; 10]),
                width: 1,
                height: 1,
            },
        )
        .await
        .unwrap();
    store.discard_draft(&key).await.unwrap();
    assert!(store.photo_blob(photo_id).await.unwrap().is_none());
    store.close();
}

#[wasm_bindgen_test]
async fn upgrading_from_schema_v1_keeps_the_data_and_indexes_it() {
    let name = "test-upgrade";
    Store::delete_database(name).await.unwrap();
    let v1 = Store::open_at_version(name, 1).await.unwrap();
    common::unlock(&v1, "deputy").await;
    assert_eq!(v1.version(), 1);
    let old: Vec<Opinion> = (0..20)
        .map(|n| {
            opinion(
                n,
                "st-a",
                if n < 5 { "parking" } else { "other" },
                OutcomeKind::AnsweredOnSpot,
            )
        })
        .collect();
    v1.put_opinions(&old).await.unwrap();
    let key = DraftKey::for_context(&context("st-a"));
    let draft = OpinionDraft {
        summary: "v1 draft".into(),
        ..Default::default()
    };
    v1.save_draft(&key, &draft, 1).await.unwrap();
    v1.close();

    let current = Store::open_named(name).await.unwrap();
    common::unlock(&current, "deputy").await;
    assert_eq!(current.version(), migrations::CURRENT_VERSION);
    for o in &old {
        assert_eq!(
            current.get_opinion(o.id).await.unwrap(),
            Some(o.clone().with_citizen_masked())
        );
    }
    assert_eq!(current.load_draft(&key).await.unwrap(), Some(draft));
    // The index added in v2 covers records written at v1.
    let parking = OpinionFilter {
        category: Some("parking".into()),
        ..Default::default()
    };
    let page = current
        .list_opinions(&"st-a".into(), &parking, None, 100)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 5);
    // And the v3 step queued them for sync.
    let pending = current.pending_mutations(100).await.unwrap();
    assert_eq!(created_opinions(&pending), old);
    current.close();
}

#[wasm_bindgen_test]
async fn an_open_tab_lets_go_when_another_tab_opens_a_newer_version() {
    let name = "test-version-change";
    Store::delete_database(name).await.unwrap();
    let older = Store::open_at_version(name, 1).await.unwrap();
    common::unlock(&older, "deputy").await;
    let notified = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = notified.clone();
    let handle = older.clone();
    older.on_newer_version(move || {
        seen.set(true);
        handle.close();
    });
    // Without the handler this open would wait forever on the older connection.
    let newer = Store::open_named(name).await.unwrap();
    common::unlock(&newer, "deputy").await;
    assert!(notified.get());
    assert_eq!(newer.version(), migrations::CURRENT_VERSION);
    newer.close();
}

// ---- the sync outbox ----

/// The opinions of `CreateOpinion` mutations, in order; panics on any other kind.
fn created_opinions(mutations: &[Mutation]) -> Vec<Opinion> {
    mutations
        .iter()
        .map(|m| match &m.kind {
            MutationKind::CreateOpinion { opinion } => (**opinion).clone(),
            other => panic!("expected create_opinion, got {}", other.name()),
        })
        .collect()
}

fn seqs(mutations: &[Mutation]) -> Vec<u64> {
    mutations.iter().map(|m| m.seq.0).collect()
}

#[wasm_bindgen_test]
async fn saving_an_opinion_records_one_create_opinion_with_the_next_seq_in_the_same_transaction() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-outbox-save", &clock).await;
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 0));
    let client = store.client_id().await.unwrap();

    let first = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    store.save_opinion(&first, None).await.unwrap();
    let pending = store.pending_mutations(10).await.unwrap();
    assert_eq!(pending.len(), 1, "exactly one mutation per save");
    assert_eq!(pending[0].seq, Seq(1));
    assert_eq!(pending[0].client_id, client);
    assert_eq!(pending[0].hlc.node, client);
    assert_eq!(pending[0].hlc.wall_ms, 1_700_000_100_000);
    assert_eq!(pending[0].kind_version, 1);
    assert_eq!(created_opinions(&pending), vec![first.clone()]);

    // A save that fails after its mutation was written (a photo that is not stored) leaves
    // neither the opinion nor the mutation, and does not use up a seq.
    let mut broken = opinion(2, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    broken.photos = vec![PhotoRef {
        id: PhotoId::new_v7(1_700_000_000_000, [3; 10]),
        mime: "image/jpeg".into(),
        width: 1,
        height: 1,
        bytes: 1,
    }];
    assert!(store.save_opinion(&broken, None).await.is_err());
    assert_eq!(store.get_opinion(broken.id).await.unwrap(), None);
    assert_eq!(store.outbox_counts().await.unwrap(), (1, 0));

    // Seqs are dense across saves.
    let more: Vec<Opinion> = (3..6)
        .map(|n| opinion(n, "st-a", "parking", OutcomeKind::AnsweredOnSpot))
        .collect();
    for o in &more {
        store.save_opinion(o, None).await.unwrap();
    }
    let pending = store.pending_mutations(10).await.unwrap();
    assert_eq!(seqs(&pending), vec![1, 2, 3, 4]);
    assert_eq!(created_opinions(&pending)[1..], more[..]);
    assert_eq!(store.outbox_counts().await.unwrap(), (4, 0));
    // Oldest first, `limit` at a time.
    assert_eq!(seqs(&store.pending_mutations(2).await.unwrap()), vec![1, 2]);
    store.close();
}

fn push_response(acknowledged_through: u64, rejected: &[(u64, RejectCode, &str)]) -> PushResponse {
    PushResponse {
        acknowledged_through: Seq(acknowledged_through),
        rejected: rejected
            .iter()
            .map(|(seq, code, message)| Rejected {
                seq: Seq(*seq),
                code: *code,
                message: (*message).into(),
                errors: Default::default(),
                transition: None,
            })
            .collect(),
    }
}

#[wasm_bindgen_test]
async fn a_push_response_clears_acknowledged_entries_and_keeps_refused_ones_with_their_reason() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let name = "test-outbox-ack";
    let store = common::fresh_unlocked(name, &clock).await;
    let saved: Vec<Opinion> = (0..5)
        .map(|n| opinion(n, "st-a", "parking", OutcomeKind::AnsweredOnSpot))
        .collect();
    for o in &saved {
        store.save_opinion(o, None).await.unwrap();
    }
    let refused = store.pending_mutations(2).await.unwrap().remove(1);
    let applied = store
        .apply_push_response(&push_response(
            3,
            &[(2, RejectCode::Forbidden, "not your station")],
        ))
        .await
        .unwrap();
    assert_eq!(applied, 2, "seqs 1 and 3 were applied");
    assert_eq!(
        seqs(&store.pending_mutations(10).await.unwrap()),
        vec![4, 5]
    );
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        (2, 1),
        "the refused one is kept"
    );
    // The same answer again (a resend after a lost response), or an older one, changes nothing.
    let again = push_response(3, &[(2, RejectCode::Forbidden, "not your station")]);
    assert_eq!(store.apply_push_response(&again).await.unwrap(), 0);
    assert_eq!(
        store
            .apply_push_response(&push_response(0, &[]))
            .await
            .unwrap(),
        0
    );
    // A refusal beyond the acknowledged seq is not believed (the server never sends one).
    let odd = push_response(4, &[(5, RejectCode::Invalid, "x")]);
    assert_eq!(store.apply_push_response(&odd).await.unwrap(), 1);
    assert_eq!(seqs(&store.pending_mutations(10).await.unwrap()), vec![5]);
    assert_eq!(
        store
            .apply_push_response(&push_response(5, &[]))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 1));
    // The next mutation still gets the next seq.
    let o = opinion(9, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    store.save_opinion(&o, None).await.unwrap();
    assert_eq!(seqs(&store.pending_mutations(10).await.unwrap()), vec![6]);
    store.close();

    // Kept across reopening, with its reason; the record itself stays on the tablet.
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 2))
        .await
        .unwrap();
    common::unlock(&store, "deputy").await;
    assert_eq!(
        store.rejected_mutations().await.unwrap(),
        vec![RejectedMutation {
            // Listed as shown: the citizen masked (its sealed original stays for a resend).
            mutation: masked(refused),
            code: RejectCode::Forbidden,
            message: "not your station".into(),
            transition: None,
        }]
    );
    assert_eq!(
        store.get_opinion(saved[1].id).await.unwrap(),
        Some(saved[1].clone().with_citizen_masked())
    );
    let export: serde_json::Value =
        serde_json::from_str(&store.export_unsynced().await.unwrap()).unwrap();
    assert_eq!(export["format"], "liaison-unsynced-export");
    let entries = export["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "the refused entry and the pending one");
    assert_eq!(entries[0]["state"], "rejected");
    assert_eq!(
        entries[0]["mutation"]["kind"]["opinion"]["summary"],
        saved[1].summary
    );
    assert_eq!(entries[1]["state"], "pending");
    store.close();
}

#[wasm_bindgen_test]
async fn the_client_id_and_pull_cursor_are_kept_across_reopenings() {
    let name = "test-outbox-client-id";
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked(name, &clock).await;
    let id = store.client_id().await.unwrap();
    assert_eq!(
        id.unix_ms(),
        Some(1_700_000_100_000),
        "made from the injected time"
    );
    assert_eq!(store.pull_cursor().await.unwrap(), Cursor::START);
    store.set_pull_cursor(Cursor(42)).await.unwrap();
    store.close();

    // Other time, other random bytes: the id is not made again.
    clock.set(1_800_000_000_000);
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 7))
        .await
        .unwrap();
    common::unlock(&store, "deputy").await;
    assert_eq!(store.client_id().await.unwrap(), id);
    assert_eq!(store.pull_cursor().await.unwrap(), Cursor(42));
    store.close();
    let store = Store::open_named(name).await.unwrap();
    common::unlock(&store, "deputy").await;
    assert_eq!(store.client_id().await.unwrap(), id);
    store.close();

    // Another database (a wiped device) is another client.
    let other = Store::open_with(
        "test-outbox-client-id-2",
        migrations::CURRENT_VERSION,
        test_source(&clock, 8),
    )
    .await
    .unwrap();
    common::unlock(&other, "deputy").await;
    assert_ne!(other.client_id().await.unwrap(), id);
    other.close();
    Store::delete_database("test-outbox-client-id-2")
        .await
        .unwrap();
}

#[wasm_bindgen_test]
async fn upgrading_from_schema_v2_queues_every_stored_opinion_as_a_create_in_id_order() {
    let name = "test-upgrade-v2";
    Store::delete_database(name).await.unwrap();
    let v2 = Store::open_at_version(name, 2).await.unwrap();
    common::unlock(&v2, "deputy").await;
    assert_eq!(v2.version(), 2);
    // More than one page of the conversion (200), written in reverse id order.
    let mut old: Vec<Opinion> = (0..450)
        .map(|n| opinion(n, "st-a", "parking", OutcomeKind::AnsweredOnSpot))
        .collect();
    old.reverse();
    v2.put_opinions(&old).await.unwrap();
    old.reverse();
    let key = DraftKey::for_context(&context("st-a"));
    let photo_id = PhotoId::new_v7(1_700_000_000_000, [4; 10]);
    v2.put_draft_photo(
        &key,
        NewPhoto {
            id: photo_id,
            blob: test_blob(&[1, 2, 3]),
            width: 1,
            height: 1,
        },
    )
    .await
    .unwrap();
    let draft = OpinionDraft {
        summary: "v2 draft".into(),
        ..Default::default()
    };
    v2.save_draft(&key, &draft, 1).await.unwrap();
    v2.close();

    let clock = Rc::new(Cell::new(1_700_000_900_000));
    let current = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    common::unlock(&current, "deputy").await;
    assert_eq!(current.version(), migrations::CURRENT_VERSION);
    let client = current.client_id().await.unwrap();
    let pending = current.pending_mutations(1000).await.unwrap();
    assert_eq!(seqs(&pending), (1..=450).collect::<Vec<_>>());
    assert_eq!(created_opinions(&pending), old, "in id order, unchanged");
    assert!(pending.iter().all(|m| m.client_id == client));
    assert!(
        pending.windows(2).all(|w| w[0].hlc < w[1].hlc),
        "stamps increase with seq"
    );
    assert_eq!(
        pending[0].hlc.wall_ms, old[0].created_at_ms,
        "stamped at capture time"
    );
    assert_eq!(current.outbox_counts().await.unwrap(), (450, 0));
    // Nothing else lost.
    for o in &old {
        assert_eq!(
            current.get_opinion(o.id).await.unwrap(),
            Some(o.clone().with_citizen_masked())
        );
    }
    assert_eq!(current.load_draft(&key).await.unwrap(), Some(draft));
    assert!(current.photo_blob(photo_id).await.unwrap().is_some());
    assert_eq!(current.pull_cursor().await.unwrap(), Cursor::START);

    // New saves go on after the converted ones, with later stamps.
    let new = opinion(1_000, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    current.save_opinion(&new, None).await.unwrap();
    let pending = current.pending_mutations(1000).await.unwrap();
    assert_eq!(pending.len(), 451);
    assert_eq!(pending[450].seq, Seq(451));
    assert!(pending[450].hlc > pending[449].hlc);
    assert_eq!(created_opinions(&pending[450..]), vec![new]);
    current.close();
}

#[wasm_bindgen_test]
async fn an_empty_v2_database_upgrades_to_an_empty_outbox() {
    let name = "test-upgrade-v2-empty";
    Store::delete_database(name).await.unwrap();
    Store::open_at_version(name, 2).await.unwrap().close();
    let clock = Rc::new(Cell::new(1_700_000_900_000));
    let current = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    common::unlock(&current, "deputy").await;
    assert_eq!(current.outbox_counts().await.unwrap(), (0, 0));
    let o = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    current.save_opinion(&o, None).await.unwrap();
    assert_eq!(seqs(&current.pending_mutations(10).await.unwrap()), vec![1]);
    current.close();
}

#[wasm_bindgen_test]
async fn the_clock_never_goes_backwards_even_when_the_device_time_does() {
    let name = "test-outbox-clock";
    let clock = Rc::new(Cell::new(1_700_000_005_000));
    let store = common::fresh_unlocked(name, &clock).await;
    // Forward, backwards (dead battery), backwards again, then forward past the last stamp.
    for (n, now) in [
        1_700_000_005_000u64,
        10,
        1_700_000_004_999,
        1_700_000_005_000,
        1_700_000_006_000,
    ]
    .into_iter()
    .enumerate()
    {
        clock.set(now);
        let o = opinion(n as u64, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
        store.save_opinion(&o, None).await.unwrap();
    }
    let stamps: Vec<(u64, u32)> = store
        .pending_mutations(10)
        .await
        .unwrap()
        .iter()
        .map(|m| (m.hlc.wall_ms, m.hlc.counter))
        .collect();
    assert_eq!(
        stamps,
        vec![
            (1_700_000_005_000, 0),
            (1_700_000_005_000, 1),
            (1_700_000_005_000, 2),
            (1_700_000_005_000, 3),
            (1_700_000_006_000, 0),
        ]
    );
    store.close();

    // The clock is persisted: after reopening with the time set back, it still goes on.
    clock.set(5);
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    common::unlock(&store, "deputy").await;
    let o = opinion(10, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    store.save_opinion(&o, None).await.unwrap();
    let last = store.pending_mutations(10).await.unwrap().remove(5);
    assert_eq!((last.hlc.wall_ms, last.hlc.counter), (1_700_000_006_000, 1));
    store.close();
}

/// `mutation` with the citizen it carries masked, as the outbox keeps it in clear.
fn masked(mut mutation: Mutation) -> Mutation {
    if let Some(citizen) = mutation.kind.citizen().map(|c| c.masked()) {
        mutation.kind = mutation.kind.with_citizen(citizen);
    }
    mutation
}

fn other_client() -> liaison_domain::ClientId {
    liaison_domain::ClientId::new_v7(1_700_000_000_000, [0xEE; 10])
}

/// The server's state after `mutations` (from other tablets).
fn server_state(id: OpinionId, mutations: &[Mutation]) -> OpinionReplica {
    let mut state = OpinionReplica::new(id);
    for m in mutations {
        state.apply(m);
    }
    state
}

fn page(changes: Vec<OpinionReplica>, next_cursor: u64) -> PullResponse {
    PullResponse {
        changes: changes
            .into_iter()
            .enumerate()
            .map(|(i, state)| Change::Opinion {
                cursor: Cursor(next_cursor.saturating_sub(i as u64)),
                state,
            })
            .collect(),
        next_cursor: Cursor(next_cursor),
        more: false,
        reset_required: false,
    }
}

#[wasm_bindgen_test]
async fn a_pulled_page_updates_records_cursor_and_clock_together_and_keeps_unsynced_work_on_top() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-pull-apply", &clock).await;
    let own = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    store.save_opinion(&own, None).await.unwrap();

    // Another tablet's record, stamped far in the future (its clock runs ahead; the server
    // let it through within its limit).
    let theirs = opinion(2, "st-a", "parking", OutcomeKind::ToBeReferred);
    let future = 1_700_009_000_000;
    let create = Mutation::new(
        other_client(),
        Seq(1),
        Hlc {
            wall_ms: future,
            counter: 0,
            node: other_client(),
        },
        MutationKind::CreateOpinion {
            opinion: Box::new(theirs.clone()),
        },
    );
    let theirs_state = server_state(theirs.id, std::slice::from_ref(&create));
    // The server's state of our own record does not have our pending creation yet (the pull
    // raced the push): the record must still be shown, from the outbox.
    let own_state_without_create = OpinionReplica::new(own.id);
    let changed = store
        .apply_pulled_page(&page(
            vec![theirs_state.clone(), own_state_without_create],
            7,
        ))
        .await
        .unwrap();
    assert_eq!(changed, 2);
    assert_eq!(
        store.get_opinion(theirs.id).await.unwrap(),
        Some(theirs.clone().with_citizen_masked())
    );
    assert_eq!(
        store.get_opinion(own.id).await.unwrap(),
        Some(own.clone().with_citizen_masked())
    );
    assert_eq!(
        store.server_state(theirs.id).await.unwrap(),
        Some(theirs_state.with_citizen_masked())
    );
    assert_eq!(store.pull_cursor().await.unwrap(), Cursor(7));
    assert_eq!(
        store.outbox_counts().await.unwrap(),
        (1, 0),
        "the outbox is untouched"
    );

    // The clock observed the pulled stamp: the next local change sorts after it even though
    // the device clock is far behind.
    let next = opinion(3, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    store.save_opinion(&next, None).await.unwrap();
    let pending = store.pending_mutations(10).await.unwrap();
    assert!(
        pending[1].hlc > create.hlc,
        "{} !> {}",
        pending[1].hlc,
        create.hlc
    );

    // A later page deletes their record: it goes from the list.
    let delete = Mutation::new(
        other_client(),
        Seq(2),
        Hlc {
            wall_ms: future + 1,
            counter: 0,
            node: other_client(),
        },
        MutationKind::DeleteOpinion { id: theirs.id },
    );
    let deleted = server_state(theirs.id, &[create, delete]);
    store
        .apply_pulled_page(&page(vec![deleted], 9))
        .await
        .unwrap();
    assert_eq!(store.get_opinion(theirs.id).await.unwrap(), None);
    assert_eq!(store.pull_cursor().await.unwrap(), Cursor(9));
    let all = store
        .list_opinions(
            &StationId::from("st-a"),
            &OpinionFilter::default(),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(all.items.len(), 2, "ours stay: {:?}", all.items);
    store.close();
}

#[wasm_bindgen_test]
async fn a_reset_forgets_pulled_records_but_keeps_unsynced_and_refused_work() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-pull-reset", &clock).await;
    let refused = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    let acknowledged = opinion(2, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    let pending = opinion(3, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    for o in [&refused, &acknowledged, &pending] {
        store.save_opinion(o, None).await.unwrap();
    }
    store
        .apply_push_response(&push_response(2, &[(1, RejectCode::Invalid, "bad")]))
        .await
        .unwrap();
    let theirs = opinion(4, "st-a", "parking", OutcomeKind::ToBeReferred);
    let create = Mutation::new(
        other_client(),
        Seq(1),
        Hlc {
            wall_ms: 1_700_000_000_000,
            counter: 0,
            node: other_client(),
        },
        MutationKind::CreateOpinion {
            opinion: Box::new(theirs.clone()),
        },
    );
    store
        .apply_pulled_page(&page(vec![server_state(theirs.id, &[create])], 5))
        .await
        .unwrap();

    store.reset_for_full_pull().await.unwrap();
    assert_eq!(store.pull_cursor().await.unwrap(), Cursor::START);
    assert_eq!(store.server_state(theirs.id).await.unwrap(), None);
    assert_eq!(store.get_opinion(theirs.id).await.unwrap(), None);
    // Synced (acknowledged) work is on the server and comes back with the full pull.
    assert_eq!(store.get_opinion(acknowledged.id).await.unwrap(), None);
    assert_eq!(
        store.get_opinion(refused.id).await.unwrap(),
        Some(refused.with_citizen_masked())
    );
    assert_eq!(
        store.get_opinion(pending.id).await.unwrap(),
        Some(pending.with_citizen_masked())
    );
    assert_eq!(store.outbox_counts().await.unwrap(), (1, 1));
    store.close();
}

#[wasm_bindgen_test]
async fn upgrading_from_schema_v3_keeps_the_outbox_and_adds_the_server_states() {
    let name = "test-upgrade-v3";
    Store::delete_database(name).await.unwrap();
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let v3 = Store::open_with(name, 3, test_source(&clock, 1))
        .await
        .unwrap();
    common::unlock(&v3, "deputy").await;
    let captured = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    v3.save_opinion(&captured, None).await.unwrap();
    let client = v3.client_id().await.unwrap();
    let outbox = v3.pending_mutations(10).await.unwrap();
    v3.close();

    let current = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 2))
        .await
        .unwrap();
    common::unlock(&current, "deputy").await;
    assert_eq!(current.version(), migrations::CURRENT_VERSION);
    assert_eq!(current.client_id().await.unwrap(), client);
    assert_eq!(current.pending_mutations(10).await.unwrap(), outbox);
    assert_eq!(current.server_state(captured.id).await.unwrap(), None);
    let state = server_state(captured.id, &outbox);
    current
        .apply_pulled_page(&page(vec![state.clone()], 3))
        .await
        .unwrap();
    assert_eq!(
        current.server_state(captured.id).await.unwrap(),
        Some(state.with_citizen_masked())
    );
    assert_eq!(
        current.get_opinion(captured.id).await.unwrap(),
        Some(captured.with_citizen_masked())
    );
    current.close();
}

#[wasm_bindgen_test]
async fn a_push_answer_deletes_the_acknowledged_runs_around_a_refusal_and_the_next_batch_reads_after_a_seq()
 {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-outbox-runs", &clock).await;
    for n in 0..8 {
        let o = opinion(n, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
        store.save_opinion(&o, None).await.unwrap();
    }
    // The batch after the one on its way: strictly after the given seq, `limit` at a time.
    let after = |seq, limit| {
        let store = store.clone();
        async move {
            seqs(
                &store
                    .pending_mutations_after(Seq(seq), limit)
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(after(0, 3).await, vec![1, 2, 3]);
    assert_eq!(after(5, 2).await, vec![6, 7]);
    assert_eq!(after(7, 10).await, vec![8]);
    assert_eq!(after(8, 10).await, Vec::<u64>::new());

    // A refusal in the middle of the answer: the entries on both sides go, it stays.
    let applied = store
        .apply_push_response(&push_response(5, &[(3, RejectCode::Invalid, "bad")]))
        .await
        .unwrap();
    assert_eq!(applied, 4, "seqs 1, 2, 4 and 5");
    assert_eq!(after(0, 10).await, vec![6, 7, 8]);
    assert_eq!(store.outbox_counts().await.unwrap(), (3, 1));
    // The next answer reaches over the earlier refusal's seq: it is kept all the same.
    let applied = store
        .apply_push_response(&push_response(8, &[(7, RejectCode::Forbidden, "no")]))
        .await
        .unwrap();
    assert_eq!(applied, 2, "seqs 6 and 8");
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 2));
    let refused: Vec<u64> = store
        .rejected_mutations()
        .await
        .unwrap()
        .iter()
        .map(|r| r.mutation.seq.0)
        .collect();
    assert_eq!(refused, vec![3, 7]);
    store.close();
}

#[wasm_bindgen_test]
async fn own_records_pulled_back_are_checked_and_only_what_differs_is_written() {
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = common::fresh_unlocked("test-pull-own-back", &clock).await;
    let same = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    let edited = opinion(2, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    for o in [&same, &edited] {
        store.save_opinion(o, None).await.unwrap();
    }
    let creates = store.pending_mutations(10).await.unwrap();
    assert_eq!(
        store
            .apply_push_response(&push_response(2, &[]))
            .await
            .unwrap(),
        2
    );
    // Someone else changed one of them on the server before the pull.
    let edit = Mutation::new(
        other_client(),
        Seq(1),
        Hlc {
            wall_ms: 1_700_000_200_000,
            counter: 0,
            node: other_client(),
        },
        MutationKind::SetOpinionFields {
            id: edited.id,
            fields: vec![liaison_domain::sync::OpinionFieldValue::Summary(
                "改过的摘要".into(),
            )],
        },
    );
    let states = vec![
        server_state(same.id, &creates[0..1]),
        server_state(edited.id, &[creates[1].clone(), edit]),
    ];
    let probably_shown = [same.id, edited.id].into_iter().collect();
    let changed = store
        .apply_pulled_page_checking(&page(states.clone(), 9), &probably_shown)
        .await
        .unwrap();
    assert_eq!(changed, 2);
    assert_eq!(
        store.get_opinion(same.id).await.unwrap(),
        Some(same.clone().with_citizen_masked())
    );
    let mut expected = edited.clone();
    expected.summary = "改过的摘要".into();
    assert_eq!(
        store.get_opinion(edited.id).await.unwrap(),
        Some(expected.clone().with_citizen_masked())
    );
    for state in &states {
        assert_eq!(
            store.server_state(state.id()).await.unwrap(),
            Some(state.clone().with_citizen_masked()),
            "every server state is written (the citizen masked)"
        );
    }
    assert_eq!(store.pull_cursor().await.unwrap(), Cursor(9));

    // After a reset the records are gone from the tablet: named or not, they come back.
    store.reset_for_full_pull().await.unwrap();
    assert_eq!(store.get_opinion(same.id).await.unwrap(), None);
    store
        .apply_pulled_page_checking(&page(states, 9), &probably_shown)
        .await
        .unwrap();
    assert_eq!(
        store.get_opinion(same.id).await.unwrap(),
        Some(same.with_citizen_masked())
    );
    assert_eq!(
        store.get_opinion(edited.id).await.unwrap(),
        Some(expected.with_citizen_masked())
    );
    store.close();
}
