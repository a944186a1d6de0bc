//! Storage: one SQLite file in `--data-dir` (the default), or a PostgreSQL database given by
//! `--database-url` / `DATABASE_URL` ([`Storage`]). The queries live behind [`Db`], so handlers
//! do not know which; each backend has its migrations (`migrations/sqlite/`,
//! `migrations/postgres/`, the same tables and constraints in each dialect) and its own
//! `sqlx::migrate!` migrator.
//!
//! **One code path, two dialects.** [`Db`] holds an enum of the two native sqlx pools, and
//! `backend.rs` runs one query text on either (`$1` placeholders work on both), so the Rust side
//! (row mapping, [`Db::push`]'s plan and authorisation callback, the seeding) is written once.
//! The SQL forks only where the dialects differ: how a transaction starts and what it locks
//! (`backend::Begin`: SQLite's `BEGIN IMMEDIATE` vs PostgreSQL's row and table locks), and the
//! station list of [`Db::pull`] (`IN (...)` vs `= ANY($2)`). `backend.rs` says why this is not
//! `sqlx::Any`. Column types are chosen so that one Rust type reads both (`BIGINT` where SQLite
//! has `INTEGER`, `BOOLEAN` where it has 0/1, `TEXT COLLATE "C"` keys so ids sort bytewise on
//! both).
//!
//! **Several server instances.** On PostgreSQL any number of stateless server processes may
//! share the database: sessions, devices, sync state and the change counter live only there;
//! check-then-write steps lock what they check (see `backend::Begin`), and migrations run under
//! sqlx's advisory lock, so instances starting together migrate once.
//!
//! Queries are bound at run time (`sqlx::query`, no compile-time checking against a live
//! database); the integration tests run every one of them, on SQLite and, when
//! `LIAISON_TEST_DATABASE_URL` is set, on PostgreSQL (`cargo xtask test` does both).
//!
//! - `mod.rs` (this file): [`Storage`], opening and migrating, health ping, the directory.
//! - `backend.rs`: the pool, transaction, connection, query and row enums over both backends.
//! - `seed.rs`: the default categories and the demo directory.
//! - `accounts.rs`: users, scopes, devices, sessions, the sign-in lock, the first administrator
//!   and the demo accounts (tables from `0003_accounts.sql`).
//! - `sync.rs`: the sync store, [`Db::push`], [`Db::record_online`] and [`Db::pull`] (tables from
//!   `0002_sync.sql`, attendance and referrals from `0008_followup.sql`); its module docs explain
//!   the locking and the change order on each backend.
//! - `facts.rs`: the figures' per-opinion facts, written with each opinion in the push
//!   transaction, and their rebuild at startup when their definitions changed
//!   ([`facts::FACTS_VERSION`]; tables from `0009_figures.sql`).
//! - `figures.rs`: the figures as SQL aggregates over the facts, attendance and station events,
//!   and the register's selection of opinions.
//! - `audit.rs`: the audit log (who exported what).
//! - `followup.rs`: handling units, the working-day calendar, the server-side sync client of an
//!   account, the opinions a ledger reads, attendance, roster and station events (tables from
//!   `0008_followup.sql`).

pub mod accounts;
pub mod audit;
mod backend;
pub mod facts;
pub mod figures;
pub mod followup;
pub mod photos;
mod seed;
mod sync;

pub use backend::{Backend, Bindable, Conn, Decodable, PooledConn, Query, Row};
pub use sync::{Online, PushAuthority, PushFailure, record_station};

