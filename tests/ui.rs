//! Pieces of the screens mounted in the browser and driven through the DOM, as a person would:
//! signing out while entries wait to be sent, and the id a step form sends.

use leptos::prelude::*;
use liaison_app::components::item::{ItemData, ItemPanel, StepFailure, StepSubmission};
use liaison_app::i18n::{I18n, text, text_with};
use liaison_app::pages::sync::SignOut;
use liaison_app::state::AppState;
use liaison_app::storage::{Store, migrations};
use liaison_app::sync::api::{Session, SignedInUser};
use liaison_domain::followup::{
    Action as StepAction, ActionKind, AttendanceKey, AttendanceMark, Date, Lifecycle, Mark,
};
use liaison_domain::{OutcomeKind, Role};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen_test::*;

mod common;
use common::dom::{click, container, find, until};
use common::{opinion, test_source};

wasm_bindgen_test_configure!(run_in_browser);

/// The app's state over a fresh database, with a deputy signed in.
async fn signed_in_app(name: &str) -> AppState {
    Store::delete_database(name).await.unwrap();
    let clock = Rc::new(Cell::new(1_700_000_100_000));
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(&clock, 1))
        .await
        .unwrap();
    common::unlock(&store, "deputy").await;
    let app = AppState::load(store).await;
    app.sync.session.set(Some(Session {
        token: "test-token".into(),
        user: SignedInUser {
            id: "user-deputy".into(),
            username: "deputy".into(),
            display_name: "张代表".into(),
            role: Role::Deputy,
            deputy_id: Some("deputy-1".into()),
            device: None,
            session_expires_at: 0,
            unit_id: None,
            scopes: Vec::new(),
        },
    }));
    app
}

#[wasm_bindgen_test]
async fn signing_out_with_entries_waiting_says_how_many_and_keeps_them() {
    let app = signed_in_app("test-ui-sign-out-waiting").await;
    let store = app.store();
    store
        .save_opinion(
            &opinion(1, "st-a", "parking", OutcomeKind::AnsweredOnSpot),
            None,
        )
        .await
        .unwrap();
    store
        .mark_attendance(&AttendanceMark {
            key: AttendanceKey {
                station_id: "st-a".into(),
                deputy_id: "deputy-1".into(),
                day: Date::parse("2023-11-15").unwrap(),
            },
            mark: Mark::SignIn,
            at_ms: 1_700_000_100_000,
        })
        .await
        .unwrap();
    assert_eq!(store.outbox_counts().await.unwrap(), (2, 0));
    let i18n = I18n::load();
    let lang = i18n.lang.get_untracked();
    let parent = container();
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <SignOut/> }
    });

    // Asked first: how many wait, that they stay and go at the next sign-in on this tablet.
    click(&parent, "#sign-out").await;
    let warning = until("the warning", || find(&parent, "#sign-out-warning")).await;
    assert_eq!(warning.get_attribute("data-entries").as_deref(), Some("2"));
    let said = warning.text_content().unwrap_or_default();
    assert!(said.contains(&text_with(
        lang,
        "account.sign_out_entries_waiting",
        &[("n", "2".into())]
    )));
    assert!(said.contains(&text(lang, "account.sign_out_kept")));
    assert!(
        app.sync.session.get_untracked().is_some(),
        "not yet signed out"
    );

    // Staying signed in keeps the session.
    click(&parent, "#sign-out-cancel").await;
    until("the sign-out button again", || find(&parent, "#sign-out")).await;
    assert!(find(&parent, "#sign-out-warning").is_none());
    assert!(app.sync.session.get_untracked().is_some());

    // Signing out all the same keeps every entry for the next sign-in.
    click(&parent, "#sign-out").await;
    click(&parent, "#sign-out-confirm").await;
    until("the sign-out", || {
        app.sync.session.get_untracked().is_none().then_some(())
    })
    .await;
    assert_eq!(store.outbox_counts().await.unwrap(), (2, 0));
    parent.remove();
}

#[wasm_bindgen_test]
async fn signing_out_with_nothing_waiting_asks_nothing() {
    let app = signed_in_app("test-ui-sign-out-nothing").await;
    let i18n = I18n::load();
    let parent = container();
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        view! { <SignOut/> }
    });
    click(&parent, "#sign-out").await;
    until("the sign-out", || {
        app.sync.session.get_untracked().is_none().then_some(())
    })
    .await;
    assert!(find(&parent, "#sign-out-warning").is_none());
    parent.remove();
}

#[wasm_bindgen_test]
async fn a_step_form_sends_the_id_it_made_when_it_opened_on_every_resend() {
    let app = signed_in_app("test-ui-step-id").await;
    let i18n = I18n::load();
    let lang = i18n.lang.get_untracked();
    let item = opinion(1, "st-a", "parking", OutcomeKind::ToBeReferred);
    let data = ItemData {
        lifecycle: Lifecycle::replay(&item.outcome, []),
        citizen_masked: None,
        steps: Vec::new(),
        colour: None,
        available: Some(vec![ActionKind::Accept, ActionKind::Archive]),
        unsynced: Vec::new(),
        opinion: item,
    };
    // Every submission is kept; each "fails" without an answer, as a lost POST does.
    let sent = RwSignal::new(Vec::<StepSubmission>::new());
    let parent = container();
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(i18n);
        provide_context(app);
        let submit = Action::new_local(move |submission: &StepSubmission| {
            sent.update(|s| s.push(submission.clone()));
            async { Err(StepFailure::Message("item.step_outcome_unknown".into())) }
        });
        view! {
            <ItemPanel
                item=Signal::derive(move || data.clone())
                role=Signal::derive(|| Some(Role::OfficeStaff))
                units=Signal::derive(Vec::new)
                calendar=Signal::derive(|| None)
                submit=submit
                saves_hint="item.saved_on_server"
            />
        }
    });
    let sent_count = move |n: usize| move || (sent.with_untracked(Vec::len) == n).then_some(());

    click(&parent, "#step-accept").await;
    click(&parent, "#step-submit").await;
    until("the first submission", sent_count(1)).await;
    // The page's message: the step may have been saved; look at the history first.
    let error = until("the message", || {
        find(&parent, "#step-error").filter(|e| {
            e.text_content().unwrap_or_default() == text(lang, "item.step_outcome_unknown")
        })
    })
    .await;
    assert!(error.is_connected());
    // Sent again from the same form: the same id, so the server takes it once.
    click(&parent, "#step-submit").await;
    until("the resend", sent_count(2)).await;
    // A form opened anew is a new step with a new id.
    click(&parent, "#step-cancel").await;
    until("the form to close", || {
        find(&parent, "#step-submit").is_none().then_some(())
    })
    .await;
    click(&parent, "#step-accept").await;
    click(&parent, "#step-submit").await;
    until("the third submission", sent_count(3)).await;
    let sent = sent.get_untracked();
    assert!(sent.iter().all(|s| s.action == StepAction::Accept));
    assert_eq!(sent[0].id, sent[1].id);
    assert_ne!(sent[2].id, sent[0].id);
    parent.remove();
}

#[wasm_bindgen_test]
fn the_duty_picker_is_on_the_tablets_pages_only() {
    use liaison_app::app::is_tablet_page;
    for path in [
        "/",
        "/records",
        "/records/0190a8b4-0000-7000-8000-000000000001",
        "/sync",
    ] {
        assert!(is_tablet_page(path), "{path}");
    }
    for path in [
        "/ledger",
        "/items/0190a8b4-0000-7000-8000-000000000001",
        "/duty",
        "/audit",
    ] {
        assert!(!is_tablet_page(path), "{path}");
    }
}
