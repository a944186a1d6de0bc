//! Storage of the follow-up loop around the sync store (tables from `0008_followup.sql`): the
//! handling units, the working-day calendar, the server-side sync client of each account (for
//! steps taken online), the opinions a ledger reads, duty attendance as stored by the pushes, the
//! duty roster and station events. Like the rest of `db/`, it authorises nothing: the callers in
//! `crate::followup` and `crate::duty` pass the stations or unit the signed-in user may read.
//!
//! Days are stored as `YYYY-MM-DD` text, which sorts like the dates (years are four digits,
//! [`Date`]), so a period is a text range on both backends.

use super::Db;
use super::backend::{Begin, Column, Conn, Row, in_list, insert_rows};
use crate::auth::{now_ms, random_bytes};
use liaison_domain::followup::{
    Activity, ActivityKind, Attendance, Date, HandlingUnit, RosterEntry, WorkCalendar,
};
use liaison_domain::sync::OpinionReplica;
use liaison_domain::{ClientId, DeputyId, OpinionId, RegionId, StationId, UnitId};
use std::collections::HashSet;

/// The earliest and latest day text a period may have: a missing bound is no bound.
const NO_START: &str = "0000-01-01";
const NO_END: &str = "9999-12-31";

/// The most holidays plus make-up days a calendar may list: ten years of them several times
/// over. Every push with a referral reads the whole calendar.
pub const MAX_CALENDAR_DAYS: usize = 4000;

/// A period of days, either end open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl Period {
    fn bounds(&self) -> (String, String) {
        (
            self.from
                .map_or_else(|| NO_START.to_owned(), |d| d.to_string()),
            self.to.map_or_else(|| NO_END.to_owned(), |d| d.to_string()),
        )
    }
}

/// What storing an activity did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityStored {
    Created,
    /// The same activity was stored before (a resend): nothing changed.
    AlreadyThere,
    /// Another activity has this id: nothing changed.
    Conflict,
}

/// The working-day calendar as stored (read inside a push that holds a referral, and by
/// `GET /api/v1/calendar`).
pub(super) async fn calendar(conn: &mut Conn<'_>) -> Result<WorkCalendar, sqlx::Error> {
    let mut calendar = WorkCalendar::default();
    for row in conn
        .query("SELECT day, kind FROM calendar_days ORDER BY day")
        .fetch_all()
        .await?
    {
        let day = parse_day(&row.try_get::<String>("day")?)?;
        match row.try_get::<String>("kind")?.as_str() {
            "make_up_working_day" => calendar.make_up_working_days.insert(day),
            _ => calendar.holidays.insert(day),
        };
    }
    Ok(calendar)
}

/// The ids of the handling units (a referral must name one).
pub(super) async fn unit_ids(conn: &mut Conn<'_>) -> Result<HashSet<String>, sqlx::Error> {
    conn.query("SELECT id FROM handling_units")
        .fetch_all()
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect()
}

