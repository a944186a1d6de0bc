//! The figures' facts (tables from `0009_figures.sql`): one `opinion_facts` row per live opinion
//! holding its [`OpinionFacts`], and one `opinion_evaluations` row per evaluation, in order. The
//! figures are SQL aggregates over them (`figures.rs`); the definitions are the domain's, so the
//! facts are derived in Rust with [`OpinionFacts::derive`] and never computed in SQL.
//!
//! **Kept current** by the push transaction itself ([`write_facts`], called by `sync.rs` right
//! after it writes the opinions, for pushed mutations and online steps alike): the facts of an
//! opinion change in the same commit as the opinion, so no reader ever sees one without the
//! other. A deleted opinion (or one of which only edits have arrived) has no facts.
//!
//! **The rollups** (`figure_days`, `figure_months`, from `0010_figure_rollups.sql`: the facts'
//! additive counts per station and day, and per station, month and category, deputy or unit)
//! are kept by the same call: the stored facts about to be replaced are read back and their
//! counts taken off, the new facts' counts put on, as upserts (`n = n + excluded.n`). Pushes
//! run one at a time (SQLite's write lock; on PostgreSQL the change counter's row lock,
//! `Begin::SyncWriter`), and the upserts add up even if two ran at once. What one opinion
//! counts, and where, is [`Rollup::add`], the only definition: the rebuild uses it too.
//!
//! **Rebuilt** at startup when the stored `facts_version` (table `server_meta`) is older than
//! [`FACTS_VERSION`]: a database from before the facts existed, or one whose facts were derived
//! under an older definition. Changing what a fact means is then one bump of the constant. The
//! rebuild ([`Db::rebuild_facts_if_outdated`]) walks `opinions` (and `attendance`, for its
//! `signed_in` column) by id in batches, each batch in its own transaction under the push lock
//! (`Begin::SyncWriter`), so that on a database shared with running servers a push cannot slip
//! between the read of an opinion and the write of its facts, and no transaction holds that lock
//! for long. The rollups are then counted again from the facts ([`Db::rebuild_rollups`]), a
//! few stations per transaction under the same lock.
//!
//! **Who was on duty** (`duty_months`, `0013_duty_months.sql`: per station, month and deputy, the
//! signed-in attendance records and whether the deputy attended an event) is kept by the push
//! transaction for attendance (`sync.rs`, a record's first sign-in adds its shift) and by a
//! trigger for events' attendees, and counted again by [`Db::rebuild_rollups`] with the others
//! (version 4 of the facts brought it in).

use super::Db;
use super::backend::{Begin, Column, Conn, ROWS_PER_STATEMENT, in_list, insert_rows};
use super::sync::parse_json;
use liaison_domain::figures::OpinionFacts;
use liaison_domain::followup::{Attendance, Date};
use liaison_domain::sync::OpinionReplica;
use std::collections::HashMap;

/// The version of the facts' definitions. Bump it when [`OpinionFacts::derive`] (or what the
/// server stores of it) changes: the next start rebuilds every row.
pub const FACTS_VERSION: i64 = 4;

/// Opinions (or attendance records) read and rewritten per transaction by the rebuild.
pub const REBUILD_BATCH: usize = 1000;

/// An opinion whose facts are to be written: its id and merged state, and whether it may have
/// facts stored already (`false` only for an opinion the server did not hold before this
/// transaction: then there is nothing to read back or delete, which is most of a push).
pub(super) struct FactsChange<'a> {
    pub id: &'a str,
    pub state: &'a OpinionReplica,
    pub had_facts: bool,
}

