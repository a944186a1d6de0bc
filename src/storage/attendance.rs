//! Duty attendance (`attendance`, keyed by `station|deputy|day`): for each deputy and day at a
//! station, the server's merged state as last pulled and what the tablet shows, that state with
//! this tablet's unsynced marks merged in ([`Attendance::apply`]: the earliest sign-in and the
//! latest sign-out win, in any order). The `by_station_day` index lists a station's day.
//!
//! A sign-in or sign-out is recorded like any local change: merged into what is shown and queued
//! in the outbox (`MarkAttendance`) in one transaction, so it works offline and shows at once.
//! Two tablets marking the same deputy on the same day end up with one record: the key is what
//! the record is about, never a random id.

use super::outbox;
use super::{Result, Store, stores};
use indexed_db_futures::KeyRange;
use indexed_db_futures::object_store::ObjectStore;
use indexed_db_futures::prelude::*;
use liaison_domain::StationId;
use liaison_domain::followup::{Attendance, AttendanceKey, AttendanceMark, Date};
use liaison_domain::sync::{Mutation, MutationKind};
use serde::{Deserialize, Serialize};

/// The `[station_id, day]` index of the attendance store.
pub(crate) const BY_STATION_DAY: &str = "by_station_day";

/// One deputy's attendance on one day, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AttendanceRecord {
    /// [`AttendanceKey::id`].
    pub id: String,
    pub station_id: StationId,
    pub day: Date,
    /// The server's state as last pulled; `None` before the server has any mark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Attendance>,
    /// What the tablet shows: `server` with the pending marks merged in.
    pub shown: Attendance,
}

impl AttendanceRecord {
    /// The record of `key` from the server's state and the outbox's pending mutations; `None`
    /// when neither has a mark for it.
    pub fn rebuild(
        key: &AttendanceKey,
        server: Option<Attendance>,
        pending: &[Mutation],
    ) -> Option<AttendanceRecord> {
        let mut shown = server
            .clone()
            .unwrap_or_else(|| Attendance::new(key.clone()));
        let mut marked = false;
        for mutation in pending {
            if let MutationKind::MarkAttendance { mark } = &mutation.kind
                && mark.key == *key
            {
                shown.apply(mark);
                marked = true;
            }
        }
        (server.is_some() || marked).then(|| AttendanceRecord {
            id: key.id(),
            station_id: key.station_id.clone(),
            day: key.day,
            server,
            shown,
        })
    }
}

/// Writes (or, with nothing to show, deletes) the record of `key`, inside the caller's
/// transaction.
pub(crate) async fn put_record(
    store: &ObjectStore<'_>,
    key: &AttendanceKey,
    record: Option<AttendanceRecord>,
) -> Result<()> {
    match record {
        Some(record) => {
            store.put(record).serde()?.await?;
        }
        None => {
            store.delete(key.id()).primitive()?.await?;
        }
    }
    Ok(())
}

impl Store {
    /// Records a sign-in or sign-out: merges it into what the tablet shows and queues its
    /// `MarkAttendance` mutation, in one transaction. Returns the attendance as now shown.
    pub async fn mark_attendance(&self, mark: &AttendanceMark) -> Result<Attendance> {
        let tx = self.write_tx(&[stores::ATTENDANCE, stores::OUTBOX, stores::SYNC_META])?;
        let store = tx.object_store(stores::ATTENDANCE)?;
        let stored: Option<AttendanceRecord> = store.get(mark.key.id()).serde()?.await?;
        let mut record = stored.unwrap_or_else(|| AttendanceRecord {
            id: mark.key.id(),
            station_id: mark.key.station_id.clone(),
            day: mark.key.day,
            server: None,
            shown: Attendance::new(mark.key.clone()),
        });
        record.shown.apply(mark);
        store.put(&record).serde()?.await?;
        outbox::record(
            &tx,
            outbox::Outgoing::without_citizen(MutationKind::MarkAttendance { mark: mark.clone() })?,
            self.source.now_ms(),
        )
        .await?;
        tx.commit().await?;
        Ok(record.shown)
    }

    /// The attendance at `station` on `day` as the tablet shows it, one per deputy who has a
    /// mark, in deputy id order.
    pub async fn attendance_on(&self, station: &StationId, day: Date) -> Result<Vec<Attendance>> {
        let tx = self.read_tx(&[stores::ATTENDANCE])?;
        let records: Vec<AttendanceRecord> = tx
            .object_store(stores::ATTENDANCE)?
            .index(BY_STATION_DAY)?
            .get_all()
            .with_query::<[String; 2], _>(KeyRange::Only([station.0.clone(), day.to_string()]))
            .serde()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        Ok(records.into_iter().map(|r| r.shown).collect())
    }

    /// The attendance at `station` from `from` to `to` (both included) as the tablet shows it,
    /// by day, then deputy: what the station's offline figures count.
    pub async fn attendance_between(
        &self,
        station: &StationId,
        from: Date,
        to: Date,
    ) -> Result<Vec<Attendance>> {
        let tx = self.read_tx(&[stores::ATTENDANCE])?;
        let records: Vec<AttendanceRecord> = tx
            .object_store(stores::ATTENDANCE)?
            .index(BY_STATION_DAY)?
            .get_all()
            .with_query::<[String; 2], _>(KeyRange::Bound(
                [station.0.clone(), from.to_string()],
                false,
                [station.0.clone(), to.to_string()],
                false,
            ))
            .serde()?
            .await?
            .collect::<std::result::Result<_, _>>()?;
        Ok(records.into_iter().map(|r| r.shown).collect())
    }
}
