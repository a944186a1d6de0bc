//! Fixtures shared by the browser test binaries (each `tests/*.rs` includes this with
//! `mod common;`). Not every binary uses every fixture.
#![allow(dead_code)]

pub mod dom;
pub mod net;

use std::cell::Cell;
use std::rc::Rc;

use liaison_app::storage::Source;
use liaison_domain::{
    DutyContext, Opinion, OpinionDraft, OpinionId, OutcomeKind, RedirectChannel, default_categories,
};

/// A back-office session of the test account `office` with `role`.
pub fn office_session(role: liaison_domain::Role) -> liaison_app::sync::api::Session {
    liaison_app::sync::api::Session {
        token: "test-token".into(),
        user: liaison_app::sync::api::SignedInUser {
            id: "user-1".into(),
            username: "office".into(),
            display_name: "办公室".into(),
            role,
            deputy_id: None,
            device: None,
            session_expires_at: 0,
            unit_id: None,
            scopes: Vec::new(),
        },
    }
}

pub fn context(station: &str) -> DutyContext {
    DutyContext {
        station_id: station.into(),
        deputy_id: "deputy-1".into(),
    }
}

/// A fully filled opinion, validated by the domain's rules, with id number `n`: ids (and so the
/// records list) are ordered by `n`.
pub fn opinion(n: u64, station: &str, category: &str, outcome: OutcomeKind) -> Opinion {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&n.to_be_bytes());
    let draft = OpinionDraft {
        category: category.into(),
        summary: format!("意见 {n}: 小区停车难"),
        details: format!("details {n}"),
        place: "幸福里".into(),
        citizen_name: "张三".into(),
        citizen_phone: "13812341234".into(),
        consent: true,
        on_site_reply: "已答复".into(),
        outcome: Some(outcome),
        channel: Some(RedirectChannel::Petition),
        ..OpinionDraft::default()
    };
    draft
        .validate(
            OpinionId::new_v7(1_700_000_000_000 + n, random),
            Some(&context(station)),
            &default_categories(),
            1_700_000_000_000 + n,
        )
        .unwrap()
}

/// A storage time source whose clock the test sets (it may go backwards) and whose "random"
/// bytes are all `random`.
pub fn test_source(clock: &Rc<Cell<u64>>, random: u8) -> Source {
    let clock = Rc::clone(clock);
    Source::new(move || clock.get(), move || [random; 10])
}

/// A fresh database `name` (deleted first) on the given clock, with the account `deputy`
/// unlocked: a store ready to save records with personal data.
pub async fn fresh_unlocked(name: &str, clock: &Rc<Cell<u64>>) -> liaison_app::storage::Store {
    use liaison_app::storage::{Store, migrations};
    Store::delete_database(name).await.unwrap();
    let store = Store::open_with(name, migrations::CURRENT_VERSION, test_source(clock, 1))
        .await
        .unwrap();
    unlock(&store, "deputy").await;
    store
}

/// The account a step is recorded by: `user-<role>`, named after its role.
pub fn actor(role: liaison_domain::Role) -> liaison_domain::followup::Actor {
    liaison_domain::followup::Actor {
        user_id: format!("user-{}", role.as_str()),
        name: format!("{} account", role.as_str()),
        role,
        unit_id: (role == liaison_domain::Role::HandlingUnit).then(|| "unit-1".into()),
    }
}

/// A follow-up step with id number `n`, taken at `at_ms`.
pub fn step(
    n: u8,
    by: liaison_domain::followup::Actor,
    action: liaison_domain::followup::Action,
    at_ms: u64,
) -> liaison_domain::followup::FollowUp {
    liaison_domain::followup::FollowUp {
        id: liaison_domain::FollowUpId::new_v7(at_ms, [n; 10]),
        at_ms,
        by,
        action,
    }
}

/// Unlocks `store` as the account `username` with that account's data key in this test binary
/// (made once, wrapped by a throwaway key: what a PIN unlock gives, without the PIN's slow key
/// derivation). The same account gets the same key in every store it unlocks, so what one
/// connection sealed opens in the next (an upgrade, a reload). Records with a citizen's
/// personal data are saved only while an account is unlocked.
pub async fn unlock(store: &liaison_app::storage::Store, username: &str) {
    use liaison_app::crypto::{DataKey, WrappingKey, random};
    thread_local! {
        static KEYS: std::cell::RefCell<std::collections::HashMap<String, DataKey>> =
            std::cell::RefCell::default();
    }
    let known = KEYS.with(|keys| keys.borrow().get(username).cloned());
    let key = match known {
        Some(key) => key,
        None => {
            let wrapping = WrappingKey::from_bytes(&random::<32>().unwrap())
                .await
                .unwrap();
            let (key, _) = DataKey::generate(&[&wrapping]).await.unwrap();
            KEYS.with(|keys| keys.borrow_mut().insert(username.to_owned(), key.clone()));
            key
        }
    };
    store.keys().unlock(username, key);
}
