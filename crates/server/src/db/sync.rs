//! The sync store: push (take a tablet's numbered mutations exactly once) and pull (the merged
//! opinions changed after a cursor, in commit order). The rules are the domain's
//! ([`liaison_domain::sync`]); this module only runs them inside database transactions.
//!
//! Tables (`0002_sync.sql`, one per backend): `sync_clients` (each client's `last_seq` and
//! `last_stamp`), `mutations` (every mutation taken, applied or rejected, with the reason),
//! `opinions` (the merged [`OpinionReplica`] as JSON and the `change_seq` of its last change)
//! and `sync_counter` (the one-row change counter).
//!
//! **Locking.** A push is one transaction that takes a lock every other push needs before it
//! reads anything (`Begin::SyncWriter`): on SQLite `BEGIN IMMEDIATE`, the database's write lock;
//! on PostgreSQL `SELECT value FROM sync_counter WHERE id = 1 FOR UPDATE`, the counter row. So
//! pushes run one at a time, on one server or several sharing the database, and:
//! - two pushes of the same client (two tabs, a retry racing the original) cannot both apply a
//!   mutation: the second reads the `last_seq` the first committed and skips what it applied.
//!   (Locking only later, at the first counter bump, would let both read the same `last_seq`.)
//! - an opinion is never merged from a stale read: the stored state is read under the lock, and
//!   PostgreSQL's READ COMMITTED gives each statement the latest committed state.
//!
//! A finer lock (the client's `sync_clients` row) would let pushes of different clients
//! interleave, but then two pushes editing one opinion could each merge into the state they read
//! before the other committed, losing a change; the one lock costs little at the stations' write
//! rates (a push is a few milliseconds) and keeps both backends equally simple.
//!
//! **Change order.** A push reads `sync_counter` under the lock, numbers each state change it
//! makes (the next value, stored as the opinion's `change_seq` and the mutation row's), and
//! writes the counter back before commit. The lock above is
//! held until commit, and PostgreSQL makes a commit visible before it releases the transaction's
//! locks, so a number is handed out only after every smaller one is committed and visible: the
//! numbers follow commit order, and a pull cursor never skips a change committed late (which
//! `updated_at` or a `SEQUENCE`, numbering in start order, would). The tests check this with
//! concurrent pushers and a paging puller on both backends.
//!
//! **Statements per push.** Everything a push needs is read up front (the client's row, the
//! categories, the stored states of every opinion it touches, the counter) and everything it
//! changes is written at the end in multi-row statements (opinions, mutations, counter, client):
//! about ten statements whatever the push's size, instead of four per mutation. Every other push
//! waits for the lock meanwhile, so round trips under it are what limits ingest (BENCHMARKS.md).

use super::backend::{Begin, Conn, Pool, Row};
use super::{Db, categories};
use liaison_domain::sync::validate::Rejection;
use liaison_domain::sync::{
    Change, Cursor, DEFAULT_MAX_AHEAD_MS, Disposition, Hlc, MAX_PULL_LIMIT, Mutation, MutationKind,
    OpinionReplica, PullResponse, PushError, PushResponse, RejectCode, Rejected, Seq, clamp,
    plan_push, validate_mutation,
};
use liaison_domain::{Category, ClientId, StationId, ValidationErrors};
use sqlx::{QueryBuilder, Sqlite};
use std::collections::{BTreeMap, HashMap};

