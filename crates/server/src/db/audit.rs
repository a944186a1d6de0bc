//! The audit log (table `audit_log` from `0009_figures.sql`): who did what with the data, when.
//! Every export writes one row before its file is sent (`crate::exports`); later issues add
//! their own actions (unmasking on screen, purges). General on purpose: an action code and a
//! JSON detail whose shape belongs to the action.

use super::Db;
use serde::Serialize;
use serde_json::Value;

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
    /// What was done: `export_register`, `export_ledger`, ...
    pub action: String,
    /// The action's detail (for an export: format, filters, `personal`, `rows`).
    pub detail: Value,
}

/// The most records one read of the log returns.
pub const MAX_AUDIT_PAGE: i64 = 1000;

impl Db {
    /// Writes one audit record (its `id` is the database's, the one given is ignored). The
    /// caller fails its request when this fails: nothing is done (sent) that the log does not
    /// hold.
    pub async fn write_audit(&self, entry: &AuditEntry) -> Result<(), sqlx::Error> {
        self.acquire()
            .await?
            .query(
                "INSERT INTO audit_log (at_ms, user_id, username, display_name, action, detail) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(entry.at_ms)
            .bind(entry.user_id.as_str())
            .bind(entry.username.as_str())
            .bind(entry.display_name.as_str())
            .bind(entry.action.as_str())
            .bind(entry.detail.to_string())
            .execute()
            .await?;
        Ok(())
    }

    /// The newest audit records first (by id: the order they were written in), at most `limit`
    /// (clamped to 1..=[`MAX_AUDIT_PAGE`]), those with an id below `before_id` when given (the
    /// next page: the last id of this one; by id, not time, so that two records of the same
    /// millisecond are never split and skipped), of one action when given.
    pub async fn audit_log(
        &self,
        before_id: Option<i64>,
        action: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, sqlx::Error> {
        let limit = limit.clamp(1, MAX_AUDIT_PAGE);
        let rows = self
            .acquire()
            .await?
            .query(
                "SELECT id, at_ms, user_id, username, display_name, action, detail \
                 FROM audit_log WHERE id < $1 AND ($2 = '' OR action = $2) \
                 ORDER BY id DESC LIMIT $3",
            )
            .bind(before_id.unwrap_or(i64::MAX))
            .bind(action.unwrap_or(""))
            .bind(limit)
            .fetch_all()
            .await?;
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at_ms: row.try_get("at_ms")?,
                    user_id: row.try_get("user_id")?,
                    username: row.try_get("username")?,
                    display_name: row.try_get("display_name")?,
                    action: row.try_get("action")?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|err| sqlx::Error::Decode(Box::new(err)))?,
                })
            })
            .collect()
    }
}
