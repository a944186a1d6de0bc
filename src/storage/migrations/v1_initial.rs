//! Version 1: opinions keyed by their UUIDv7 id (so key order is creation order), listed per
//! station newest first; one draft per station and deputy; a small settings store.

use super::Upgrade;
use crate::storage::{Result, stores};
use indexed_db_futures::KeyPath;
use indexed_db_futures::prelude::*;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    let opinions = upgrade
        .db
        .create_object_store(stores::OPINIONS)
        .with_key_path(KeyPath::from("id"))
        .build()?;
    opinions
        .create_index("by_station", KeyPath::from(["station_id", "id"]))
        .build()?;
    upgrade.db.create_object_store(stores::DRAFTS).build()?;
    upgrade.db.create_object_store(stores::SETTINGS).build()?;
    Ok(())
}
