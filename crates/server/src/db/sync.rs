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
//! **Change order.** Every transaction that changes an opinion bumps `sync_counter` with
//! `UPDATE ... RETURNING` and stores the value as the opinion's `change_seq`. The lock above is
//! held until commit, and PostgreSQL makes a commit visible before it releases the transaction's
//! locks, so a number is handed out only after every smaller one is committed and visible: the
//! numbers follow commit order, and a pull cursor never skips a change committed late (which
//! `updated_at` or a `SEQUENCE`, numbering in start order, would). The tests check this with
//! concurrent pushers and a paging puller on both backends.

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
                    let taken = take(&mut conn, mutation, stamp, &categories, may_write).await?;
                    record(&mut conn, &client, mutation, stamp, &taken, server_now_ms).await?;
                    if let Taken::Rejected(rejection) = taken {
                        rejected.push(rejection);
                    }
                    last_seq = mutation.seq;
                    last_stamp = Some(stamp);
                }
            }
        }

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

/// Authorises, checks and applies one new mutation under the stamp the server gave it.
async fn take(
    conn: &mut Conn<'_>,
    mutation: &Mutation,
    stamp: Hlc,
    categories: &[Category],
    may_write: &(dyn Fn(&StationId) -> bool + Send + Sync),
) -> Result<Taken, sqlx::Error> {
    let opinion_id = mutation.kind.opinion_id().to_string();
    let current: Option<OpinionReplica> = conn
        .query("SELECT state FROM opinions WHERE id = $1")
        .bind(opinion_id.as_str())
        .fetch_optional()
        .await?
        .map(|row| parse_json(&row.try_get::<String>("state")?))
        .transpose()?;

    // Authorisation comes first, so that a forbidden mutation tells nothing about the other
    // station's opinion (whether it exists, was deleted, or what it holds).
    let station = match &mutation.kind {
        MutationKind::CreateOpinion { opinion } => Some(&opinion.station_id),
        MutationKind::SetOpinionFields { .. } | MutationKind::DeleteOpinion { .. } => current
            .as_ref()
            .and_then(OpinionReplica::created)
            .map(|o| &o.station_id),
    };
    if station.is_some_and(|station| !may_write(station)) {
        return Ok(Taken::Rejected(
            Rejection {
                code: RejectCode::Forbidden,
                errors: ValidationErrors::default(),
            }
            .into_rejected(mutation.seq),
        ));
    }

    if let Err(rejection) = validate_mutation(current.as_ref(), &mutation.kind, categories) {
        return Ok(Taken::Rejected(rejection.into_rejected(mutation.seq)));
    }

    let mut state = current.unwrap_or_else(|| OpinionReplica::new(mutation.kind.opinion_id()));
    let stamped = Mutation {
        hlc: stamp,
        ..mutation.clone()
    };
    if state.apply(&stamped) {
        // Inside the push transaction, whose counter row lock (PostgreSQL) or write lock (SQLite)
        // is held until commit: numbers are handed out in commit order.
        let change_seq: i64 = conn
            .query("UPDATE sync_counter SET value = value + 1 WHERE id = 1 RETURNING value")
            .fetch_one()
            .await?
            .try_get("value")?;
        let station_id = state.created().map(|o| o.station_id.0.clone());
        conn.query(
            "INSERT INTO opinions (id, station_id, state, change_seq) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET \
                 station_id = COALESCE(excluded.station_id, opinions.station_id), \
                 state = excluded.state, \
                 change_seq = excluded.change_seq",
        )
        .bind(opinion_id.as_str())
        .bind(station_id)
        .bind(to_json(&state)?)
        .bind(change_seq)
        .execute()
        .await?;
        return Ok(Taken::Applied {
            change_seq: Some(change_seq),
        });
    }
    Ok(Taken::Applied { change_seq: None })
}

/// Writes the `mutations` row of a mutation just taken.
async fn record(
    conn: &mut Conn<'_>,
    client: &str,
    mutation: &Mutation,
    stamp: Hlc,
    taken: &Taken,
    server_now_ms: u64,
) -> Result<(), sqlx::Error> {
    let (rejected, change_seq) = match taken {
        Taken::Applied { change_seq } => (None, *change_seq),
        Taken::Rejected(rejection) => (Some(rejection), None),
    };
    let errors = rejected
        .filter(|r| !r.errors.is_empty())
        .map(|r| to_json(&r.errors))
        .transpose()?;
    conn.query(
        "INSERT INTO mutations (client_id, seq, kind, opinion_id, hlc, original_hlc, body, \
             outcome, reject_code, reject_message, reject_errors, received_at, change_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(client)
    .bind(seq_to_db(mutation.seq)?)
    .bind(mutation.kind.name())
    .bind(mutation.kind.opinion_id().to_string())
    .bind(String::from(stamp))
    .bind((stamp != mutation.hlc).then(|| String::from(mutation.hlc)))
    .bind(to_json(mutation)?)
    .bind(if rejected.is_some() {
        "rejected"
    } else {
        "applied"
    })
    .bind(rejected.map(|r| r.code.code()))
    .bind(rejected.map(|r| r.message.as_str()))
    .bind(errors)
    .bind(i64::try_from(server_now_ms).map_err(encode_error)?)
    .bind(change_seq)
    .execute()
    .await?;
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