/// Why a push was refused as a whole, or failed.
#[derive(Debug, thiserror::Error)]
pub enum PushFailure {
    /// The batch breaks the protocol (a gap, a malformed or too large batch, an unknown mutation
    /// kind version). Nothing was stored; the tablet keeps its outbox.
    #[error(transparent)]
    Refused(#[from] PushError),

    /// The database failed; the transaction was rolled back, nothing was stored.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl Db {
    /// Takes one push of `client_id`'s mutations, in one transaction (see the module docs on
    /// locking): plans it with [`plan_push`] against the client's `last_seq`; skips mutations
    /// already taken (acknowledged again, and a rejected one rejected again with its stored
    /// reason); for each new one clamps its stamp ([`clamp`] with the client's `last_stamp` and
    /// `server_now_ms`), checks it ([`validate_mutation`] against the stored opinion and the
    /// configured categories), applies it to the stored [`OpinionReplica`] and bumps the change
    /// counter if the state changed, and records it in `mutations` as applied or rejected. A
    /// rejected mutation consumes its seq like an applied one.
    ///
    /// `may_write` decides, per new mutation, whether the pusher may write to its station: the
    /// `station_id` of a `CreateOpinion`, the stored opinion's station for an edit or a delete. A
    /// mutation for a station it refuses is rejected with [`RejectCode::Forbidden`] like any
    /// other rejection (recorded, seq consumed, returned) and never applied. An edit or delete of
    /// an opinion the server has no creation of has no station; validation rejects it as
    /// `not_found`. The caller derives `may_write` from the signed-in user (see `crate::sync`).
    pub async fn push(
        &self,
        client_id: ClientId,
        mutations: &[Mutation],
        server_now_ms: u64,
        may_write: &(dyn Fn(&StationId) -> bool + Send + Sync),
    ) -> Result<PushResponse, PushFailure> {
        let mut tx = self.pool.begin(Begin::SyncWriter).await?;
        let mut conn = tx.conn();
        let client = client_id.to_string();

        let row = conn
            .query("SELECT last_seq, last_stamp FROM sync_clients WHERE client_id = $1")
            .bind(client.as_str())
            .fetch_optional()
            .await?;
        let (mut last_seq, mut last_stamp) = match row {
            Some(row) => (
                seq_from_db(row.try_get("last_seq")?)?,
                row.try_get::<Option<String>>("last_stamp")?
                    .map(|s| parse_hlc(&s))
                    .transpose()?,
            ),
            None => (Seq::NONE, None),
        };

        // A refused batch returns here; dropping `tx` rolls back, and nothing was written yet.
        let plan = plan_push(client_id, last_seq, mutations)?;

        let applies = plan.dispositions.contains(&Disposition::Apply);
        let categories = if applies {
            // The `mutations` rows reference the client's row.
            conn.query(
                "INSERT INTO sync_clients (client_id, last_seq, last_stamp) \
                 VALUES ($1, 0, NULL) ON CONFLICT (client_id) DO NOTHING",
            )
            .bind(client.as_str())
            .execute()
            .await?;
            categories(&mut conn).await?
        } else {
            Vec::new()
        };

        // Everything the new mutations need is read up front and everything they change is
        // written at the end, a few statements per push whatever its size (statements one by one
        // cost a round trip each, under the write lock that every other push waits for).
        let mut batch = Batch::default();
        if applies {
            let ids: Vec<String> = mutations
                .iter()
                .zip(&plan.dispositions)
                .filter(|(_, d)| **d == Disposition::Apply)
                .map(|(m, _)| m.kind.opinion_id().to_string())
                .collect();
            batch.states = load_states(&mut conn, &ids).await?;
            batch.counter = conn
                .query("SELECT value FROM sync_counter WHERE id = 1")
                .fetch_one()
                .await?
                .try_get("value")?;
        }
        let first_change = batch.counter;

        let mut rejected = Vec::new();
        for (mutation, disposition) in mutations.iter().zip(&plan.dispositions) {
            match disposition {
                Disposition::Skip => {
                    if let Some(rejection) =
                        stored_rejection(&mut conn, &client, mutation.seq).await?
                    {
                        rejected.push(rejection);
                    }
                }
                Disposition::Apply => {
                    let stamp = clamp(
                        mutation.hlc,
                        last_stamp,
                        server_now_ms,
                        DEFAULT_MAX_AHEAD_MS,
                    )
                    .stamp();
                    let taken = batch.take(mutation, stamp, &categories, may_write);
                    batch.rows.push(mutation_row(
                        &client,
                        mutation,
                        stamp,
                        &taken,
                        server_now_ms,
                    )?);
                    if let Taken::Rejected(rejection) = taken {
                        rejected.push(rejection);
                    }
                    last_seq = mutation.seq;
                    last_stamp = Some(stamp);
                }
            }
        }
        if batch.counter != first_change {
            // Inside the push transaction, whose counter row lock (PostgreSQL) or write lock
            // (SQLite) is held until commit: numbers are handed out in commit order.
            conn.query("UPDATE sync_counter SET value = $1 WHERE id = 1")
                .bind(batch.counter)
                .execute()
                .await?;
        }
        write_opinions(&mut conn, &batch.changed).await?;
        write_mutations(&mut conn, &batch.rows).await?;

        if applies {
            conn.query(
                "UPDATE sync_clients SET last_seq = $1, last_stamp = $2 WHERE client_id = $3",
            )
            .bind(seq_to_db(last_seq)?)
            .bind(last_stamp.map(String::from))
            .bind(client.as_str())
            .execute()
            .await?;
        }
        tx.commit().await?;
        Ok(PushResponse {
            acknowledged_through: plan.acknowledged_through,
            rejected,
        })
    }

    /// The opinions of `stations` changed after `cursor`, oldest change first, at most `limit`
    /// of them (clamped to 1..=[`MAX_PULL_LIMIT`]). Each opinion appears once, with its current
    /// merged state and the cursor of its latest change; `next_cursor` is the last change's cursor
    /// (or `cursor` when there is none) and `more` tells whether another page follows.
    ///
    /// Only opinions whose station is in `stations` are returned; an empty list returns nothing.
    /// The caller must pass exactly the stations the signed-in user may read: this method does no
    /// authorisation. An opinion of which only edits have arrived (no creation yet) has no station
    /// and is returned once its creation arrives. `reset_required` is always false, since nothing
    /// is purged yet.
    pub async fn pull(
        &self,
        cursor: Cursor,
        limit: u32,
        stations: &[StationId],
    ) -> Result<PullResponse, sqlx::Error> {
        let limit = limit.clamp(1, MAX_PULL_LIMIT);
        if stations.is_empty() {
            return Ok(PullResponse {
                changes: Vec::new(),
                next_cursor: cursor,
                more: false,
                reset_required: false,
            });
        }
        // One more than asked, to know whether another page follows.
        let fetch = i64::from(limit) + 1;
        // The one query whose SQL differs beyond the shared subset: the station list is an
        // `IN (...)` of bound values on SQLite, which has no array type, and one array parameter
        // on PostgreSQL (one statement text whatever the list's length, so it is prepared once).
        let rows: Vec<Row> = match &self.pool {
            Pool::Sqlite(pool) => {
                let mut query = QueryBuilder::<Sqlite>::new(
                    "SELECT state, change_seq FROM opinions WHERE change_seq > ",
                );
                query.push_bind(cursor_to_db(cursor));
                query.push(" AND station_id IN (");
                let mut separated = query.separated(", ");
                for station in stations {
                    separated.push_bind(station.0.as_str());
                }
                query.push(") ORDER BY change_seq LIMIT ");
                query.push_bind(fetch);
                let rows = query.build().fetch_all(pool).await?;
                rows.into_iter().map(Row::Sqlite).collect()
            }
            Pool::Postgres(pool) => {
                let stations: Vec<&str> = stations.iter().map(|s| s.0.as_str()).collect();
                let rows = sqlx::query(
                    "SELECT state, change_seq FROM opinions \
                     WHERE change_seq > $1 AND station_id = ANY($2) \
                     ORDER BY change_seq LIMIT $3",
                )
                .bind(cursor_to_db(cursor))
                .bind(stations)
                .bind(fetch)
                .fetch_all(pool)
                .await?;
                rows.into_iter().map(Row::Postgres).collect()
            }
        };
        let more = rows.len() > limit as usize;
        let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
        for row in rows.into_iter().take(limit as usize) {
            let state: OpinionReplica = parse_json(&row.try_get::<String>("state")?)?;
            let cursor = Cursor(seq_from_db(row.try_get("change_seq")?)?.0);
            changes.push(Change::Opinion { cursor, state });
        }
        Ok(PullResponse {
            next_cursor: changes.last().map_or(cursor, Change::cursor),
            changes,
            more,
            reset_required: false,
        })
    }
}

impl Db {
    /// The cursor of the latest committed change (`Cursor::START` before the first): what the
    /// change-event stream announces (`crate::events`). Read after a push commits, it is at
    /// least the cursor of every change that push made.
    pub async fn latest_cursor(&self) -> Result<Cursor, sqlx::Error> {
        let mut conn = self.acquire().await?;
        let value: i64 = conn
            .query("SELECT value FROM sync_counter WHERE id = 1")
            .fetch_optional()
            .await?
            .map(|row| row.try_get("value"))
            .transpose()?
            .unwrap_or(0);
        Ok(Cursor(seq_from_db(value)?.0))
    }
}

/// What became of one new mutation.
enum Taken {
    /// Applied; `change_seq` is the change it made (the counter value it bumped to), `None`
    /// when it changed nothing (an older write, a repeat, an edit after a delete's arrival).
    Applied {
        change_seq: Option<i64>,
    },
    Rejected(Rejected),
}

/// An opinion a push changed.
struct Changed {
    state: OpinionReplica,
    /// Kept from the creation: a tombstone no longer holds the opinion, but the row keeps its
    /// station (pulls are filtered by it), also when the creation and the delete come in one push.
    station_id: Option<String>,
    change_seq: i64,
}

/// What one push reads and changes, held in memory until it is written at the end.
#[derive(Default)]
struct Batch {
    /// The stored state of every opinion the new mutations touch (`None`: not on the server),
    /// updated as the mutations are applied.
    states: HashMap<String, Option<OpinionReplica>>,
    /// The change counter: read at the start, one up per state change.
    counter: i64,
    /// The opinions changed: their state, station and the number of their latest change.
    changed: BTreeMap<String, Changed>,
    /// The `mutations` rows to insert.
    rows: Vec<MutationRow>,
}

impl Batch {
    /// Authorises, checks and applies one new mutation under the stamp the server gave it.
    fn take(
        &mut self,
        mutation: &Mutation,
        stamp: Hlc,
        categories: &[Category],
        may_write: &(dyn Fn(&StationId) -> bool + Send + Sync),
    ) -> Taken {
        let opinion_id = mutation.kind.opinion_id().to_string();
        let current = self.states.get(&opinion_id).cloned().flatten();

        // Authorisation comes first, so that a forbidden mutation tells nothing about the
        // other station's opinion (whether it exists, was deleted, or what it holds).
        let station = match &mutation.kind {
            MutationKind::CreateOpinion { opinion } => Some(&opinion.station_id),
            MutationKind::SetOpinionFields { .. } | MutationKind::DeleteOpinion { .. } => current
                .as_ref()
                .and_then(OpinionReplica::created)
                .map(|o| &o.station_id),
        };
        if station.is_some_and(|station| !may_write(station)) {
            return Taken::Rejected(
                Rejection {
                    code: RejectCode::Forbidden,
                    errors: ValidationErrors::default(),
                }
                .into_rejected(mutation.seq),
            );
        }

        if let Err(rejection) = validate_mutation(current.as_ref(), &mutation.kind, categories) {
            return Taken::Rejected(rejection.into_rejected(mutation.seq));
        }

        let station_before = current
            .as_ref()
            .and_then(OpinionReplica::created)
            .map(|o| o.station_id.0.clone());
        let mut state = current.unwrap_or_else(|| OpinionReplica::new(mutation.kind.opinion_id()));
        let stamped = Mutation {
            hlc: stamp,
            ..mutation.clone()
        };
        if !state.apply(&stamped) {
            return Taken::Applied { change_seq: None };
        }
        self.counter += 1;
        let station_id = state
            .created()
            .map(|o| o.station_id.0.clone())
            .or(station_before)
            .or_else(|| {
                self.changed
                    .get(&opinion_id)
                    .and_then(|c| c.station_id.clone())
            });
        self.states.insert(opinion_id.clone(), Some(state.clone()));
        self.changed.insert(
            opinion_id,
            Changed {
                state,
                station_id,
                change_seq: self.counter,
            },
        );
        Taken::Applied {
            change_seq: Some(self.counter),
        }
    }
}

/// Rows per multi-row statement: well within SQLite's bound-variable limit (32,766) and
/// PostgreSQL's (65,535) at 13 columns.
const ROWS_PER_STATEMENT: usize = 200;

/// `($1, $2), ($3, $4)` for `rows` rows of `columns` values.
fn value_lists(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let values: Vec<String> = (1..=columns)
                .map(|column| format!("${}", row * columns + column))
                .collect();
            format!("({})", values.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The stored states of `ids` (duplicates allowed), `None` for those the server does not have.
async fn load_states(
    conn: &mut Conn<'_>,
    ids: &[String],
) -> Result<HashMap<String, Option<OpinionReplica>>, sqlx::Error> {
    let mut states: HashMap<String, Option<OpinionReplica>> =
        ids.iter().map(|id| (id.clone(), None)).collect();
    let distinct: Vec<&String> = states.keys().collect::<Vec<_>>();
    let mut found = Vec::new();
    for chunk in distinct.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT id, state FROM opinions WHERE id IN ({})",
            (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut query = conn.query(&sql);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        for row in query.fetch_all().await? {
            let id: String = row.try_get("id")?;
            let state: OpinionReplica = parse_json(&row.try_get::<String>("state")?)?;
            found.push((id, state));
        }
    }
    for (id, state) in found {
        states.insert(id, Some(state));
    }
    Ok(states)
}

/// Writes the changed opinions with the number of their latest change.
async fn write_opinions(
    conn: &mut Conn<'_>,
    changed: &BTreeMap<String, Changed>,
) -> Result<(), sqlx::Error> {
    let changed: Vec<_> = changed.iter().collect();
    for chunk in changed.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO opinions (id, station_id, state, change_seq) VALUES {} \
             ON CONFLICT (id) DO UPDATE SET \
                 station_id = COALESCE(excluded.station_id, opinions.station_id), \
                 state = excluded.state, \
                 change_seq = excluded.change_seq",
            value_lists(chunk.len(), 4)
        );
        let mut query = conn.query(&sql);
        for (id, changed) in chunk {
            query = query
                .bind(id.as_str())
                .bind(changed.station_id.as_deref())
                .bind(to_json(&changed.state)?)
                .bind(changed.change_seq);
        }
        query.execute().await?;
    }
    Ok(())
}

/// One `mutations` row.
struct MutationRow {
    client: String,
    seq: i64,
    kind: &'static str,
    opinion_id: String,
    hlc: String,
    original_hlc: Option<String>,
    body: String,
    outcome: &'static str,
    reject_code: Option<&'static str>,
    reject_message: Option<String>,
    reject_errors: Option<String>,
    received_at: i64,
    change_seq: Option<i64>,
}

/// The `mutations` row of a mutation just taken.
fn mutation_row(
    client: &str,
    mutation: &Mutation,
    stamp: Hlc,
    taken: &Taken,
    server_now_ms: u64,
) -> Result<MutationRow, sqlx::Error> {
    let (rejected, change_seq) = match taken {
        Taken::Applied { change_seq } => (None, *change_seq),
        Taken::Rejected(rejection) => (Some(rejection), None),
    };
    Ok(MutationRow {
        client: client.to_owned(),
        seq: seq_to_db(mutation.seq)?,
        kind: mutation.kind.name(),
        opinion_id: mutation.kind.opinion_id().to_string(),
        hlc: String::from(stamp),
        original_hlc: (stamp != mutation.hlc).then(|| String::from(mutation.hlc)),
        body: to_json(mutation)?,
        outcome: if rejected.is_some() {
            "rejected"
        } else {
            "applied"
        },
        reject_code: rejected.map(|r| r.code.code()),
        reject_message: rejected.map(|r| r.message.clone()),
        reject_errors: rejected
            .filter(|r| !r.errors.is_empty())
            .map(|r| to_json(&r.errors))
            .transpose()?,
        received_at: i64::try_from(server_now_ms).map_err(encode_error)?,
        change_seq,
    })
}

/// Inserts the `mutations` rows of a push.
async fn write_mutations(conn: &mut Conn<'_>, rows: &[MutationRow]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO mutations (client_id, seq, kind, opinion_id, hlc, original_hlc, body, \
                 outcome, reject_code, reject_message, reject_errors, received_at, change_seq) \
             VALUES {}",
            value_lists(chunk.len(), 13)
        );
        let mut query = conn.query(&sql);
        for row in chunk {
            query = query
                .bind(row.client.as_str())
                .bind(row.seq)
                .bind(row.kind)
                .bind(row.opinion_id.as_str())
                .bind(row.hlc.as_str())
                .bind(row.original_hlc.as_deref())
                .bind(row.body.as_str())
                .bind(row.outcome)
                .bind(row.reject_code)
                .bind(row.reject_message.as_deref())
                .bind(row.reject_errors.as_deref())
                .bind(row.received_at)
                .bind(row.change_seq);
        }
        query.execute().await?;
    }
    Ok(())
}

