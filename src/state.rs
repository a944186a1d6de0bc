//! What every screen shares: the open local store, the directory copy, the duty context, and
//! whether the device is online. Provided once through context by [`crate::app::App`].

use crate::storage::{Store, settings::keys};
use crate::sync::SyncEngine;
use leptos::prelude::*;
use liaison_domain::{Directory, DutyContext, default_categories};

#[derive(Clone, Copy)]
pub struct AppState {
    /// IndexedDB handles are not `Send`; the app is single-threaded, so keep it local.
    store: StoredValue<Store, LocalStorage>,
    pub directory: RwSignal<Directory>,
    pub duty: RwSignal<Option<DutyContext>>,
    /// Whether the server answers: the browser's `navigator.onLine` says only that some
    /// network exists (a station Wi-Fi without uplink or a captive portal also counts).
    pub online: RwSignal<bool>,
    /// Bumped whenever records change, so lists reload.
    pub records_version: RwSignal<u32>,
    /// Asks every screen to write what it holds in memory now (before the app lets go of
    /// storage for a newer version in another tab).
    pub flush: Trigger,
    /// The sync engine and the status it shows.
    pub sync: SyncEngine,
}

impl AppState {
    /// Loads what the store remembers (directory copy, duty context).
    pub async fn load(store: Store) -> AppState {
        let mut directory: Directory = match store.get_setting(keys::DIRECTORY).await {
            Ok(Some(directory)) => directory,
            _ => Directory::default(),
        };
        if directory.categories.is_empty() {
            directory.categories = default_categories();
        }
        let duty: Option<DutyContext> = store.get_setting(keys::DUTY_CONTEXT).await.ok().flatten();
        let sync = SyncEngine::load(&store).await;
        AppState {
            store: StoredValue::new_local(store),
            directory: RwSignal::new(directory),
            duty: RwSignal::new(duty),
            online: RwSignal::new(false),
            records_version: RwSignal::new(0),
            flush: Trigger::new(),
            sync,
        }
    }

    pub fn store(&self) -> Store {
        self.store.get_value()
    }

    /// Asks the server whether it is there, and shows the answer. A captive portal answering
    /// HTML with 200 does not count: the answer must be our JSON.
    pub async fn check_server(&self) -> bool {
        #[derive(serde::Deserialize)]
        struct Health {
            status: String,
        }
        let reachable = match gloo_net::http::Request::get("/api/health").send().await {
            Ok(response) if response.ok() => response
                .json::<Health>()
                .await
                .is_ok_and(|h| h.status == "ok"),
            _ => false,
        };
        self.online.set(reachable && crate::platform::is_online());
        reachable
    }

    /// Fetches the directory from the server when it answers and keeps a copy for offline use.
    /// Failure is quiet: the copy from last time stays in use.
    pub async fn refresh_directory(&self) {
        if !self.check_server().await {
            return;
        }
        let Ok(response) = gloo_net::http::Request::get("/api/v1/directory")
            .send()
            .await
        else {
            return;
        };
        if !response.ok() {
            return;
        }
        let Ok(mut directory) = response.json::<Directory>().await else {
            return;
        };
        if directory.categories.is_empty() {
            directory.categories = default_categories();
        }
        if self
            .store()
            .set_setting(keys::DIRECTORY, &directory)
            .await
            .is_ok()
        {
            self.directory.set(directory);
        }
    }

    /// Runs a sync round now (the "sync now" button, sign-in, the network coming back).
    pub fn sync_now(&self) {
        self.sync.reset_backoff();
        self.sync.sync_now(self.store(), self.records_version);
    }

    /// A record was saved on this tablet: push it soon.
    pub fn local_change(&self) {
        self.records_version.update(|v| *v += 1);
        self.sync.local_change(self.store(), self.records_version);
    }

    pub async fn set_duty(&self, duty: DutyContext) {
        let _ = self.store().set_setting(keys::DUTY_CONTEXT, &duty).await;
        self.duty.set(Some(duty));
    }
}

pub fn use_app() -> AppState {
    expect_context::<AppState>()
}