/// Replaces the facts of `opinions` with what their states say now: the rows of deleted ones
/// go, live ones get their [`OpinionFacts`] and evaluations. Runs inside the caller's
/// transaction.
pub(super) async fn write_facts<'a>(
    conn: &mut Conn<'_>,
    opinions: impl IntoIterator<Item = FactsChange<'a>>,
) -> Result<(), sqlx::Error> {
    // Only the opinions that may have facts are read back and deleted.
    let mut ids: Vec<&str> = Vec::new();
    let mut facts: Vec<OpinionFacts> = Vec::new();
    for change in opinions {
        if change.had_facts {
            ids.push(change.id);
        }
        if let Some(opinion) = change.state.opinion() {
            facts.push(OpinionFacts::derive(&opinion, change.state.steps()));
        }
    }
    if ids.is_empty() && facts.is_empty() {
        return Ok(());
    }
    let backend = conn.backend();
    // The rollups: what the facts about to be replaced added is taken off, what the new ones
    // add is put on, in this same transaction.
    let mut rollup = Rollup::default();
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        for old in read_rolled(conn, &in_list(backend, "opinion_id", 1, chunk.len()), chunk).await?
        {
            rollup.add(&old, -1);
        }
    }
    for f in &facts {
        rollup.add(&Rolled::of(f), 1);
    }
    rollup.write(conn).await?;
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        for table in ["opinion_evaluations", "opinion_facts"] {
            let sql = format!(
                "DELETE FROM {table} WHERE {}",
                in_list(backend, "opinion_id", 1, chunk.len())
            );
            conn.query(&sql).bind_list(chunk).execute().await?;
        }
    }
    insert_facts(conn, &facts).await
}

/// A text of the facts as PostgreSQL can store it: its `TEXT` cannot hold NUL, which the
/// opinion's JSON state keeps escaped (`\u0000`) and a hostile or broken client can send in an id.
/// The facts are derived data, so the character is replaced rather than the push refused.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// Inserts the facts rows and the evaluations of `facts` (which have none yet).
async fn insert_facts(conn: &mut Conn<'_>, facts: &[OpinionFacts]) -> Result<(), sqlx::Error> {
    let day = |d: Option<liaison_domain::followup::Date>| d.map(|d| d.to_string());
    insert_rows(
        conn,
        "INSERT INTO opinion_facts (opinion_id, station_id, deputy_id, category, collected, \
             answered_on_the_spot, first_referred, unit_id, due, due_concluded, \
             first_concluded, status)",
        vec![
            Column::text(facts.iter().map(|f| f.opinion_id.to_string())),
            Column::text(facts.iter().map(|f| storable(&f.station_id.0))),
            Column::text(facts.iter().map(|f| storable(&f.deputy_id.0))),
            Column::text(facts.iter().map(|f| storable(&f.category))),
            Column::text(facts.iter().map(|f| f.collected.to_string())),
            Column::bool(facts.iter().map(|f| f.answered_on_the_spot)),
            Column::optional_text(facts.iter().map(|f| day(f.first_referred))),
            Column::optional_text(
                facts
                    .iter()
                    .map(|f| f.unit_id.as_ref().map(|u| storable(&u.0))),
            ),
            Column::optional_text(facts.iter().map(|f| day(f.due))),
            Column::optional_text(facts.iter().map(|f| day(f.due_concluded))),
            Column::optional_text(facts.iter().map(|f| day(f.first_concluded))),
            Column::text(facts.iter().map(|f| f.status.code())),
        ],
        "",
    )
    .await?;
    let evaluations: Vec<(&OpinionFacts, usize, String, bool)> = facts
        .iter()
        .flat_map(|f| {
            f.evaluations
                .iter()
                .enumerate()
                .map(move |(ord, (day, satisfied))| (f, ord, day.to_string(), *satisfied))
        })
        .collect();
    insert_rows(
        conn,
        "INSERT INTO opinion_evaluations (opinion_id, ord, station_id, day, satisfied, \
             is_last, category, deputy_id, unit_id)",
        vec![
            Column::text(evaluations.iter().map(|(f, ..)| f.opinion_id.to_string())),
            Column::int(
                evaluations
                    .iter()
                    .map(|(_, ord, ..)| i64::try_from(*ord).unwrap_or(i64::MAX)),
            ),
            Column::text(evaluations.iter().map(|(f, ..)| storable(&f.station_id.0))),
            Column::text(evaluations.iter().map(|(_, _, day, _)| day.as_str())),
            Column::bool(evaluations.iter().map(|(.., satisfied)| *satisfied)),
            Column::bool(
                evaluations
                    .iter()
                    .map(|(f, ord, ..)| ord + 1 == f.evaluations.len()),
            ),
            Column::text(evaluations.iter().map(|(f, ..)| storable(&f.category))),
            Column::text(evaluations.iter().map(|(f, ..)| storable(&f.deputy_id.0))),
            Column::optional_text(
                evaluations
                    .iter()
                    .map(|(f, ..)| f.unit_id.as_ref().map(|u| storable(&u.0))),
            ),
        ],
        "",
    )
    .await
}

