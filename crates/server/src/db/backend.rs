//! The two backends behind one small query interface, so that the storage code (`accounts.rs`,
//! `sync.rs`, `seed.rs`, `mod.rs`) is written once and forks only where the SQL dialects differ.
//!
//! [`Pool`], [`Tx`] and [`PooledConn`] wrap sqlx's native SQLite and PostgreSQL types; a
//! [`Query`] is built from a connection ([`Conn::query`]), so it always runs on the backend it was
//! built for; a [`Row`] reads columns into any Rust type both drivers decode (`String`, `i64`,
//! `bool` and their `Option`s). SQL uses `$1`-style placeholders on both backends: PostgreSQL
//! numbers its parameters that way, and sqlx's SQLite driver binds `$N` to the N-th argument too
//! (`sqlx-sqlite`'s `arguments.rs`), so a statement that is standard SQL is one string for both.
//!
//! **Why not `sqlx::Any`.** Any hides the native options we set (SQLite's WAL, `synchronous`,
//! `busy_timeout` and foreign keys are connection options of `SqliteConnectOptions`, not of a
//! URL Any would take), cannot bind PostgreSQL arrays (`station_id = ANY($2)`), and decodes by
//! the column's declared type, so SQLite's 0/1 integers would not read as `bool`. This layer
//! keeps the native pools, options and types, and lets a method drop to native sqlx where the
//! dialects differ (see `Db::pull`).

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteConnection, SqlitePool, SqliteRow};
use sqlx::{Decode, Encode, Row as _, Transaction, Type};

/// Which database a [`crate::Db`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file in `--data-dir` (the default; one server process).
    Sqlite,
    /// A PostgreSQL database from `DATABASE_URL` (several server processes may share it).
    Postgres,
}

/// A connection pool of either backend. Cheap to clone (reference-counted).
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// How a transaction starts. Each variant says what it guarantees; the SQL differs because
/// SQLite has one writer for the whole file while PostgreSQL locks rows and tables.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Begin {
    /// The statements' own atomicity is enough (an upsert, a conditional update, inserts that
    /// must land together). SQLite `BEGIN`; PostgreSQL `BEGIN` (READ COMMITTED).
    Plain,
    /// A consistent read-only view over several statements. SQLite `BEGIN` (a WAL read
    /// transaction keeps the snapshot of its first read); PostgreSQL REPEATABLE READ, READ ONLY
    /// (READ COMMITTED would take a new snapshot for each statement).
    Snapshot,
    /// Reads that decide a write, where the written rows themselves settle a race on PostgreSQL
    /// (the conditional `UPDATE` waits for a concurrent writer's row lock and re-checks its
    /// condition; a unique index refuses the loser, which the method handles). SQLite
    /// `BEGIN IMMEDIATE`: a deferred transaction that read first could not upgrade to writing
    /// once another connection wrote (`SQLITE_BUSY`); PostgreSQL `BEGIN` (READ COMMITTED).
    ReadThenWrite,
    /// A check-then-write on `tables` (e.g. "no user yet, so create the first admin") that must
    /// not interleave with the same check-then-write elsewhere, another server process on the
    /// same database included. SQLite `BEGIN IMMEDIATE` (the database's write lock, taken before
    /// the first read); PostgreSQL `LOCK TABLE ... IN SHARE ROW EXCLUSIVE MODE`, which conflicts
    /// with itself and with writes to those tables but not with reads.
    LockTables(&'static [&'static str]),
    /// A sync push (see `sync.rs`). SQLite `BEGIN IMMEDIATE`; PostgreSQL locks the change
    /// counter row (`SELECT ... FOR UPDATE`) before reading anything, so pushes run one at a
    /// time as on SQLite.
    SyncWriter,
}

