//! The sync outbox: this device's numbered [`Mutation`]s, waiting to be pushed, and `sync_meta`,
//! the device's sync bookkeeping.
//!
//! - `outbox`, keyed by the mutation's `seq` (a number): `{seq, state, mutation, rejection?,
//!   sealed_citizen?}`, where `state` is `"pending"` (not yet acknowledged by the server) or `"rejected"` (the server
//!   refused it; kept with its code and message and shown, never dropped). The `by_state` index
//!   (`[state, seq]`) lists either kind oldest first without a scan.
//! - `sync_meta`, one record: this device's [`ClientId`] (made once, in the v3 upgrade), the next
//!   seq, the persisted HLC ([`Clock::last`]) and the pull cursor.
//!
//! A local change records its mutation with [`record`] inside the change's own transaction, so
//! the change and its mutation are stored together or not at all, and seqs stay dense.
//!
//! A mutation that carries a citizen's personal data is stored with the citizen masked and the
//! original sealed beside it ([`Outgoing::seal`], before the transaction: WebCrypto cannot run
//! inside one); what is read for a push gets it back ([`Store::pending_mutations_after`]), and
//! everything else (the records shown, the export) reads the masked mutation.

use super::attendance::{self, AttendanceRecord};
use super::follow_ups;
use super::keyring::{self, Keys, SealedCitizen};
use super::{Result, StorageError, Store, stores};
use indexed_db_futures::KeyRange;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::Transaction;
use liaison_domain::followup::{AttendanceKey, TransitionError};
use liaison_domain::sync::client::local_view;
use liaison_domain::sync::{
    Clock, Cursor, Hlc, Mutation, MutationKind, OpinionReplica, PushResponse, RejectCode, Seq,
};
use liaison_domain::{ClientId, Opinion};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// The `[state, seq]` index of the outbox.
pub(crate) const BY_STATE: &str = "by_state";
/// The key of the one `sync_meta` record.
pub(crate) const META_KEY: &str = "device";

const PENDING: &str = "pending";
const REJECTED: &str = "rejected";
/// The largest integer a JS number holds exactly: the upper end of every seq range.
const MAX_SEQ: f64 = 9_007_199_254_740_991.0;

/// This device's sync bookkeeping (the `sync_meta` record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SyncMeta {
    pub client_id: ClientId,
    /// The seq the next mutation gets (1 for the first).
    pub next_seq: Seq,
    /// The greatest stamp issued or observed: the clock resumes after it.
    pub clock: Hlc,
    /// Where the next pull starts.
    pub pull_cursor: Cursor,
}

impl SyncMeta {
    pub fn new(client_id: ClientId) -> SyncMeta {
        SyncMeta {
            client_id,
            next_seq: Seq(1),
            clock: Clock::new(client_id).last(),
            pull_cursor: Cursor::START,
        }
    }

    /// Numbers and stamps the next mutation, advancing the seq and the clock. The stamp is
    /// greater than every earlier one, whatever `now_ms` does.
    pub fn issue(&mut self, kind: MutationKind, now_ms: u64) -> Mutation {
        let mut clock = Clock::resume(self.clock);
        let hlc = clock.tick(now_ms);
        let seq = self.next_seq;
        self.next_seq = seq.next();
        self.clock = clock.last();
        Mutation::new(self.client_id, seq, hlc, kind)
    }
}

/// Why the server refused a mutation, as stored with it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Rejection {
    code: RejectCode,
    message: String,
    /// Why the lifecycle refused a follow-up step (`not_allowed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transition: Option<TransitionError>,
}

/// One outbox entry as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct OutboxRecord {
    seq: u64,
    state: String,
    /// With its citizen masked when `sealed_citizen` is there.
    mutation: Mutation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rejection: Option<Rejection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_citizen: Option<SealedCitizen>,
}

impl OutboxRecord {
    /// The citizen sealed beside the mutation, opened with its account's key: `None` when that
    /// key is not in memory (and when nothing is sealed).
    async fn open_citizen(&self, keys: &Keys) -> Result<Option<liaison_domain::Citizen>> {
        let Some(sealed) = &self.sealed_citizen else {
            return Ok(None);
        };
        let record_id = self
            .mutation
            .kind
            .opinion_id()
            .map(|id| id.to_string())
            .unwrap_or_default();
        keyring::open_citizen(keys, &record_id, sealed).await
    }

    pub fn pending(mutation: Mutation) -> OutboxRecord {
        OutboxRecord {
            seq: mutation.seq.0,
            state: PENDING.to_owned(),
            mutation,
            rejection: None,
            sealed_citizen: None,
        }
    }
}

