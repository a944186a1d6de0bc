//! Version 6: the follow-up loop. Two new stores, nothing converted:
//!
//! - `follow_ups`, keyed by the opinion id: the opinion's follow-up history as the tablet shows
//!   it (the server's steps with this tablet's unsynced ones on top, and the status they lead
//!   to); see [`crate::storage::follow_ups`]. An opinion without steps has no record: its status
//!   is its intake decision's.
//! - `attendance`, keyed by `station|deputy|day`: one deputy's duty attendance on one day, the
//!   server's state and what the tablet shows (that state with its unsynced marks merged); the
//!   `by_station_day` index (`[station_id, day]`) lists a station's attendance on a day. See
//!   [`crate::storage::attendance`].
//!
//! A database at version 5 holds neither steps nor marks (the app could not record them, and
//! pulled states from before have no steps), so there is nothing to convert.

use super::Upgrade;
use crate::storage::attendance::BY_STATION_DAY;
use crate::storage::{Result, stores};
use indexed_db_futures::KeyPath;
use indexed_db_futures::prelude::*;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    upgrade
        .db
        .create_object_store(stores::FOLLOW_UPS)
        .with_key_path(KeyPath::from("id"))
        .build()?;
    let attendance = upgrade
        .db
        .create_object_store(stores::ATTENDANCE)
        .with_key_path(KeyPath::from("id"))
        .build()?;
    attendance
        .create_index(BY_STATION_DAY, KeyPath::from(["station_id", "day"]))
        .build()?;
    Ok(())
}
