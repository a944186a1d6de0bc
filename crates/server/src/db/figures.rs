//! The figures as SQL aggregates (`COUNT`, `COUNT(DISTINCT)`, `SUM`, `GROUP BY`) over the
//! per-opinion facts (`opinion_facts`, `opinion_evaluations`, see `facts.rs`), attendance
//! (`attendance.signed_in`) and station events (`activities`, `activity_attendees`): no opinion
//! is loaded into memory to be counted. The meaning of every figure is the domain's
//! ([`liaison_domain::figures::count`] and [`count_by`]); the tests run both on the same data
//! for several periods and breakdowns, so the SQL below cannot drift from it.
//!
//! The opinions' figures are read from the **rollups** (`figure_days`, `figure_months`,
//! `0010_figure_rollups.sql`): the facts' additive counts summed per station and day, and per
//! station, month and breakdown key, kept by the push transaction with the facts (`facts.rs`).
//! A city's year is then some 180,000 day rows or 6,000 to 100,000 month rows instead of a
//! million facts. All in one snapshot:
//!
//! - **The totals, and by station, category, deputy or unit** ([`keyed_opinions`]): the
//!   period's month rows, less what the facts count on the days of its first and last months
//!   outside it (none for whole months; a few weeks of facts at most).
//! - **By month** ([`over_months`]): the stations' month rows summed by month, a first or last
//!   month cut by the period less its days outside it. **By day** ([`over_days`]): the day rows
//!   summed by day.
//! - **Overdue** ([`OpinionFacts::overdue_in`]): an item is overdue on the days of an interval
//!   (from the day after its deadline to the day its referral ended, or on), so "overdue on
//!   some day of [a, b]" is the intervals begun by min(b, today) less those ended before a:
//!   the intervals begun and not ended before the period (the month rows before it, its first
//!   month's days before it) carried through the period.
//! - **Referred and concluded by the end**: per day or month rolled up (concluded by the end of
//!   the day or month it was referred in); over a whole period, the referred less those open
//!   or concluded after its end (`opinion_facts_unconcluded`).
//! - **Evaluations**: the latest evaluation in a period of each opinion evaluated in it is its
//!   latest of all (rolled up), or an earlier one after which none of the opinion's later ones
//!   falls in the period (`opinion_evaluations_earlier`; rare).
//! - **Duty** (shifts, deputies on duty, the events' citizens): over a period's whole months,
//!   the shifts and the deputies on duty are read from `duty_months` (per station, month and
//!   deputy: the signed-in attendance records and event attendance, `0013_duty_months.sql`),
//!   and only the days before and after them from `attendance`, `activities` and
//!   `activity_attendees`; by day, and for the events' citizens, from those alone. A deputy on
//!   duty is counted once (distinct pairs of a `UNION`), which no sum can do.
//!
//! The stations are always named (the scope ∩ what the reader may read, resolved in Rust): on
//! SQLite as `IN (?1, ..., ?n)` up to [`SQLITE_MAX_LISTED`] stations and as
//! `IN (SELECT value FROM json_each(?1))` beyond, on PostgreSQL as `= ANY($1)`. (SQLite's
//! placeholders are `?n` here, not the `$n` of the rest of `db/`: see `Params::slot`.)
//!
//! [`count_by`]: liaison_domain::figures::count_by
//! [`OpinionFacts::overdue_in`]: liaison_domain::figures::OpinionFacts::overdue_in

use super::Db;
use super::backend::{Backend, Begin, Conn, Row, in_list};
use super::facts::month_of;
use super::sync::parse_json;
use liaison_domain::StationId;
use liaison_domain::figures::{Breakdown, BreakdownKey, Figures, Period, bucket_key, buckets};
use liaison_domain::followup::Date;
use liaison_domain::sync::OpinionReplica;
use std::collections::{BTreeMap, HashMap};

/// The most stations named one by one in a SQLite statement; more go as one JSON array. (SQLite
/// binds at most 32,766 values, and binding costs grow with the square of their number: a few
/// milliseconds at this many.)
pub const SQLITE_MAX_LISTED: usize = 2_000;

/// The figures of a scope and period: the totals, and the breakdown's rows if one was asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    pub total: Figures,
    /// By key; rows whose figures are all zero are left out, except the months or days of a
    /// period, which are all there (as [`count_by`](liaison_domain::figures::count_by)).
    pub rows: BTreeMap<BreakdownKey, Figures>,
}

/// A statement's parameters: the stations first (their placeholders are fixed, and reused by
/// every part of the statement that filters by station), then the texts it adds.
struct Params {
    backend: Backend,
    stations: Vec<String>,
    /// SQLite with too many stations to list: one JSON array.
    as_json: bool,
    texts: Vec<String>,
}

impl Params {
    fn new(backend: Backend, stations: &[StationId]) -> Self {
        Params {
            backend,
            stations: stations.iter().map(|s| s.0.clone()).collect(),
            as_json: backend == Backend::Sqlite && stations.len() > SQLITE_MAX_LISTED,
            texts: Vec::new(),
        }
    }

    /// How many `$N` the stations take.
    fn station_slots(&self) -> usize {
        match (self.backend, self.as_json) {
            (Backend::Sqlite, false) => self.stations.len(),
            _ => 1,
        }
    }

    /// The placeholder of parameter `n`: `?n` on SQLite, where `$n` is a *named* parameter
    /// that SQLite's parser looks up among the names seen so far; `$n` on PostgreSQL. Every
    /// placeholder of these statements is made here, so the two forms never mix on SQLite (a
    /// name's slot would be numbered by its first appearance). Binding still looks each
    /// parameter's name up in a list (quadratic in their number), hence [`SQLITE_MAX_LISTED`].
    fn slot(&self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => format!("?{n}"),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// `column` is one of the stations.
    fn station_in(&self, column: &str) -> String {
        match (self.backend, self.as_json) {
            (Backend::Postgres, _) => format!("{column} = ANY($1)"),
            (Backend::Sqlite, true) => format!("{column} IN (SELECT value FROM json_each(?1))"),
            (Backend::Sqlite, false) => {
                let slots: Vec<String> = (1..=self.stations.len()).map(|n| self.slot(n)).collect();
                format!("{column} IN ({})", slots.join(", "))
            }
        }
    }

    /// A text parameter; returns its placeholder.
    fn text(&mut self, value: impl Into<String>) -> String {
        self.texts.push(value.into());
        self.slot(self.station_slots() + self.texts.len())
    }

    async fn fetch(self, conn: &mut Conn<'_>, sql: &str) -> Result<Vec<Row>, sqlx::Error> {
        let mut query = conn.query(sql);
        query = if self.as_json {
            query.bind(serde_json::Value::from(self.stations).to_string())
        } else {
            query.bind_texts(self.stations)
        };
        for text in self.texts {
            query = query.bind(text);
        }
        query.fetch_all().await
    }
}

fn count(row: &Row, column: &str) -> Result<u64, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|err| sqlx::Error::Decode(Box::new(err)))
}

