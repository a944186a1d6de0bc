//! The figures as SQL aggregates (`COUNT`, `COUNT(DISTINCT)`, `SUM`, `GROUP BY`) over the
//! per-opinion facts (`opinion_facts`, `opinion_evaluations`, see `facts.rs`), attendance
//! (`attendance.signed_in`) and station events (`activities`, `activity_attendees`): no opinion
//! is loaded into memory to be counted. The meaning of every figure is the domain's
//! ([`liaison_domain::figures::count`] and [`count_by`]); the tests run both on the same data
//! for several periods and breakdowns, so the SQL below cannot drift from it.
//!
//! All in one snapshot, each figure read from an index that leads with the station and covers
//! what it counts:
//!
//! - **The totals, and by month or day**: the period (or each month or day of it, calendar
//!   months clipped to the period) is a row of a `VALUES` list, and each figure but "overdue"
//!   a scalar subquery per row over its own date's index range (collected, first referred,
//!   first concluded, evaluated, signed in, event day): one statement, no row sorted. Two
//!   counts that share rows come out of one subquery packed in one integer (`n * 2^32 + m`).
//! - **By station, deputy, category or unit**: one `GROUP BY` statement per figure, by the
//!   facts' column (`unit_id` is the latest referral's; only referred opinions have one). By
//!   station the rows come in the indexes' order; the others sort theirs.
//! - **The totals of a breakdown** are the sums of its rows where those add up, and the rest
//!   (deputies on duty; over time "overdue", "concluded by the end" and the latest evaluation)
//!   counted once more over the whole period (`total_of_rows`); by unit, all of them.
//! - **Evaluations**: the latest evaluation in the period of each opinion evaluated in it is an
//!   evaluation in the period that is the opinion's last (`is_last`), or after which none of
//!   the opinion's later ones falls in the period (looked up by key; rare).
//! - **Overdue** ([`OpinionFacts::overdue_in`]): with `as_of` the period's end or today if
//!   sooner, the latest deadline `due` is before `as_of`, and the item was still held on the
//!   period's first day (not concluded, or concluded on or after it, and after its deadline);
//!   and the period has begun (`from <= as_of`, decided in Rust). Read as two index ranges: the
//!   open items and those concluded since the first day. An item can be overdue in many months
//!   or days, so for the buckets the items are counted by their (deadline, conclusion) days and
//!   each bucket's figure is worked out from those counts.
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

/// Two counts in one integer (`high * 2^32 + low`), so that one scalar subquery reads its rows
/// once for both (counts stay far below 2^32).
const PAIR: &str = "4294967296";

fn pair(value: i64) -> Result<(u64, u64), sqlx::Error> {
    let value = u64::try_from(value).map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
    Ok((value >> 32, value & 0xffff_ffff))
}

fn count(row: &Row, column: &str) -> Result<u64, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|err| sqlx::Error::Decode(Box::new(err)))
}

/// A time bucket of a report: its key, first and last day, and the day it is counted up to.
struct Bucket {
    key: BreakdownKey,
    first: Date,
    last: Date,
    as_of: Date,
}

/// The totals are one bucket, the whole period; a breakdown by month or day is its buckets
/// ([`buckets`]: calendar months or days, clipped to the period).
fn time_buckets(by: Option<Breakdown>, period: &Period, today: Date) -> Vec<Bucket> {
    match by {
        Some(by @ (Breakdown::Month | Breakdown::Day)) => buckets(by, period)
            .into_iter()
            .map(|b| Bucket {
                key: bucket_key(by, b.from),
                first: b.from,
                last: b.to,
                as_of: b.as_of(today),
            })
            .collect(),
        _ => vec![Bucket {
            key: String::new(),
            first: period.from,
            last: period.to,
            as_of: period.as_of(today),
        }],
    }
}

