//! Small values kept across visits: the directory copy, the duty context.

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