/// A count read as an `i64` (a `SUM` over no row is `NULL`: zero).
fn int(row: &Row, column: &str) -> Result<i64, sqlx::Error> {
    Ok(row.try_get::<Option<i64>>(column)?.unwrap_or(0))
}

/// A figure worked out from the rollups; negative only if the rollups disagree with the facts.
fn figure(n: i64) -> Result<u64, sqlx::Error> {
    u64::try_from(n).map_err(|_| {
        sqlx::Error::Decode(
            format!("a negative count ({n}): the rollups disagree with the facts").into(),
        )
    })
}

fn month_start(day: Date) -> Date {
    let (y, m, _) = day.ymd();
    Date::from_ymd(y, m, 1).expect("the first of a month exists")
}

fn month_end(day: Date) -> Date {
    let (y, m, _) = day.ymd();
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    Date::from_ymd(y, m, 1)
        .expect("the first of a month exists")
        .add_days(-1)
}

/// What the opinions' figures are keyed by: nothing (the totals, key `""`) or one of the
/// facts' columns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Total,
    Station,
    Category,
    Deputy,
    Unit,
}

impl Key {
    fn of(by: Breakdown) -> Key {
        match by {
            Breakdown::Station => Key::Station,
            Breakdown::Category => Key::Category,
            Breakdown::Deputy => Key::Deputy,
            _ => Key::Unit,
        }
    }

    /// `figure_months.dim` of its rows (a station's rows are its own, `''`).
    fn dim(self) -> &'static str {
        match self {
            Key::Total | Key::Station => "",
            Key::Category => "category",
            Key::Deputy => "deputy",
            Key::Unit => "unit",
        }
    }

    /// The key of a row of the facts or evaluations (`alias`), or `''` for the totals.
    fn of_row(self, alias: &str) -> String {
        match self {
            Key::Total => "''".to_owned(),
            Key::Station => format!("{alias}.station_id"),
            Key::Category => format!("{alias}.category"),
            Key::Deputy => format!("{alias}.deputy_id"),
            Key::Unit => format!("{alias}.unit_id"),
        }
    }

    /// By unit, only the opinions that were referred (they have one).
    fn keyed(self, alias: &str) -> String {
        if self == Key::Unit {
            format!(" AND {alias}.unit_id IS NOT NULL")
        } else {
            String::new()
        }
    }
}

/// Counts of one key: the rollups' columns summed (or the same counted from the facts), with
/// `starts` and `ends` the overdue intervals' first and last days ("overdue_from/to"), and
/// `stock` the intervals begun and not ended before the period.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    collected: i64,
    answered: i64,
    referred: i64,
    /// Referred, and concluded by the end of its bucket (a day's or a month's).
    referred_concluded: i64,
    concluded: i64,
    starts: i64,
    ends: i64,
    stock: i64,
    evaluated: i64,
    satisfied: i64,
}

impl Sums {
    /// The sums of a rollup query's row, whose columns are named as here (`rc`: referred and
    /// concluded).
    fn of_row(row: &Row) -> Result<Sums, sqlx::Error> {
        Ok(Sums {
            collected: int(row, "collected")?,
            answered: int(row, "answered")?,
            referred: int(row, "referred")?,
            referred_concluded: int(row, "rc")?,
            concluded: int(row, "concluded")?,
            starts: int(row, "starts")?,
            ends: int(row, "ends")?,
            evaluated: int(row, "evaluated")?,
            satisfied: int(row, "satisfied")?,
            stock: 0,
        })
    }

    /// The opinions' figures of a bucket summed as `self`, with its `overdue` and the
    /// `(evaluated, satisfied)` of the evaluations counted apart (`earlier`).
    fn figures(&self, overdue: u64, earlier: (i64, i64)) -> Result<Figures, sqlx::Error> {
        let (evaluated, satisfied) = earlier;
        Ok(Figures {
            opinions_collected: figure(self.collected)?,
            answered_on_the_spot: figure(self.answered)?,
            citizens_received: figure(self.collected)?,
            referred: figure(self.referred)?,
            referred_and_concluded: figure(self.referred_concluded)?,
            concluded: figure(self.concluded)?,
            overdue,
            evaluated: figure(self.evaluated + evaluated)?,
            satisfied: figure(self.satisfied + satisfied)?,
            ..Figures::default()
        })
    }
}

