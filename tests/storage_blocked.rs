//! Opening the store while another tab holds the database open at an older version and ignores
//! `versionchange` (an older app, a page stuck mid-upgrade): the open says it is blocked, keeps
//! waiting, and completes with the data whole once that connection goes; the app shows a notice
//! meanwhile, which goes by itself. While it waits it holds the open lock and, being slow,
//! asks for it exclusively (which has the browser evict a page frozen mid-open); both are let
//! go of once it is open. Real IndexedDB and Web Locks in headless Chromium; the other tab's
//! connection is a raw one opened by a script on the page.

use liaison_app::i18n::{Lang, text};
use liaison_app::storage::{DB_NAME, Store, migrations};
use liaison_domain::OutcomeKind;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

mod common;
use common::dom::{container, find, text_of, until as until_found};
use common::{opinion, test_source};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = "
export function openRaw(name, version) {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(name, version);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.onupgradeneeded = () => reject(new Error('the raw connection must not upgrade'));
  });
}
export async function openLockState() {
  const q = await navigator.locks.query();
  const modes = (locks) => locks.filter(l => l.name === 'liaison-db-open').map(l => l.mode).join(',');
  return `held=${modes(q.held)};pending=${modes(q.pending)}`;
}
")]
extern "C" {
    /// A connection to `name` at `version` with no `versionchange` handler: it never lets go
    /// until closed.
    #[wasm_bindgen(js_name = openRaw)]
    async fn open_raw(name: &str, version: u32) -> JsValue;

    /// The modes in which the open lock `liaison-db-open` is held and asked for (Web Locks'
    /// `query`), as `held=…;pending=…`.
    #[wasm_bindgen(js_name = openLockState)]
    async fn open_lock_state() -> JsValue;
}

/// The open lock's state once it is `expected`, or as it is after `ms`.
async fn open_lock_once(expected: &str, ms: u32) -> String {
    let mut state = String::new();
    for _ in 0..ms / 20 {
        state = open_lock_state().await.as_string().unwrap_or_default();
        if state == expected {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    state
}

/// What the open has come to so far.
type Opened = Rc<RefCell<Option<liaison_app::storage::Result<Store>>>>;

/// Waits (up to `ms`) until `done` holds.
async fn until(ms: u32, done: impl Fn() -> bool) -> bool {
    for _ in 0..ms / 20 {
        if done() {
            return true;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    done()
}

#[wasm_bindgen_test]
async fn an_open_blocked_by_another_tab_says_so_and_completes_when_it_lets_go() {
    const NAME: &str = "test-blocked-open";
    let clock = Rc::new(Cell::new(1_700_000_000_000));
    let older = migrations::CURRENT_VERSION - 1;
    Store::delete_database(NAME).await.unwrap();

    // The database as the older app left it, with a record in it.
    let store = Store::open_with(NAME, older, test_source(&clock, 1))
        .await
        .unwrap();
    let saved = opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot);
    store
        .put_opinions(std::slice::from_ref(&saved))
        .await
        .unwrap();
    store.close();

    // The other tab: holds the older version open and ignores `versionchange`.
    let other: web_sys::IdbDatabase = open_raw(NAME, older).await.unchecked_into();
    assert_eq!(other.version() as u32, older);

    // This tab: the new version's upgrade has to wait for the other tab.
    let blocked = Rc::new(Cell::new(0u32));
    let outcome: Opened = Rc::default();
    {
        let (blocked, outcome) = (Rc::clone(&blocked), Rc::clone(&outcome));
        let source = test_source(&clock, 2);
        wasm_bindgen_futures::spawn_local(async move {
            let opened =
                Store::open_with_on_blocked(NAME, migrations::CURRENT_VERSION, source, move || {
                    blocked.set(blocked.get() + 1)
                })
                .await;
            *outcome.borrow_mut() = Some(opened);
        });
    }
    assert!(
        until(5_000, || blocked.get() > 0).await,
        "the open never said it was blocked"
    );
    assert_eq!(blocked.get(), 1);
    // Still waiting, not failed: a while later it has neither opened nor given up.
    gloo_timers::future::TimeoutFuture::new(300).await;
    assert!(
        outcome.borrow().is_none(),
        "the blocked open ended while the other tab still held the database: {:?}",
        outcome.borrow().as_ref().map(|r| r.as_ref().map(|_| ()))
    );

    // The open holds the open lock, shared, and has been slow long enough to ask for it
    // exclusively: that request is what has the browser evict a page frozen mid-open.
    assert_eq!(
        open_lock_once("held=shared;pending=exclusive", 3_000).await,
        "held=shared;pending=exclusive"
    );

    // The other tab lets go (closed or reloaded): the open completes by itself.
    other.close();
    assert!(
        until(10_000, || outcome.borrow().is_some()).await,
        "the open did not complete once the other tab let go"
    );
    let store = outcome.borrow_mut().take().unwrap().expect("opened");
    assert_eq!(store.version(), migrations::CURRENT_VERSION);
    assert_eq!(blocked.get(), 1, "blocked is said once");
    // Opened: the lock is let go of, and the exclusive request, granted, is let go of too.
    assert_eq!(
        open_lock_once("held=;pending=", 3_000).await,
        "held=;pending="
    );
    let kept = store.get_opinion(saved.id).await.unwrap();
    assert_eq!(
        kept,
        Some(saved.with_citizen_masked()),
        "the record outlives the wait (its citizen masked by the upgrade)"
    );
    store.close();

    // Nobody else holds it: an open is not blocked.
    let again = Rc::new(Cell::new(false));
    let flag = Rc::clone(&again);
    let store = Store::open_with_on_blocked(
        NAME,
        migrations::CURRENT_VERSION,
        test_source(&clock, 3),
        move || flag.set(true),
    )
    .await
    .unwrap();
    assert!(!again.get(), "an open nobody holds up is not blocked");
    // A quick open lets go of its lock too.
    assert_eq!(
        open_lock_once("held=;pending=", 3_000).await,
        "held=;pending="
    );
    store.close();
    Store::delete_database(NAME).await.unwrap();
}

/// The app as the person sees it, on its own database: while another tab holds the older
/// version, a notice says so (after a moment, since a tab of this version lets go by itself);
/// once that tab lets go the app opens and the notice is gone.
#[wasm_bindgen_test]
async fn the_app_says_another_tab_holds_the_data_and_opens_once_it_lets_go() {
    let clock = Rc::new(Cell::new(1_700_000_000_000));
    let older = migrations::CURRENT_VERSION - 1;
    Store::delete_database(DB_NAME).await.unwrap();
    Store::open_with(DB_NAME, older, test_source(&clock, 1))
        .await
        .unwrap()
        .close();
    let other: web_sys::IdbDatabase = open_raw(DB_NAME, older).await.unchecked_into();

    let parent = container();
    // Kept mounted for the page's life, as the app is: its shell's timers outlive this test.
    std::mem::forget(leptos::mount::mount_to(parent.clone(), liaison_app::App));
    let notice = until_found("the blocked notice", || text_of(&parent, ".blocked-notice")).await;
    for key in ["app.blocked_title", "app.blocked"] {
        assert!(
            notice.contains(&text(Lang::Zh, key)),
            "{key} missing from {notice}"
        );
    }
    assert!(find(&parent, ".topbar").is_none(), "opened while blocked");

    other.close();
    until_found("the app opened", || find(&parent, ".topbar")).await;
    assert!(
        find(&parent, ".blocked-notice").is_none(),
        "the notice stays after the app opened"
    );
}
