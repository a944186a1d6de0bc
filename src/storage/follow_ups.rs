//! Each opinion's follow-up history as the tablet shows it (`follow_ups`, keyed by the opinion
//! id): the steps in order (the server's, then this tablet's unsynced ones), the [`Lifecycle`]
//! they lead to, and which of them are not on the server yet. An opinion without steps has no
//! record; its status is its intake decision's.
//!
//! Like the record itself (see [`super::server_states`]), the history is the server's state with
//! the pending mutations on top, rebuilt whenever either changes: by a pulled page, and by a push
//! answer that refuses a step. A step recorded here is applied to the history and queued in the
//! outbox in one transaction, exactly like a captured opinion, so it shows at once, offline.

use super::outbox;
use super::{Result, StorageError, Store, stores};
use indexed_db_futures::KeyRange;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use liaison_domain::followup::{FollowUp, Lifecycle, Status, StatusKind, TransitionError};
use liaison_domain::sync::{Mutation, MutationKind, OpinionReplica};
use liaison_domain::{FollowUpId, Opinion, OpinionId, StationId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One opinion's history as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FollowUpRecord {
    /// The opinion's id.
    pub id: String,
    /// Oldest first: the server's steps in the order it took them, then this tablet's unsynced
    /// ones in the order they were recorded.
    pub steps: Vec<FollowUp>,
    pub lifecycle: Lifecycle,
    /// The steps of this tablet that the server has not acknowledged yet.
    #[serde(default)]
    pub unsynced: Vec<FollowUpId>,
}

/// One item as the tablet shows it: the record, where it stands and its whole history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalItem {
    pub opinion: Opinion,
    pub lifecycle: Lifecycle,
    /// Oldest first.
    pub steps: Vec<FollowUp>,
    /// Steps recorded on this tablet and waiting for the server.
    pub unsynced: Vec<FollowUpId>,
}