/// The rollups' counts over the days `first..=last` (within one month or not) counted from the
/// facts instead, by `key`: what the month rows of a period that does not start or end with a
/// month hold beyond it. A few weeks of facts at most.
async fn facts_sums(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    key: Key,
    first: Date,
    last: Date,
) -> Result<BTreeMap<BreakdownKey, Sums>, sqlx::Error> {
    let mut out = BTreeMap::new();
    if first > last {
        return Ok(out);
    }
    let mut p = Params::new(conn.backend(), stations);
    let (x, y) = (p.text(first.to_string()), p.text(last.to_string()));
    // An interval starts the day after its deadline.
    let (x1, y1) = (
        p.text(first.add_days(-1).to_string()),
        p.text(last.add_days(-1).to_string()),
    );
    let (f_in, e_in) = (p.station_in("f.station_id"), p.station_in("e.station_id"));
    let (kf, ke) = (key.of_row("f"), key.of_row("e"));
    let (uf, ue) = (key.keyed("f"), key.keyed("e"));
    let facts = |counts: &str, filter: &str| {
        format!("SELECT {kf} AS k, {counts} FROM opinion_facts f WHERE {f_in} AND {filter}{uf}")
    };
    let sql = format!(
        "SELECT u.k AS k, SUM(u.c) AS collected, SUM(u.a) AS answered, \
             SUM(u.r) AS referred, SUM(u.rc) AS rc, \
             SUM(u.cc) AS concluded, SUM(u.s) AS starts, SUM(u.en) AS ends, \
             SUM(u.ev) AS evaluated, SUM(u.sa) AS satisfied \
         FROM ({} UNION ALL {} UNION ALL {} UNION ALL {} UNION ALL {} UNION ALL \
             SELECT {ke} AS k, 0, 0, 0, 0, 0, 0, 0, 1, CASE WHEN e.satisfied THEN 1 ELSE 0 END \
             FROM opinion_evaluations e WHERE {e_in} AND e.is_last \
                 AND e.day >= {x} AND e.day <= {y}{ue}) u \
         GROUP BY u.k",
        facts(
            "1 AS c, CASE WHEN f.answered_on_the_spot THEN 1 ELSE 0 END AS a, 0 AS r, \
             0 AS rc, 0 AS cc, 0 AS s, 0 AS en, 0 AS ev, 0 AS sa",
            &format!("f.collected >= {x} AND f.collected <= {y}")
        ),
        facts(
            "0, 0, 1, CASE WHEN f.first_concluded IS NOT NULL \
                 AND substr(f.first_concluded, 1, 7) <= substr(f.first_referred, 1, 7) \
                 THEN 1 ELSE 0 END, 0, 0, 0, 0, 0",
            &format!(
                "f.first_referred IS NOT NULL AND f.first_referred >= {x} \
                 AND f.first_referred <= {y}"
            )
        ),
        facts(
            "0, 0, 0, 0, 1, 0, 0, 0, 0",
            &format!(
                "f.first_concluded IS NOT NULL AND f.first_concluded >= {x} \
                 AND f.first_concluded <= {y}"
            )
        ),
        facts(
            "0, 0, 0, 0, 0, 1, 0, 0, 0",
            &format!(
                "f.due IS NOT NULL AND f.due >= {x1} AND f.due <= {y1} \
                 AND (f.due_concluded IS NULL OR f.due < f.due_concluded)"
            )
        ),
        facts(
            "0, 0, 0, 0, 0, 0, 1, 0, 0",
            &format!(
                "f.due IS NOT NULL AND f.due_concluded >= {x} AND f.due_concluded <= {y} \
                 AND f.due < f.due_concluded"
            )
        ),
    );
    for row in p.fetch(conn, &sql).await? {
        out.insert(
            row.try_get::<Option<String>>("k")?.unwrap_or_default(),
            Sums::of_row(&row)?,
        );
    }
    Ok(out)
}

/// `aggregates` over the rows of `rows` (a query with a column `k`) by `k`; for the totals
/// (`k` the same everywhere) one row without grouping, which spares SQLite a sort.
fn grouped(total: bool, aggregates: &str, rows: &str) -> String {
    if total {
        format!("SELECT '' AS k, {aggregates} FROM ({rows}) u")
    } else {
        format!("SELECT u.k AS k, {aggregates} FROM ({rows}) u GROUP BY u.k")
    }
}

/// Of the opinions first referred in `period`, by `key`, those not concluded by its end: the
/// open ones and those concluded after it, read by the day they were referred
/// (`opinion_facts_unconcluded`).
async fn unconcluded(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    key: Key,
    first: Date,
    last: Date,
) -> Result<BTreeMap<BreakdownKey, i64>, sqlx::Error> {
    let mut p = Params::new(conn.backend(), stations);
    let (x, y) = (p.text(first.to_string()), p.text(last.to_string()));
    let f_in = p.station_in("f.station_id");
    let (kf, uf) = (key.of_row("f"), key.keyed("f"));
    // SQLite's planner would read "concluded after the end" by the day referred, from
    // `opinion_facts_referred`: every referral of the period.
    let index = match conn.backend() {
        Backend::Sqlite => " INDEXED BY opinion_facts_unconcluded",
        Backend::Postgres => "",
    };
    let part = |concluded: &str| {
        format!(
            "SELECT {kf} AS k FROM opinion_facts f{index} \
             WHERE {f_in} AND f.first_referred IS NOT NULL \
                 AND {concluded} AND f.first_referred >= {x} AND f.first_referred <= {y}{uf}"
        )
    };
    let sql = grouped(
        key == Key::Total,
        "COUNT(*) AS n",
        &format!(
            "{} UNION ALL {}",
            part("f.first_concluded IS NULL"),
            part(&format!("f.first_concluded > {y}"))
        ),
    );
    let mut out = BTreeMap::new();
    for row in p.fetch(conn, &sql).await? {
        out.insert(
            row.try_get::<Option<String>>("k")?.unwrap_or_default(),
            int(&row, "n")?,
        );
    }
    Ok(out)
}

/// The evaluations that are not their opinion's latest but are the latest in their bucket
/// (`bucket` of a day column: the period's, a month's or a day's) of the period, by `key`:
/// evaluated and satisfied. The opinion's latest evaluations are in the rollups; these few are
/// read from `opinion_evaluations_earlier`.
async fn earlier_evaluations(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    key: &(dyn Fn(&str) -> String + Sync),
    keyed: &str,
    period: &Period,
) -> Result<BTreeMap<BreakdownKey, (i64, i64)>, sqlx::Error> {
    let mut p = Params::new(conn.backend(), stations);
    let (x, y) = (
        p.text(period.from.to_string()),
        p.text(period.to.to_string()),
    );
    let e_in = p.station_in("e.station_id");
    let (ke, kl) = (key("e"), key("l"));
    // PostgreSQL would turn the `NOT EXISTS` into an anti join that hashes every evaluation of
    // the period (a city's year: 120,000 rows, 100 ms); `OFFSET 0` keeps it a subquery run for
    // each of the few earlier evaluations, by the primary key (30 ms). SQLite runs it so anyway.
    let per_row = match conn.backend() {
        Backend::Postgres => " OFFSET 0",
        Backend::Sqlite => "",
    };
    let sql = grouped(
        ke == "''",
        "COUNT(*) AS n, SUM(u.s) AS s",
        &format!(
            "SELECT {ke} AS k, CASE WHEN e.satisfied THEN 1 ELSE 0 END AS s \
             FROM opinion_evaluations e \
             WHERE {e_in} AND NOT e.is_last AND e.day >= {x} AND e.day <= {y}{keyed} \
                 AND NOT EXISTS ( \
                     SELECT 1 FROM opinion_evaluations l \
                     WHERE l.opinion_id = e.opinion_id AND l.ord > e.ord \
                         AND l.day >= {x} AND l.day <= {y} AND {kl} = {ke}{per_row})"
        ),
    );
    let mut out = BTreeMap::new();
    for row in p.fetch(conn, &sql).await? {
        out.insert(
            row.try_get::<Option<String>>("k")?.unwrap_or_default(),
            (int(&row, "n")?, int(&row, "s")?),
        );
    }
    Ok(out)
}