/// The rollups' columns, in their order in `figure_days`; `figure_months` has them all but
/// [`RC_DAY`] (see `0010_figure_rollups.sql` for what each counts).
pub(super) const ROLLUP_COLUMNS: [&str; 10] = [
    "collected",
    "answered",
    "referred",
    "referred_concluded_day",
    "referred_concluded_month",
    "concluded",
    "overdue_from",
    "overdue_to",
    "evaluated_last",
    "satisfied_last",
];
const COLLECTED: usize = 0;
const ANSWERED: usize = 1;
const REFERRED: usize = 2;
const RC_DAY: usize = 3;
const RC_MONTH: usize = 4;
const CONCLUDED: usize = 5;
const OVERDUE_FROM: usize = 6;
const OVERDUE_TO: usize = 7;
const EVALUATED_LAST: usize = 8;
const SATISFIED_LAST: usize = 9;

/// The month (`YYYY-MM`) of a day, as `figure_months` keys it.
pub(super) fn month_of(day: Date) -> String {
    let (y, m, _) = day.ymd();
    format!("{y:04}-{m:02}")
}

/// What the rollups count of one opinion: its facts as stored (texts already [`storable`]),
/// and only its latest evaluation.
struct Rolled {
    station_id: String,
    deputy_id: String,
    category: String,
    unit_id: Option<String>,
    collected: Date,
    answered: bool,
    first_referred: Option<Date>,
    first_concluded: Option<Date>,
    due: Option<Date>,
    due_concluded: Option<Date>,
    last_evaluation: Option<(Date, bool)>,
}

impl Rolled {
    fn of(f: &OpinionFacts) -> Rolled {
        Rolled {
            station_id: storable(&f.station_id.0),
            deputy_id: storable(&f.deputy_id.0),
            category: storable(&f.category),
            unit_id: f.unit_id.as_ref().map(|u| storable(&u.0)),
            collected: f.collected,
            answered: f.answered_on_the_spot,
            first_referred: f.first_referred,
            first_concluded: f.first_concluded,
            due: f.due,
            due_concluded: f.due_concluded,
            last_evaluation: f.evaluations.last().copied(),
        }
    }
}

/// Rollup changes not yet written: counts to add per `figure_days` and `figure_months` row.
#[derive(Default)]
struct Rollup {
    days: HashMap<(String, Date), [i64; 10]>,
    months: HashMap<(String, &'static str, String, String), [i64; 10]>,
}

impl Rollup {
    /// Adds `sign` times what `o` counts: each count on the day of its own event, in the
    /// station's day row and in its month rows (its own, and by category, deputy and unit).
    fn add(&mut self, o: &Rolled, sign: i64) {
        let mut put = |day: Date, column: usize| {
            self.days.entry((o.station_id.clone(), day)).or_default()[column] += sign;
            let month = month_of(day);
            let mut keys = vec![("", ""), ("category", o.category.as_str())];
            keys.push(("deputy", o.deputy_id.as_str()));
            if let Some(unit) = &o.unit_id {
                keys.push(("unit", unit.as_str()));
            }
            for (dim, key) in keys {
                self.months
                    .entry((o.station_id.clone(), dim, month.clone(), key.to_owned()))
                    .or_default()[column] += sign;
            }
        };
        put(o.collected, COLLECTED);
        if o.answered {
            put(o.collected, ANSWERED);
        }
        if let Some(referred) = o.first_referred {
            put(referred, REFERRED);
            if let Some(concluded) = o.first_concluded {
                if concluded <= referred {
                    put(referred, RC_DAY);
                }
                if month_of(concluded) <= month_of(referred) {
                    put(referred, RC_MONTH);
                }
            }
        }
        if let Some(concluded) = o.first_concluded {
            put(concluded, CONCLUDED);
        }
        // Held past the deadline from the day after it to the day the referral ended (or
        // still): [`OpinionFacts::overdue_in`]'s interval, when it has a day at all.
        if let Some(due) = o.due {
            let first = due.add_days(1);
            if o.due_concluded.is_none_or(|end| first <= end) {
                put(first, OVERDUE_FROM);
                if let Some(end) = o.due_concluded {
                    put(end, OVERDUE_TO);
                }
            }
        }
        if let Some((day, satisfied)) = o.last_evaluation {
            put(day, EVALUATED_LAST);
            if satisfied {
                put(day, SATISFIED_LAST);
            }
        }
    }

