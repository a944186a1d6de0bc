//! Version 7: protected tablets (issue 6): `keyring`, keyed by username, each account's wrapped
//! data key, PIN derivation, wrong-PIN count, sealed session and resume wrapping; see
//! [`crate::storage::keyring`].
//!
//! The records stored before this version still hold the citizen in clear. They are masked by
//! [`crate::storage::Store::mask_stored_citizens`] right after the upgrade, in a transaction of
//! its own: inside the `versionchange` transaction its requests would interleave with the v3
//! conversion's chained cursor (upgrading from before v3), which could then queue an opinion
//! already masked, losing the citizen of a record never pushed.

use super::Upgrade;
use crate::storage::{Result, stores};
use indexed_db_futures::prelude::*;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    upgrade.db.create_object_store(stores::KEYRING).build()?;
    Ok(())
}