impl Pool {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// A connection from the pool (returned to it on drop).
    pub(crate) async fn acquire(&self) -> Result<PooledConn, sqlx::Error> {
        Ok(match self {
            Pool::Sqlite(pool) => PooledConn::Sqlite(pool.acquire().await?),
            Pool::Postgres(pool) => PooledConn::Postgres(pool.acquire().await?),
        })
    }

    /// Starts a transaction; dropping the [`Tx`] without [`Tx::commit`] rolls it back.
    pub(crate) async fn begin(&self, begin: Begin) -> Result<Tx, sqlx::Error> {
        match self {
            Pool::Sqlite(pool) => Ok(Tx::Sqlite(match begin {
                Begin::Plain | Begin::Snapshot => pool.begin().await?,
                Begin::ReadThenWrite | Begin::LockTables(_) | Begin::SyncWriter => {
                    pool.begin_with("BEGIN IMMEDIATE").await?
                }
            })),
            Pool::Postgres(pool) => {
                let mut tx = match begin {
                    Begin::Snapshot => {
                        pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                            .await?
                    }
                    _ => pool.begin().await?,
                };
                match begin {
                    Begin::Plain | Begin::Snapshot | Begin::ReadThenWrite => {}
                    Begin::LockTables(tables) => {
                        // The names are compile-time constants of this crate, never input.
                        let lock = format!(
                            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                            tables.join(", ")
                        );
                        sqlx::query(&lock).execute(&mut *tx).await?;
                    }
                    Begin::SyncWriter => {
                        sqlx::query("SELECT value FROM sync_counter WHERE id = 1 FOR UPDATE")
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Ok(Tx::Postgres(tx))
            }
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// A transaction of either backend.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::Sqlite(tx),
            Tx::Postgres(tx) => Conn::Postgres(tx),
        }
    }

    pub(crate) fn query<'a>(&'a mut self, sql: &'a str) -> Query<'a> {
        self.conn().into_query(sql)
    }

    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// A connection taken from the pool, outside any transaction (each statement on its own).
pub enum PooledConn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

impl PooledConn {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PooledConn::Sqlite(conn) => Conn::Sqlite(conn),
            PooledConn::Postgres(conn) => Conn::Postgres(conn),
        }
    }

    /// A statement on this connection: `conn.query("... $1 ...").bind(x).fetch_one().await`.
    pub fn query<'a>(&'a mut self, sql: &'a str) -> Query<'a> {
        self.conn().into_query(sql)
    }
}

/// A borrowed connection of either backend, inside a transaction or not: what the helper
/// functions that run several statements take.
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl<'c> Conn<'c> {
    pub fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// A statement on this connection (reborrowed, so the connection can run more afterwards).
    pub fn query<'a>(&'a mut self, sql: &'a str) -> Query<'a> {
        match self {
            Conn::Sqlite(conn) => Query::Sqlite(conn, sqlx::query(sql)),
            Conn::Postgres(conn) => Query::Postgres(conn, sqlx::query(sql)),
        }
    }

    fn into_query(self, sql: &'c str) -> Query<'c> {
        match self {
            Conn::Sqlite(conn) => Query::Sqlite(conn, sqlx::query(sql)),
            Conn::Postgres(conn) => Query::Postgres(conn, sqlx::query(sql)),
        }
    }
}

/// A statement with its arguments and the connection it will run on.
pub enum Query<'a> {
    Sqlite(
        &'a mut SqliteConnection,
        sqlx::query::Query<'a, Sqlite, SqliteArguments<'a>>,
    ),
    Postgres(
        &'a mut PgConnection,
        sqlx::query::Query<'a, Postgres, PgArguments>,
    ),
}

/// A value both drivers can bind: `String`, `&str`, `i64`, `bool` and their `Option`s.
pub trait Bindable<'a>:
    'a + Send + Encode<'a, Sqlite> + Type<Sqlite> + Encode<'a, Postgres> + Type<Postgres>
{
}

impl<'a, T> Bindable<'a> for T where
    T: 'a + Send + Encode<'a, Sqlite> + Type<Sqlite> + Encode<'a, Postgres> + Type<Postgres>
{
}

/// A value both drivers can read: `String`, `i64`, `bool` and their `Option`s.
pub trait Decodable:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Decodable for T where
    T: for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

/// `column IN ($first, ..., $first+len-1)` on SQLite (which has no array type), `column =
/// ANY($first)` on PostgreSQL (one array parameter: one statement text whatever the list's
/// length, so it is prepared once). Bind the list with [`Query::bind_list`] at `$first`; the
/// placeholders may appear again later in the same statement (both backends bind `$N` by number).
pub fn in_list(backend: Backend, column: &str, first: usize, len: usize) -> String {
    match backend {
        Backend::Sqlite => {
            let placeholders: Vec<String> = (first..first + len).map(|n| format!("${n}")).collect();
            format!("{column} IN ({})", placeholders.join(", "))
        }
        Backend::Postgres => format!("{column} = ANY(${first})"),
    }
}

impl<'a> Query<'a> {
    /// Binds the next `$N`.
    pub fn bind(self, value: impl Bindable<'a>) -> Self {
        match self {
            Query::Sqlite(conn, query) => Query::Sqlite(conn, query.bind(value)),
            Query::Postgres(conn, query) => Query::Postgres(conn, query.bind(value)),
        }
    }