use anyhow::Context;
use backend::{Begin, Pool};
use liaison_domain::{Category, Deputy, DeputyId, Directory, Region, RegionId, Station, StationId};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per server instance: the pushes' writer's one (below) and a pool of the rest.
/// SQLite has one writer anyway; on PostgreSQL each server instance holds at most this many of
/// the server's connections (100 by default), so a dozen instances fit.
const MAX_CONNECTIONS: u32 = 8;
/// The pushes' group commit has a connection of its own (`Db::writer_pool`): from the pool it
/// waited for a connection behind every request's token and client checks when 200 tablets
/// pushed at once (45 ms before the first group began on PostgreSQL), while every push waits
/// for the groups, one after another.
const WRITER_CONNECTIONS: u32 = 1;
/// Rows per index SQLite's `ANALYZE` (run by `PRAGMA optimize`) reads: SQLite's recommendation.
const ANALYSIS_LIMIT: u32 = 400;
/// Bounded so that a stuck database makes requests fail (and health report it) rather than queue
/// forever.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the data lives: the server's `--data-dir` (SQLite) or `--database-url` /
/// `DATABASE_URL` (PostgreSQL).
#[derive(Clone)]
pub enum Storage {
    /// The SQLite file [`Db::FILE_NAME`] in this directory (created if missing).
    Sqlite { data_dir: PathBuf },
    /// A PostgreSQL database. Deliberately not `Debug`: the options hold the password. (Boxed:
    /// the options are ten times the size of a path.)
    Postgres { options: Box<PgConnectOptions> },
}

impl Storage {
    /// PostgreSQL when `database_url` is given (and not empty), SQLite in `data_dir` otherwise.
    pub fn new(database_url: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        match database_url.map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) => Self::postgres(url),
            None => Ok(Storage::Sqlite {
                data_dir: data_dir.to_path_buf(),
            }),
        }
    }

    /// A `postgres://user:password@host:port/database` URL (or `postgresql://`).
    pub fn postgres(url: &str) -> anyhow::Result<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            anyhow::bail!(
                "the database URL must start with postgres:// or postgresql:// (SQLite is the \
                 default and takes --data-dir, not a URL)"
            );
        }
        // The error names no part of the URL, which may hold a password.
        let options = PgConnectOptions::from_str(url)
            .map_err(|err| anyhow::anyhow!("invalid PostgreSQL URL: {err}"))?;
        Ok(Storage::Postgres {
            options: Box::new(options),
        })
    }
}

/// For logs: where, without the password.
impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Storage::Sqlite { data_dir } => {
                write!(f, "SQLite {}", data_dir.join(Db::FILE_NAME).display())
            }
            Storage::Postgres { options } => write!(
                f,
                "PostgreSQL database {} on {}:{} as {}",
                options.get_database().unwrap_or("(default)"),
                options.get_host(),
                options.get_port(),
                options.get_username()
            ),
        }
    }
}

/// The database. Cheap to clone (the pool, the pushes' group commit and the hierarchy cache are
/// reference-counted). Holds nothing authoritative in memory: several server processes may share
/// one PostgreSQL database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    /// The pushes' group commit's own connection ([`WRITER_CONNECTIONS`]), so that the next
    /// group never queues for a connection behind the requests it is to answer.
    writer_pool: Pool,
    /// The station hierarchy last read, kept with its directory version and used only at that
    /// version (`accounts.rs`, `Db::station_hierarchy_at`).
    hierarchy: std::sync::Arc<accounts::HierarchyCache>,
    /// The pushes' group commit (`sync.rs`): only pushes waiting for their turn, nothing that
    /// outlives them.
    writer: std::sync::Arc<sync::GroupCommit>,
}

impl Db {
    /// The file inside `--data-dir`.
    pub const FILE_NAME: &'static str = "liaison.sqlite3";

    /// Opens `storage` (see [`Db::open`] and [`Db::open_postgres`]).
    pub async fn open_storage(storage: &Storage) -> anyhow::Result<Self> {
        match storage {
            Storage::Sqlite { data_dir } => Self::open(data_dir).await,
            Storage::Postgres { options } => Self::open_postgres((**options).clone()).await,
        }
    }