/// The opinions' figures over the whole period by `key` (the totals, or by station, category,
/// deputy or unit), from the month rollups (`figure_months`):
///
/// - the additive counts are the period's months' sums, less what the facts count on the
///   days of the first and last months outside the period ([`facts_sums`]; none when the
///   period is whole months);
/// - overdue is the intervals begun by `as_of` (the period's end or today) less those ended
///   before the period's first day: the months before the period (their `stock`) and the
///   period's months up to `as_of`'s, less the days around them from the facts;
/// - "referred and concluded by the end" is the referred less [`unconcluded`];
/// - evaluated: the opinions' latest evaluations (rolled up) and the [`earlier_evaluations`].
///
/// Reads the station's month rows from the first month on record (for the overdue stock).
async fn keyed_opinions(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    today: Date,
    key: Key,
) -> Result<BTreeMap<BreakdownKey, Figures>, sqlx::Error> {
    let as_of = period.as_of(today);
    let begun = period.from <= as_of;
    let mut sums: BTreeMap<BreakdownKey, Sums> = BTreeMap::new();
    let k = match key {
        Key::Total => "r.dim",
        Key::Station => "r.station_id",
        _ => "r.key",
    };
    // Two statements, the period's months and the months before it (the overdue stock): each
    // sums plain columns, where one statement over both took a third longer (by unit on SQLite,
    // 212,000 rows through eight `CASE`s).
    {
        let mut p = Params::new(conn.backend(), stations);
        let m_from = p.text(month_of(period.from));
        let m_to = p.text(month_of(period.to));
        let m_as_of = p.text(month_of(as_of));
        let dim = p.text(key.dim());
        let r_in = p.station_in("r.station_id");
        let sql = format!(
            "SELECT {k} AS k, SUM(r.collected) AS collected, SUM(r.answered) AS answered, \
                 SUM(r.referred) AS referred, SUM(r.concluded) AS concluded, \
                 SUM(r.evaluated_last) AS evaluated_last, \
                 SUM(r.satisfied_last) AS satisfied_last, \
                 SUM(CASE WHEN r.month <= {m_as_of} THEN r.overdue_from ELSE 0 END) AS starts \
             FROM figure_months r \
             WHERE {r_in} AND r.dim = {dim} AND r.month >= {m_from} AND r.month <= {m_to} \
             GROUP BY {k}"
        );
        for row in p.fetch(conn, &sql).await? {
            sums.insert(
                row.try_get::<Option<String>>("k")?.unwrap_or_default(),
                Sums {
                    collected: int(&row, "collected")?,
                    answered: int(&row, "answered")?,
                    referred: int(&row, "referred")?,
                    concluded: int(&row, "concluded")?,
                    evaluated: int(&row, "evaluated_last")?,
                    satisfied: int(&row, "satisfied_last")?,
                    starts: int(&row, "starts")?,
                    ..Sums::default()
                },
            );
        }
    }
    {
        let mut p = Params::new(conn.backend(), stations);
        let m_from = p.text(month_of(period.from));
        let dim = p.text(key.dim());
        let r_in = p.station_in("r.station_id");
        let sql = format!(
            "SELECT {k} AS k, SUM(r.overdue_from - r.overdue_to) AS stock FROM figure_months r \
             WHERE {r_in} AND r.dim = {dim} AND r.month < {m_from} GROUP BY {k}"
        );
        for row in p.fetch(conn, &sql).await? {
            let k = row.try_get::<Option<String>>("k")?.unwrap_or_default();
            sums.entry(k).or_default().stock = int(&row, "stock")?;
        }
    }
    // The first month's days before the period: not in it, but their ended intervals ended
    // before it.
    let head = facts_sums(
        conn,
        stations,
        key,
        month_start(period.from),
        period.from.add_days(-1),
    )
    .await?;
    for (k, c) in head {
        let s = sums.entry(k).or_default();
        s.collected -= c.collected;
        s.answered -= c.answered;
        s.referred -= c.referred;
        s.concluded -= c.concluded;
        s.evaluated -= c.evaluated;
        s.satisfied -= c.satisfied;
        s.ends += c.ends;
    }
    let tail = facts_sums(
        conn,
        stations,
        key,
        period.to.add_days(1),
        month_end(period.to),
    )
    .await?;
    for (k, c) in tail {
        let s = sums.entry(k).or_default();
        s.collected -= c.collected;
        s.answered -= c.answered;
        s.referred -= c.referred;
        s.concluded -= c.concluded;
        s.evaluated -= c.evaluated;
        s.satisfied -= c.satisfied;
    }
    if begun {
        // Intervals starting after `as_of` in its month have not begun.
        let later = facts_sums(conn, stations, key, as_of.add_days(1), month_end(as_of)).await?;
        for (k, c) in later {
            sums.entry(k).or_default().starts -= c.starts;
        }
    }
    let open = unconcluded(conn, stations, key, period.from, period.to).await?;
    let (of_row, keyed) = (|alias: &str| key.of_row(alias), key.keyed("e"));
    let earlier = earlier_evaluations(conn, stations, &of_row, &keyed, period).await?;
    for k in open.keys().chain(earlier.keys()) {
        sums.entry(k.clone()).or_default();
    }
    let mut out = BTreeMap::new();
    for (k, s) in sums {
        let (evaluated, satisfied) = earlier.get(&k).copied().unwrap_or_default();
        let referred_and_concluded = s.referred - open.get(&k).copied().unwrap_or_default();
        let collected = if key == Key::Unit { 0 } else { s.collected };
        let f = Figures {
            opinions_collected: figure(collected)?,
            answered_on_the_spot: figure(if key == Key::Unit { 0 } else { s.answered })?,
            citizens_received: match key {
                Key::Total | Key::Station | Key::Deputy => figure(collected)?,
                _ => 0,
            },
            referred: figure(s.referred)?,
            referred_and_concluded: figure(referred_and_concluded)?,
            concluded: figure(s.concluded)?,
            overdue: if begun {
                figure(s.stock + s.starts - s.ends)?
            } else {
                0
            },
            evaluated: figure(s.evaluated + evaluated)?,
            satisfied: figure(s.satisfied + satisfied)?,
            ..Figures::default()
        };
        out.insert(k, f);
    }
    Ok(out)
}