/// Which of the opinions' figures [`count_buckets`] counts.
#[derive(Clone, Copy)]
struct Parts {
    /// Collected and answered on the spot.
    collected: bool,
    /// Referred, and of those concluded by the bucket's end.
    referred: bool,
    concluded: bool,
    /// Evaluated and satisfied.
    evaluated: bool,
}

impl Parts {
    const ALL: Parts = Parts {
        collected: true,
        referred: true,
        concluded: true,
        evaluated: true,
    };
    const NONE: Parts = Parts {
        collected: false,
        referred: false,
        concluded: false,
        evaluated: false,
    };
}

/// The figures of each bucket, every one but "overdue" by a scalar subquery per bucket, all in
/// one statement: each subquery reads its bucket's range of an index, and no rows are sorted.
/// The duty figures (duty shifts, deputies on duty, the events' citizens) always; the opinions'
/// as `parts` says (the others stay zero; "citizens received" then holds the events' only).
async fn count_buckets(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    buckets: &[Bucket],
    parts: Parts,
    into: &mut BTreeMap<BreakdownKey, Figures>,
) -> Result<(), sqlx::Error> {
    let mut p = Params::new(conn.backend(), stations);
    let mut values = Vec::with_capacity(buckets.len());
    for bucket in buckets {
        let (k, first, last) = (
            p.text(bucket.key.clone()),
            p.text(bucket.first.to_string()),
            p.text(bucket.last.to_string()),
        );
        values.push(format!("({k}, {first}, {last})"));
    }
    let (f_in, e_in, a_in, ac_in) = (
        p.station_in("f.station_id"),
        p.station_in("e.station_id"),
        p.station_in("a.station_id"),
        p.station_in("ac.station_id"),
    );
    let zero = |name: &str| format!("CAST(0 AS BIGINT) AS {name}");
    let collected = if parts.collected {
        format!(
            "(SELECT COUNT(*) * {PAIR} + COUNT(CASE WHEN f.answered_on_the_spot THEN 1 END) \
              FROM opinion_facts f WHERE {f_in} \
                 AND f.collected >= b.first_day AND f.collected <= b.last_day) AS collected"
        )
    } else {
        zero("collected")
    };
    let referred = if parts.referred {
        format!(
            "(SELECT COUNT(*) * {PAIR} \
                 + COUNT(CASE WHEN f.first_concluded <= b.last_day THEN 1 END) \
              FROM opinion_facts f WHERE {f_in} AND f.first_referred IS NOT NULL \
                 AND f.first_referred >= b.first_day AND f.first_referred <= b.last_day) \
                 AS referred"
        )
    } else {
        zero("referred")
    };
    let concluded = if parts.concluded {
        format!(
            "(SELECT COUNT(*) FROM opinion_facts f WHERE {f_in} \
                 AND f.first_concluded IS NOT NULL \
                 AND f.first_concluded >= b.first_day AND f.first_concluded <= b.last_day) \
                 AS concluded"
        )
    } else {
        zero("concluded")
    };
    let evaluated = if parts.evaluated {
        format!(
            "(SELECT COUNT(*) * {PAIR} + COUNT(CASE WHEN e.satisfied THEN 1 END) \
              FROM opinion_evaluations e WHERE {e_in} \
                 AND e.day >= b.first_day AND e.day <= b.last_day \
                 AND (e.is_last OR NOT EXISTS ( \
                     SELECT 1 FROM opinion_evaluations l \
                     WHERE l.opinion_id = e.opinion_id AND l.ord > e.ord \
                         AND l.day >= b.first_day AND l.day <= b.last_day))) AS evaluated"
        )
    } else {
        zero("evaluated")
    };
    let opinion_figures = format!("{collected}, {referred}, {concluded}, {evaluated}");
    let sql = format!(
        "WITH b (k, first_day, last_day) AS (VALUES {values}) \
         SELECT b.k AS k, {opinion_figures}, \
             (SELECT COUNT(*) FROM attendance a WHERE {a_in} \
                 AND a.day >= b.first_day AND a.day <= b.last_day AND a.signed_in) AS shifts, \
             (SELECT CAST(COALESCE(SUM(ac.citizens_received), 0) AS BIGINT) \
              FROM activities ac WHERE {ac_in} \
                 AND ac.day >= b.first_day AND ac.day <= b.last_day) AS citizens, \
             (SELECT COUNT(DISTINCT u.deputy_id) FROM ( \
                 SELECT a.deputy_id FROM attendance a WHERE {a_in} \
                     AND a.day >= b.first_day AND a.day <= b.last_day AND a.signed_in \
                 UNION ALL \
                 SELECT t.deputy_id FROM activities ac \
                 JOIN activity_attendees t ON t.activity_id = ac.id WHERE {ac_in} \
                     AND ac.day >= b.first_day AND ac.day <= b.last_day \
             ) u) AS deputies \
         FROM b",
        values = values.join(", ")
    );
    for row in p.fetch(conn, &sql).await? {
        let key: String = row.try_get("k")?;
        let f = into.entry(key).or_default();
        let (collected, answered) = pair(row.try_get("collected")?)?;
        let (referred, referred_and_concluded) = pair(row.try_get("referred")?)?;
        let (evaluated, satisfied) = pair(row.try_get("evaluated")?)?;
        f.opinions_collected += collected;
        f.answered_on_the_spot += answered;
        f.citizens_received += collected + count(&row, "citizens")?;
        f.referred += referred;
        f.referred_and_concluded += referred_and_concluded;
        f.concluded += count(&row, "concluded")?;
        f.evaluated += evaluated;
        f.satisfied += satisfied;
        f.duty_shifts += count(&row, "shifts")?;
        f.deputies_on_duty += count(&row, "deputies")?;
    }
    Ok(())
}

