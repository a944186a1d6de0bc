//! Small values kept across visits: the directory copy, the duty context, the session and
//! enrolment, the time of the last sync, the handling units and the working-day calendar.

use super::{Result, Store, stores};
use indexed_db_futures::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Keys of the settings store.
pub mod keys {
    /// The directory (stations, deputies, categories) last fetched from the server.
    pub const DIRECTORY: &str = "directory";
    /// The station and deputy on duty on this tablet.
    pub const DUTY_CONTEXT: &str = "duty_context";
    /// The signed-in session (token and user), so sync goes on after a restart.
    pub const SESSION: &str = "session";
    /// This tablet's enrolment to a station (device token).
    pub const ENROLLMENT: &str = "enrollment";
    /// When the last sync round succeeded (ms since the epoch).
    pub const LAST_SYNC: &str = "last_sync";
    /// The handling units last fetched (for referrals recorded offline).
    pub const UNITS: &str = "units";
    /// The working-day calendar last fetched (deadlines of referrals recorded offline).
    pub const CALENDAR: &str = "calendar";
}

impl Store {
    pub async fn get_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let tx = self.read_tx(&[stores::SETTINGS])?;
        let value: Option<T> = tx.object_store(stores::SETTINGS)?.get(key).serde()?.await?;
        Ok(value)
    }

    pub async fn set_setting<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let tx = self.write_tx(&[stores::SETTINGS])?;
        tx.object_store(stores::SETTINGS)?
            .put(value)
            .with_key(key.to_owned())
            .serde()?
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