    /// Adds the changes to the tables (upserts: a row is created at its first count).
    async fn write(self, conn: &mut Conn<'_>) -> Result<(), sqlx::Error> {
        let sets = |table: &str, columns: &[&str]| -> String {
            columns
                .iter()
                .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        // One column of counts per rollup column, of the rows that change anything.
        let counts = |rows: &[&[i64; 10]], skip: Option<usize>| -> Vec<Column> {
            (0..ROLLUP_COLUMNS.len())
                .filter(|i| Some(*i) != skip)
                .map(|i| Column::int(rows.iter().map(|counts| counts[i])))
                .collect()
        };
        let days: Vec<_> = self
            .days
            .iter()
            .filter(|(_, counts)| counts.iter().any(|n| *n != 0))
            .collect();
        let mut columns = vec![
            Column::text(days.iter().map(|((station, _), _)| station.as_str())),
            Column::text(days.iter().map(|((_, day), _)| day.to_string())),
        ];
        columns.extend(counts(
            &days.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
            None,
        ));
        insert_rows(
            conn,
            &format!(
                "INSERT INTO figure_days (station_id, day, {})",
                ROLLUP_COLUMNS.join(", ")
            ),
            columns,
            &format!(
                "ON CONFLICT (station_id, day) DO UPDATE SET {}",
                sets("figure_days", &ROLLUP_COLUMNS)
            ),
        )
        .await?;
        let month_columns: Vec<&str> = ROLLUP_COLUMNS
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != RC_DAY)
            .map(|(_, c)| *c)
            .collect();
        let months: Vec<_> = self
            .months
            .iter()
            .filter(|(_, counts)| counts.iter().any(|n| *n != 0))
            .collect();
        let mut columns = vec![
            Column::text(months.iter().map(|((station, ..), _)| station.as_str())),
            Column::text(months.iter().map(|((_, dim, ..), _)| *dim)),
            Column::text(months.iter().map(|((.., month, _), _)| month.as_str())),
            Column::text(months.iter().map(|((.., key), _)| key.as_str())),
        ];
        columns.extend(counts(
            &months.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
            Some(RC_DAY),
        ));
        insert_rows(
            conn,
            &format!(
                "INSERT INTO figure_months (station_id, dim, month, key, {})",
                month_columns.join(", ")
            ),
            columns,
            &format!(
                "ON CONFLICT (station_id, dim, month, key) DO UPDATE SET {}",
                sets("figure_months", &month_columns)
            ),
        )
        .await
    }
}

fn stored_day(text: Option<String>) -> Result<Option<Date>, sqlx::Error> {
    text.map(|t| {
        Date::parse(&t).ok_or_else(|| {
            sqlx::Error::Decode(format!("not a day (YYYY-MM-DD) in the facts: {t}").into())
        })
    })
    .transpose()
}

/// The stored facts (with their latest evaluation) of the opinions whose `opinion_facts` and
/// `opinion_evaluations` rows match `filter` (over columns both tables have), `values` bound
/// as its list.
async fn read_rolled(
    conn: &mut Conn<'_>,
    filter: &str,
    values: &[&str],
) -> Result<Vec<Rolled>, sqlx::Error> {
    let mut last: HashMap<String, (Date, bool)> = HashMap::new();
    let sql = format!(
        "SELECT opinion_id, day, satisfied FROM opinion_evaluations WHERE is_last AND {filter}"
    );
    for row in conn.query(&sql).bind_list(values).fetch_all().await? {
        if let Some(day) = stored_day(row.try_get("day")?)? {
            last.insert(row.try_get("opinion_id")?, (day, row.try_get("satisfied")?));
        }
    }
    let sql = format!(
        "SELECT opinion_id, station_id, deputy_id, category, unit_id, collected, \
             answered_on_the_spot, first_referred, first_concluded, due, due_concluded \
         FROM opinion_facts WHERE {filter}"
    );
    let mut out = Vec::new();
    for row in conn.query(&sql).bind_list(values).fetch_all().await? {
        let id: String = row.try_get("opinion_id")?;
        out.push(Rolled {
            station_id: row.try_get("station_id")?,
            deputy_id: row.try_get("deputy_id")?,
            category: row.try_get("category")?,
            unit_id: row.try_get("unit_id")?,
            collected: stored_day(Some(row.try_get("collected")?))?
                .ok_or_else(|| sqlx::Error::Decode("no collection day".into()))?,
            answered: row.try_get("answered_on_the_spot")?,
            first_referred: stored_day(row.try_get("first_referred")?)?,
            first_concluded: stored_day(row.try_get("first_concluded")?)?,
            due: stored_day(row.try_get("due")?)?,
            due_concluded: stored_day(row.try_get("due_concluded")?)?,
            last_evaluation: last.remove(&id),
        });
    }
    Ok(out)
}

/// The facts of the opinions stored as `(id, state)`, rewritten (the rebuild's batch).
async fn rewrite_opinion_facts(
    conn: &mut Conn<'_>,
    stored: &[(String, String)],
) -> Result<(), sqlx::Error> {
    let mut states: Vec<(&str, OpinionReplica)> = Vec::with_capacity(stored.len());
    for (id, state) in stored {
        states.push((id.as_str(), parse_json(state)?));
    }
    write_facts(
        conn,
        states.iter().map(|(id, state)| FactsChange {
            id,
            state,
            had_facts: true,
        }),
    )
    .await
}

/// The `signed_in` column of the attendance records stored as `(id, state)`, rewritten.
async fn rewrite_signed_in(
    conn: &mut Conn<'_>,
    stored: &[(String, String)],
) -> Result<(), sqlx::Error> {
    let backend = conn.backend();
    let mut signed_in: Vec<&str> = Vec::new();
    let mut not_signed_in: Vec<&str> = Vec::new();
    for (id, state) in stored {
        let state: Attendance = parse_json(state)?;
        if state.signed_in_at_ms.is_some() {
            signed_in.push(id);
        } else {
            not_signed_in.push(id);
        }
    }
    for (ids, value) in [(signed_in, "TRUE"), (not_signed_in, "FALSE")] {
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            conn.query(&format!(
                "UPDATE attendance SET signed_in = {value} WHERE {}",
                in_list(backend, "id", 1, chunk.len())
            ))
            .bind_list(chunk)
            .execute()
            .await?;
        }
    }
    Ok(())
}