    /// Opens (creating if missing) the SQLite database in `data_dir`, runs the migrations and
    /// seeds the default categories on first start.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let path = data_dir.join(Self::FILE_NAME);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            // WAL: readers (the tablets' directory fetches) do not wait for a writer.
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only a power cut can lose
            // the last transactions, and it never corrupts the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // A writer waits this long for another writer instead of failing at once with BUSY.
            .busy_timeout(Duration::from_secs(5))
            // Keeps the planner's statistics fresh for the figures' queries as the data grows:
            // pool connections close when idle or old, so this runs every so often (cheaply,
            // bounded by the analysis limit).
            .optimize_on_close(true, ANALYSIS_LIMIT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS - WRITER_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;

        SQLITE_MIGRATOR
            .run(&pool)
            .await
            .context("cannot apply database migrations")?;
        let writer_pool = SqlitePoolOptions::new()
            .max_connections(WRITER_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;
        Self::ready(Pool::Sqlite(pool), Pool::Sqlite(writer_pool)).await
    }

    /// Connects to an existing PostgreSQL database, runs the migrations (under sqlx's advisory
    /// lock, so instances starting together migrate once) and seeds the default categories if
    /// no instance did yet.
    pub async fn open_postgres(options: PgConnectOptions) -> anyhow::Result<Self> {
        let location = Storage::Postgres {
            options: Box::new(options.clone()),
        }
        .to_string();
        let options = options
            .application_name("liaison-server")
            .options([("plan_cache_mode", "force_custom_plan")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS - WRITER_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Custom plans, always: sqlx prepares each statement once per connection, and
            // PostgreSQL's generic plan for it is fixed from the statistics of that moment. A
            // table that was empty then (a new database, the facts after a rebuild) kept a
            // sequential scan for `opinion_id = ANY($1)` while it grew: 40 ms per push at 50,000
            // opinions, ingest down fivefold. Planning these small statements costs far less.
            .connect_with(options.clone())
            .await
            .with_context(|| format!("cannot connect to {location}"))?;
        POSTGRES_MIGRATOR
            .run(&pool)
            .await
            .context("cannot apply database migrations")?;
        let writer_pool = PgPoolOptions::new()
            .max_connections(WRITER_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to {location}"))?;
        Self::ready(Pool::Postgres(pool), Pool::Postgres(writer_pool)).await
    }

    async fn ready(pool: Pool, writer_pool: Pool) -> anyhow::Result<Self> {
        let db = Db {
            pool,
            writer_pool,
            hierarchy: Default::default(),
            writer: Default::default(),
        };
        seed::seed_categories_if_empty(&db.pool)
            .await
            .context("cannot seed the default categories")?;
        db.rebuild_facts_if_outdated(facts::REBUILD_BATCH)
            .await
            .context("cannot rebuild the figures' facts")?;
        if db.backend() == Backend::Sqlite {
            // Lets SQLite gather the statistics its planner uses for the figures' queries where
            // they are missing or stale (cheap when they are not: 0x10002 checks every table,
            // and the analysis limit bounds the rows read per index).
            let mut conn = db.acquire().await?;
            conn.query(&format!("PRAGMA analysis_limit = {ANALYSIS_LIMIT}"))
                .execute()
                .await
                .context("cannot set the analysis limit")?;
            conn.query("PRAGMA optimize = 0x10002")
                .execute()
                .await
                .context("cannot optimize the database")?;
        }
        Ok(db)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }

    /// A connection from the pool, for statements that do not have a method here (tests,
    /// maintenance): `db.acquire().await?.query("SELECT ... WHERE id = $1").bind(id)...`.
    pub async fn acquire(&self) -> Result<PooledConn, sqlx::Error> {
        self.pool.acquire().await
    }

    /// Closes the pool: waits for connections in use to be returned, then closes them (SQLite
    /// checkpoints the WAL into the file). Queries after this fail, which is how the tests
    /// simulate a broken database.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer_pool.close().await;
    }

    /// `SELECT 1`: can a connection be had and does the database answer?
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.acquire().await?.query("SELECT 1").execute().await?;
        Ok(())
    }

    /// Seeds the demo directory if the directory is empty. Returns whether it did.
    pub async fn seed_demo(&self) -> Result<bool, sqlx::Error> {
        seed::seed_demo_if_empty(&self.pool).await
    }

    /// The whole directory. Order is stable so that the tablets' copies compare equal: regions
    /// from the top of the hierarchy down (then by id), stations and deputies by id, categories in
    /// their configured position. Ids compare bytewise on both backends (the PostgreSQL schema
    /// declares them `COLLATE "C"`, SQLite's default is binary), as the binary search below needs.
    pub async fn directory(&self) -> Result<Directory, sqlx::Error> {
        // One snapshot for all the reads, even if an import writes meanwhile.
        let mut tx = self.pool.begin(Begin::Snapshot).await?;

        // Walking down from the roots gives each region its depth. A region can only be missed if
        // `parent_id`s form a cycle, which no root reaches (so the walk also always ends).
        let regions = tx
            .query(
                "WITH RECURSIVE tree (id, depth) AS ( \
                     SELECT id, 0 FROM regions WHERE parent_id IS NULL \
                     UNION ALL \
                     SELECT r.id, tree.depth + 1 FROM regions r JOIN tree ON r.parent_id = tree.id \
                 ) \
                 SELECT r.id, r.name, r.parent_id FROM regions r JOIN tree ON tree.id = r.id \
                 ORDER BY tree.depth, r.id",
            )
            .fetch_all()
            .await?
            .iter()
            .map(region_from_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let stations = tx
            .query("SELECT id, region_id, name, address FROM stations ORDER BY id")
            .fetch_all()
            .await?
            .iter()
            .map(station_from_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let mut deputies = tx
            .query("SELECT id, name, level FROM deputies ORDER BY id")
            .fetch_all()
            .await?
            .iter()
            .map(|row| {
                Ok(Deputy {
                    id: DeputyId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    level: row.try_get("level")?,
                    station_ids: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let links = tx
            .query(
                "SELECT deputy_id, station_id FROM deputy_stations \
                 ORDER BY deputy_id, station_id",
            )
            .fetch_all()
            .await?;
        for row in links {
            let deputy_id: String = row.try_get("deputy_id")?;
            let station_id: String = row.try_get("station_id")?;
            // Both lists are sorted by deputy id, so a binary search finds the owner.
            if let Ok(i) = deputies.binary_search_by(|d| d.id.0.as_str().cmp(&deputy_id)) {
                deputies[i].station_ids.push(StationId(station_id));
            }
        }

        let categories = categories(&mut tx.conn()).await?;

        tx.commit().await?;
        Ok(Directory {
            regions,
            stations,
            deputies,
            categories,
        })
    }
}

/// The configured categories, in their configured position.
async fn categories(conn: &mut Conn<'_>) -> Result<Vec<Category>, sqlx::Error> {
    conn.query("SELECT code, zh, en, speciality FROM categories ORDER BY position, code")
        .fetch_all()
        .await?
        .iter()
        .map(|row| {
            Ok(Category {
                code: row.try_get("code")?,
                zh: row.try_get("zh")?,
                en: row.try_get("en")?,
                speciality: row.try_get("speciality")?,
            })
        })
        .collect()
}

/// A `regions` row (`id, name, parent_id`).
pub(crate) fn region_from_row(row: &Row) -> Result<Region, sqlx::Error> {
    Ok(Region {
        id: RegionId(row.try_get("id")?),
        name: row.try_get("name")?,
        parent_id: row.try_get::<Option<String>>("parent_id")?.map(RegionId),
    })
}

/// A `stations` row (`id, region_id, name, address`).
pub(crate) fn station_from_row(row: &Row) -> Result<Station, sqlx::Error> {
    Ok(Station {
        id: StationId(row.try_get("id")?),
        region_id: RegionId(row.try_get("region_id")?),
        name: row.try_get("name")?,
        address: row.try_get("address")?,
    })
}
