//! How fast the figures are on a big database, and what a big register export costs.
//!
//! ```text
//! cargo bench -p liaison-server --bench figures
//! LIAISON_BENCH_PG_URL=postgres://liaison:liaison@127.0.0.1:5432/postgres \
//!     cargo bench -p liaison-server --bench figures
//! ```
//!
//! Environment:
//!
//! - `LIAISON_BENCH_PG_URL`: also run on PostgreSQL. A fresh database `liaison_bench_<pid>` is
//!   created through this URL (its role needs `CREATEDB`) and dropped at the end.
//! - `LIAISON_BENCH_OPINIONS` (default 1,000,000): opinions' facts seeded.
//! - `LIAISON_BENCH_STATIONS` (default 500): stations they are spread over (10 districts of 5
//!   streets each).
//! - `LIAISON_BENCH_RUNS` (default 30): timed runs per query, after one warm-up.
//! - `LIAISON_BENCH_EXPORT_ROWS` (default 100,000): register lines of the export timing.
//! - `LIAISON_BENCH_SQLITE_DIR`: keep the SQLite figures database in this directory (and reuse
//!   it, unseeded, when it is already there), to look at its query plans with `sqlite3`.
//! - `LIAISON_BENCH_PG_KEEP`: the same on PostgreSQL: the figures database is this one (created
//!   and seeded when missing, never dropped).
//! - `LIAISON_BENCH_ONLY`: time only the queries whose description contains this text (for
//!   example `by day`).
//!
//! **Figures.** The facts (`opinion_facts`, `opinion_evaluations`), attendance and station
//! events are written straight into the server's tables with big multi-row `INSERT`s in
//! transactions (the push path would take hours for a million opinions), spread over 22 months
//! (2025-01-01 to 2026-10-31); then the rollups (`figure_days`, `figure_months`) are counted
//! from those facts by [`Db::rebuild_rollups`](liaison_server::Db::rebuild_rollups), the
//! rebuild the server runs at startup, and `ANALYZE`. Each query is
//! [`Db::count_figures`](liaison_server::Db::count_figures), what `GET /api/v1/figures` runs, for
//! the last twelve of those months: every station (the scope of a city's office), or one.
//!
//! **Export.** A database of its own with `LIAISON_BENCH_EXPORT_ROWS` opinions (stored states
//! and facts) at one station; `GET /api/v1/exports/register?format=xlsx` for all of them through
//! the real router, signed in as an administrator. The peak memory is the process's `VmHWM`
//! (from `/proc/self/status`, reset through `/proc/self/clear_refs` just before the request).
//!
//! Results are printed as a markdown table.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use liaison_domain::figures::{Breakdown, OpinionFacts, Period};
use liaison_domain::followup::{CHINA_UTC_OFFSET_MINUTES, Date};
use liaison_domain::sync::{Hlc, Mutation, MutationKind, OpinionReplica, Seq};
use liaison_domain::{
    ClientId, DutyContext, OpinionDraft, OpinionId, OutcomeKind, Role, StationId,
    default_categories,
};
use liaison_server::db::accounts::NewUser;
use liaison_server::db::{Backend, PooledConn, Storage};
use liaison_server::{AppState, Db, Passwords, Settings, app};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tower::ServiceExt;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A deterministic random source (xorshift).
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn day(text: &str) -> Date {
    Date::parse(text).expect("a day")
}

fn today() -> Date {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Date::from_unix_ms(ms, CHINA_UTC_OFFSET_MINUTES)
}

/// A value of a seeded row.
#[derive(Clone)]
enum Value {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
    Bool(bool),
}