/// "Overdue" of each bucket. The items overdue somewhere in the period (latest deadline before
/// its `as_of`, still held on or after its first day) are read as two index ranges, the open
/// ones and those concluded since, and counted by their (deadline, conclusion) days; an item
/// counts in a bucket when its deadline is before the bucket's `as_of` and it was still held on
/// the bucket's first day ([`OpinionFacts::overdue_in`]), worked out here from those counts.
/// For the totals (one bucket) that is every item read.
///
/// [`OpinionFacts::overdue_in`]: liaison_domain::figures::OpinionFacts::overdue_in
async fn count_overdue(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    buckets: &[Bucket],
    into: &mut BTreeMap<BreakdownKey, Figures>,
) -> Result<(), sqlx::Error> {
    let Some(as_of) = buckets.iter().map(|b| b.as_of).max() else {
        return Ok(());
    };
    if period.from > as_of {
        return Ok(());
    }
    let mut p = Params::new(conn.backend(), stations);
    let (first, last) = (p.text(period.from.to_string()), p.text(as_of.to_string()));
    let station = p.station_in("f.station_id");
    let held = |concluded: &str| {
        format!(
            "SELECT f.due, f.due_concluded FROM opinion_facts f \
             WHERE {station} AND f.due IS NOT NULL AND {concluded} AND f.due < {last}"
        )
    };
    let open = "f.due_concluded IS NULL";
    let since = format!("f.due_concluded >= {first} AND f.due < f.due_concluded");
    if let [bucket] = buckets {
        // The whole period: every item read counts.
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM ({}) o) + (SELECT COUNT(*) FROM ({}) c) AS n",
            held(open),
            held(&since)
        );
        let rows = p.fetch(conn, &sql).await?;
        let n = rows.first().map_or(Ok(0), |row| count(row, "n"))?;
        into.entry(bucket.key.clone()).or_default().overdue += n;
        return Ok(());
    }
    let sql = format!(
        "SELECT o.due AS due, o.due_concluded AS concluded, COUNT(*) AS n FROM ({} UNION ALL {}) o \
         GROUP BY o.due, o.due_concluded",
        held(open),
        held(&since)
    );
    let mut items: Vec<(Date, Option<Date>, u64)> = Vec::new();
    for row in p.fetch(conn, &sql).await? {
        items.push((
            parse_day(&row.try_get::<String>("due")?)?,
            row.try_get::<Option<String>>("concluded")?
                .map(|d| parse_day(&d))
                .transpose()?,
            count(&row, "n")?,
        ));
    }
    for bucket in buckets {
        if bucket.first > bucket.as_of {
            continue;
        }
        let overdue: u64 = items
            .iter()
            .filter(|(due, concluded, _)| {
                *due < bucket.as_of && concluded.is_none_or(|c| c >= bucket.first)
            })
            .map(|(_, _, n)| n)
            .sum();
        into.entry(bucket.key.clone()).or_default().overdue += overdue;
    }
    Ok(())
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

