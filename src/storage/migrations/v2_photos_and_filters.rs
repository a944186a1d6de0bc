//! Version 2: photos as blobs in their own store (a record stays small to list and search),
//! and indexes to filter a station's opinions by category and by outcome without a full scan.
//! The indexes are added to the existing opinions store, so records written at version 1 are
//! indexed too.

use super::{Upgrade, compound, js_err};
use crate::storage::{Result, stores};
use indexed_db_futures::KeyPath;
use indexed_db_futures::prelude::*;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    let photos = upgrade
        .db
        .create_object_store(stores::PHOTOS)
        .with_key_path(KeyPath::from("id"))
        .build()?;
    photos
        .create_index("by_owner", KeyPath::from("owner"))
        .build()?;

    let opinions = upgrade.tx.object_store(stores::OPINIONS).map_err(js_err)?;
    opinions
        .create_index_with_str_sequence(
            "by_station_category",
            &compound(&["station_id", "category", "id"]),
        )
        .map_err(js_err)?;
    opinions
        .create_index_with_str_sequence(
            "by_station_outcome",
            &compound(&["station_id", "outcome.kind", "id"]),
        )
        .map_err(js_err)?;
    Ok(())
}