/// Why a step was not recorded. Nothing was written in any case.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FollowUpError {
    /// The record is not (or no longer) on this tablet.
    #[error("the record is not on this tablet")]
    NotFound,
    /// The lifecycle does not allow the step now (the same rule the server applies).
    #[error("the step does not apply: {0}")]
    NotAllowed(TransitionError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<indexed_db_futures::error::Error> for FollowUpError {
    fn from(e: indexed_db_futures::error::Error) -> Self {
        FollowUpError::Storage(e.into())
    }
}

impl From<serde_wasm_bindgen::Error> for FollowUpError {
    fn from(e: serde_wasm_bindgen::Error) -> Self {
        FollowUpError::Storage(e.into())
    }
}

/// The status of `opinion` given its history record (none: no steps yet).
pub(crate) fn status_of(opinion: &Opinion, record: Option<&FollowUpRecord>) -> StatusKind {
    match record {
        Some(record) => record.lifecycle.status.kind(),
        None => Status::at_intake(&opinion.outcome).kind(),
    }
}

/// The history the tablet shows for `opinion` (the record as shown): the server's steps, then the
/// pending steps of this opinion it does not have yet. `None` when there are no steps. A pending
/// step that no longer applies (another device moved the item on first) stays listed as unsynced
/// until the server answers, but the status skips it, as the server's will.
pub(crate) fn view_of(
    opinion: &Opinion,
    server: Option<&OpinionReplica>,
    pending: &[Mutation],
) -> Option<FollowUpRecord> {
    let mut steps: Vec<FollowUp> = server
        .map(|state| state.steps().cloned().collect())
        .unwrap_or_default();
    let mut unsynced = Vec::new();
    for mutation in pending {
        if let MutationKind::RecordFollowUp { opinion_id, step } = &mutation.kind
            && *opinion_id == opinion.id
            && !steps.iter().any(|s| s.id == step.id)
        {
            unsynced.push(step.id);
            steps.push(step.clone());
        }
    }
    if steps.is_empty() {
        return None;
    }
    let lifecycle = Lifecycle::replay(&opinion.outcome, &steps);
    Some(FollowUpRecord {
        id: opinion.id.to_string(),
        steps,
        lifecycle,
        unsynced,
    })
}

/// Writes (or, without steps, deletes) the history of `id`, inside the caller's transaction.
pub(crate) async fn put_view(
    store: &ObjectStore<'_>,
    id: OpinionId,
    view: Option<FollowUpRecord>,
) -> Result<()> {
    match view {
        Some(record) => {
            store.put(record).serde()?.await?;
        }
        None => {
            store.delete(id.to_string()).primitive()?.await?;
        }
    }
    Ok(())
}

impl Store {
    /// Records a follow-up step taken on this tablet: checks it against the item as the tablet
    /// shows it ([`Lifecycle::check`], the rule the server applies again when it takes the step),
    /// appends it to the history and queues its `RecordFollowUp` mutation in the outbox, in one
    /// transaction. Returns the item as it now stands.
    pub async fn record_follow_up(
        &self,
        opinion_id: OpinionId,
        step: &FollowUp,
    ) -> std::result::Result<LocalItem, FollowUpError> {
        let tx = self.write_tx(&[
            stores::OPINIONS,
            stores::FOLLOW_UPS,
            stores::OUTBOX,
            stores::SYNC_META,
        ])?;
        let opinion: Option<Opinion> = tx
            .object_store(stores::OPINIONS)?
            .get(opinion_id.to_string())
            .serde()?
            .await?;
        let opinion = opinion.ok_or(FollowUpError::NotFound)?;
        let follow_ups = tx.object_store(stores::FOLLOW_UPS)?;
        let stored: Option<FollowUpRecord> =
            follow_ups.get(opinion_id.to_string()).serde()?.await?;
        let mut record = stored.unwrap_or_else(|| FollowUpRecord {
            id: opinion_id.to_string(),
            steps: Vec::new(),
            lifecycle: Lifecycle::at_intake(&opinion.outcome),
            unsynced: Vec::new(),
        });
        // Checked before anything is written; a refusal drops (aborts) the transaction.
        record
            .lifecycle
            .apply(step)
            .map_err(FollowUpError::NotAllowed)?;
        record.steps.push(step.clone());
        record.unsynced.push(step.id);
        follow_ups.put(&record).serde()?.await?;
        outbox::record(
            &tx,
            outbox::Outgoing::without_citizen(MutationKind::RecordFollowUp {
                opinion_id,
                step: step.clone(),
            })?,
            self.source.now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(LocalItem {
            opinion,
            lifecycle: record.lifecycle,
            steps: record.steps,
            unsynced: record.unsynced,
        })
    }

    /// One item as the tablet shows it; `None` when the record is not on this tablet.
    pub async fn local_item(&self, id: OpinionId) -> Result<Option<LocalItem>> {
        let tx = self.read_tx(&[stores::OPINIONS, stores::FOLLOW_UPS])?;
        let opinion: Option<Opinion> = tx
            .object_store(stores::OPINIONS)?
            .get(id.to_string())
            .serde()?
            .await?;
        let Some(opinion) = opinion else {
            return Ok(None);
        };
        let record: Option<FollowUpRecord> = tx
            .object_store(stores::FOLLOW_UPS)?
            .get(id.to_string())
            .serde()?
            .await?;
        Ok(Some(match record {
            Some(record) => LocalItem {
                opinion,
                lifecycle: record.lifecycle,
                steps: record.steps,
                unsynced: record.unsynced,
            },
            None => LocalItem {
                lifecycle: Lifecycle::at_intake(&opinion.outcome),
                opinion,
                steps: Vec::new(),
                unsynced: Vec::new(),
            },
        }))
    }
}

impl Store {
    /// Every record of `station` on this tablet with its follow-up history, oldest first: what
    /// the station's offline figures are counted from. One `getAll` over the station's index,
    /// then every history read issued before the first is awaited.
    pub async fn station_items(&self, station: &StationId) -> Result<Vec<LocalItem>> {
        let tx = self.read_tx(&[stores::OPINIONS, stores::FOLLOW_UPS])?;
        let range = KeyRange::Bound(
            [station.0.clone(), String::new()],
            false,
            [station.0.clone(), "\u{ffff}".to_owned()],
            false,
        );
        let opinions: Vec<Opinion> = tx
            .object_store(stores::OPINIONS)?
            .index("by_station")?
            .get_all()
            .with_query::<[String; 2], _>(range)
            .serde()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        let follow_ups = tx.object_store(stores::FOLLOW_UPS)?;
        let requests = opinions
            .iter()
            .map(|o| {
                follow_ups
                    .get::<FollowUpRecord, _, _>(o.id.to_string())
                    .serde()
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut items = Vec::with_capacity(opinions.len());
        for (opinion, request) in opinions.into_iter().zip(requests) {
            let record: Option<FollowUpRecord> = request.await?;
            items.push(match record {
                Some(record) => LocalItem {
                    opinion,
                    lifecycle: record.lifecycle,
                    steps: record.steps,
                    unsynced: record.unsynced,
                },
                None => LocalItem {
                    lifecycle: Lifecycle::at_intake(&opinion.outcome),
                    opinion,
                    steps: Vec::new(),
                    unsynced: Vec::new(),
                },
            });
        }
        Ok(items)
    }
}

/// The follow-up status of each of `opinions`, in order, from their history records, inside the
/// caller's transaction (which must cover `follow_ups`). Every read is issued before the first
/// is awaited.
pub(crate) async fn statuses_in(
    store: &ObjectStore<'_>,
    opinions: &[Opinion],
) -> Result<Vec<StatusKind>> {
    let requests = opinions
        .iter()
        .map(|o| store.get::<FollowUpRecord, _, _>(o.id.to_string()).serde())
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut statuses = Vec::with_capacity(opinions.len());
    for (opinion, request) in opinions.iter().zip(requests) {
        let record: Option<FollowUpRecord> = request.await?;
        statuses.push(status_of(opinion, record.as_ref()));
    }
    Ok(statuses)
}
