//! The audit log (table `audit_log` from `0009_figures.sql`, `station_id` and the append-only
//! triggers from `0011_privacy_audit.sql`): who did what with the data, when. General on
//! purpose: an action code and a JSON detail whose shape belongs to the action.
//!
//! The actions ([`actions`]): sign-ins and their failures (the username tried, never the
//! password), lockouts, sign-outs, device enrolment and revocation, unmasking a citizen's
//! personal data, exports, every follow-up step (written by the push transaction that stores
//! the step, `db/sync.rs`), account changes, and the retention purges.
//!
//! **Append-only.** The database refuses an `UPDATE` of a record, and a `DELETE` of one younger
//! than [`MIN_RETENTION_DAYS`] (triggers on both backends). [`Db::purge_audit`] deletes older
//! records only, and never younger than that, whatever it is asked.
//!
//! **Fail closed.** Whoever writes a record fails its request when the write fails: nothing is
//! shown, sent or done that the log does not hold.

use super::Db;
use super::backend::{Conn, in_list};
use serde::Serialize;
use serde_json::Value;

/// The action codes the server writes (the viewer's `action` filter takes these); defined in the
/// domain so that the app's viewer names the same list.
pub use liaison_domain::audit::actions;

/// Records are never deleted younger than this (Cybersecurity Law art. 21: six months); the
/// database's triggers hold the same number.
pub const MIN_RETENTION_DAYS: u32 = 180;

const DAY_MS: i64 = 86_400_000;

/// One audit record as read back (`GET /api/v1/audit`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Numbers the records in the order they were written.
    pub id: i64,
    /// Server time in milliseconds since the Unix epoch.
    pub at_ms: i64,
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// What was done: [`actions`].
    pub action: String,
    /// The action's detail (for an export: format, filters, `personal`, `rows`).
    pub detail: Value,
}

/// An audit record with the station it is about, as the viewer reads it: the domain's type, so
/// that the server writes and the app reads one shape.
pub use liaison_domain::audit::AuditRecord;

/// The viewer's filters: each optional.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Records with an id below this one (the next page).
    pub before_id: Option<i64>,
    pub action: Option<String>,
    /// The acting account's username.
    pub actor: Option<String>,
    pub station: Option<String>,
    /// Server time, milliseconds, both ends included.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// `None`: every station and the records of none (administrators). `Some`: only records
    /// about one of these stations.
    pub stations: Option<Vec<String>>,
    pub limit: i64,
}

/// The most records one read of the log returns.
pub const MAX_AUDIT_PAGE: i64 = 1000;

/// The station an export's detail names (its `station` filter), for records written through
/// [`Db::write_audit`].
fn station_of(detail: &Value) -> Option<&str> {
    detail
        .get("station_id")
        .or_else(|| detail.get("filters").and_then(|f| f.get("station")))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

/// Writes one record on `conn` (inside the caller's transaction when it has one). `username`
/// `None`: the account's current username, looked up in the same statement.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    at_ms: i64,
    user_id: &str,
    username: Option<&str>,
    display_name: &str,
    action: &str,
    station_id: Option<&str>,
    detail: &Value,
) -> Result<(), sqlx::Error> {
    conn.query(
        "INSERT INTO audit_log (at_ms, user_id, username, display_name, action, detail, \
             station_id) \
         VALUES ($1, $2, COALESCE($3, (SELECT username FROM users WHERE id = $2), ''), $4, $5, \
             $6, $7)",
    )
    .bind(at_ms)
    .bind(user_id)
    .bind(username)
    .bind(display_name)
    .bind(action)
    .bind(detail.to_string())
    .bind(station_id)
    .execute()
    .await?;
    Ok(())
}

/// The audit record of a follow-up step, written by the push that stores it.
#[derive(Debug)]
pub(crate) struct StepAudit {
    pub user_id: String,
    pub display_name: String,
    pub station_id: Option<String>,
    pub detail: Value,
}