/// The figures by station, deputy, category or unit: the same parts grouped by the facts'
/// column (by station in the indexes' own order; the others sort their rows).
async fn count_grouped(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    today: Date,
    by: Breakdown,
    into: &mut BTreeMap<BreakdownKey, Figures>,
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let column = match by {
        Breakdown::Station => "station_id",
        Breakdown::Deputy => "deputy_id",
        Breakdown::Category => "category",
        _ => "unit_id",
    };
    let key = format!("f.{column}");
    // By unit, only the opinions that were referred (they have one); the opinions recorded
    // have no unit yet, and the citizens belong to no category or unit.
    let units = if by == Breakdown::Unit {
        " AND f.unit_id IS NOT NULL"
    } else {
        ""
    };
    if by != Breakdown::Unit {
        let mut p = Params::new(backend, stations);
        let (f0, f1) = (p.text(&from), p.text(&to));
        let sql = format!(
            "SELECT {key} AS k, COUNT(*) AS n, \
                 COUNT(CASE WHEN f.answered_on_the_spot THEN 1 END) AS m \
             FROM opinion_facts f \
             WHERE {} AND f.collected >= {f0} AND f.collected <= {f1} GROUP BY {key}",
            p.station_in("f.station_id")
        );
        let citizens = by != Breakdown::Category;
        merge(p.fetch(conn, &sql).await?, into, |f, row| {
            f.opinions_collected += count(row, "n")?;
            f.answered_on_the_spot += count(row, "m")?;
            if citizens {
                f.citizens_received += count(row, "n")?;
            }
            Ok(())
        })?;
    }
    {
        let mut p = Params::new(backend, stations);
        let (f0, f1) = (p.text(&from), p.text(&to));
        let sql = format!(
            "SELECT {key} AS k, COUNT(*) AS n, \
                 COUNT(CASE WHEN f.first_concluded <= {f1} THEN 1 END) AS m \
             FROM opinion_facts f \
             WHERE {} AND f.first_referred IS NOT NULL \
                 AND f.first_referred >= {f0} AND f.first_referred <= {f1}{units} GROUP BY {key}",
            p.station_in("f.station_id")
        );
        merge(p.fetch(conn, &sql).await?, into, |f, row| {
            f.referred += count(row, "n")?;
            f.referred_and_concluded += count(row, "m")?;
            Ok(())
        })?;
    }
    {
        let mut p = Params::new(backend, stations);
        let (f0, f1) = (p.text(&from), p.text(&to));
        let sql = format!(
            "SELECT {key} AS k, COUNT(*) AS n FROM opinion_facts f \
             WHERE {} AND f.first_concluded IS NOT NULL \
                 AND f.first_concluded >= {f0} AND f.first_concluded <= {f1}{units} \
             GROUP BY {key}",
            p.station_in("f.station_id")
        );
        merge(p.fetch(conn, &sql).await?, into, |f, row| {
            f.concluded += count(row, "n")?;
            Ok(())
        })?;
    }
    let as_of = period.as_of(today);
    if period.from <= as_of {
        let mut p = Params::new(backend, stations);
        let (f0, a) = (p.text(&from), p.text(as_of.to_string()));
        let station = p.station_in("f.station_id");
        let held = |concluded: &str| {
            format!(
                "SELECT {key} AS k FROM opinion_facts f \
                 WHERE {station} AND f.due IS NOT NULL AND {concluded} AND f.due < {a}{units}"
            )
        };
        let sql = format!(
            "SELECT o.k AS k, COUNT(*) AS n FROM ({} UNION ALL {}) o GROUP BY o.k",
            held("f.due_concluded IS NULL"),
            held(&format!(
                "f.due_concluded >= {f0} AND f.due < f.due_concluded"
            ))
        );
        merge(p.fetch(conn, &sql).await?, into, |f, row| {
            f.overdue += count(row, "n")?;
            Ok(())
        })?;
    }
    {
        // The latest evaluation in the period of each opinion evaluated in it.
        let mut p = Params::new(backend, stations);
        let (f0, f1) = (p.text(&from), p.text(&to));
        let units = if by == Breakdown::Unit {
            " AND e.unit_id IS NOT NULL"
        } else {
            ""
        };
        let sql = format!(
            "SELECT e.{column} AS k, COUNT(*) AS n, \
                 COUNT(CASE WHEN e.satisfied THEN 1 END) AS s \
             FROM opinion_evaluations e \
             WHERE {} AND e.day >= {f0} AND e.day <= {f1}{units} \
                 AND (e.is_last OR NOT EXISTS ( \
                     SELECT 1 FROM opinion_evaluations l \
                     WHERE l.opinion_id = e.opinion_id AND l.ord > e.ord \
                         AND l.day >= {f0} AND l.day <= {f1})) \
             GROUP BY e.{column}",
            p.station_in("e.station_id")
        );
        merge(p.fetch(conn, &sql).await?, into, |f, row| {
            f.evaluated += count(row, "n")?;
            f.satisfied += count(row, "s")?;
            Ok(())
        })?;
    }
    // Attendance and events belong to stations and deputies, not to categories or units.
    if matches!(by, Breakdown::Station | Breakdown::Deputy) {
        let mut p = Params::new(backend, stations);
        let (f0, f1) = (p.text(&from), p.text(&to));
        let sql = format!(
            "SELECT a.{column} AS k, COUNT(*) AS n FROM attendance a \
             WHERE {} AND a.day >= {f0} AND a.day <= {f1} AND a.signed_in GROUP BY a.{column}",
            p.station_in("a.station_id")
        );
        merge(p.fetch(conn, &sql).await?, into, |f, row| {
            f.duty_shifts += count(row, "n")?;
            Ok(())
        })?;
        let mut p = Params::new(backend, stations);
        let (f0, f1) = (p.text(&from), p.text(&to));
        let sql = format!(
            "SELECT u.{column} AS k, COUNT(DISTINCT u.deputy_id) AS n FROM ( \
                 SELECT a.station_id, a.deputy_id FROM attendance a \
                 WHERE {} AND a.day >= {f0} AND a.day <= {f1} AND a.signed_in \
                 UNION ALL \
                 SELECT ac.station_id, t.deputy_id FROM activities ac \
                 JOIN activity_attendees t ON t.activity_id = ac.id \
                 WHERE {} AND ac.day >= {f0} AND ac.day <= {f1} \
             ) u GROUP BY u.{column}",
            p.station_in("a.station_id"),
            p.station_in("ac.station_id")
        );
        merge(p.fetch(conn, &sql).await?, into, |f, row| {
            f.deputies_on_duty += count(row, "n")?;
            Ok(())
        })?;
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

/// Every figure of `stations` over `period`, keyed by `by` (the totals: one row, key `""`).
async fn count_parts(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    today: Date,
    by: Option<Breakdown>,
) -> Result<BTreeMap<BreakdownKey, Figures>, sqlx::Error> {
    let mut out: BTreeMap<BreakdownKey, Figures> = BTreeMap::new();
    match by {
        None | Some(Breakdown::Month | Breakdown::Day) => {
            let buckets = time_buckets(by, period, today);
            count_buckets(conn, stations, &buckets, Parts::ALL, &mut out).await?;
            count_overdue(conn, stations, period, &buckets, &mut out).await?;
        }
        Some(by) => count_grouped(conn, stations, period, today, by, &mut out).await?,
    }
    Ok(out)
}

/// The sum of breakdown rows, figure by figure.
fn sum(rows: &BTreeMap<BreakdownKey, Figures>) -> Figures {
    let mut total = Figures::default();
    for f in rows.values() {
        total.deputies_on_duty += f.deputies_on_duty;
        total.duty_shifts += f.duty_shifts;
        total.citizens_received += f.citizens_received;
        total.opinions_collected += f.opinions_collected;
        total.answered_on_the_spot += f.answered_on_the_spot;
        total.referred += f.referred;
        total.concluded += f.concluded;
        total.overdue += f.overdue;
        total.referred_and_concluded += f.referred_and_concluded;
        total.evaluated += f.evaluated;
        total.satisfied += f.satisfied;
    }
    total
}

/// The totals of a breakdown from its rows where they add up, and what does not counted once
/// more over the whole period. Every opinion has one station, one deputy and one category;
/// every attendance record one station and one deputy; every event one station; and every
/// figure but the non-additive ones below is dated by one day, in one month. What does not add
/// up: deputies on duty (a deputy at two stations, or on duty in two months, is one deputy);
/// the events' citizens by deputy (they belong to no deputy); the duty figures by category
/// (none in the rows); and over time "overdue" (an item late for months is one item), "of
/// those referred, concluded by the end" (a bucket's end is not the period's) and the latest
/// evaluation in the period (not in each month). `None` by unit, whose rows leave out the
/// opinions never referred.
async fn total_of_rows(
    conn: &mut Conn<'_>,
    stations: &[StationId],
    period: &Period,
    today: Date,
    by: Breakdown,
    rows: &BTreeMap<BreakdownKey, Figures>,
) -> Result<Option<Figures>, sqlx::Error> {
    let over_time = matches!(by, Breakdown::Month | Breakdown::Day);
    if by == Breakdown::Unit {
        return Ok(None);
    }
    let mut total = sum(rows);
    let parts = Parts {
        referred: over_time,
        evaluated: over_time,
        ..Parts::NONE
    };
    let whole = time_buckets(None, period, today);
    let mut counted = BTreeMap::new();
    count_buckets(conn, stations, &whole, parts, &mut counted).await?;
    if over_time {
        count_overdue(conn, stations, period, &whole, &mut counted).await?;
    }
    let whole = counted.remove("").unwrap_or_default();
    // Deputies on duty: never additive (by deputy it is, but counting it again is as cheap).
    total.deputies_on_duty = whole.deputies_on_duty;
    match by {
        Breakdown::Station => {}
        Breakdown::Deputy => total.citizens_received += whole.citizens_received,
        Breakdown::Category => {
            total.duty_shifts = whole.duty_shifts;
            total.citizens_received = total.opinions_collected + whole.citizens_received;
        }
        _ => {
            total.overdue = whole.overdue;
            total.referred_and_concluded = whole.referred_and_concluded;
            total.evaluated = whole.evaluated;
            total.satisfied = whole.satisfied;
        }
    }
    Ok(Some(total))
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
            if let Some(by) = by {
                counted.rows = count_parts(&mut conn, stations, period, today, Some(by)).await?;
            }
            // With a breakdown the totals mostly follow from its rows (`total_of_rows`);
            // without one, or by unit, they are counted over the whole period.
            let from_rows = match by {
                Some(by) => {
                    total_of_rows(&mut conn, stations, period, today, by, &counted.rows).await?
                }
                None => None,
            };
            counted.total = match from_rows {
                Some(total) => total,
                None => count_parts(&mut conn, stations, period, today, None)
                    .await?
                    .remove("")
                    .unwrap_or_default(),
            };
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