/// The opinions' figures of each day of the period, from the day rollups (`figure_days`, one
/// row per station and day, summed by day): "referred and concluded by the end" are the
/// referred concluded by the end of their day; overdue the stock of intervals begun and not
/// ended before the day ([`stock_before`] the period, then carried from day to day), plus
/// those begun on it if it has come.
async fn over_days(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    today: Date,
) -> Result<BTreeMap<BreakdownKey, Figures>, sqlx::Error> {
    let by = Breakdown::Day;
    // Many stations: SQLite reads the days in order from `figure_days_by_day` rather than
    // each station's from the key and sorts them all by day.
    let index = match conn.backend() {
        Backend::Sqlite if stations.len() > 100 => " INDEXED BY figure_days_by_day",
        _ => "",
    };
    let mut days: BTreeMap<Date, Sums> = BTreeMap::new();
    {
        let mut p = Params::new(conn.backend(), stations);
        let (x, y) = (
            p.text(period.from.to_string()),
            p.text(period.to.to_string()),
        );
        let sql = format!(
            "SELECT d.day AS k, SUM(d.collected) AS collected, SUM(d.answered) AS answered, \
                 SUM(d.referred) AS referred, SUM(d.referred_concluded_day) AS rc, \
                 SUM(d.concluded) AS concluded, \
                 SUM(d.overdue_from) AS starts, SUM(d.overdue_to) AS ends, \
                 SUM(d.evaluated_last) AS evaluated, SUM(d.satisfied_last) AS satisfied \
             FROM figure_days d{index} WHERE {} AND d.day >= {x} AND d.day <= {y} \
             GROUP BY d.day",
            p.station_in("d.station_id")
        );
        for row in p.fetch(conn, &sql).await? {
            days.insert(
                parse_day(&row.try_get::<String>("k")?)?,
                Sums::of_row(&row)?,
            );
        }
    }
    let mut stock = stock_before(conn, stations, period.from).await?;
    let bucket_of = |alias: &str| format!("{alias}.day");
    let earlier = earlier_evaluations(conn, stations, &bucket_of, "", period).await?;
    let mut out = BTreeMap::new();
    for bucket in buckets(by, period) {
        let key = bucket_key(by, bucket.from);
        let as_of = bucket.as_of(today);
        let mut s = Sums::default();
        let mut begun_by_as_of = 0;
        let mut net = 0;
        for (day, d) in days.range(bucket.from..=bucket.to) {
            s.collected += d.collected;
            s.answered += d.answered;
            s.referred += d.referred;
            s.referred_concluded += d.referred_concluded;
            s.concluded += d.concluded;
            s.evaluated += d.evaluated;
            s.satisfied += d.satisfied;
            if *day <= as_of {
                begun_by_as_of += d.starts;
            }
            net += d.starts - d.ends;
        }
        let overdue = if bucket.from <= as_of {
            figure(stock + begun_by_as_of)?
        } else {
            0
        };
        stock += net;
        let earlier = earlier.get(&key).copied().unwrap_or_default();
        out.insert(key, s.figures(overdue, earlier)?);
    }
    Ok(out)
}

impl std::ops::SubAssign for Sums {
    fn sub_assign(&mut self, other: Sums) {
        self.collected -= other.collected;
        self.answered -= other.answered;
        self.referred -= other.referred;
        self.referred_concluded -= other.referred_concluded;
        self.concluded -= other.concluded;
        self.starts -= other.starts;
        self.ends -= other.ends;
        self.stock -= other.stock;
        self.evaluated -= other.evaluated;
        self.satisfied -= other.satisfied;
    }
}

/// The stock of overdue intervals begun and not ended before `from`: the months before its
/// month, and its month's days before it.
async fn stock_before(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    from: Date,
) -> Result<i64, sqlx::Error> {
    let mut stock = 0;
    let mut p = Params::new(conn.backend(), stations);
    let m_from = p.text(month_of(from));
    let sql = format!(
        "SELECT r.dim AS k, SUM(r.overdue_from - r.overdue_to) AS stock \
         FROM figure_months r WHERE {} AND r.dim = '' AND r.month < {m_from} GROUP BY r.dim",
        p.station_in("r.station_id")
    );
    for row in p.fetch(conn, &sql).await? {
        stock += int(&row, "stock")?;
    }
    let head = facts_sums(
        conn,
        stations,
        Key::Total,
        month_start(from),
        from.add_days(-1),
    )
    .await?;
    for c in head.values() {
        stock += c.starts - c.ends;
    }
    Ok(stock)
}

/// Of the referred on `first..=last` (the end of a period within a month), those concluded
/// after `last` but within its month: the month rows count them as concluded by the end.
async fn concluded_after_cut(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    first: Date,
    last: Date,
) -> Result<i64, sqlx::Error> {
    let mut p = Params::new(conn.backend(), stations);
    let (x, y) = (p.text(first.to_string()), p.text(last.to_string()));
    let end = p.text(month_end(last).to_string());
    let sql = format!(
        "SELECT COUNT(*) AS n FROM opinion_facts f WHERE {} \
             AND f.first_referred IS NOT NULL AND f.first_concluded > {y} \
             AND f.first_concluded <= {end} AND f.first_referred >= {x} \
             AND f.first_referred <= {y}",
        p.station_in("f.station_id")
    );
    let mut n = 0;
    for row in p.fetch(conn, &sql).await? {
        n += int(&row, "n")?;
    }
    Ok(n)
}

