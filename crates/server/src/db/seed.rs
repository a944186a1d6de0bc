//! Data the server puts in by itself: the default categories on first start, and the demo
//! directory and handling units with `--demo`. Done in Rust rather than in migrations because both are data that
//! administrators may change afterwards, and the category list comes from the domain crate.

use super::backend::{Begin, Pool};
use liaison_domain::default_categories;

/// Inserts `liaison_domain::default_categories()` when the table is empty, i.e. on first start.
/// Not on every start: a region that removed or reordered categories must keep its list.
pub(super) async fn seed_categories_if_empty(pool: &Pool) -> Result<(), sqlx::Error> {
    // The lock is taken before the check, so two servers started on the same database cannot
    // both see an empty table.
    let mut tx = pool.begin(Begin::LockTables(&["categories"])).await?;
    let count: i64 = tx
        .query("SELECT COUNT(*) AS n FROM categories")
        .fetch_one()
        .await?
        .try_get("n")?;
    if count == 0 {
        for (position, category) in default_categories().iter().enumerate() {
            tx.query(
                "INSERT INTO categories (code, zh, en, speciality, position) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING",
            )
            .bind(category.code.as_str())
            .bind(category.zh.as_str())
            .bind(category.en.as_str())
            .bind(category.speciality)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute()
            .await?;
        }
        tracing::info!("seeded the default categories");
    }
    tx.commit().await
}

const DEMO_REGIONS: &[(&str, &str, Option<&str>)] = &[
    ("region-demo-city", "示范市", None),
    ("region-demo-district", "示范区", Some("region-demo-city")),
    (
        "region-demo-street",
        "幸福街道",
        Some("region-demo-district"),
    ),
];

const DEMO_STATIONS: &[(&str, &str, &str, &str)] = &[
    (
        "station-xingfuli",
        "region-demo-street",
        "幸福里社区人大代表联络站",
        "示范市示范区幸福街道幸福里社区党群服务中心一楼",
    ),
    (
        // A district-level 代表之家: the demo hierarchy has one street, so it hangs off the district.
        "station-heping",
        "region-demo-district",
        "和平街道代表之家",
        "示范市示范区和平路88号",
    ),
];

const DEMO_DEPUTIES: &[(&str, &str, &str, &[&str])] = &[
    (
        "deputy-demo-zhang",
        "张建国",
        "区人大代表",
        &["station-xingfuli"],
    ),
    (
        "deputy-demo-li",
        "李秀英",
        "市人大代表",
        &["station-xingfuli", "station-heping"],
    ),
    (
        "deputy-demo-wang",
        "王志强",
        "区人大代表",
        &["station-heping"],
    ),
    (
        "deputy-demo-chen",
        "陈丽华",
        "区人大代表",
        &["station-heping", "station-xingfuli"],
    ),
];

/// The demo handling units (承办单位) of the demo district: `(id, name, region)`.
pub(super) const DEMO_UNITS: &[(&str, &str, &str)] = &[
    (
        "unit-demo-housing",
        "区住房和城乡建设局",
        "region-demo-district",
    ),
    ("unit-demo-urban", "区城市管理局", "region-demo-district"),
    (
        "unit-demo-hotline",
        "12345 政务服务热线",
        "region-demo-district",
    ),
];

/// Adds each demo unit that is missing, if its region exists (the demo directory was seeded).
/// Apart from the directory so that a demo database seeded before units existed gets them too.
/// Returns how many were added.
pub(super) async fn seed_demo_units(pool: &Pool) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin(Begin::Plain).await?;
    let mut added = 0;
    for (id, name, region_id) in DEMO_UNITS {
        added += tx
            .query(
                "INSERT INTO handling_units (id, name, region_id)                  SELECT $1, $2, id FROM regions WHERE id = $3                  ON CONFLICT (id) DO NOTHING",
            )
            .bind(*id)
            .bind(*name)
            .bind(*region_id)
            .execute()
            .await?;
    }
    tx.commit().await?;
    Ok(added)
}

/// Seeds the demo directory when no region, station or deputy exists yet. All or nothing, in one
/// transaction. Returns whether it seeded.
pub(super) async fn seed_demo_if_empty(pool: &Pool) -> Result<bool, sqlx::Error> {
    let mut tx = pool
        .begin(Begin::LockTables(&["regions", "stations", "deputies"]))
        .await?;
    let existing: i64 = tx
        .query(
            "SELECT (SELECT COUNT(*) FROM regions) + (SELECT COUNT(*) FROM stations) \
                  + (SELECT COUNT(*) FROM deputies) AS n",
        )
        .fetch_one()
        .await?
        .try_get("n")?;
    if existing > 0 {
        tracing::info!("the directory is not empty: demo data not seeded");
        return Ok(false);
    }

    // Parents come first in the list, so the foreign key holds at each insert.
    for (id, name, parent_id) in DEMO_REGIONS {
        tx.query("INSERT INTO regions (id, name, parent_id) VALUES ($1, $2, $3)")
            .bind(*id)
            .bind(*name)
            .bind(*parent_id)
            .execute()
            .await?;
    }
    for (id, region_id, name, address) in DEMO_STATIONS {
        tx.query("INSERT INTO stations (id, region_id, name, address) VALUES ($1, $2, $3, $4)")
            .bind(*id)
            .bind(*region_id)
            .bind(*name)
            .bind(*address)
            .execute()
            .await?;
    }
    for (id, name, level, stations) in DEMO_DEPUTIES {
        tx.query("INSERT INTO deputies (id, name, level) VALUES ($1, $2, $3)")
            .bind(*id)
            .bind(*name)
            .bind(*level)
            .execute()
            .await?;
        for station_id in *stations {
            tx.query("INSERT INTO deputy_stations (deputy_id, station_id) VALUES ($1, $2)")
                .bind(*id)
                .bind(*station_id)
                .execute()
                .await?;
        }
    }
    tx.commit().await?;
    tracing::info!("seeded the demo directory");
    Ok(true)
}