/// A local change's mutation, ready for the outbox: a citizen it carries masked, the original
/// sealed beside it by the unlocked account.
pub(crate) struct Outgoing {
    kind: MutationKind,
    sealed: Option<SealedCitizen>,
}

impl Outgoing {
    /// Seals the citizen `kind` carries (about the record `record_id`), if it has personal
    /// data: [`StorageError::Locked`] when nobody is unlocked.
    pub(crate) async fn seal(keys: &Keys, record_id: &str, kind: MutationKind) -> Result<Outgoing> {
        let Some(citizen) = kind.citizen().cloned() else {
            return Ok(Outgoing { kind, sealed: None });
        };
        let sealed = keyring::seal_citizen(keys, record_id, &citizen).await?;
        Ok(Outgoing {
            kind: kind.with_citizen(citizen.masked()),
            sealed,
        })
    }

    /// A mutation without a citizen (a follow-up step, an attendance mark).
    pub(crate) fn without_citizen(kind: MutationKind) -> Result<Outgoing> {
        if kind.citizen().is_some() {
            return Err(StorageError::Locked);
        }
        Ok(Outgoing { kind, sealed: None })
    }
}

/// A mutation the server refused, with its reason. Kept until the user has dealt with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedMutation {
    pub mutation: Mutation,
    pub code: RejectCode,
    pub message: String,
    /// For a refused follow-up step: why the lifecycle did not allow it.
    pub transition: Option<TransitionError>,
}

/// The serde form IndexedDB stores, the same as `indexed_db_futures`' `.serde()` writes (for the
/// upgrade, which works on raw `web_sys` requests).
pub(crate) fn to_js<T: Serialize>(value: &T) -> Result<JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true))
        .map_err(|e| StorageError::Corrupt(e.to_string()))
}

/// A seq as an IndexedDB key: a JS number (a `u64` would become a `BigInt`, which is no key).
fn seq_key(seq: Seq) -> f64 {
    seq.0 as f64
}

/// Reads records fetched as raw values (the `[state, seq]` range is built of `JsValue`s).
///
/// A batch of outbox records (full opinions) is read through the browser's own
/// `JSON.stringify` and `serde_json`: two native passes instead of one boundary crossing per
/// field, which is what a push batch of 200 spent most of its time on. Records are plain JSON
/// data (strings, numbers, booleans, objects, arrays); should a batch ever not be, it is read
/// value by value as before.
fn records(
    values: impl Iterator<Item = indexed_db_futures::Result<JsValue>>,
) -> Result<Vec<OutboxRecord>> {
    let values: Vec<JsValue> = values.collect::<std::result::Result<_, _>>()?;
    let array: js_sys::Array = values.iter().collect();
    let fast = js_sys::JSON::stringify(&array)
        .ok()
        .and_then(|text| text.as_string())
        .and_then(|text| serde_json::from_str::<Vec<OutboxRecord>>(&text).ok());
    if let Some(records) = fast {
        return Ok(records);
    }
    values
        .into_iter()
        .map(|value| {
            serde_wasm_bindgen::from_value(value).map_err(|e| StorageError::Corrupt(e.to_string()))
        })
        .collect()
}

/// Ascending `seqs` as maximal runs of consecutive numbers, each as `(first, last)`.
fn seq_runs(seqs: &[f64]) -> Vec<(f64, f64)> {
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for &seq in seqs {
        match runs.last_mut() {
            Some((_, last)) if seq == *last + 1.0 => *last = seq,
            _ => runs.push((seq, seq)),
        }
    }
    runs
}

/// `[state, from]` ..= `[state, through]` in the `by_state` index.
fn state_range(state: &str, through: f64) -> KeyRange<Vec<JsValue>> {
    KeyRange::Bound(
        vec![JsValue::from_str(state), JsValue::from_f64(0.0)],
        false,
        vec![JsValue::from_str(state), JsValue::from_f64(through)],
        false,
    )
}

pub(super) async fn read_meta(tx: &Transaction<'_>) -> Result<SyncMeta> {
    let meta: Option<SyncMeta> = tx
        .object_store(stores::SYNC_META)?
        .get(META_KEY)
        .serde()?
        .await?;
    meta.ok_or_else(|| StorageError::Corrupt("sync_meta is missing".into()))
}

pub(super) async fn write_meta(tx: &Transaction<'_>, meta: &SyncMeta) -> Result<()> {
    tx.object_store(stores::SYNC_META)?
        .put(meta)
        .with_key(META_KEY.to_owned())
        .serde()?
        .await?;
    Ok(())
}