/// The opinions' figures of each month of the period, from the stations' month rollups
/// (`figure_months`, `dim` `''`), a first or last month cut by the period less its days
/// outside it ([`facts_sums`]); overdue carried from month to month as by [`over_days`].
async fn over_months(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    today: Date,
) -> Result<BTreeMap<BreakdownKey, Figures>, sqlx::Error> {
    let mut months: BTreeMap<String, Sums> = BTreeMap::new();
    {
        let mut p = Params::new(conn.backend(), stations);
        let (x, y) = (p.text(month_of(period.from)), p.text(month_of(period.to)));
        let sql = format!(
            "SELECT r.month AS k, SUM(r.collected) AS collected, SUM(r.answered) AS answered, \
                 SUM(r.referred) AS referred, SUM(r.referred_concluded_month) AS rc, \
                 SUM(r.concluded) AS concluded, SUM(r.overdue_from) AS starts, \
                 SUM(r.overdue_to) AS ends, SUM(r.evaluated_last) AS evaluated, \
                 SUM(r.satisfied_last) AS satisfied \
             FROM figure_months r WHERE {} AND r.dim = '' AND r.month >= {x} \
                 AND r.month <= {y} GROUP BY r.month",
            p.station_in("r.station_id")
        );
        for row in p.fetch(conn, &sql).await? {
            months.insert(row.try_get("k")?, Sums::of_row(&row)?);
        }
    }
    let mut stock = stock_before(conn, stations, period.from).await?;
    let head = facts_sums(
        conn,
        stations,
        Key::Total,
        month_start(period.from),
        period.from.add_days(-1),
    )
    .await?
    .remove("")
    .unwrap_or_default();
    let tail = facts_sums(
        conn,
        stations,
        Key::Total,
        period.to.add_days(1),
        month_end(period.to),
    )
    .await?
    .remove("")
    .unwrap_or_default();
    let bucket_of = |alias: &str| format!("substr({alias}.day, 1, 7)");
    let earlier = earlier_evaluations(conn, stations, &bucket_of, "", period).await?;
    let mut out = BTreeMap::new();
    for bucket in buckets(Breakdown::Month, period) {
        let key = bucket_key(Breakdown::Month, bucket.from);
        let mut s = months.get(&key).copied().unwrap_or_default();
        if bucket.from == period.from {
            s -= head;
        }
        if bucket.to == period.to {
            s -= tail;
            if period.to < month_end(period.to) {
                s.referred_concluded -=
                    concluded_after_cut(conn, stations, bucket.from, bucket.to).await?;
            }
        }
        let as_of = bucket.as_of(today);
        let overdue = if bucket.from <= as_of {
            let mut begun = s.starts;
            if as_of < bucket.to {
                let later = facts_sums(conn, stations, Key::Total, as_of.add_days(1), bucket.to)
                    .await?
                    .remove("")
                    .unwrap_or_default();
                begun -= later.starts;
            }
            figure(stock + begun)?
        } else {
            0
        };
        stock += s.starts - s.ends;
        let earlier = earlier.get(&key).copied().unwrap_or_default();
        out.insert(key, s.figures(overdue, earlier)?);
    }
    Ok(out)
}

/// A period's whole months, whose duty is read from `duty_months` (`0013_duty_months.sql`),
/// and the days outside them, read from `duty_days` (`0014_duty_days.sql`).
struct DutySplit {
    /// The first and last whole month (`YYYY-MM`).
    first: String,
    last: String,
    /// The days before the first whole month and after the last, as `[from, to]` ranges (none
    /// when the period starts and ends with a month).
    edges: Vec<(String, String)>,
}

impl DutySplit {
    /// `None` when the period holds no whole month.
    fn of(period: &Period) -> Option<DutySplit> {
        let start = if period.from == month_start(period.from) {
            period.from
        } else {
            month_end(period.from).add_days(1)
        };
        let end = if period.to == month_end(period.to) {
            period.to
        } else {
            month_start(period.to).add_days(-1)
        };
        if start > end {
            return None;
        }
        let mut edges = Vec::new();
        if period.from < start {
            edges.push((period.from.to_string(), start.add_days(-1).to_string()));
        }
        if end < period.to {
            edges.push((end.add_days(1).to_string(), period.to.to_string()));
        }
        Some(DutySplit {
            first: month_of(start),
            last: month_of(end),
            edges,
        })
    }

    /// The SQL (parts joined by `joiner`) of the duty rows of the stations in the period:
    /// `months` over `duty_months d` with the condition on its whole months, `days` over
    /// `duty_days a` for each edge with the condition on its days.
    fn parts(
        &self,
        p: &mut Params,
        joiner: &str,
        months: impl Fn(&str) -> String,
        days: impl Fn(&str) -> String,
    ) -> String {
        let (mf, ml) = (p.text(&self.first), p.text(&self.last));
        let mut parts = vec![months(&format!("d.month >= {mf} AND d.month <= {ml}"))];
        for (from, to) in &self.edges {
            let (x, y) = (p.text(from), p.text(to));
            parts.push(days(&format!("a.day >= {x} AND a.day <= {y}")));
        }
        parts.join(joiner)
    }
}

/// The duty shifts and deputies on duty over whole months and edges ([`DutySplit`]): `key_d`
/// the key of a `duty_months d` row, `key_a` of a `duty_days a` row; `group`: one row per key
/// (else one in all, keyed `''`).
async fn duty_split(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    split: &DutySplit,
    (key_d, key_a): (&str, &str),
    group: bool,
    into: &mut BTreeMap<BreakdownKey, Figures>,
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    let group_by = |key: &str| {
        if group {
            format!(" GROUP BY {key}")
        } else {
            String::new()
        }
    };
    // Shifts: the months' and the edges' days' sums, added up by key.
    let mut p = Params::new(backend, stations);
    let (sd, sa) = (p.station_in("d.station_id"), p.station_in("a.station_id"));
    let rows = split.parts(
        &mut p,
        " UNION ALL ",
        |months| {
            format!(
                "SELECT {key_d} AS k, CAST(COALESCE(SUM(d.shifts), 0) AS BIGINT) AS n \
                 FROM duty_months d WHERE {sd} AND {months}{}",
                group_by(key_d)
            )
        },
        |days| {
            format!(
                "SELECT {key_a} AS k, CAST(COALESCE(SUM(a.shifts), 0) AS BIGINT) AS n \
                 FROM duty_days a WHERE {sa} AND {days}{}",
                group_by(key_a)
            )
        },
    );
    merge(p.fetch(conn, &rows).await?, into, |f, row| {
        f.duty_shifts += count(row, "n")?;
        Ok(())
    })?;
    // Deputies on duty: the distinct (key, deputy) pairs of the months' and the edges' days'
    // rows, counted (`DISTINCT` for when the months are the only part).
    let mut p = Params::new(backend, stations);
    let (sd, sa) = (p.station_in("d.station_id"), p.station_in("a.station_id"));
    let rows = split.parts(
        &mut p,
        " UNION ",
        |months| {
            format!(
                "SELECT DISTINCT {key_d} AS k, d.deputy_id AS deputy_id FROM duty_months d \
                 WHERE {sd} AND {months}"
            )
        },
        |days| {
            format!(
                "SELECT {key_a} AS k, a.deputy_id AS deputy_id FROM duty_days a \
                 WHERE {sa} AND {days}"
            )
        },
    );
    let sql = grouped(!group, "COUNT(*) AS n", &rows);
    merge(p.fetch(conn, &sql).await?, into, |f, row| {
        f.deputies_on_duty += count(row, "n")?;
        Ok(())
    })?;
    Ok(())
}