fn parse_day(text: &str) -> Result<Date, sqlx::Error> {
    Date::parse(text).ok_or_else(|| {
        sqlx::Error::Decode(format!("not a day (YYYY-MM-DD) in the database: {text}").into())
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(json).map_err(|err| sqlx::Error::Decode(Box::new(err)))
}

impl Db {
    /// Every handling unit, by id.
    pub async fn units(&self) -> Result<Vec<HandlingUnit>, sqlx::Error> {
        self.acquire()
            .await?
            .query("SELECT id, name, region_id FROM handling_units ORDER BY id")
            .fetch_all()
            .await?
            .iter()
            .map(|row| {
                Ok(HandlingUnit {
                    id: UnitId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    region_id: RegionId(row.try_get("region_id")?),
                })
            })
            .collect()
    }

    /// Adds a handling unit, or renames it and moves it to `region_id` if it exists.
    pub async fn put_unit(&self, unit: &HandlingUnit) -> Result<(), sqlx::Error> {
        self.acquire()
            .await?
            .query(
                "INSERT INTO handling_units (id, name, region_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                     region_id = excluded.region_id",
            )
            .bind(unit.id.0.as_str())
            .bind(unit.name.as_str())
            .bind(unit.region_id.0.as_str())
            .execute()
            .await?;
        Ok(())
    }

    /// The working-day calendar.
    pub async fn work_calendar(&self) -> Result<WorkCalendar, sqlx::Error> {
        calendar(&mut self.acquire().await?.conn()).await
    }

    /// Replaces the working-day calendar as a whole. The caller has checked that no day is both
    /// a holiday and a make-up working day, and the size ([`MAX_CALENDAR_DAYS`]).
    pub async fn set_work_calendar(&self, calendar: &WorkCalendar) -> Result<(), sqlx::Error> {
        // Two offices saving at once must not interleave their deletes and inserts.
        let mut tx = self
            .pool
            .begin(Begin::LockTables(&["calendar_days"]))
            .await?;
        tx.query("DELETE FROM calendar_days").execute().await?;
        let days: Vec<(String, &str)> = calendar
            .holidays
            .iter()
            .map(|d| (d.to_string(), "holiday"))
            .chain(
                calendar
                    .make_up_working_days
                    .iter()
                    .map(|d| (d.to_string(), "make_up_working_day")),
            )
            .collect();
        insert_rows(
            &mut tx.conn(),
            "INSERT INTO calendar_days (day, kind)",
            vec![
                Column::text(days.iter().map(|(day, _)| day.as_str())),
                Column::text(days.iter().map(|(_, kind)| *kind)),
            ],
            "",
        )
        .await?;
        tx.commit().await
    }

    /// The opinions whose follow-up status is archived now (from their facts), for the
    /// retention purge.
    pub async fn archived_opinions(&self) -> Result<Vec<OpinionId>, sqlx::Error> {
        let rows = self
            .acquire()
            .await?
            .query("SELECT opinion_id FROM opinion_facts WHERE status = 'archived' ORDER BY opinion_id")
            .fetch_all()
            .await?;
        Ok(rows
            .iter()
            .filter_map(|row| row.try_get::<String>("opinion_id").ok())
            .filter_map(|id| OpinionId::parse(&id))
            .collect())
    }

    /// The sync client the server numbers `user_id`'s online steps with, made on first use.
    /// The conditional `UPDATE` settles two first uses at once: on PostgreSQL the second waits
    /// for the first's row lock and then finds the column set; both read the same client back.
    pub async fn server_client(&self, user_id: &str) -> anyhow::Result<ClientId> {
        let candidate = ClientId::new_v7(u64::try_from(now_ms()).unwrap_or(0), random_bytes()?);
        let mut conn = self.acquire().await?;
        conn.query(
            "UPDATE users SET server_client_id = $1 WHERE id = $2 AND server_client_id IS NULL",
        )
        .bind(candidate.to_string())
        .bind(user_id)
        .execute()
        .await?;
        let stored: Option<String> = conn
            .query("SELECT server_client_id FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional()
            .await?
            .map(|row| row.try_get::<Option<String>>("server_client_id"))
            .transpose()?
            .flatten();
        stored
            .as_deref()
            .and_then(ClientId::parse)
            .ok_or_else(|| anyhow::anyhow!("no server-side sync client for user {user_id}"))
    }

    /// Every opinion stored for `stations` (tombstones included), for the ledger.
    pub async fn opinions_at(
        &self,
        stations: &[StationId],
    ) -> Result<Vec<OpinionReplica>, sqlx::Error> {
        if stations.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.acquire().await?;
        let sql = format!(
            "SELECT state FROM opinions WHERE {}",
            in_list(conn.conn().backend(), "station_id", 1, stations.len())
        );
        let ids: Vec<&str> = stations.iter().map(|s| s.0.as_str()).collect();
        conn.query(&sql)
            .bind_list(&ids)
            .fetch_all()
            .await?
            .iter()
            .map(|row| parse_json(&row.try_get::<String>("state")?))
            .collect()
    }

    /// Every opinion ever referred to `unit` (tombstones included), for its ledger.
    pub async fn opinions_referred_to(
        &self,
        unit: &UnitId,
    ) -> Result<Vec<OpinionReplica>, sqlx::Error> {
        self.acquire()
            .await?
            .query(
                "SELECT o.state FROM opinions o \
                 JOIN referrals r ON r.opinion_id = o.id WHERE r.unit_id = $1",
            )
            .bind(unit.0.as_str())
            .fetch_all()
            .await?
            .iter()
            .map(|row| parse_json(&row.try_get::<String>("state")?))
            .collect()
    }

    /// The attendance of `stations` in `period`, by day, station and deputy.
    pub async fn attendance(
        &self,
        stations: &[StationId],
        period: Period,
    ) -> Result<Vec<Attendance>, sqlx::Error> {
        if stations.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.acquire().await?;
        station_period_rows(
            &mut conn.conn(),
            "SELECT state FROM attendance",
            "",
            "day, station_id, deputy_id",
            stations,
            period,
        )
        .await?
        .iter()
        .map(|row| parse_json(&row.try_get::<String>("state")?))
        .collect()
    }

    /// The roster of `stations` in `period`, by day, station and deputy.
    pub async fn roster(
        &self,
        stations: &[StationId],
        period: Period,
    ) -> Result<Vec<RosterEntry>, sqlx::Error> {
        if stations.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.acquire().await?;
        station_period_rows(
            &mut conn.conn(),
            "SELECT station_id, day, deputy_id FROM roster",
            "",
            "day, station_id, deputy_id",
            stations,
            period,
        )
        .await?
        .iter()
        .map(|row| {
            Ok(RosterEntry {
                station_id: StationId(row.try_get("station_id")?),
                day: parse_day(&row.try_get::<String>("day")?)?,
                deputy_id: DeputyId(row.try_get("deputy_id")?),
            })
        })
        .collect()
    }

    /// Replaces the roster of `station` on `day` with `deputies` (who exist and serve there:
    /// checked by the caller).
    pub async fn set_roster(
        &self,
        station: &StationId,
        day: Date,
        deputies: &[DeputyId],
    ) -> Result<(), sqlx::Error> {
        // Serialised: two saves of one day at once must not leave the union of both.
        let mut tx = self.pool.begin(Begin::LockTables(&["roster"])).await?;
        let day = day.to_string();
        tx.query("DELETE FROM roster WHERE station_id = $1 AND day = $2")
            .bind(station.0.as_str())
            .bind(day.as_str())
            .execute()
            .await?;
        for deputy in deputies {
            tx.query(
                "INSERT INTO roster (station_id, day, deputy_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (station_id, day, deputy_id) DO NOTHING",
            )
            .bind(station.0.as_str())
            .bind(day.as_str())
            .bind(deputy.0.as_str())
            .execute()
            .await?;
        }
        tx.commit().await
    }

    /// The activities of `stations` in `period`, by day, station and id, with their attendees
    /// in the order recorded.
    pub async fn activities(
        &self,
        stations: &[StationId],
        period: Period,
    ) -> Result<Vec<Activity>, sqlx::Error> {
        if stations.is_empty() {
            return Ok(Vec::new());
        }
        // One snapshot for the activities and their attendees.
        let mut tx = self.pool.begin(Begin::Snapshot).await?;
        let mut conn = tx.conn();
        let mut activities = Vec::new();
        for row in station_period_rows(
            &mut conn,
            "SELECT id, station_id, day, kind, title, citizens_received, note FROM activities",
            "",
            "day, station_id, id",
            stations,
            period,
        )
        .await?
        {
            let kind: String = row.try_get("kind")?;
            activities.push(Activity {
                id: row.try_get("id")?,
                station_id: StationId(row.try_get("station_id")?),
                kind: ActivityKind::from_code(&kind).ok_or_else(|| {
                    sqlx::Error::Decode(format!("unknown activity kind {kind}").into())
                })?,
                title: row.try_get("title")?,
                day: parse_day(&row.try_get::<String>("day")?)?,
                attendees: Vec::new(),
                citizens_received: u32::try_from(row.try_get::<i64>("citizens_received")?)
                    .map_err(|err| sqlx::Error::Decode(Box::new(err)))?,
                note: row.try_get("note")?,
            });
        }
        let attendees = station_period_rows(
            &mut conn,
            "SELECT t.activity_id, t.deputy_id FROM activity_attendees t \
             JOIN activities a ON a.id = t.activity_id",
            "a.",
            "t.activity_id, t.position",
            stations,
            period,
        )
        .await?;
        tx.commit().await?;
        for row in attendees {
            let activity: String = row.try_get("activity_id")?;
            if let Some(a) = activities.iter_mut().find(|a| a.id == activity) {
                a.attendees.push(DeputyId(row.try_get("deputy_id")?));
            }
        }
        Ok(activities)
    }

    /// Stores an activity with its attendees (checked by the caller) in one transaction.
    pub async fn add_activity(
        &self,
        activity: &Activity,
        recorded_by: &str,
        now: i64,
    ) -> Result<ActivityStored, sqlx::Error> {
        let mut tx = self.pool.begin(Begin::Plain).await?;
        // The primary key settles two saves of one id at once: the second waits, then does
        // nothing and compares.
        let inserted = tx
            .query(
                "INSERT INTO activities (id, station_id, day, kind, title, citizens_received, \
                     note, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
            )
            .bind(activity.id.as_str())
            .bind(activity.station_id.0.as_str())
            .bind(activity.day.to_string())
            .bind(activity.kind.code())
            .bind(activity.title.as_str())
            .bind(i64::from(activity.citizens_received))
            .bind(activity.note.as_str())
            .bind(recorded_by)
            .bind(now)
            .execute()
            .await?;
        if inserted == 0 {
            drop(tx);
            let stored = self
                .activities(
                    std::slice::from_ref(&activity.station_id),
                    Period {
                        from: Some(activity.day),
                        to: Some(activity.day),
                    },
                )
                .await?;
            return Ok(if stored.iter().any(|a| a == activity) {
                ActivityStored::AlreadyThere
            } else {
                ActivityStored::Conflict
            });
        }
        for (position, deputy) in activity.attendees.iter().enumerate() {
            tx.query(
                "INSERT INTO activity_attendees (activity_id, deputy_id, position) \
                 VALUES ($1, $2, $3)",
            )
            .bind(activity.id.as_str())
            .bind(deputy.0.as_str())
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute()
            .await?;
        }
        tx.commit().await?;
        Ok(ActivityStored::Created)
    }
}

/// The rows of `select` (a query up to its `FROM` and joins) whose `{table}day` falls in
/// `period` and whose `{table}station_id` is one of `stations`, ordered by `order`: the shape of
/// every per-station, per-period read of the duty records. `table` is the alias prefix (`"a."`)
/// or empty.
async fn station_period_rows(
    conn: &mut Conn<'_>,
    select: &str,
    table: &str,
    order: &str,
    stations: &[StationId],
    period: Period,
) -> Result<Vec<Row>, sqlx::Error> {
    let sql = format!(
        "{select} WHERE {table}day >= $1 AND {table}day <= $2 AND {} ORDER BY {order}",
        in_list(
            conn.backend(),
            &format!("{table}station_id"),
            3,
            stations.len()
        )
    );
    let (from, to) = period.bounds();
    let ids: Vec<&str> = stations.iter().map(|s| s.0.as_str()).collect();
    conn.query(&sql)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind_list(&ids)
        .fetch_all()
        .await
}
