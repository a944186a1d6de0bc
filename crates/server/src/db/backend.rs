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

    /// A [`Begin::SyncWriter`] transaction and the change counter read under its lock. On
    /// PostgreSQL the locking read is the counter's read: one round trip, where the lock and
    /// then the read would be two (each group of pushes begins this way).
    pub(crate) async fn begin_sync_writer(&self) -> Result<(Tx, i64), sqlx::Error> {
        match self {
            Pool::Sqlite(_) => {
                let mut tx = self.begin(Begin::SyncWriter).await?;
                let counter = tx
                    .query("SELECT value FROM sync_counter WHERE id = 1")
                    .fetch_one()
                    .await?
                    .try_get("value")?;
                Ok((tx, counter))
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                let counter: i64 =
                    sqlx::query_scalar("SELECT value FROM sync_counter WHERE id = 1 FOR UPDATE")
                        .fetch_one(&mut *tx)
                        .await?;
                Ok((Tx::Postgres(tx), counter))
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

/// Rows per multi-row statement on SQLite ([`insert_rows`]) and per [`in_list`] read: well
/// within SQLite's bound-variable limit (32,766) and PostgreSQL's (65,535) at 14 columns.
pub(crate) const ROWS_PER_STATEMENT: usize = 200;

/// One column of the rows an [`insert_rows`] statement inserts, every row's value in order.
#[derive(Debug)]
pub(crate) enum Column {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Bool(Vec<Option<bool>>),
}

impl Column {
    pub(crate) fn text<S: Into<String>>(values: impl IntoIterator<Item = S>) -> Self {
        Column::Text(values.into_iter().map(|v| Some(v.into())).collect())
    }

    pub(crate) fn optional_text<S: Into<String>>(
        values: impl IntoIterator<Item = Option<S>>,
    ) -> Self {
        Column::Text(values.into_iter().map(|v| v.map(Into::into)).collect())
    }

    pub(crate) fn int(values: impl IntoIterator<Item = i64>) -> Self {
        Column::Int(values.into_iter().map(Some).collect())
    }

    pub(crate) fn optional_int(values: impl IntoIterator<Item = Option<i64>>) -> Self {
        Column::Int(values.into_iter().collect())
    }

    pub(crate) fn bool(values: impl IntoIterator<Item = bool>) -> Self {
        Column::Bool(values.into_iter().map(Some).collect())
    }

    fn len(&self) -> usize {
        match self {
            Column::Text(values) => values.len(),
            Column::Int(values) => values.len(),
            Column::Bool(values) => values.len(),
        }
    }

    fn postgres_array(&self) -> &'static str {
        match self {
            Column::Text(_) => "TEXT[]",
            Column::Int(_) => "BIGINT[]",
            Column::Bool(_) => "BOOLEAN[]",
        }
    }

    fn into_values(self) -> ColumnValues {
        match self {
            Column::Text(values) => ColumnValues::Text(values.into_iter()),
            Column::Int(values) => ColumnValues::Int(values.into_iter()),
            Column::Bool(values) => ColumnValues::Bool(values.into_iter()),
        }
    }
}

/// A [`Column`]'s values taken one row at a time (SQLite binds each).
enum ColumnValues {
    Text(std::vec::IntoIter<Option<String>>),
    Int(std::vec::IntoIter<Option<i64>>),
    Bool(std::vec::IntoIter<Option<bool>>),
}

impl ColumnValues {
    /// Binds the next row's value (every column has as many rows: [`insert_rows`] checks).
    fn bind_next<'a>(&mut self, query: Query<'a>) -> Query<'a> {
        match self {
            ColumnValues::Text(values) => query.bind(values.next().flatten()),
            ColumnValues::Int(values) => query.bind(values.next().flatten()),
            ColumnValues::Bool(values) => query.bind(values.next().flatten()),
        }
    }
}

/// Runs `{head} {rows} {tail}` to insert rows given column by column (`head` names the
/// columns in the same order; `tail` is an `ON CONFLICT` clause or empty).
///
/// On PostgreSQL `rows` is `SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], ...)`: one array per
/// column, so all the rows go in one statement whose text does not depend on their number. It
/// is prepared once per connection and planned once, where a `VALUES` list of 200 rows of 14
/// columns is a new statement of 2,800 parameters for each number of rows, parsed and planned
/// again (the group commit's writes in `sync.rs` are what every waiting push waits for).
/// On SQLite, which has no arrays, `rows` is `VALUES (?, ?), ...` in statements of at most
/// [`ROWS_PER_STATEMENT`] rows (plain `?`, see [`sqlite_value_lists`]).
///
/// One statement cannot upsert one row twice (PostgreSQL refuses `ON CONFLICT DO UPDATE` on a
/// row it inserted or updated in the same statement): the callers give each key once.
pub(crate) async fn insert_rows(
    conn: &mut Conn<'_>,
    head: &str,
    columns: Vec<Column>,
    tail: &str,
) -> Result<(), sqlx::Error> {
    let rows = columns.first().map_or(0, Column::len);
    if let Some(column) = columns.iter().find(|c| c.len() != rows) {
        return Err(sqlx::Error::Protocol(format!(
            "insert_rows: a column of {} values among columns of {rows} ({head})",
            column.len()
        )));
    }
    if rows == 0 {
        return Ok(());
    }
    match conn {
        Conn::Postgres(conn) => {
            let arrays: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, column)| format!("${}::{}", i + 1, column.postgres_array()))
                .collect();
            let sql = format!("{head} SELECT * FROM UNNEST({}) {tail}", arrays.join(", "));
            let mut query = sqlx::query(&sql);
            for column in columns {
                query = match column {
                    Column::Text(values) => query.bind(values),
                    Column::Int(values) => query.bind(values),
                    Column::Bool(values) => query.bind(values),
                };
            }
            query.execute(&mut **conn).await?;
        }
        Conn::Sqlite(_) => {
            let width = columns.len();
            let mut values: Vec<ColumnValues> =
                columns.into_iter().map(Column::into_values).collect();
            let mut left = rows;
            while left > 0 {
                let chunk = left.min(ROWS_PER_STATEMENT);
                let sql = format!("{head} VALUES {} {tail}", sqlite_value_lists(chunk, width));
                let mut query = conn.query(&sql);
                for _ in 0..chunk {
                    for column in &mut values {
                        query = column.bind_next(query);
                    }
                }
                query.execute().await?;
                left -= chunk;
            }
        }
    }
    Ok(())
}

/// `(?, ?), (?, ?)` for `rows` rows of `columns` values: the only placeholders of their SQLite
/// statement, bound in order. Plain `?` because SQLite looks each `$n` up by name among the
/// statement's (`sqlite3_bind_parameter_name` walks a list), which is quadratic in their number:
/// a push's 700-value `mutations` insert spent more time there than in SQLite itself.
fn sqlite_value_lists(rows: usize, columns: usize) -> String {
    let row = format!("({})", vec!["?"; columns].join(", "));
    vec![row; rows].join(", ")
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
