//! What every screen shares: the open local store, the directory copy, the duty context,
//! whether the device is online, and the handling units and working-day calendar last fetched. Provided once through context by [`crate::app::App`].

use crate::platform;
use crate::storage::{DB_NAME, Store, settings::keys};
use crate::sync::SyncEngine;
use crate::sync::api::{DeviceState, Session, SignedInUser};
use leptos::prelude::*;
use liaison_domain::followup::{HandlingUnit, WorkCalendar};
use liaison_domain::{Directory, DutyContext, default_categories};

/// Time the screens get to write what they hold before a lock takes the key away.
const LOCK_GRACE_MS: u32 = 300;

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
    /// The protected account unlocked on this tablet (see [`crate::protection`]); `None` while
    /// the tablet is locked. The tablet's pages show only this account's records and drafts.
    pub unlocked: RwSignal<Option<SignedInUser>>,
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
        // A reload within the idle time stays unlocked (see `protection::resume`).
        let mut unlocked = None;
        if let Some((keys, session)) = crate::protection::resume(&store).await {
            unlocked = Some(keys.user);
            if session.is_some() {
                sync.session.set(session);
            }
        }
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
            unlocked: RwSignal::new(unlocked),
        }
    }

    /// A protected account was unlocked (its PIN, its password, or a new PIN): it uses the
    /// tablet now, with its session if it has one (it syncs), on duty at the tablet's station.
    pub async fn unlocked_as(&self, user: SignedInUser, session: Option<Session>) {
        self.unlocked.set(Some(user.clone()));
        self.records_version.update(|v| *v += 1);
        crate::pages::sync::put_deputy_on_duty(*self, &user).await;
        match session {
            Some(session) => {
                if let Err(e) = self
                    .sync
                    .signed_in(self.store(), session, self.records_version)
                    .await
                {
                    self.sync.storage_error.set(Some(e));
                }
                self.refresh_follow_up_data().await;
            }
            None => self.sync.set_aside(),
        }
    }

    /// Locks the tablet: what screens hold is written first (sealed), then every key and the
    /// session leave memory and the tablet's pages show the lock screen. An office account's
    /// session (not protected) is left alone.
    pub async fn lock(&self) {
        if self.unlocked.get_untracked().is_none() {
            return;
        }
        self.flush.notify();
        // Time for the screens' pending writes to start (they are sealed with the key).
        gloo_timers::future::TimeoutFuture::new(LOCK_GRACE_MS).await;
        crate::protection::lock(&self.store()).await;
        if self
            .sync
            .session
            .get_untracked()
            .is_some_and(|s| crate::protection::is_protected(s.user.role))
        {
            self.sync.set_aside();
        }
        self.unlocked.set(None);
        self.records_version.update(|v| *v += 1);
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

    /// Asks the server whether this tablet is still enrolled: at start, when the network comes
    /// back, every half minute and when the server stops taking the session. Revoked (a lost
    /// tablet): everything stored here is deleted ([`AppState::wipe_revoked_tablet`]). Unknown
    /// to the server: the enrolment is forgotten and the data kept (it may still be exported).
    /// No answer decides nothing.
    pub async fn check_enrollment(&self) {
        let Some(enrollment) = self.sync.enrollment.get_untracked() else {
            return;
        };
        match crate::sync::api::device_status(&enrollment.device_token).await {
            Some(DeviceState::Revoked) => self.wipe_revoked_tablet().await,
            Some(DeviceState::Unknown) => {
                let _ = self.sync.set_enrollment(self.store(), None).await;
            }
            Some(DeviceState::Enrolled) | None => {}
        }
    }

    /// A revoked tablet deletes its local database (records, drafts, photos, the outbox, the
    /// session and the enrolment: unsynced work included, since whoever holds the tablet now is
    /// not who it was lent to), leaves a note that it did so (no data in it), and starts afresh.
    /// Other open tabs get the database's `versionchange`, let go of it and reload too.
    async fn wipe_revoked_tablet(&self) {
        self.sync.session.set(None);
        platform::set_local_flag(platform::WIPED_FLAG, true);
        self.store().close();
        if let Err(error) = Store::delete_database(DB_NAME).await {
            // Deleting waits for other connections; it still happens once they close.
            leptos::logging::warn!("deleting the revoked tablet's data: {error}");
        }
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
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
