//! What every screen shares: the open local store, the directory copy, the duty context,
//! whether the device is online, and the handling units and working-day calendar last fetched. Provided once through context by [`crate::app::App`].

use crate::storage::{Store, settings::keys};
use crate::sync::SyncEngine;
use leptos::prelude::*;
use liaison_domain::followup::{HandlingUnit, WorkCalendar};
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
    /// The handling units last fetched (referrals, the ledger's filter).
    pub units: RwSignal<Vec<HandlingUnit>>,
    /// The working-day calendar last fetched; `None` until fetched once.
    pub calendar: RwSignal<Option<WorkCalendar>>,
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
        let units: Vec<HandlingUnit> = store
            .get_setting(keys::UNITS)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let calendar: Option<WorkCalendar> = store.get_setting(keys::CALENDAR).await.ok().flatten();
        AppState {
            store: StoredValue::new_local(store),
            directory: RwSignal::new(directory),
            duty: RwSignal::new(duty),
            online: RwSignal::new(false),
            records_version: RwSignal::new(0),
            flush: Trigger::new(),
            sync,
            units: RwSignal::new(units),
            calendar: RwSignal::new(calendar),
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

    /// Refreshes, when the server answers and someone is signed in, what follow-up steps need
    /// offline: who the account is, the handling units and the working-day calendar, each kept
    /// for the next time the tablet is offline. Quiet on failure: the copies from last time stay.
    pub async fn refresh_follow_up_data(&self) {
        self.sync.refresh_account(self.store()).await;
        self.refresh_units_and_calendar().await;
    }

    /// Fetches the handling units and the working-day calendar a referral needs, and keeps
    /// them. Quiet on failure: the copies from last time stay.
    pub async fn refresh_units_and_calendar(&self) {
        let Some(session) = self.sync.session.get_untracked() else {
            return;
        };
        if let Ok(units) = crate::sync::office::units(&session.token).await {
            self.keep_units(units).await;
        }
        if let Ok(calendar) = crate::sync::office::calendar(&session.token).await {
            self.keep_calendar(calendar).await;
        }
    }

    /// Shows and keeps a fresh list of handling units.
    pub async fn keep_units(&self, units: Vec<HandlingUnit>) {
        if self.units.with_untracked(|u| *u != units) {
            let _ = self.store().set_setting(keys::UNITS, &units).await;
            self.units.set(units);
        }
    }

    /// Shows and keeps a fresh working-day calendar.
    pub async fn keep_calendar(&self, calendar: WorkCalendar) {
        if self
            .calendar
            .with_untracked(|c| c.as_ref() != Some(&calendar))
        {
            let _ = self.store().set_setting(keys::CALENDAR, &calendar).await;
            self.calendar.set(Some(calendar));
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
