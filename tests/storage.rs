//! The storage module against the browser's real IndexedDB (headless Chromium through
//! wasm-bindgen-test). Each test uses its own database name and deletes it first.

use liaison_app::storage::{DraftKey, NewPhoto, Store, migrations};
use liaison_domain::opinion::OpinionFilter;
use liaison_domain::{
    DutyContext, Opinion, OpinionDraft, OpinionId, OutcomeKind, PhotoId, StationId,
};
use wasm_bindgen_test::*;

mod common;
use common::{context, opinion};

wasm_bindgen_test_configure!(run_in_browser);

async fn fresh(name: &str) -> Store {
    Store::delete_database(name).await.unwrap();
    Store::open_named(name).await.unwrap()
}

#[wasm_bindgen_test]
async fn an_opinion_round_trips_with_every_field() {
    let store = fresh("test-round-trip").await;
    let saved = opinion(1, "st-a", "parking", OutcomeKind::NotAccepted);
    store.save_opinion(&saved, None).await.unwrap();
    let loaded = store.get_opinion(saved.id).await.unwrap().expect("stored");
    assert_eq!(loaded, saved);
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
    store.close();
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
    assert_eq!(current.version(), migrations::CURRENT_VERSION);
    for o in &old {
        assert_eq!(current.get_opinion(o.id).await.unwrap().as_ref(), Some(o));
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
    current.close();
}

#[wasm_bindgen_test]
async fn an_open_tab_lets_go_when_another_tab_opens_a_newer_version() {
    let name = "test-version-change";
    Store::delete_database(name).await.unwrap();
    let older = Store::open_at_version(name, 1).await.unwrap();
    let notified = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = notified.clone();
    let handle = older.clone();
    older.on_newer_version(move || {
        seen.set(true);
        handle.close();
    });
    // Without the handler this open would wait forever on the older connection.
    let newer = Store::open_named(name).await.unwrap();
    assert!(notified.get());
    assert_eq!(newer.version(), migrations::CURRENT_VERSION);
    newer.close();
}
