//! The server's state of each record as last pulled (`server_states`, one
//! [`OpinionReplica`] per opinion id), and what a pull does to the tablet's data.
//!
//! The record a deputy sees (the `opinions` store) is always
//! [`local_view`]`(server state, pending mutations)`: the server's merged state with this
//! tablet's unacknowledged mutations on top. A pulled page is applied in **one** transaction:
//! the states, the records rebuilt from them (with their follow-up histories, and the attendance
//! the page carries), the pull cursor and the clock (which observes every
//! pulled stamp, so the next local edit sorts after what the tablet has seen). A crash can
//! therefore never leave the cursor ahead of the data it stands for, nor the data ahead of the
//! cursor (which would only mean pulling a page twice; applying it is idempotent anyway).
//!
//! A round that pushed this tablet's own new records pulls them straight back; the round names
//! them ([`Store::apply_pulled_page_checking`]), and a record already shown as the server has it
//! is not written again (its server state is).

use super::attendance::AttendanceRecord;
use super::follow_ups;
use super::outbox::{self, SyncMeta};
use super::photos::{self, PhotoOwner};
use super::{Result, Store, stores};
use indexed_db_futures::prelude::*;
use liaison_domain::sync::client::local_view;
use liaison_domain::sync::{Change, Clock, Cursor, OpinionReplica, PullResponse};
use liaison_domain::{Opinion, OpinionId};
use std::collections::{HashMap, HashSet};

impl Store {
    /// Applies one pulled page (see the module docs). Returns how many records changed.
    pub async fn apply_pulled_page(&self, page: &PullResponse) -> Result<u32> {
        self.apply_pulled_page_checking(page, &HashSet::new()).await
    }

    /// [`Store::apply_pulled_page`], reading first the records shown for the opinions in
    /// `probably_shown` (this tablet's own records, just pushed: the server sends them back as
    /// the tablet already shows them) and not rewriting those that are equal. A put into
    /// `opinions` updates its three indexes and costs far more than a read, and a tablet that
    /// pushed 10,000 records pulls them all back.
    pub async fn apply_pulled_page_checking(
        &self,
        page: &PullResponse,
        probably_shown: &HashSet<OpinionId>,
    ) -> Result<u32> {
        // Relaxed: a page a crash loses is lost with its cursor, and simply pulled again.
        let tx = self.write_tx_relaxed(&[
            stores::SERVER_STATES,
            stores::OPINIONS,
            stores::FOLLOW_UPS,
            stores::ATTENDANCE,
            stores::PHOTOS,
            stores::OUTBOX,
            stores::SYNC_META,
        ])?;
        let pending = outbox::pending_in(&tx).await?;
        let mut meta: SyncMeta = outbox::read_meta(&tx).await?;
        let mut clock = Clock::resume(meta.clock);
        let now_ms = self.source.now_ms();
        let states = tx.object_store(stores::SERVER_STATES)?;
        let opinions = tx.object_store(stores::OPINIONS)?;
        let follow_ups = tx.object_store(stores::FOLLOW_UPS)?;
        let attendance = tx.object_store(stores::ATTENDANCE)?;
        let photo_store = tx.object_store(stores::PHOTOS)?;
        // The records named as probably shown, as they are shown now: all reads issued at once.
        let mut shown: HashMap<OpinionId, Opinion> = HashMap::new();
        if !probably_shown.is_empty() {
            let reads = page
                .changes
                .iter()
                .filter_map(|change| match change {
                    Change::Opinion { state, .. } if probably_shown.contains(&state.id()) => {
                        Some(state.id())
                    }
                    _ => None,
                })
                .map(|id| Ok((id, opinions.get(id.to_string()).serde()?)))
                .collect::<Result<Vec<_>>>()?;
            for (id, read) in reads {
                let stored: Option<Opinion> = read.await?;
                if let Some(stored) = stored {
                    shown.insert(id, stored);
                }
            }
        }
        // Every write is issued before the first is awaited, so the browser takes the page in one
        // go rather than one round trip per record. A deleted record also loses its photos, which
        // needs a read of the photo index, so deletions go after.
        let mut writes = Vec::with_capacity(page.changes.len() * 2);
        let mut deleted = Vec::new();
        for change in &page.changes {
            match change {
                Change::Opinion { state, .. } => {
                    // Kept and shown with the citizen masked: the tablet never shows more.
                    let state = &state.clone().with_citizen_masked();
                    writes.push(states.put(state).serde()?);
                    match local_view(state.id(), Some(state), &pending) {
                        Some(opinion) => {
                            if shown.get(&state.id()) != Some(&opinion) {
                                writes.push(opinions.put(&opinion).serde()?);
                            }
                            // Steps are only ever added, so a record without steps never had
                            // a history to remove here (a refused step's is rebuilt when the
                            // push answer says so).
                            if let Some(history) =
                                follow_ups::view_of(&opinion, Some(state), &pending)
                            {
                                writes.push(follow_ups.put(history).serde()?);
                            }
                        }
                        None => deleted.push(state.id()),
                    }
                    if let Some(stamp) = state.last_stamp() {
                        clock.observe(&stamp, now_ms);
                    }
                }
                Change::Attendance { state, .. } => {
                    let record =
                        AttendanceRecord::rebuild(&state.key, Some(state.clone()), &pending);
                    if let Some(record) = record {
                        writes.push(attendance.put(record).serde()?);
                    }
                }
            }
        }
        for write in writes {
            write.await?;
        }
        for id in deleted {
            opinions.delete(id.to_string()).primitive()?.await?;
            follow_ups.delete(id.to_string()).primitive()?.await?;
            photos::delete_owned_by(&photo_store, &PhotoOwner::Opinion(id)).await?;
        }
        let changed = page.changes.len() as u32;
        meta.clock = clock.last();
        meta.pull_cursor = page.next_cursor;
        outbox::write_meta(&tx, &meta).await?;
        tx.commit().await?;
        Ok(changed)
    }

