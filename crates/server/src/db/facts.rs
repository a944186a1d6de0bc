//! The figures' facts (tables from `0009_figures.sql`): one `opinion_facts` row per live opinion
//! holding its [`OpinionFacts`], and one `opinion_evaluations` row per evaluation, in order. The
//! figures are SQL aggregates over them (`figures.rs`); the definitions are the domain's, so the
//! facts are derived in Rust with [`OpinionFacts::derive`] and never computed in SQL.
//!
//! **Kept current** by the push transaction itself ([`write_facts`], called by `sync.rs` right
//! after it writes the opinions, for pushed mutations and online steps alike): the facts of an
//! opinion change in the same commit as the opinion, so no reader ever sees one without the
//! other. A deleted opinion (or one of which only edits have arrived) has no facts.
//!
//! **Rebuilt** at startup when the stored `facts_version` (table `server_meta`) is older than
//! [`FACTS_VERSION`]: a database from before the facts existed, or one whose facts were derived
//! under an older definition. Changing what a fact means is then one bump of the constant. The
//! rebuild ([`Db::rebuild_facts_if_outdated`]) walks `opinions` (and `attendance`, for its
//! `signed_in` column) by id in batches, each batch in its own transaction under the push lock
//! (`Begin::SyncWriter`), so that on a database shared with running servers a push cannot slip
//! between the read of an opinion and the write of its facts, and no transaction holds that lock
//! for long.

use super::Db;
use super::backend::{Begin, Conn, in_list};
use super::sync::{ROWS_PER_STATEMENT, parse_json, value_lists};
use liaison_domain::figures::OpinionFacts;
use liaison_domain::followup::Attendance;
use liaison_domain::sync::OpinionReplica;

/// The version of the facts' definitions. Bump it when [`OpinionFacts::derive`] (or what the
/// server stores of it) changes: the next start rebuilds every row.
pub const FACTS_VERSION: i64 = 2;

/// Opinions (or attendance records) read and rewritten per transaction by the rebuild.
pub const REBUILD_BATCH: usize = 1000;

/// Replaces the facts of `opinions` (id and merged state) with what their states say now: the
/// rows of deleted ones go, live ones get their [`OpinionFacts`] and evaluations. Runs inside the
/// caller's transaction.
pub(super) async fn write_facts<'a>(
    conn: &mut Conn<'_>,
    opinions: impl IntoIterator<Item = (&'a str, &'a OpinionReplica)>,
) -> Result<(), sqlx::Error> {
    let mut ids: Vec<&str> = Vec::new();
    let mut facts: Vec<OpinionFacts> = Vec::new();
    for (id, replica) in opinions {
        ids.push(id);
        if let Some(opinion) = replica.opinion() {
            facts.push(OpinionFacts::derive(&opinion, replica.steps()));
        }
    }
    if ids.is_empty() {
        return Ok(());
    }
    let backend = conn.backend();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        for table in ["opinion_evaluations", "opinion_facts"] {
            let sql = format!(
                "DELETE FROM {table} WHERE {}",
                in_list(backend, "opinion_id", 1, chunk.len())
            );
            conn.query(&sql).bind_list(chunk).execute().await?;
        }
    }
    insert_facts(conn, &facts).await
}

/// A text of the facts as PostgreSQL can store it: its `TEXT` cannot hold NUL, which the
/// opinion's JSON state keeps escaped (`\u0000`) and a hostile or broken client can send in an id.
/// The facts are derived data, so the character is replaced rather than the push refused.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// Inserts the facts rows and the evaluations of `facts` (which have none yet).
async fn insert_facts(conn: &mut Conn<'_>, facts: &[OpinionFacts]) -> Result<(), sqlx::Error> {
    let day = |d: Option<liaison_domain::followup::Date>| d.map(|d| d.to_string());
    for chunk in facts.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO opinion_facts (opinion_id, station_id, deputy_id, category, collected, \
                 answered_on_the_spot, first_referred, unit_id, due, due_concluded, \
                 first_concluded, status) VALUES {}",
            value_lists(chunk.len(), 12)
        );
        let mut query = conn.query(&sql);
        for f in chunk {
            query = query
                .bind(f.opinion_id.to_string())
                .bind(storable(&f.station_id.0))
                .bind(storable(&f.deputy_id.0))
                .bind(storable(&f.category))
                .bind(f.collected.to_string())
                .bind(f.answered_on_the_spot)
                .bind(day(f.first_referred))
                .bind(f.unit_id.as_ref().map(|u| storable(&u.0)))
                .bind(day(f.due))
                .bind(day(f.due_concluded))
                .bind(day(f.first_concluded))
                .bind(f.status.code());
        }
        query.execute().await?;
    }
    let evaluations: Vec<(&OpinionFacts, usize, String, bool)> = facts
        .iter()
        .flat_map(|f| {
            f.evaluations
                .iter()
                .enumerate()
                .map(move |(ord, (day, satisfied))| (f, ord, day.to_string(), *satisfied))
        })
        .collect();
    for chunk in evaluations.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO opinion_evaluations (opinion_id, ord, station_id, day, satisfied, \
                 is_last, category, deputy_id, unit_id) VALUES {}",
            value_lists(chunk.len(), 9)
        );
        let mut query = conn.query(&sql);
        for (f, ord, day, satisfied) in chunk {
            query = query
                .bind(f.opinion_id.to_string())
                .bind(i64::try_from(*ord).unwrap_or(i64::MAX))
                .bind(storable(&f.station_id.0))
                .bind(day.clone())
                .bind(*satisfied)
                .bind(ord + 1 == f.evaluations.len())
                .bind(storable(&f.category))
                .bind(storable(&f.deputy_id.0))
                .bind(f.unit_id.as_ref().map(|u| storable(&u.0)));
        }
        query.execute().await?;
    }
    Ok(())
}