/// Every pending mutation, oldest first, inside the caller's transaction (which must cover
/// `outbox`): what a pulled state gets on top.
pub(super) async fn pending_in(tx: &Transaction<'_>) -> Result<Vec<Mutation>> {
    let values = tx
        .object_store(stores::OUTBOX)?
        .index(BY_STATE)?
        .get_all::<JsValue>()
        .with_query::<Vec<JsValue>, _>(state_range(PENDING, MAX_SEQ))
        .primitive()?
        .await?;
    Ok(records(values)?.into_iter().map(|r| r.mutation).collect())
}

/// Every mutation in the outbox, pending or rejected, oldest first, inside the caller's
/// transaction.
pub(super) async fn all_in(tx: &Transaction<'_>) -> Result<Vec<Mutation>> {
    let values = tx
        .object_store(stores::OUTBOX)?
        .get_all::<JsValue>()
        .primitive()?
        .await?;
    Ok(records(values)?.into_iter().map(|r| r.mutation).collect())
}

/// Records a local change as the next mutation, inside the caller's read-write transaction
/// (which must cover `outbox` and `sync_meta`): numbers and stamps it, stores it as pending and
/// advances `sync_meta`. Returns the mutation.
pub(super) async fn record(
    tx: &Transaction<'_>,
    outgoing: Outgoing,
    now_ms: u64,
) -> Result<Mutation> {
    let mut meta = read_meta(tx).await?;
    let mutation = meta.issue(outgoing.kind, now_ms);
    let mut entry = OutboxRecord::pending(mutation.clone());
    entry.sealed_citizen = outgoing.sealed;
    let put = tx.object_store(stores::OUTBOX)?.put(entry).serde()?;
    let meta_put = tx
        .object_store(stores::SYNC_META)?
        .put(&meta)
        .with_key(META_KEY.to_owned())
        .serde()?;
    put.await?;
    meta_put.await?;
    Ok(mutation)
}

/// Rebuilds what a refused step, mark or edit showed on: the opinion's history, the deputy's
/// attendance that day, or the record, from the server's state and `pending` (which no longer
/// holds the refused mutation), inside the caller's transaction.
async fn rebuild_after_refusal(
    tx: &Transaction<'_>,
    refused: &MutationKind,
    pending: &[Mutation],
) -> Result<()> {
    match refused {
        MutationKind::RecordFollowUp { opinion_id, .. } => {
            let id = opinion_id.to_string();
            let opinion: Option<Opinion> = tx
                .object_store(stores::OPINIONS)?
                .get(id.as_str())
                .serde()?
                .await?;
            let Some(opinion) = opinion else {
                return Ok(());
            };
            let server: Option<OpinionReplica> = tx
                .object_store(stores::SERVER_STATES)?
                .get(id.as_str())
                .serde()?
                .await?;
            let history = follow_ups::view_of(&opinion, server.as_ref(), pending);
            follow_ups::put_view(&tx.object_store(stores::FOLLOW_UPS)?, *opinion_id, history).await
        }
        // A refused edit (or delete): the record as the server has it, with what is still
        // pending on top. (A record the server never had keeps showing: its creation is
        // refused or pending, and listed as such.)
        MutationKind::SetOpinionFields { id, .. } | MutationKind::DeleteOpinion { id } => {
            let server: Option<OpinionReplica> = tx
                .object_store(stores::SERVER_STATES)?
                .get(id.to_string())
                .serde()?
                .await?;
            if let Some(view) = local_view(*id, server.as_ref(), pending) {
                tx.object_store(stores::OPINIONS)?
                    .put(&view)
                    .serde()?
                    .await?;
            }
            Ok(())
        }
        MutationKind::MarkAttendance { mark } => {
            let key: &AttendanceKey = &mark.key;
            let store = tx.object_store(stores::ATTENDANCE)?;
            let stored: Option<AttendanceRecord> = store.get(key.id()).serde()?.await?;
            let record = AttendanceRecord::rebuild(key, stored.and_then(|r| r.server), pending);
            attendance::put_record(&store, key, record).await
        }
        _ => Ok(()),
    }
}

impl Store {
    /// Up to `limit` pending mutations, oldest first: the next push.
    pub async fn pending_mutations(&self, limit: u32) -> Result<Vec<Mutation>> {
        self.pending_mutations_after(Seq::NONE, limit).await
    }