/// Inserts `rows` into `table` with multi-row statements, `per_transaction` rows per
/// transaction.
async fn insert(
    conn: &mut PooledConn,
    table: &str,
    columns: &[&str],
    rows: impl IntoIterator<Item = Vec<Value>>,
) {
    // Well within SQLite's 32,766 and PostgreSQL's 65,535 bound values.
    // Plain `?` on SQLite: `$n` and `?n` are kept in a list that SQLite searches for each
    // parameter sqlx binds (quadratic in a statement of thousands of values); `?` has no name.
    let backend = conn.conn().backend();
    let slot = |n: usize| match backend {
        Backend::Sqlite => "?".to_owned(),
        Backend::Postgres => format!("${n}"),
    };
    let per_statement = 30_000 / columns.len();
    let per_transaction = 100_000;
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_statement);
    let mut in_transaction = 0usize;
    conn.query("BEGIN").execute().await.expect("begin");
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        batch.clear();
        batch.extend(rows.by_ref().take(per_statement));
        let values: Vec<String> = (0..batch.len())
            .map(|r| {
                let slots: Vec<String> = (1..=columns.len())
                    .map(|c| slot(r * columns.len() + c))
                    .collect();
                format!("({})", slots.join(", "))
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES {}",
            columns.join(", "),
            values.join(", ")
        );
        let mut query = conn.query(&sql);
        for row in &batch {
            for value in row {
                query = match value.clone() {
                    Value::Text(v) => query.bind(v),
                    Value::MaybeText(v) => query.bind(v),
                    Value::Int(v) => query.bind(v),
                    Value::Bool(v) => query.bind(v),
                };
            }
        }
        query.execute().await.expect("insert");
        in_transaction += batch.len();
        if in_transaction >= per_transaction {
            conn.query("COMMIT").execute().await.expect("commit");
            conn.query("BEGIN").execute().await.expect("begin");
            in_transaction = 0;
        }
    }
    conn.query("COMMIT").execute().await.expect("commit");
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

fn station_id(n: usize) -> String {
    format!("bench-station-{n:04}")
}

fn deputy_id(station: usize, k: u64) -> String {
    format!("bench-deputy-{station:04}-{k}")
}

const DEPUTIES_PER_STATION: u64 = 4;

/// Regions (a city, 10 districts, 5 streets each), the stations, four deputies each.
async fn seed_directory(db: &Db, stations: usize) {
    let mut conn = db.acquire().await.expect("a connection");
    let mut regions = vec![vec![
        text("bench-city"),
        text("基准市"),
        Value::MaybeText(None),
    ]];
    for district in 0..10 {
        regions.push(vec![
            text(format!("bench-district-{district}")),
            text(format!("第{district}区")),
            Value::MaybeText(Some("bench-city".into())),
        ]);
        for street in 0..5 {
            regions.push(vec![
                text(format!("bench-street-{district}-{street}")),
                text(format!("第{district}区第{street}街道")),
                Value::MaybeText(Some(format!("bench-district-{district}"))),
            ]);
        }
    }
    insert(&mut conn, "regions", &["id", "name", "parent_id"], regions).await;
    insert(
        &mut conn,
        "stations",
        &["id", "region_id", "name", "address"],
        (0..stations).map(|s| {
            vec![
                text(station_id(s)),
                text(format!("bench-street-{}-{}", s % 10, (s / 10) % 5)),
                text(format!("第{s}联络站")),
                text("地址"),
            ]
        }),
    )
    .await;
    insert(
        &mut conn,
        "deputies",
        &["id", "name", "level"],
        (0..stations).flat_map(|s| {
            (0..DEPUTIES_PER_STATION).map(move |k| {
                vec![
                    text(deputy_id(s, k)),
                    text(format!("代表{s}-{k}")),
                    text("区人大代表"),
                ]
            })
        }),
    )
    .await;
    insert(
        &mut conn,
        "deputy_stations",
        &["deputy_id", "station_id"],
        (0..stations).flat_map(|s| {
            (0..DEPUTIES_PER_STATION).map(move |k| vec![text(deputy_id(s, k)), text(station_id(s))])
        }),
    )
    .await;
}

/// An administrator; returns its id.
async fn admin(db: &Db) -> String {
    db.create_user(&NewUser {
        username: "bench-admin".into(),
        display_name: "基准管理员".into(),
        role: Role::Admin,
        deputy_id: None,
        unit_id: None,
        scopes: Vec::new(),
        password_hash: Passwords::insecure_for_tests()
            .hash("bench password")
            .expect("a hash"),
    })
    .await
    .expect("a user")
    .expect("a new user")
}

const SPAN_START: &str = "2025-01-01";
const SPAN_DAYS: u64 = 669; // to 2026-10-31

