//! Version 4: `server_states`, the server's merged state of each record as last pulled (an
//! [`OpinionReplica`](liaison_domain::sync::OpinionReplica), keyed by the opinion id). The record
//! a deputy sees in `opinions` is rebuilt from it with the outbox's pending mutations on top
//! ([`liaison_domain::sync::client::local_view`]); see [`crate::storage::server_states`].
//!
//! Nothing to convert: a database at version 3 has never pulled, so every record it holds is
//! its own capture, already in the outbox.

use super::Upgrade;
use crate::storage::{Result, stores};
use indexed_db_futures::KeyPath;
use indexed_db_futures::prelude::*;

pub fn apply(upgrade: &Upgrade) -> Result<()> {
    upgrade
        .db
        .create_object_store(stores::SERVER_STATES)
        .with_key_path(KeyPath::from("id"))
        .build()?;
    Ok(())
}