impl Db {
    /// Rebuilds the rollups (`figure_days`, `figure_months`) from the stored facts, and
    /// `duty_months` and `duty_days` from the attendance and the events' attendees, `batch`
    /// stations per transaction. Each batch runs under the push lock (`Begin::SyncWriter`): its
    /// stations' rows are replaced by what their facts count at that moment, and every push
    /// after it adds its changes to those, so the rollups stay exact while servers run beside
    /// it. Run by [`Db::rebuild_facts_if_outdated`] after the facts; public for the benchmark
    /// and the tests, which write facts straight into their tables. Returns the stations
    /// walked.
    pub async fn rebuild_rollups(&self, batch: usize) -> Result<u64, sqlx::Error> {
        let stations: Vec<String> = self
            .acquire()
            .await?
            .query(
                "SELECT station_id FROM opinion_facts \
                 UNION SELECT station_id FROM figure_days \
                 UNION SELECT station_id FROM figure_months \
                 UNION SELECT station_id FROM attendance \
                 UNION SELECT station_id FROM activities \
                 UNION SELECT station_id FROM duty_months \
                 UNION SELECT station_id FROM duty_days",
            )
            .fetch_all()
            .await?
            .iter()
            .map(|row| row.try_get("station_id"))
            .collect::<Result<_, _>>()?;
        for chunk in stations.chunks(batch.clamp(1, ROWS_PER_STATEMENT)) {
            let mut tx = self.pool.begin(Begin::SyncWriter).await?;
            let mut conn = tx.conn();
            let backend = conn.backend();
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let filter = in_list(backend, "station_id", 1, chunk.len());
            for table in ["figure_days", "figure_months", "duty_months", "duty_days"] {
                conn.query(&format!("DELETE FROM {table} WHERE {filter}"))
                    .bind_list(&chunk)
                    .execute()
                    .await?;
            }
            let mut rollup = Rollup::default();
            for o in read_rolled(&mut conn, &filter, &chunk).await? {
                rollup.add(&o, 1);
            }
            rollup.write(&mut conn).await?;
            // Who was on duty: the signed-in attendance records (a shift each) and the events'
            // attendees, per day, deputy and station; then per station, month and deputy, the
            // sum of those days (a deputy with events only keeps a row with no shift).
            let events_filter = in_list(backend, "ac.station_id", 1, chunk.len());
            conn.query(&format!(
                "INSERT INTO duty_days (day, deputy_id, station_id, shifts) \
                 SELECT u.day, u.deputy_id, u.station_id, SUM(u.shifts) FROM ( \
                     SELECT day, deputy_id, station_id, 1 AS shifts \
                     FROM attendance WHERE {filter} AND signed_in \
                     UNION ALL \
                     SELECT ac.day AS day, t.deputy_id AS deputy_id, \
                         ac.station_id AS station_id, 0 AS shifts \
                     FROM activities ac JOIN activity_attendees t ON t.activity_id = ac.id \
                     WHERE {events_filter} \
                 ) u GROUP BY u.day, u.deputy_id, u.station_id"
            ))
            .bind_list(&chunk)
            .execute()
            .await?;
            conn.query(&format!(
                "INSERT INTO duty_months (station_id, month, deputy_id, shifts) \
                 SELECT station_id, substr(day, 1, 7), deputy_id, SUM(shifts) FROM duty_days \
                 WHERE {filter} GROUP BY station_id, substr(day, 1, 7), deputy_id"
            ))
            .bind_list(&chunk)
            .execute()
            .await?;
            tx.commit().await?;
        }
        Ok(stations.len() as u64)
    }