/// The stored rejection of a mutation taken before, if it was rejected.
async fn stored_rejection(
    conn: &mut Conn<'_>,
    client: &str,
    seq: Seq,
) -> Result<Option<Rejected>, sqlx::Error> {
    let row = conn
        .query(
            "SELECT reject_code, reject_message, reject_errors FROM mutations \
             WHERE client_id = $1 AND seq = $2 AND outcome = 'rejected'",
        )
        .bind(client)
        .bind(seq_to_db(seq)?)
        .fetch_optional()
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let code: String = row.try_get("reject_code")?;
    let errors = match row.try_get::<Option<String>>("reject_errors")? {
        Some(json) => parse_json(&json)?,
        None => ValidationErrors::default(),
    };
    Ok(Some(Rejected {
        seq,
        // `RejectCode::code` is the serde name, so the string parses back.
        code: serde_json::from_value(serde_json::Value::String(code)).map_err(decode_error)?,
        message: row.try_get("reject_message")?,
        errors,
    }))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(encode_error)
}

fn parse_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, sqlx::Error> {
    serde_json::from_str(json).map_err(decode_error)
}

fn parse_hlc(text: &str) -> Result<Hlc, sqlx::Error> {
    text.parse().map_err(decode_error)
}

fn seq_to_db(seq: Seq) -> Result<i64, sqlx::Error> {
    i64::try_from(seq.0).map_err(encode_error)
}

fn cursor_to_db(cursor: Cursor) -> i64 {
    // A cursor beyond what SQLite can count matches nothing, like any cursor past the end.
    i64::try_from(cursor.0).unwrap_or(i64::MAX)
}

fn seq_from_db(value: i64) -> Result<Seq, sqlx::Error> {
    u64::try_from(value).map(Seq).map_err(decode_error)
}

fn encode_error(error: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Encode(Box::new(error))
}

fn decode_error(error: impl std::error::Error + Send + Sync + 'static) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(error))
}
