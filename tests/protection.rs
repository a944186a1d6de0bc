//! Protected tablets (issue 6) against real IndexedDB and WebCrypto in headless Chromium: what
//! the stores hold is read raw (every record of every store, as a script on the page sees it)
//! and must not contain a citizen's name, phone or address in clear; a draft and an unsynced
//! record open only for the account that made them; a locked account's work is still pushed
//! with its key from the server; the PIN flow counts wrong PINs and gives up after five.

use liaison_app::crypto::{DataKey, WrappingKey, random};
use liaison_app::protection::{self, AfterSignIn, UnlockError};
use liaison_app::storage::{DraftKey, StorageError, Store, migrations};
use liaison_app::sync::api::{Session, SignedInUser};
use liaison_domain::sync::{Change, Cursor, Mutation, MutationKind, OpinionReplica, PullResponse};
use liaison_domain::{DutyContext, OpinionDraft, OutcomeKind, Role};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

mod common;
use common::{opinion, test_source};

wasm_bindgen_test_configure!(run_in_browser);

/// The personal data of `common::opinion`'s citizen, and of the draft below.
const SECRETS: [&str; 4] = ["张三", "13812341234", "王小明", "幸福里3号楼2单元"];

#[wasm_bindgen(inline_js = "
export async function dump(name) {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const names = Array.from(db.objectStoreNames);
  const out = {};
  await new Promise((resolve, reject) => {
    const tx = db.transaction(names, 'readonly');
    for (const n of names) {
      const q = tx.objectStore(n).getAll();
      q.onsuccess = () => { out[n] = q.result; };
    }
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
  return JSON.stringify(out, (k, v) => (v instanceof Blob) ? '[blob]' : v);
}
")]
extern "C" {
    /// Every record of every store of database `name`, as JSON text.
    async fn dump(name: &str) -> JsValue;
}

async fn raw(name: &str) -> String {
    dump(name).await.as_string().expect("the dump is text")
}

fn assert_no_personal_data(raw: &str, when: &str) {
    for secret in SECRETS {
        assert!(!raw.contains(secret), "{when}: {secret} is stored in clear");
    }
}

async fn fresh(name: &str, clock: &Rc<Cell<u64>>) -> Store {
    Store::delete_database(name).await.unwrap();
    Store::open_with(name, migrations::CURRENT_VERSION, test_source(clock, 1))
        .await
        .unwrap()
}

/// A data key as a PIN unlock gives one (wrapped by a throwaway key: no PBKDF2 here).
async fn some_key() -> DataKey {
    let wrapping = WrappingKey::from_bytes(&random::<32>().unwrap())
        .await
        .unwrap();
    DataKey::generate(&[&wrapping]).await.unwrap().0
}

fn draft() -> OpinionDraft {
    OpinionDraft {
        category: "parking".into(),
        summary: "楼道堆物".into(),
        citizen_name: "王小明".into(),
        citizen_phone: "13812341234".into(),
        citizen_address: "幸福里3号楼2单元".into(),
        consent: true,
        ..OpinionDraft::default()
    }
}

fn duty(deputy: &str) -> DutyContext {
    DutyContext {
        station_id: "st-a".into(),
        deputy_id: deputy.into(),
    }
}

#[wasm_bindgen_test]
async fn personal_data_is_stored_only_sealed_and_nothing_is_saved_while_locked() {
    let name = "test-protected-at-rest";
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = fresh(name, &clock).await;
    let record = opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);

    // Locked: neither the record nor a draft with personal data is written.
    assert_eq!(
        store.save_opinion(&record, None).await,
        Err(StorageError::Locked)
    );
    let key = DraftKey::for_context(&duty("deputy-1"));
    assert_eq!(
        store.save_draft(&key, &draft(), 1).await,
        Err(StorageError::Locked)
    );
    assert_eq!(store.get_opinion(record.id).await.unwrap(), None);
    assert_eq!(store.outbox_counts().await.unwrap(), (0, 0));

    // Unlocked: saved, shown masked, pushed whole.
    store.keys().unlock("deputy-a", some_key().await);
    store.save_opinion(&record, None).await.unwrap();
    store.save_draft(&key, &draft(), 2).await.unwrap();
    let shown = store.get_opinion(record.id).await.unwrap().unwrap();
    assert_eq!(shown, record.clone().with_citizen_masked());
    assert_eq!(shown.citizen.name.as_deref(), Some("张*"));
    let push = store.pending_mutations(10).await.unwrap();
    match &push[0].kind {
        MutationKind::CreateOpinion { opinion } => assert_eq!(**opinion, record),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.load_draft(&key).await.unwrap(), Some(draft()));
    assert_no_personal_data(&raw(name).await, "after saving");

    // Locked again: the draft does not open and the push waits.
    store.keys().lock();
    assert_eq!(store.load_draft(&key).await.unwrap(), None);
    assert_eq!(store.pending_mutations(10).await, Err(StorageError::Locked));
    store.close();
}

#[wasm_bindgen_test]
async fn another_account_sees_no_draft_and_a_locked_accounts_work_waits_for_its_key() {
    let name = "test-protected-two-accounts";
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = fresh(name, &clock).await;
    let key_a = some_key().await;
    let key_b = some_key().await;
    let duty_key = DraftKey::for_context(&duty("deputy-1"));

    store.keys().unlock("deputy-a", key_a.clone());
    store.save_draft(&duty_key, &draft(), 1).await.unwrap();
    let a_record = opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);
    store.save_opinion(&a_record, None).await.unwrap();

    // B on the same tablet, even on the same duty: no draft; A's work does not open for B.
    store.keys().unlock("deputy-b", key_b);
    assert_eq!(store.load_draft(&duty_key).await.unwrap(), None);
    assert_eq!(
        store.outbox_accounts_locked().await.unwrap(),
        vec!["deputy-a".to_owned()]
    );
    assert_eq!(
        store.pending_mutations(10).await,
        Err(StorageError::Locked),
        "A's record is first in the outbox: nothing is pushed past it"
    );
    // B's own record queues behind A's.
    let b_record = opinion(2, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    store.save_opinion(&b_record, None).await.unwrap();

    // With A's key from the server (for the push only), both go, in order and whole.
    store.keys().add_for_push("deputy-a", key_a);
    let push: Vec<Mutation> = store.pending_mutations(10).await.unwrap();
    let pushed: Vec<_> = push
        .iter()
        .map(|m| match &m.kind {
            MutationKind::CreateOpinion { opinion } => (**opinion).clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(pushed, vec![a_record, b_record]);
    store.keys().forget_others();
    assert!(!store.keys().has_key_of("deputy-a"));
    assert_eq!(store.keys().unlocked().as_deref(), Some("deputy-b"));
    assert_no_personal_data(&raw(name).await, "two accounts");
    store.close();
}

#[wasm_bindgen_test]
async fn pulled_records_are_kept_with_the_citizen_masked() {
    let name = "test-protected-pull";
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = fresh(name, &clock).await;
    let theirs = opinion(7, "st-a", "parking", OutcomeKind::ToBeReferred);
    let client = liaison_domain::ClientId::new_v7(1_700_000_000_000, [0xEE; 10]);
    let create = Mutation::new(
        client,
        liaison_domain::sync::Seq(1),
        liaison_domain::sync::Hlc {
            wall_ms: 1_700_000_000_500,
            counter: 0,
            node: client,
        },
        MutationKind::CreateOpinion {
            opinion: Box::new(theirs.clone()),
        },
    );
    let mut state = OpinionReplica::new(theirs.id);
    state.apply(&create);
    let page = PullResponse {
        changes: vec![Change::Opinion {
            cursor: Cursor(1),
            state,
        }],
        next_cursor: Cursor(1),
        more: false,
        reset_required: false,
    };
    // Nobody needs to be unlocked to take in a pull: nothing of it is kept in clear.
    store.apply_pulled_page(&page).await.unwrap();
    assert_eq!(
        store.get_opinion(theirs.id).await.unwrap(),
        Some(theirs.clone().with_citizen_masked())
    );
    assert_no_personal_data(&raw(name).await, "after a pull");
    store.close();
}

fn deputy_session(username: &str) -> Session {
    Session {
        token: format!("token-of-{username}"),
        user: SignedInUser {
            id: format!("user-{username}"),
            username: username.into(),
            display_name: format!("{username} 代表"),
            role: Role::Deputy,
            deputy_id: Some("deputy-1".into()),
            // Not on an enrolled tablet: no server key is asked for (no server here).
            device: None,
            session_expires_at: 0,
            unit_id: None,
            scopes: Vec::new(),
        },
    }
}

#[wasm_bindgen_test]
async fn a_pin_unlocks_offline_and_five_wrong_ones_wait_without_a_server_copy_or_delete_it_with_one()
 {
    let name = "test-protected-pin";
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = fresh(name, &clock).await;
    let session = deputy_session("deputy-a");

    let setup = match protection::after_sign_in(&store, &session).await.unwrap() {
        AfterSignIn::ChoosePin(setup) => setup,
        other => panic!("a first sign-in chooses a PIN: {other:?}"),
    };
    assert!(matches!(
        protection::choose_pin(&store, &setup, "123456", "123456").await,
        Err(UnlockError::Pin(_))
    ));
    protection::choose_pin(&store, &setup, "275913", "275913")
        .await
        .unwrap();
    assert_eq!(store.keys().unlocked().as_deref(), Some("deputy-a"));
    let record = opinion(3, "st-a", "parking", OutcomeKind::ToBeReferred);
    store.save_opinion(&record, None).await.unwrap();
    let raw_now = raw(name).await;
    assert_no_personal_data(&raw_now, "after the PIN was set");
    assert!(
        !raw_now.contains("token-of-deputy-a"),
        "the session is sealed"
    );

    // Locked, then unlocked with the PIN (no network): the session and the work open again.
    protection::lock(&store).await;
    assert_eq!(store.keys().unlocked(), None);
    let again = protection::unlock_with_pin(&store, "deputy-a", "275913", None)
        .await
        .unwrap();
    assert_eq!(again, Some(session.clone()));
    assert_eq!(store.pending_mutations(10).await.unwrap().len(), 1);

    // A signed-in again account is asked for its PIN (no server key off an enrolled tablet).
    assert!(matches!(
        protection::after_sign_in(&store, &session).await.unwrap(),
        AfterSignIn::EnterPin
    ));

    // Wrong PINs: four tries left, then three, ... This browser was never enrolled, so the
    // server keeps no copy of the key: the fifth wrong PIN keeps the PIN (deleting it would lose
    // the unsynced record for good) and makes the next try wait, the right PIN included.
    protection::lock(&store).await;
    for left in (1..=4).rev() {
        assert_eq!(
            protection::unlock_with_pin(&store, "deputy-a", "864209", None).await,
            Err(UnlockError::WrongPin { left })
        );
    }
    assert_eq!(
        protection::unlock_with_pin(&store, "deputy-a", "864209", None).await,
        Err(UnlockError::TryLater { seconds: 30 })
    );
    assert!(matches!(
        protection::unlock_with_pin(&store, "deputy-a", "275913", None).await,
        Err(UnlockError::TryLater { .. })
    ));
    assert_eq!(store.keys().unlocked(), None);
    // Once the wait is over (moved back here rather than waited for), the right PIN opens it.
    let mut keys = store.account_keys_of("deputy-a").await.unwrap().unwrap();
    assert!(keys.pin.is_some(), "the PIN is kept");
    keys.attempts.last_failed_at_ms = Some(0);
    store.put_account_keys(&keys).await.unwrap();
    protection::unlock_with_pin(&store, "deputy-a", "275913", None)
        .await
        .unwrap();
    assert_eq!(store.pending_mutations(10).await.unwrap().len(), 1);

    // Where the server keeps a copy (an enrolled tablet), the fifth wrong PIN deletes the PIN.
    protection::lock(&store).await;
    let mut keys = store.account_keys_of("deputy-a").await.unwrap().unwrap();
    keys.server_wrapped = Some(vec![1, 2, 3]);
    store.put_account_keys(&keys).await.unwrap();
    for left in (1..=4).rev() {
        assert_eq!(
            protection::unlock_with_pin(&store, "deputy-a", "864209", None).await,
            Err(UnlockError::WrongPin { left })
        );
    }
    assert_eq!(
        protection::unlock_with_pin(&store, "deputy-a", "864209", None).await,
        Err(UnlockError::PinUsedUp)
    );
    assert_eq!(
        protection::unlock_with_pin(&store, "deputy-a", "275913", None).await,
        Err(UnlockError::PinUsedUp),
        "not even the right PIN opens now"
    );
    assert_eq!(store.keys().unlocked(), None);
    assert!(
        store
            .account_keys_of("deputy-a")
            .await
            .unwrap()
            .unwrap()
            .pin
            .is_none()
    );
    store.close();
}

#[wasm_bindgen_test]
async fn a_reload_resumes_within_the_idle_time_and_a_lock_ends_that() {
    let name = "test-protected-resume";
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = fresh(name, &clock).await;
    let session = deputy_session("deputy-r");
    let AfterSignIn::ChoosePin(setup) = protection::after_sign_in(&store, &session).await.unwrap()
    else {
        panic!("a first sign-in chooses a PIN");
    };
    protection::choose_pin(&store, &setup, "275913", "275913")
        .await
        .unwrap();
    store.close();

    // "Reload": a new connection with nothing in memory, in the same tab.
    let reopened = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    assert_eq!(reopened.keys().unlocked(), None);
    let (keys, resumed_session) = protection::resume(&reopened).await.expect("resumed");
    assert_eq!(keys.username, "deputy-r");
    assert_eq!(resumed_session, Some(session));
    assert_eq!(reopened.keys().unlocked().as_deref(), Some("deputy-r"));

    // Locked: the resume wrapping is gone, and a reload finds nothing to resume.
    protection::lock(&reopened).await;
    assert!(
        reopened
            .account_keys_of("deputy-r")
            .await
            .unwrap()
            .unwrap()
            .resume
            .is_none()
    );
    assert!(protection::resume(&reopened).await.is_none());
    reopened.close();
}

#[wasm_bindgen_test]
async fn a_deputy_lists_and_counts_only_its_own_records() {
    use liaison_domain::opinion::OpinionFilter;
    let name = "test-protected-own-records";
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = fresh(name, &clock).await;
    store.keys().unlock("deputy-a", some_key().await);
    let mut saved = Vec::new();
    for n in 0..5 {
        let mut record = opinion(n, "st-a", "parking", OutcomeKind::ToBeReferred);
        if n % 2 == 1 {
            record.deputy_id = "deputy-2".into();
        }
        store.save_opinion(&record, None).await.unwrap();
        saved.push(record);
    }
    let station = "st-a".into();
    let own = |deputy: &str| OpinionFilter {
        deputy_id: Some(deputy.into()),
        ..OpinionFilter::default()
    };
    let page = store
        .list_opinions(&station, &own("deputy-2"), None, 10)
        .await
        .unwrap();
    let ids: Vec<_> = page.items.iter().map(|o| o.id).collect();
    assert_eq!(
        ids,
        vec![saved[3].id, saved[1].id],
        "newest first, only its own"
    );
    // Paged: one at a time still walks only its own.
    let first = store
        .list_opinions(&station, &own("deputy-1"), None, 1)
        .await
        .unwrap();
    assert_eq!(first.items[0].id, saved[4].id);
    let rest = store
        .list_opinions(&station, &own("deputy-1"), first.next_after, 10)
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![saved[2].id, saved[0].id]
    );
    assert_eq!(
        store
            .count_deputy_opinions(&station, &"deputy-2".into())
            .await
            .unwrap(),
        2
    );
    assert_eq!(store.count_opinions(&station).await.unwrap(), 5);
    store.close();
}

#[wasm_bindgen(inline_js = "
export async function stored_photo_text(name, id) {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const record = await new Promise((resolve, reject) => {
    const q = db.transaction(['photos'], 'readonly').objectStore('photos').get(id);
    q.onsuccess = () => resolve(q.result);
    q.onerror = () => reject(q.error);
  });
  db.close();
  return await record.blob.text();
}
")]
extern "C" {
    /// The bytes of photo `id` as stored in database `name`, read as text.
    async fn stored_photo_text(name: &str, id: &str) -> JsValue;
}

#[wasm_bindgen_test]
async fn a_photo_is_stored_sealed_and_opens_only_for_its_account() {
    use liaison_app::storage::NewPhoto;
    let name = "test-protected-photo";
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = fresh(name, &clock).await;
    const MARK: &str = "a picture of 王小明 at 13812341234";
    let plain = js_sys::Array::of1(&js_sys::Uint8Array::from(MARK.as_bytes()));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("image/jpeg");
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&plain, &options).unwrap();
    let id = liaison_domain::PhotoId::new_v7(1_700_000_000_000, [9; 10]);
    let draft = DraftKey::for_context(&duty("deputy-1"));
    let photo = NewPhoto {
        id,
        blob: blob.clone(),
        width: 1,
        height: 1,
    };
    assert_eq!(
        store.put_draft_photo(&draft, photo).await.map(|_| ()),
        Err(StorageError::Locked),
        "not stored while locked"
    );

    store.keys().unlock("deputy-a", some_key().await);
    let photo = NewPhoto {
        id,
        blob,
        width: 1,
        height: 1,
    };
    let reference = store.put_draft_photo(&draft, photo).await.unwrap();
    assert_eq!(reference.bytes as usize, MARK.len());
    assert_eq!(reference.mime, "image/jpeg");
    let raw = stored_photo_text(name, &id.to_string())
        .await
        .as_string()
        .unwrap();
    assert!(
        !raw.contains("王小明") && !raw.contains("13812341234"),
        "sealed: {raw}"
    );

    let opened = store
        .photo_blob(id)
        .await
        .unwrap()
        .expect("opens for its account");
    assert_eq!(opened.type_(), "image/jpeg");
    let text = wasm_bindgen_futures::JsFuture::from(opened.text())
        .await
        .unwrap();
    assert_eq!(text.as_string().unwrap(), MARK);

    store.keys().unlock("deputy-b", some_key().await);
    assert!(
        store.photo_blob(id).await.unwrap().is_none(),
        "not for another account"
    );
    store.close();
}