    /// Up to `limit` pending mutations after seq `after`, oldest first, each with its sealed
    /// citizen put back: the push after the one on its way (whose entries stay pending until its
    /// answer is applied). The batch ends before the first entry whose account's key is not
    /// unlocked ([`Keys`]): seqs are pushed in order, so the rest waits for that key;
    /// [`StorageError::Locked`] when that is the very first.
    pub async fn pending_mutations_after(&self, after: Seq, limit: u32) -> Result<Vec<Mutation>> {
        let entries = self.pending_entries_after(after, limit).await?;
        let mut batch = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.sealed_citizen.is_none() {
                batch.push(entry.mutation);
                continue;
            }
            match entry.open_citizen(&self.keys).await? {
                Some(citizen) => {
                    let mut mutation = entry.mutation;
                    mutation.kind = mutation.kind.with_citizen(citizen);
                    batch.push(mutation);
                }
                None if batch.is_empty() => return Err(StorageError::Locked),
                None => break,
            }
        }
        Ok(batch)
    }

    /// The accounts whose sealed work (outbox entries, photos to upload) waits and whose keys
    /// are not unlocked: whose keys a push needs from the server.
    pub async fn outbox_accounts_locked(&self) -> Result<Vec<String>> {
        let entries = self.pending_entries_after(Seq::NONE, u32::MAX).await?;
        let mut names: Vec<String> = entries
            .into_iter()
            .filter_map(|e| e.sealed_citizen.map(|s| s.by))
            .filter(|by| !self.keys.has_key_of(by))
            .collect();
        names.extend(self.photo_accounts_locked().await?);
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn pending_entries_after(&self, after: Seq, limit: u32) -> Result<Vec<OutboxRecord>> {
        let tx = self.read_tx(&[stores::OUTBOX])?;
        let store = tx.object_store(stores::OUTBOX)?;
        let range = KeyRange::Bound(
            vec![
                JsValue::from_str(PENDING),
                JsValue::from_f64(seq_key(after)),
            ],
            true,
            vec![JsValue::from_str(PENDING), JsValue::from_f64(MAX_SEQ)],
            false,
        );
        let values = store
            .index(BY_STATE)?
            .get_all::<JsValue>()
            .with_query::<Vec<JsValue>, _>(range)
            .with_limit(limit)
            .primitive()?
            .await?;
        records(values)
    }

    /// Takes in the server's answer to a push, in one transaction: the refused mutations are kept,
    /// marked rejected with the server's reason, and every other pending entry up to
    /// `acknowledged_through` is deleted. (Doing both in one transaction matters: a crash between
    /// them must not delete a refused mutation before it is marked.) A refused follow-up step,
    /// attendance mark or edit no longer shows: the history, attendance or record it was on is
    /// rebuilt from the server's state and what is still pending. Returns how many entries were
    /// acknowledged as applied.
    pub async fn apply_push_response(&self, response: &PushResponse) -> Result<u32> {
        let refusals: Vec<_> = response
            .rejected
            .iter()
            .filter(|r| r.seq <= response.acknowledged_through)
            .collect();
        // Relaxed: entries whose deletion a crash loses are pushed again and skipped by the
        // server; a refusal lost with it is reported again by the server on that resend.
        // Only a refusal needs the records' stores (to rebuild what it showed on); without one
        // the transaction covers the outbox alone, so that it waits for no reader of the records.
        let tx = if refusals.is_empty() {
            self.write_tx_relaxed(&[stores::OUTBOX])?
        } else {
            self.write_tx_relaxed(&[
                stores::OUTBOX,
                stores::OPINIONS,
                stores::SERVER_STATES,
                stores::FOLLOW_UPS,
                stores::ATTENDANCE,
            ])?
        };
        let store = tx.object_store(stores::OUTBOX)?;
        let mut shown_again = Vec::new();
        for refusal in refusals {
            let found: Option<OutboxRecord> = store.get(seq_key(refusal.seq)).serde()?.await?;
            if let Some(mut record) = found {
                record.state = REJECTED.to_owned();
                record.rejection = Some(Rejection {
                    code: refusal.code,
                    message: refusal.message.clone(),
                    transition: refusal.transition.clone(),
                });
                if matches!(
                    record.mutation.kind,
                    MutationKind::RecordFollowUp { .. }
                        | MutationKind::MarkAttendance { .. }
                        | MutationKind::SetOpinionFields { .. }
                        | MutationKind::DeleteOpinion { .. }
                ) {
                    shown_again.push(record.mutation.kind.clone());
                }
                store.put(record).serde()?.await?;
            }
        }
        if !shown_again.is_empty() {
            // Read before the acknowledged entries go: they are on the server but not pulled
            // yet, so what the tablet shows still needs them on top of the server's state.
            let pending = pending_in(&tx).await?;
            for kind in &shown_again {
                rebuild_after_refusal(&tx, kind, &pending).await?;
            }
        }
        // The pending entries through the acknowledgement (the refused ones are no longer
        // pending: marked above, in this transaction), in seq order.
        let seqs: Vec<f64> = store
            .index(BY_STATE)?
            .get_all_keys::<f64>()
            .with_query::<Vec<JsValue>, _>(state_range(
                PENDING,
                response.acknowledged_through.0 as f64,
            ))
            .primitive()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        // Deleted as runs of consecutive seqs, one `delete(range)` per run: every seq inside a
        // run is a pending entry listed above, so the range holds nothing else (no refused
        // entry). A push answer is normally one run; entry by entry, the deletes of a batch of
        // 200 took most of the time between two pushes.
        let deletes = seq_runs(&seqs)
            .into_iter()
            .map(|(first, last)| store.delete(first..=last).primitive())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        for delete in deletes {
            delete.await?;
        }
        tx.commit().await?;
        Ok(seqs.len() as u32)
    }

    /// Everything this tablet has not got onto the server yet (pending and rejected mutations,
    /// which carry the records themselves), as pretty JSON: the file a deputy saves when the
    /// tablet cannot sync and must be handed in. Photos are not included (they are large and
    /// stay on the tablet).
    pub async fn export_unsynced(&self) -> Result<String> {
        let tx = self.read_tx(&[stores::OUTBOX, stores::SYNC_META])?;
        let meta = read_meta(&tx).await?;
        let values = tx
            .object_store(stores::OUTBOX)?
            .get_all::<JsValue>()
            .primitive()?
            .await?;
        let mut entries = records(values)?;
        // The exporting account's own records go whole (it may read them); another account's
        // stay sealed.
        for entry in &mut entries {
            if let Some(citizen) = entry.open_citizen(&self.keys).await? {
                entry.mutation.kind = entry.mutation.kind.clone().with_citizen(citizen);
                entry.sealed_citizen = None;
            }
        }
        let export = serde_json::json!({
            "format": "liaison-unsynced-export",
            "version": 1,
            "client_id": meta.client_id,
            "exported_at_ms": self.source.now_ms(),
            "entries": entries,
        });
        serde_json::to_string_pretty(&export).map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    /// Every rejected mutation with its reason, oldest first.
    pub async fn rejected_mutations(&self) -> Result<Vec<RejectedMutation>> {
        let tx = self.read_tx(&[stores::OUTBOX])?;
        let store = tx.object_store(stores::OUTBOX)?;
        let values = store
            .index(BY_STATE)?
            .get_all::<JsValue>()
            .with_query::<Vec<JsValue>, _>(state_range(REJECTED, MAX_SEQ))
            .primitive()?
            .await?;
        records(values)?
            .into_iter()
            .map(|r| {
                let rejection = r.rejection.ok_or_else(|| {
                    StorageError::Corrupt(format!("rejected mutation {} has no reason", r.seq))
                })?;
                Ok(RejectedMutation {
                    mutation: r.mutation,
                    code: rejection.code,
                    message: rejection.message,
                    transition: rejection.transition,
                })
            })
            .collect()
    }

    /// How many mutations are `(pending, rejected)`.
    pub async fn outbox_counts(&self) -> Result<(u32, u32)> {
        let tx = self.read_tx(&[stores::OUTBOX])?;
        let store = tx.object_store(stores::OUTBOX)?;
        let index = store.index(BY_STATE)?;
        let pending = index
            .count()
            .with_query::<Vec<JsValue>, _>(state_range(PENDING, MAX_SEQ))
            .primitive()?;
        let rejected = index
            .count()
            .with_query::<Vec<JsValue>, _>(state_range(REJECTED, MAX_SEQ))
            .primitive()?;
        Ok((pending.await?, rejected.await?))
    }

    /// This device's id in the sync protocol, made once per database.
    pub async fn client_id(&self) -> Result<ClientId> {
        let tx = self.read_tx(&[stores::SYNC_META])?;
        Ok(read_meta(&tx).await?.client_id)
    }

    /// Where the next pull starts.
    pub async fn pull_cursor(&self) -> Result<Cursor> {
        let tx = self.read_tx(&[stores::SYNC_META])?;
        Ok(read_meta(&tx).await?.pull_cursor)
    }

    /// Stores where the next pull starts. (Applying a pulled page should store its records and
    /// its cursor in one transaction; this alone is for tests and resets.)
    pub async fn set_pull_cursor(&self, cursor: Cursor) -> Result<()> {
        let tx = self.write_tx(&[stores::SYNC_META])?;
        let mut meta = read_meta(&tx).await?;
        meta.pull_cursor = cursor;
        write_meta(&tx, &meta).await?;
        tx.commit().await?;
        Ok(())
    }
}