/// The duty figures (duty shifts, deputies on duty, the events' citizens) of the period, or of
/// each of its days or months. Over whole months (the totals and by month), the shifts and
/// deputies are read from `duty_months` ([`duty_split`]) and only the days outside them from
/// `duty_days`; by day (or a period with no whole month), from `duty_days` alone. The events'
/// citizens are read from `activities`.
async fn duty_over_time(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    by: Option<Breakdown>,
    into: &mut BTreeMap<BreakdownKey, Figures>,
) -> Result<(), sqlx::Error> {
    let bucket = |column: &str| match by {
        Some(Breakdown::Day) => column.to_owned(),
        Some(Breakdown::Month) => format!("substr({column}, 1, 7)"),
        _ => "''".to_owned(),
    };
    let group = |column: &str| match by {
        Some(Breakdown::Day | Breakdown::Month) => format!(" GROUP BY {}", bucket(column)),
        _ => String::new(),
    };
    let (ba, bac) = (bucket("a.day"), bucket("ac.day"));
    let backend = conn.backend();
    let range = |p: &mut Params| {
        (
            p.text(period.from.to_string()),
            p.text(period.to.to_string()),
        )
    };
    let split = match by {
        Some(Breakdown::Day) => None,
        _ => DutySplit::of(period),
    };
    if let Some(split) = &split {
        let bd = match by {
            Some(Breakdown::Month) => "d.month".to_owned(),
            _ => "''".to_owned(),
        };
        duty_split(conn, stations, split, (&bd, &ba), by.is_some(), into).await?;
    } else {
        duty_days(conn, stations, period, (&ba, &group("a.day")), into).await?;
    }
    let mut p = Params::new(backend, stations);
    let (x, y) = range(&mut p);
    let sql = format!(
        "SELECT {bac} AS k, CAST(COALESCE(SUM(ac.citizens_received), 0) AS BIGINT) AS n \
         FROM activities ac WHERE {} AND ac.day >= {x} AND ac.day <= {y}{}",
        p.station_in("ac.station_id"),
        group("ac.day")
    );
    merge(p.fetch(conn, &sql).await?, into, |f, row| {
        f.citizens_received += count(row, "n")?;
        Ok(())
    })?;
    Ok(())
}

/// The duty shifts and deputies on duty of the period's days, from `duty_days a`: `key` of a
/// row, `group_by` its `GROUP BY` (or nothing: one row in all). Deputies on duty are the
/// distinct deputies of a key: the rows are one per day, deputy and station, read in that
/// order for a city (its primary key) or by station for a few (`duty_days_by_station`).
async fn duty_days(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    (key, group_by): (&str, &str),
    into: &mut BTreeMap<BreakdownKey, Figures>,
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    let mut p = Params::new(backend, stations);
    let (x, y) = (
        p.text(period.from.to_string()),
        p.text(period.to.to_string()),
    );
    let mut station = p.station_in("a.station_id");
    if backend == Backend::Postgres && key == "a.day" && stations.len() > 100 {
        // A city's days: PostgreSQL's planner would read them by station and sort 100,000
        // rows by day (90 ms) rather than read the primary key in day order, testing each
        // row's station (40 ms, what SQLite chooses). No index holds `station_id || ''`.
        station = p.station_in("(a.station_id || '')");
    }
    let sql = format!(
        "SELECT {key} AS k, CAST(COALESCE(SUM(a.shifts), 0) AS BIGINT) AS shifts, \
             COUNT(DISTINCT a.deputy_id) AS deputies \
         FROM duty_days a WHERE {station} AND a.day >= {x} AND a.day <= {y}{group_by}"
    );
    merge(p.fetch(conn, &sql).await?, into, |f, row| {
        f.duty_shifts += count(row, "shifts")?;
        f.deputies_on_duty += count(row, "deputies")?;
        Ok(())
    })
}

fn parse_day(text: &str) -> Result<Date, sqlx::Error> {
    Date::parse(text).ok_or_else(|| {
        sqlx::Error::Decode(format!("not a day (YYYY-MM-DD) in the database: {text}").into())
    })
}

/// Adds a part's rows to `into` (keyed by their column `k`): `apply` gets each row's figures
/// and the row.
fn merge(
    rows: Vec<Row>,
    into: &mut BTreeMap<BreakdownKey, Figures>,
    apply: impl Fn(&mut Figures, &Row) -> Result<(), sqlx::Error>,
) -> Result<(), sqlx::Error> {
    for row in rows {
        let key = row.try_get::<Option<String>>("k")?.unwrap_or_default();
        apply(into.entry(key).or_default(), &row)?;
    }
    Ok(())
}

/// The duty figures by station or deputy: shifts and deputies on duty by that column of who was
/// on duty (over whole months from `duty_months`, see [`duty_split`]; other days from
/// `duty_days`), and by station the events' citizens.
async fn duty_grouped(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    by: Breakdown,
    into: &mut BTreeMap<BreakdownKey, Figures>,
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let column = match by {
        Breakdown::Station => "station_id",
        _ => "deputy_id",
    };
    // Attendance and events belong to stations and deputies, not to categories or units.
    let split = DutySplit::of(period);
    if let (Some(split), Breakdown::Station | Breakdown::Deputy) = (&split, by) {
        duty_split(
            conn,
            stations,
            split,
            (&format!("d.{column}"), &format!("a.{column}")),
            true,
            into,
        )
        .await?;
    } else if matches!(by, Breakdown::Station | Breakdown::Deputy) {
        let key = format!("a.{column}");
        let group_by = format!(" GROUP BY {key}");
        duty_days(conn, stations, period, (&key, &group_by), into).await?;
    }
    // An event's citizens belong to its station, not to the deputies who attended.
    if by == Breakdown::Station {
        let mut p = Params::new(backend, stations);
        let (f0, f1) = (p.text(&from), p.text(&to));
        let sql = format!(
            "SELECT ac.station_id AS k, \
                 CAST(COALESCE(SUM(ac.citizens_received), 0) AS BIGINT) AS n \
             FROM activities ac WHERE {} AND ac.day >= {f0} AND ac.day <= {f1} \
             GROUP BY ac.station_id",
            p.station_in("ac.station_id")
        );
        merge(p.fetch(conn, &sql).await?, into, |f, row| {
            f.citizens_received += count(row, "n")?;
            Ok(())
        })?;
    }
    Ok(())
}

