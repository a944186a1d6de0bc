//! Version 7: protected tablets (issue 6).
//!
//! - `keyring`, keyed by username: each account's wrapped data key, PIN derivation, wrong-PIN
//!   count, sealed session and resume wrapping; see [`crate::storage::keyring`].
//! - The `by_station_deputy` index of `opinions` (`[station_id, deputy_id, id]`): a deputy's
//!   own records, listed and counted without reading the station's others.
//!
//! The records stored before this version still hold the citizen in clear. They are masked by
//! [`crate::storage::Store::mask_stored_citizens`] right after the upgrade, in a transaction of
//! its own: inside the `versionchange` transaction its requests would interleave with the v3
//! conversion's chained cursor (upgrading from before v3), which could then queue an opinion
//! already masked, losing the citizen of a record never pushed.

use super::{Upgrade, compound, js_err};
use crate::storage::opinions::BY_STATION_DEPUTY;
use crate::storage::{Result, stores};
use indexed_db_futures::prelude::*;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    upgrade.db.create_object_store(stores::KEYRING).build()?;
    upgrade
        .tx
        .object_store(stores::OPINIONS)
        .map_err(js_err)?
        .create_index_with_str_sequence(
            BY_STATION_DEPUTY,
            &compound(&["station_id", "deputy_id", "id"]),
        )
        .map_err(js_err)?;
    Ok(())
}