    /// The server's state of one record as last pulled.
    pub async fn server_state(&self, id: OpinionId) -> Result<Option<OpinionReplica>> {
        let tx = self.read_tx(&[stores::SERVER_STATES])?;
        let state = tx
            .object_store(stores::SERVER_STATES)?
            .get(id.to_string())
            .serde()?
            .await?;
        Ok(state)
    }

    /// The server asked for a reset (it purged tombstones this tablet has not seen): forgets the
    /// pulled states and every record that is not this tablet's own unsynced or rejected work,
    /// and pulls again from the start. Call it only after pushing the outbox; nothing in the
    /// outbox is touched, and records it mentions stay, as do records with photos still waiting
    /// for the server (this tablet holds their only copy). Attendance stays: the server never
    /// deletes it, and the full pull brings its state again.
    pub async fn reset_for_full_pull(&self) -> Result<()> {
        let tx = self.write_tx(&[
            stores::SERVER_STATES,
            stores::OPINIONS,
            stores::FOLLOW_UPS,
            stores::PHOTOS,
            stores::OUTBOX,
            stores::SYNC_META,
        ])?;
        let mut keep: HashSet<String> = outbox::all_in(&tx)
            .await?
            .iter()
            .filter_map(|m| m.kind.opinion_id())
            .map(|id| id.to_string())
            .collect();
        keep.extend(
            photos::opinions_with_photos_to_upload(&tx.object_store(stores::PHOTOS)?)
                .await?
                .into_iter()
                .map(|id| id.to_string()),
        );
        tx.object_store(stores::SERVER_STATES)?.clear()?.await?;
        let opinions = tx.object_store(stores::OPINIONS)?;
        let follow_ups = tx.object_store(stores::FOLLOW_UPS)?;
        let photo_store = tx.object_store(stores::PHOTOS)?;
        let ids: Vec<String> = opinions
            .get_all_keys()
            .primitive()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        for id in ids.into_iter().filter(|id| !keep.contains(id)) {
            opinions.delete(id.as_str()).primitive()?.await?;
            follow_ups.delete(id.as_str()).primitive()?.await?;
            if let Some(opinion_id) = OpinionId::parse(&id) {
                photos::delete_owned_by(&photo_store, &PhotoOwner::Opinion(opinion_id)).await?;
            }
        }
        let mut meta = outbox::read_meta(&tx).await?;
        meta.pull_cursor = Cursor::START;
        outbox::write_meta(&tx, &meta).await?;
        tx.commit().await?;
        Ok(())
    }
}