    /// Binds the values of an [`in_list`]: one `$N` each on SQLite, one array on PostgreSQL.
    pub fn bind_list(self, values: &'a [&'a str]) -> Self {
        match self {
            Query::Sqlite(conn, mut query) => {
                for value in values {
                    query = query.bind(*value);
                }
                Query::Sqlite(conn, query)
            }
            Query::Postgres(conn, query) => Query::Postgres(conn, query.bind(values.to_vec())),
        }
    }

    /// [`Query::bind_list`] of owned texts: one `$N` each on SQLite, one array on PostgreSQL.
    pub fn bind_texts(self, values: Vec<String>) -> Self {
        match self {
            Query::Sqlite(conn, mut query) => {
                for value in values {
                    query = query.bind(value);
                }
                Query::Sqlite(conn, query)
            }
            Query::Postgres(conn, query) => Query::Postgres(conn, query.bind(values)),
        }
    }

    /// Runs the statement; returns the number of rows it changed.
    pub async fn execute(self) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Query::Sqlite(conn, query) => query.execute(conn).await?.rows_affected(),
            Query::Postgres(conn, query) => query.execute(conn).await?.rows_affected(),
        })
    }

    pub async fn fetch_one(self) -> Result<Row, sqlx::Error> {
        Ok(match self {
            Query::Sqlite(conn, query) => Row::Sqlite(query.fetch_one(conn).await?),
            Query::Postgres(conn, query) => Row::Postgres(query.fetch_one(conn).await?),
        })
    }

    pub async fn fetch_optional(self) -> Result<Option<Row>, sqlx::Error> {
        Ok(match self {
            Query::Sqlite(conn, query) => query.fetch_optional(conn).await?.map(Row::Sqlite),
            Query::Postgres(conn, query) => query.fetch_optional(conn).await?.map(Row::Postgres),
        })
    }

    pub async fn fetch_all(self) -> Result<Vec<Row>, sqlx::Error> {
        Ok(match self {
            Query::Sqlite(conn, query) => query
                .fetch_all(conn)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            Query::Postgres(conn, query) => query
                .fetch_all(conn)
                .await?
                .into_iter()
                .map(Row::Postgres)
                .collect(),
        })
    }
}

/// A result row of either backend.
pub enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    /// The column named `column` (use `AS` to name an expression).
    pub fn try_get<T: Decodable>(&self, column: &str) -> Result<T, sqlx::Error> {
        match self {
            Row::Sqlite(row) => row.try_get(column),
            Row::Postgres(row) => row.try_get(column),
        }
    }
}
