//! Storage. Today one SQLite file in the data directory; the queries live behind [`Db`] and the
//! migrations in `migrations/sqlite/`, so that a PostgreSQL backend can come later as a second
//! migrations folder and a second pool type without touching the handlers.
//!
//! Queries are bound at run time (`sqlx::query`, no compile-time checking against a live
//! database); the integration tests run every one of them.
//!
//! - `mod.rs` (this file): opening and migrating, health ping, demo seeding, the directory.
//! - `seed.rs`: the default categories and the demo directory.
//! - `accounts.rs`: users, scopes, devices, sessions, the sign-in lock, the first administrator
//!   and the demo accounts (tables from `migrations/sqlite/0003_accounts.sql`).
//! - `sync.rs`: the sync store, [`Db::push`] and [`Db::pull`] (tables from
//!   `migrations/sqlite/0002_sync.sql`); its module docs explain the locking and the change order.

pub mod accounts;
mod seed;
mod sync;

pub use sync::PushFailure;

use anyhow::Context;
use liaison_domain::{Category, Deputy, DeputyId, Directory, Region, RegionId, Station, StationId};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Row, migrate::Migrator};
use std::path::Path;
use std::time::Duration;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// The database. Cheap to clone (the pool is reference-counted).
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// The file inside `--data-dir`.
    pub const FILE_NAME: &'static str = "liaison.sqlite3";

    /// Opens (creating if missing) the database in `data_dir`, runs the migrations and seeds the
    /// default categories on first start.
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
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            // Bounded so that a stuck database makes requests fail (and health report it) rather
            // than queue forever.
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open database {}", path.display()))?;

        MIGRATOR
            .run(&pool)
            .await
            .context("cannot apply database migrations")?;

        let db = Db { pool };
        seed::seed_categories_if_empty(&db.pool)
            .await
            .context("cannot seed the default categories")?;
        Ok(db)
    }

    /// The pool, for queries that do not have a method here yet.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool: waits for connections in use to be returned, then checkpoints and closes
    /// the file. Queries after this fail, which is how the tests simulate a broken database.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// `SELECT 1`: can a connection be had and does SQLite answer?
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Seeds the demo directory if the directory is empty. Returns whether it did.
    pub async fn seed_demo(&self) -> Result<bool, sqlx::Error> {
        seed::seed_demo_if_empty(&self.pool).await
    }

    /// The whole directory. Order is stable so that the tablets' copies compare equal: regions
    /// from the top of the hierarchy down (then by id), stations and deputies by id, categories in
    /// their configured position.
    pub async fn directory(&self) -> Result<Directory, sqlx::Error> {
        // One read transaction: a consistent snapshot even if an import writes meanwhile.
        let mut tx = self.pool.begin().await?;

        // Walking down from the roots gives each region its depth. A region can only be missed if
        // `parent_id`s form a cycle, which no root reaches (so the walk also always ends).
        let regions = sqlx::query(
            "WITH RECURSIVE tree (id, depth) AS ( \
                 SELECT id, 0 FROM regions WHERE parent_id IS NULL \
                 UNION ALL \
                 SELECT r.id, tree.depth + 1 FROM regions r JOIN tree ON r.parent_id = tree.id \
             ) \
             SELECT r.id, r.name, r.parent_id FROM regions r JOIN tree ON tree.id = r.id \
             ORDER BY tree.depth, r.id",
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|row| region_from_row(&row))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let stations = sqlx::query("SELECT id, region_id, name, address FROM stations ORDER BY id")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|row| station_from_row(&row))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let mut deputies = sqlx::query("SELECT id, name, level FROM deputies ORDER BY id")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|row| {
                Ok(Deputy {
                    id: DeputyId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    level: row.try_get("level")?,
                    station_ids: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;

        let links = sqlx::query(
            "SELECT deputy_id, station_id FROM deputy_stations ORDER BY deputy_id, station_id",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in links {
            let deputy_id: String = row.try_get("deputy_id")?;
            let station_id: String = row.try_get("station_id")?;
            // Both lists are sorted by deputy id, so a binary search finds the owner.
            if let Ok(i) = deputies.binary_search_by(|d| d.id.0.as_str().cmp(&deputy_id)) {
                deputies[i].station_ids.push(StationId(station_id));
            }
        }

        let categories = categories(&mut tx).await?;

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
async fn categories(conn: &mut SqliteConnection) -> Result<Vec<Category>, sqlx::Error> {
    sqlx::query("SELECT code, zh, en, speciality FROM categories ORDER BY position, code")
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
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
pub(crate) fn region_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Region, sqlx::Error> {
    Ok(Region {
        id: RegionId(row.try_get("id")?),
        name: row.try_get("name")?,
        parent_id: row.try_get::<Option<String>, _>("parent_id")?.map(RegionId),
    })
}

/// A `stations` row (`id, region_id, name, address`).
pub(crate) fn station_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Station, sqlx::Error> {
    Ok(Station {
        id: StationId(row.try_get("id")?),
        region_id: RegionId(row.try_get("region_id")?),
        name: row.try_get("name")?,
        address: row.try_get("address")?,
    })
}