/// The opinions' figures of breakdown rows, summed (the duty figures left at zero).
fn opinions_sum(rows: &BTreeMap<BreakdownKey, Figures>) -> Figures {
    let mut total = Figures::default();
    for f in rows.values() {
        total.opinions_collected += f.opinions_collected;
        total.answered_on_the_spot += f.answered_on_the_spot;
        total.referred += f.referred;
        total.referred_and_concluded += f.referred_and_concluded;
        total.concluded += f.concluded;
        total.overdue += f.overdue;
        total.evaluated += f.evaluated;
        total.satisfied += f.satisfied;
    }
    total
}

impl Db {
    /// The figures of `stations` (the caller's scope ∩ what the reader may read: this method
    /// authorises nothing) over `period`, with `today` for the overdue figure, broken down by
    /// `by` if given. Equal to [`liaison_domain::figures::count`] (the totals) and
    /// [`liaison_domain::figures::count_by`] (the rows) over the same stations' facts.
    pub async fn count_figures(
        &self,
        stations: &[StationId],
        period: &Period,
        today: Date,
        by: Option<Breakdown>,
    ) -> Result<Counted, sqlx::Error> {
        let mut counted = Counted::default();
        if !stations.is_empty() {
            // One snapshot for every part: the totals and the rows agree.
            let mut tx = self.pool.begin(Begin::Snapshot).await?;
            let mut conn = tx.conn();
            if conn.backend() == Backend::Postgres {
                // Room to hash the (key, deputy) pairs and the breakdowns' groups rather than
                // sort them on disk (the default is 4 MB); for this transaction only.
                conn.query("SET LOCAL work_mem = '64MB'").execute().await?;
            }
            counted.rows = match by {
                None => BTreeMap::new(),
                Some(by @ (Breakdown::Month | Breakdown::Day)) => {
                    let mut rows = if by == Breakdown::Day {
                        over_days(&mut conn, stations, period, today).await?
                    } else {
                        over_months(&mut conn, stations, period, today).await?
                    };
                    duty_over_time(&mut conn, stations, period, Some(by), &mut rows).await?;
                    rows
                }
                Some(by) => {
                    let mut rows =
                        keyed_opinions(&mut conn, stations, period, today, Key::of(by)).await?;
                    duty_grouped(&mut conn, stations, period, by, &mut rows).await?;
                    rows
                }
            };
            // Every opinion has one station, category and deputy, and each of its figures is
            // its own: by those, the opinions' totals are the rows' sums. Otherwise (by unit,
            // which leaves out the opinions never referred; over time, where an item is overdue
            // in many months) they are counted over the whole period.
            let mut total = match by {
                Some(Breakdown::Station | Breakdown::Category | Breakdown::Deputy) => {
                    opinions_sum(&counted.rows)
                }
                _ => keyed_opinions(&mut conn, stations, period, today, Key::Total)
                    .await?
                    .remove("")
                    .unwrap_or_default(),
            };
            total.citizens_received = total.opinions_collected;
            let mut duty = BTreeMap::new();
            duty_over_time(&mut conn, stations, period, None, &mut duty).await?;
            let duty = duty.remove("").unwrap_or_default();
            total.duty_shifts = duty.duty_shifts;
            total.deputies_on_duty = duty.deputies_on_duty;
            total.citizens_received += duty.citizens_received;
            counted.total = total;
            tx.commit().await?;
        }
        match by {
            Some(by @ (Breakdown::Month | Breakdown::Day)) => {
                for bucket in buckets(by, period) {
                    counted.rows.entry(bucket_key(by, bucket.from)).or_default();
                }
            }
            _ => counted.rows.retain(|_, f| *f != Figures::default()),
        }
        Ok(counted)
    }

    /// The opinions of `stations` recorded in `period` (deleted ones left out), by the day they
    /// were recorded, then station, then id, each passed to `line` as it is read: the reception
    /// register. The ids are selected by the facts' index on station and day, then the stored
    /// opinions are read by id a page at a time, so a big register never holds more than a
    /// page of parsed opinions (plus what `line` keeps of them). One snapshot.
    pub async fn register_opinions<T>(
        &self,
        stations: &[StationId],
        period: &Period,
        mut line: impl FnMut(OpinionReplica) -> Option<T>,
    ) -> Result<Vec<T>, sqlx::Error> {
        const PAGE: usize = 500;
        if stations.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin(Begin::Snapshot).await?;
        let mut conn = tx.conn();
        let backend = conn.backend();
        let mut p = Params::new(backend, stations);
        let (f0, f1) = (
            p.text(period.from.to_string()),
            p.text(period.to.to_string()),
        );
        let sql = format!(
            "SELECT f.opinion_id FROM opinion_facts f \
             WHERE {} AND f.collected >= {f0} AND f.collected <= {f1} \
             ORDER BY f.collected, f.station_id, f.opinion_id",
            p.station_in("f.station_id")
        );
        let ids: Vec<String> = p
            .fetch(&mut conn, &sql)
            .await?
            .iter()
            .map(|row| row.try_get("opinion_id"))
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for page in ids.chunks(PAGE) {
            let sql = format!(
                "SELECT id, state FROM opinions WHERE {}",
                in_list(backend, "id", 1, page.len())
            );
            let mut states: HashMap<String, String> = HashMap::with_capacity(page.len());
            for row in conn
                .query(&sql)
                .bind_texts(page.to_vec())
                .fetch_all()
                .await?
            {
                states.insert(row.try_get("id")?, row.try_get("state")?);
            }
            for id in page {
                if let Some(state) = states.remove(id) {
                    out.extend(line(parse_json(&state)?));
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }
}