/// The facts of `opinions` opinions, with their evaluations, attendance and events.
async fn seed_figures(db: &Db, stations: usize, opinions: usize) {
    let start = day(SPAN_START);
    let categories: Vec<String> = default_categories().into_iter().map(|c| c.code).collect();
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    let mut conn = db.acquire().await.expect("a connection");

    let mut facts = Vec::with_capacity(opinions);
    let mut evaluations = Vec::new();
    for n in 0..opinions {
        let s = random.below(stations as u64) as usize;
        let collected = start.add_days(random.below(SPAN_DAYS) as i32);
        let (mut first_referred, mut unit, mut due, mut due_concluded, mut first_concluded) =
            (None, None, None, None, None);
        if random.chance(35) {
            let referred = collected.add_days(random.below(10) as i32);
            first_referred = Some(referred);
            unit = Some(format!("bench-unit-{}", random.below(20)));
            let deadline = referred.add_days(5 + random.below(10) as i32);
            due = Some(deadline);
            if random.chance(85) {
                let concluded = referred.add_days(1 + random.below(30) as i32);
                first_concluded = Some(concluded);
                due_concluded = Some(concluded);
            }
        } else if random.chance(15) {
            first_concluded = Some(collected.add_days(random.below(20) as i32));
        }
        let id = OpinionId::new_v7(1_700_000_000_000 + n as u64, [9; 10]).to_string();
        let deputy = deputy_id(s, random.below(DEPUTIES_PER_STATION));
        let category = categories[random.below(categories.len() as u64) as usize].clone();
        if let Some(concluded) = first_concluded
            && random.chance(50)
        {
            let mut ord = 0;
            if random.chance(10) {
                evaluations.push(vec![
                    text(id.clone()),
                    Value::Int(ord),
                    text(station_id(s)),
                    text(concluded.add_days(1).to_string()),
                    Value::Bool(false),
                    Value::Bool(false),
                    text(category.clone()),
                    text(deputy.clone()),
                    Value::MaybeText(unit.clone()),
                ]);
                ord += 1;
            }
            evaluations.push(vec![
                text(id.clone()),
                Value::Int(ord),
                text(station_id(s)),
                text(concluded.add_days(2 + random.below(10) as i32).to_string()),
                Value::Bool(random.chance(85)),
                Value::Bool(true),
                text(category.clone()),
                text(deputy.clone()),
                Value::MaybeText(unit.clone()),
            ]);
        }
        let day_text = |d: Option<Date>| Value::MaybeText(d.map(|d| d.to_string()));
        facts.push(vec![
            text(id),
            text(station_id(s)),
            text(deputy),
            text(category),
            text(collected.to_string()),
            Value::Bool(random.chance(40)),
            day_text(first_referred),
            Value::MaybeText(unit),
            day_text(due),
            day_text(due_concluded),
            day_text(first_concluded),
            text("registered"),
        ]);
    }
    let started = Instant::now();
    insert(
        &mut conn,
        "opinion_facts",
        &[
            "opinion_id",
            "station_id",
            "deputy_id",
            "category",
            "collected",
            "answered_on_the_spot",
            "first_referred",
            "unit_id",
            "due",
            "due_concluded",
            "first_concluded",
            "status",
        ],
        facts,
    )
    .await;
    let evaluation_count = evaluations.len();
    insert(
        &mut conn,
        "opinion_evaluations",
        &[
            "opinion_id",
            "ord",
            "station_id",
            "day",
            "satisfied",
            "is_last",
            "category",
            "deputy_id",
            "unit_id",
        ],
        evaluations,
    )
    .await;
    eprintln!(
        "  facts: {opinions} opinions, {evaluation_count} evaluations in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Attendance: on a third of the days, one or two of a station's deputies.
    let started = Instant::now();
    let mut attendance = Vec::new();
    let mut seq = 0i64;
    for s in 0..stations {
        for d in 0..SPAN_DAYS {
            if !random.chance(33) {
                continue;
            }
            let on = start.add_days(d as i32).to_string();
            let first = random.below(DEPUTIES_PER_STATION);
            let count = 1 + random.below(2);
            for k in 0..count {
                let deputy = deputy_id(s, (first + k) % DEPUTIES_PER_STATION);
                let signed_in = random.chance(95);
                seq += 1;
                let key = format!("{}|{deputy}|{on}", station_id(s));
                let state = if signed_in {
                    format!(
                        "{{\"station_id\":\"{}\",\"deputy_id\":\"{deputy}\",\"day\":\"{on}\",\
                         \"signed_in_at_ms\":1}}",
                        station_id(s)
                    )
                } else {
                    format!(
                        "{{\"station_id\":\"{}\",\"deputy_id\":\"{deputy}\",\"day\":\"{on}\",\
                         \"signed_out_at_ms\":1}}",
                        station_id(s)
                    )
                };
                attendance.push(vec![
                    text(key),
                    text(station_id(s)),
                    text(deputy),
                    text(on.clone()),
                    text(state),
                    Value::Int(seq),
                    Value::Bool(signed_in),
                ]);
            }
        }
    }
    let attendance_count = attendance.len();
    insert(
        &mut conn,
        "attendance",
        &[
            "id",
            "station_id",
            "deputy_id",
            "day",
            "state",
            "change_seq",
            "signed_in",
        ],
        attendance,
    )
    .await;

    // Events: two a month per station, with one to three attendees.
    let recorder = admin(db).await;
    let mut activities = Vec::new();
    let mut attendees = Vec::new();
    for s in 0..stations {
        for e in 0..44u64 {
            let id = format!("bench-activity-{s:04}-{e:02}");
            activities.push(vec![
                text(id.clone()),
                text(station_id(s)),
                text(start.add_days(random.below(SPAN_DAYS) as i32).to_string()),
                text("collective_reception"),
                text("集体接待"),
                Value::Int(random.below(50) as i64),
                text(""),
                text(recorder.clone()),
                Value::Int(0),
            ]);
            let first = random.below(DEPUTIES_PER_STATION);
            for k in 0..1 + random.below(3) {
                attendees.push(vec![
                    text(id.clone()),
                    text(deputy_id(s, (first + k) % DEPUTIES_PER_STATION)),
                    Value::Int(k as i64),
                ]);
            }
        }
    }
    let activity_count = activities.len();
    insert(
        &mut conn,
        "activities",
        &[
            "id",
            "station_id",
            "day",
            "kind",
            "title",
            "citizens_received",
            "note",
            "recorded_by",
            "recorded_at",
        ],
        activities,
    )
    .await;
    insert(
        &mut conn,
        "activity_attendees",
        &["activity_id", "deputy_id", "position"],
        attendees,
    )
    .await;
    // The rollups: counted from the facts just written by the rebuild the server runs at
    // startup (the facts were not written through the push path, which keeps them).
    let rollups = Instant::now();
    db.rebuild_rollups(50).await.expect("the rollups");
    eprintln!(
        "  rollups rebuilt from the facts in {:.1} s",
        rollups.elapsed().as_secs_f64()
    );
    // PostgreSQL: autovacuum would set the visibility map (index-only scans need it) and the
    // statistics in a while; a bench cannot wait for it.
    let analyze = match conn.conn().backend() {
        Backend::Sqlite => "ANALYZE",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    conn.query(analyze).execute().await.expect("analyze");
    eprintln!(
        "  attendance: {attendance_count} records, {activity_count} events, analyzed, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// One result line.
struct Line {
    backend: &'static str,
    what: String,
    runs: usize,
    p50: Duration,
    p95: Duration,
    rows: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn time_figures(
    db: &Db,
    backend: &'static str,
    stations: &[StationId],
    what: &str,
    by: Option<Breakdown>,
    runs: usize,
) -> Line {
    let year = Period::new(day("2025-11-01"), day("2026-10-31")).expect("a period");
    let today = today();
    let warm = db
        .count_figures(stations, &year, today, by)
        .await
        .expect("figures");
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let counted = db
            .count_figures(stations, &year, today, by)
            .await
            .expect("figures");
        times.push(started.elapsed());
        assert_eq!(counted, warm, "the same answer every time");
    }
    times.sort();
    if by.is_none() {
        eprintln!("  {what}: {:?}", warm.total);
    }
    Line {
        backend,
        what: what.to_owned(),
        runs,
        p50: percentile(&times, 0.5),
        p95: percentile(&times, 0.95),
        rows: warm.rows.len(),
    }
}

async fn bench_figures(db: &Db, backend: &'static str, out: &mut Vec<Line>) {
    let stations = env_number("LIAISON_BENCH_STATIONS", 500);
    let opinions = env_number("LIAISON_BENCH_OPINIONS", 1_000_000);
    let runs = env_number("LIAISON_BENCH_RUNS", 30).max(1);
    let seeded: i64 = db
        .acquire()
        .await
        .expect("a connection")
        .query("SELECT COUNT(*) AS n FROM opinion_facts")
        .fetch_one()
        .await
        .expect("a count")
        .try_get("n")
        .expect("a number");
    if seeded > 0 {
        // A database kept from an earlier run (`LIAISON_BENCH_SQLITE_DIR`).
        eprintln!("{backend}: {seeded} opinions' facts already there");
    } else {
        eprintln!("{backend}: seeding {stations} stations, {opinions} opinions");
        let started = Instant::now();
        seed_directory(db, stations).await;
        seed_figures(db, stations, opinions).await;
        eprintln!(
            "{backend}: seeded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let all: Vec<StationId> = (0..stations).map(|s| StationId(station_id(s))).collect();
    let one = vec![StationId(station_id(7))];
    for (what, scope, by, runs) in [
        ("all stations, a year, totals", &all, None, runs),
        (
            "all stations, a year, by station",
            &all,
            Some(Breakdown::Station),
            runs,
        ),
        (
            "all stations, a year, by month",
            &all,
            Some(Breakdown::Month),
            runs,
        ),
        (
            "all stations, a year, by category",
            &all,
            Some(Breakdown::Category),
            runs,
        ),
        (
            "all stations, a year, by deputy",
            &all,
            Some(Breakdown::Deputy),
            runs.min(10),
        ),
        (
            "all stations, a year, by unit",
            &all,
            Some(Breakdown::Unit),
            runs.min(10),
        ),
        (
            "all stations, a year, by day",
            &all,
            Some(Breakdown::Day),
            runs.min(10),
        ),
        ("one station, a year, totals", &one, None, runs),
        (
            "one station, a year, by month",
            &one,
            Some(Breakdown::Month),
            runs,
        ),
    ] {
        if let Ok(only) = std::env::var("LIAISON_BENCH_ONLY")
            && !what.contains(only.trim())
        {
            continue;
        }
        let line = time_figures(db, backend, scope, what, by, runs).await;
        eprintln!(
            "  {what}: p50 {:.1} ms, p95 {:.1} ms",
            ms(line.p50),
            ms(line.p95)
        );
        out.push(line);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A `/proc/self/status` figure (`VmHWM`, `VmRSS`) of this process, in MiB.
fn memory_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets `VmHWM` to the current resident size (Linux).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak memory during an export and the resident size just before it, in MiB.
type Peak = Option<(f64, f64)>;

/// The register export of `rows` lines; returns the line to print and the peak memory.
async fn bench_export(db: Db, backend: &'static str, rows: usize) -> (Line, Peak, usize) {
    let started = Instant::now();
    seed_directory(&db, 1).await;
    let station = station_id(0);
    let client = ClientId::new_v7(1_700_000_000_000, [3; 10]);
    let mut random = Random(0x1234_5678_9abc_def1);
    let categories = default_categories();
    let mut opinions = Vec::with_capacity(rows);
    let mut facts = Vec::with_capacity(rows);
    let first_ms = 1_767_225_600_000u64; // 2026-01-01T00:00Z
    for n in 0..rows {
        let created = first_ms + random.below(300) * 86_400_000 + random.below(36_000_000);
        let opinion = OpinionDraft {
            category: categories[n % categories.len()].code.clone(),
            summary: format!("第{n}件：小区停车位不足，晚间车辆占用消防通道，请求协调解决"),
            place: "幸福里小区 3 号楼".into(),
            citizen_name: "张三".into(),
            citizen_phone: "13812341234".into(),
            consent: true,
            outcome: Some(OutcomeKind::ToBeReferred),
            ..OpinionDraft::default()
        }
        .validate(
            OpinionId::new_v7(created, [(n % 251) as u8; 10]),
            Some(&DutyContext {
                station_id: station.as_str().into(),
                deputy_id: deputy_id(0, n as u64 % DEPUTIES_PER_STATION)
                    .as_str()
                    .into(),
            }),
            &categories,
            created,
        )
        .expect("a valid opinion");
        let mut replica = OpinionReplica::new(opinion.id);
        replica.apply(&Mutation::new(
            client,
            Seq(n as u64 + 1),
            Hlc {
                wall_ms: created,
                counter: 0,
                node: client,
            },
            MutationKind::CreateOpinion {
                opinion: Box::new(opinion.clone()),
            },
        ));
        let f = OpinionFacts::derive(&opinion, std::iter::empty());
        facts.push(vec![
            text(f.opinion_id.to_string()),
            text(f.station_id.0),
            text(f.deputy_id.0),
            text(f.category),
            text(f.collected.to_string()),
            Value::Bool(f.answered_on_the_spot),
            Value::MaybeText(None),
            Value::MaybeText(None),
            Value::MaybeText(None),
            Value::MaybeText(None),
            Value::MaybeText(None),
            text(f.status.code()),
        ]);
        opinions.push(vec![
            text(opinion.id.to_string()),
            text(station.clone()),
            text(serde_json::to_string(&replica).expect("json")),
            Value::Int(n as i64 + 1),
        ]);
    }
    let mut conn = db.acquire().await.expect("a connection");
    insert(
        &mut conn,
        "opinions",
        &["id", "station_id", "state", "change_seq"],
        opinions,
    )
    .await;
    insert(
        &mut conn,
        "opinion_facts",
        &[
            "opinion_id",
            "station_id",
            "deputy_id",
            "category",
            "collected",
            "answered_on_the_spot",
            "first_referred",
            "unit_id",
            "due",
            "due_concluded",
            "first_concluded",
            "status",
        ],
        facts,
    )
    .await;
    conn.query("ANALYZE").execute().await.expect("analyze");
    drop(conn);
    admin(&db).await;
    eprintln!(
        "{backend}: export database of {rows} opinions seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let dist = tempfile::tempdir().expect("a temporary directory");
    let mut settings = Settings::new(dist.path());
    settings.passwords = Passwords::insecure_for_tests();
    settings.request_timeout = Duration::from_secs(600);
    let router = app(AppState::new(db, settings));
    let sign_in = Request::post("/api/v1/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"username":"bench-admin","password":"bench password"}"#,
        ))
        .expect("a request");
    let response = router.clone().oneshot(sign_in).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    let token = serde_json::from_slice::<serde_json::Value>(&body).expect("json")["token"]
        .as_str()
        .expect("a token")
        .to_owned();

    let mut times = Vec::new();
    let mut peak = None;
    let mut size = 0;
    for _ in 0..3 {
        reset_peak_memory();
        let before = memory_mib("VmRSS:");
        let request = Request::get(format!(
            "/api/v1/exports/register?format=xlsx&from=2026-01-01&to=2026-12-31&station={station}"
        ))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("a request");
        let started = Instant::now();
        let response = router.clone().oneshot(request).await.expect("an answer");
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        times.push(started.elapsed());
        size = body.len();
        if let (Some(high), Some(before)) = (memory_mib("VmHWM:"), before) {
            let (old_high, old_before) = peak.unwrap_or((0.0, before));
            peak = Some((high.max(old_high), old_before.min(before)));
        }
    }
    times.sort();
    (
        Line {
            backend,
            what: format!(
                "register export, {rows} lines, xlsx ({:.1} MiB)",
                size as f64 / 1048576.0
            ),
            runs: times.len(),
            p50: percentile(&times, 0.5),
            p95: percentile(&times, 0.95),
            rows,
        },
        peak,
        size,
    )
}

/// A fresh PostgreSQL database for the bench (or the one named `kept`, made if missing), and
/// how to drop it.
async fn postgres_database(
    url: &str,
    suffix: &str,
    kept: Option<&str>,
) -> (Db, PgConnectOptions, String) {
    let server = PgConnectOptions::from_str(url).expect("a PostgreSQL URL");
    let name = kept.map_or_else(
        || format!("liaison_bench_{}_{suffix}", std::process::id()),
        str::to_owned,
    );
    let mut admin = PgConnection::connect_with(&server)
        .await
        .expect("a connection to LIAISON_BENCH_PG_URL");
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .expect("a look at the databases")
        .is_some();
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create the bench database");
    }
    admin.close().await.ok();
    let db = Db::open_storage(&Storage::Postgres {
        options: Box::new(server.clone().database(&name)),
    })
    .await
    .expect("the bench database opens");
    (db, server, name)
}

async fn drop_postgres_database(db: Db, server: PgConnectOptions, name: String) {
    db.close().await;
    let mut admin = PgConnection::connect_with(&server)
        .await
        .expect("a connection");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .expect("drop the bench database");
    admin.close().await.ok();
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that quick.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return;
    }
    let export_rows = env_number("LIAISON_BENCH_EXPORT_ROWS", 100_000);
    let mut lines = Vec::new();
    let mut peaks = Vec::new();

    // The export first, while the process is small.
    {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = Db::open(dir.path()).await.expect("SQLite opens");
        assert_eq!(db.backend(), Backend::Sqlite);
        let (line, peak, _) = bench_export(db, "SQLite", export_rows).await;
        lines.push(line);
        peaks.push(("SQLite", peak));
    }
    let pg_url = std::env::var("LIAISON_BENCH_PG_URL")
        .ok()
        .filter(|u| !u.trim().is_empty());
    if let Some(url) = &pg_url {
        let (db, server, name) = postgres_database(url, "export", None).await;
        let (line, peak, _) = bench_export(db.clone(), "PostgreSQL", export_rows).await;
        lines.push(line);
        peaks.push(("PostgreSQL", peak));
        drop_postgres_database(db, server, name).await;
    }

    {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let kept = std::env::var("LIAISON_BENCH_SQLITE_DIR")
            .ok()
            .filter(|d| !d.trim().is_empty());
        let path = kept
            .as_deref()
            .map_or_else(|| dir.path().to_path_buf(), std::path::PathBuf::from);
        let db = Db::open(&path).await.expect("SQLite opens");
        bench_figures(&db, "SQLite", &mut lines).await;
        db.close().await;
    }
    if let Some(url) = &pg_url {
        let kept = std::env::var("LIAISON_BENCH_PG_KEEP")
            .ok()
            .filter(|d| !d.trim().is_empty());
        let (db, server, name) = postgres_database(url, "figures", kept.as_deref()).await;
        bench_figures(&db, "PostgreSQL", &mut lines).await;
        if kept.is_some() {
            db.close().await;
        } else {
            drop_postgres_database(db, server, name).await;
        }
    }

    println!();
    println!("| backend | what | runs | p50 (ms) | p95 (ms) | rows |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for line in &lines {
        println!(
            "| {} | {} | {} | {:.1} | {:.1} | {} |",
            line.backend,
            line.what,
            line.runs,
            ms(line.p50),
            ms(line.p95),
            line.rows
        );
    }
    // The lines `cargo xtask bench --figures` collects (`BENCH name=value`).
    let slug = |text: &str| -> String {
        let mut out = String::new();
        for c in text.to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        out.trim_matches('_').to_owned()
    };
    for line in &lines {
        let name = slug(&format!("figures {} {}", line.backend, line.what));
        println!("BENCH {name}_p50_ms={:.1}", ms(line.p50));
        println!("BENCH {name}_p95_ms={:.1}", ms(line.p95));
    }
    for (backend, peak) in &peaks {
        if let Some((high, _)) = peak {
            println!("BENCH {}_export_peak_mib={high:.0}", slug(backend));
        }
    }
    println!();
    for (backend, peak) in peaks {
        match peak {
            Some((high, before)) => println!(
                "Peak memory (VmHWM) during the {backend} export: {high:.0} MiB \
                 (resident before it: {before:.0} MiB)"
            ),
            None => println!("Peak memory during the {backend} export: not available"),
        }
    }
}