impl Db {
    /// The `facts_version` the stored facts were derived with.
    pub async fn facts_version(&self) -> Result<i64, sqlx::Error> {
        self.acquire()
            .await?
            .query("SELECT value FROM server_meta WHERE key = 'facts_version'")
            .fetch_optional()
            .await?
            .map_or(Ok(0), |row| row.try_get("value"))
    }

    /// Rebuilds the facts of every opinion, and the `signed_in` column of every attendance
    /// record, when they were derived under an older [`FACTS_VERSION`] (see the module docs), in
    /// transactions of `batch` records. Returns the number of opinions walked, `None` when the
    /// facts were current. Run at startup by [`Db::open`] and [`Db::open_postgres`].
    pub async fn rebuild_facts_if_outdated(
        &self,
        batch: usize,
    ) -> Result<Option<u64>, sqlx::Error> {
        if self.facts_version().await? >= FACTS_VERSION {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut walked = 0u64;
        let mut after = String::new();
        loop {
            let mut tx = self.pool.begin(Begin::SyncWriter).await?;
            let mut conn = tx.conn();
            let rows = conn
                .query("SELECT id, state FROM opinions WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after.as_str())
                .bind(batch)
                .fetch_all()
                .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get("id")?;
            let mut states: Vec<(String, OpinionReplica)> = Vec::with_capacity(rows.len());
            for row in &rows {
                states.push((
                    row.try_get("id")?,
                    parse_json(&row.try_get::<String>("state")?)?,
                ));
            }
            write_facts(&mut conn, states.iter().map(|(id, s)| (id.as_str(), s))).await?;
            tx.commit().await?;
            walked += states.len() as u64;
        }
        let mut after = String::new();
        loop {
            let mut tx = self.pool.begin(Begin::SyncWriter).await?;
            let mut conn = tx.conn();
            let rows = conn
                .query("SELECT id, state FROM attendance WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after.as_str())
                .bind(batch)
                .fetch_all()
                .await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get("id")?;
            let mut ids = Vec::with_capacity(rows.len());
            let mut signed_in = Vec::new();
            for row in &rows {
                let id: String = row.try_get("id")?;
                let state: Attendance = parse_json(&row.try_get::<String>("state")?)?;
                if state.signed_in_at_ms.is_some() {
                    signed_in.push(id.clone());
                }
                ids.push(id);
            }
            let backend = conn.backend();
            for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                conn.query(&format!(
                    "UPDATE attendance SET signed_in = FALSE WHERE {}",
                    in_list(backend, "id", 1, chunk.len())
                ))
                .bind_texts(chunk.to_vec())
                .execute()
                .await?;
            }
            for chunk in signed_in.chunks(ROWS_PER_STATEMENT) {
                conn.query(&format!(
                    "UPDATE attendance SET signed_in = TRUE WHERE {}",
                    in_list(backend, "id", 1, chunk.len())
                ))
                .bind_texts(chunk.to_vec())
                .execute()
                .await?;
            }
            tx.commit().await?;
        }
        self.acquire()
            .await?
            // Never lowers it: an older instance starting beside a newer one must not mark the
            // newer facts as old.
            .query("UPDATE server_meta SET value = $1 WHERE key = 'facts_version' AND value < $1")
            .bind(FACTS_VERSION)
            .execute()
            .await?;
        tracing::info!(
            opinions = walked,
            version = FACTS_VERSION,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "rebuilt the figures' facts"
        );
        Ok(Some(walked))
    }
}