/// Writes the records of the steps a push applied, in its transaction.
pub(crate) async fn write_steps(
    conn: &mut Conn<'_>,
    at_ms: i64,
    steps: &[StepAudit],
) -> Result<(), sqlx::Error> {
    for step in steps {
        insert(
            conn,
            at_ms,
            &step.user_id,
            None,
            &step.display_name,
            actions::STEP,
            step.station_id.as_deref(),
            &step.detail,
        )
        .await?;
    }
    Ok(())
}

impl Db {
    /// Writes one audit record (its `id` is the database's, the one given is ignored); the
    /// station is the one the detail names (`station_id`, or an export's `filters.station`).
    /// The caller fails its request when this fails: nothing is done (sent) that the log does
    /// not hold.
    pub async fn write_audit(&self, entry: &AuditEntry) -> Result<(), sqlx::Error> {
        self.write_audit_at(entry, station_of(&entry.detail)).await
    }

    /// [`Db::write_audit`] about `station`.
    pub async fn write_audit_at(
        &self,
        entry: &AuditEntry,
        station: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let mut conn = self.acquire().await?;
        insert(
            &mut conn.conn(),
            entry.at_ms,
            &entry.user_id,
            Some(&entry.username),
            &entry.display_name,
            &entry.action,
            station,
            &entry.detail,
        )
        .await
    }

    /// The records `query` selects, newest first (see [`AuditQuery`]).
    pub async fn audit_records(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, sqlx::Error> {
        let limit = query.limit.clamp(1, MAX_AUDIT_PAGE);
        let mut conn = self.acquire().await?;
        let backend = conn.conn().backend();
        let scope = match &query.stations {
            None => String::new(),
            Some(stations) if stations.is_empty() => " AND 1 = 0".to_owned(),
            Some(stations) => format!(" AND {}", in_list(backend, "station_id", 8, stations.len())),
        };
        let sql = format!(
            "SELECT id, at_ms, user_id, username, display_name, action, detail, station_id \
             FROM audit_log WHERE id < $1 AND ($2 = '' OR action = $2) \
               AND ($3 = '' OR username = $3) AND ($4 = '' OR station_id = $4) \
               AND at_ms >= $5 AND at_ms <= $6{scope} \
             ORDER BY id DESC LIMIT $7"
        );
        let stations: Vec<String> = query.stations.iter().flatten().cloned().collect();
        let mut statement = conn
            .query(&sql)
            .bind(query.before_id.unwrap_or(i64::MAX))
            .bind(query.action.as_deref().unwrap_or(""))
            .bind(query.actor.as_deref().unwrap_or(""))
            .bind(query.station.as_deref().unwrap_or(""))
            .bind(query.from_ms.unwrap_or(i64::MIN))
            .bind(query.to_ms.unwrap_or(i64::MAX))
            .bind(limit);
        if !stations.is_empty() {
            statement = statement.bind_texts(stations);
        }
        let rows = statement.fetch_all().await?;
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditRecord {
                    id: row.try_get("id")?,
                    at_ms: row.try_get("at_ms")?,
                    user_id: row.try_get("user_id")?,
                    username: row.try_get("username")?,
                    display_name: row.try_get("display_name")?,
                    action: row.try_get("action")?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|err| sqlx::Error::Decode(Box::new(err)))?,
                    station_id: row.try_get("station_id")?,
                })
            })
            .collect()
    }

    /// Deletes the records older than `days` (never fewer than [`MIN_RETENTION_DAYS`]) before
    /// `now_ms`, and records the purge (with the count) in the log itself. Returns the count.
    pub async fn purge_audit(&self, days: u32, now_ms: i64) -> Result<u64, sqlx::Error> {
        let days = i64::from(days.max(MIN_RETENTION_DAYS));
        let before = now_ms.saturating_sub(days.saturating_mul(DAY_MS));
        let mut conn = self.acquire().await?;
        let deleted = conn
            .query("DELETE FROM audit_log WHERE at_ms < $1")
            .bind(before)
            .execute()
            .await?;
        insert(
            &mut conn.conn(),
            now_ms,
            super::accounts::SYSTEM_USER_ID,
            None,
            "系统",
            actions::AUDIT_PURGE,
            None,
            &serde_json::json!({"older_than_days": days, "deleted": deleted}),
        )
        .await?;
        Ok(deleted)
    }
}