    /// The `facts_version` the stored facts were derived with.
    pub async fn facts_version(&self) -> Result<i64, sqlx::Error> {
        self.acquire()
            .await?
            .query("SELECT value FROM server_meta WHERE key = 'facts_version'")
            .fetch_optional()
            .await?
            .map_or(Ok(0), |row| row.try_get("value"))
    }

    /// Rebuilds the facts of every opinion, and the `signed_in` column of every attendance
    /// record, when they were derived under an older [`FACTS_VERSION`] (see the module docs), in
    /// transactions of `batch` records. Returns the number of opinions walked, `None` when the
    /// facts were current. Run at startup by [`Db::open`] and [`Db::open_postgres`].
    pub async fn rebuild_facts_if_outdated(
        &self,
        batch: usize,
    ) -> Result<Option<u64>, sqlx::Error> {
        if self.facts_version().await? >= FACTS_VERSION {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let mut walked = 0u64;
        // Opinions (their facts), then attendance (its `signed_in`): the same walk by id.
        for table in ["opinions", "attendance"] {
            let sql = format!("SELECT id, state FROM {table} WHERE id > $1 ORDER BY id LIMIT $2");
            let mut after = String::new();
            loop {
                let mut tx = self.pool.begin(Begin::SyncWriter).await?;
                let mut conn = tx.conn();
                let rows = conn
                    .query(&sql)
                    .bind(after.as_str())
                    .bind(batch)
                    .fetch_all()
                    .await?;
                let Some(last) = rows.last() else {
                    break;
                };
                after = last.try_get("id")?;
                let mut states: Vec<(String, String)> = Vec::with_capacity(rows.len());
                for row in &rows {
                    states.push((row.try_get("id")?, row.try_get("state")?));
                }
                if table == "opinions" {
                    rewrite_opinion_facts(&mut conn, &states).await?;
                    walked += states.len() as u64;
                } else {
                    rewrite_signed_in(&mut conn, &states).await?;
                }
                tx.commit().await?;
            }
        }
        // The pushes during the walk kept the rollups, but of facts that may have been
        // missing or derived otherwise: counted again from the facts now written.
        self.rebuild_rollups(batch.clamp(1, 50) as usize).await?;
        self.acquire()
            .await?
            // Never lowers it: an older instance starting beside a newer one must not mark the
            // newer facts as old.
            .query("UPDATE server_meta SET value = $1 WHERE key = 'facts_version' AND value < $1")
            .bind(FACTS_VERSION)
            .execute()
            .await?;
        tracing::info!(
            opinions = walked,
            version = FACTS_VERSION,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "rebuilt the figures' facts"
        );
        Ok(Some(walked))
    }
}
