//! The figures the congress reports ("收集意见建议195件，现场答复解决152件"), each defined once.
//!
//! A figure is counted over a **period** (civil days in China time, both ends included) and a set
//! of stations (the scope the reader chose, within what they may read), optionally broken down by
//! station, category, deputy, handling unit, month or day.
//!
//! The definitions are in [`Figure::definition_en`] / [`Figure::definition_zh`] (shown in the
//! dashboard's legend and written out in `docs/figures.md`) and, as code, in [`count`]: the
//! in-memory counter the tablet uses for its offline station figures. The server counts the same
//! figures with SQL aggregates over the [`OpinionFacts`] it keeps per opinion; its tests check the
//! SQL against [`count`] on the same data, so the two cannot drift apart.
//!
//! Flow figures are dated by the event they count (an opinion collected in January and referred in
//! February counts as collected in January and referred in February), so a published period's
//! figures do not change when later steps happen, with one exception said in [`Figure::Overdue`].

use crate::followup::calendar::{CHINA_UTC_OFFSET_MINUTES, Date};
use crate::followup::lifecycle::{Action, Evaluation, FollowUp, Lifecycle, StatusKind};
use crate::ids::{DeputyId, OpinionId, StationId, UnitId};
use crate::opinion::{Opinion, Outcome};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One reported figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// 进站代表: distinct deputies who signed in at a station, or attended a station event, in
    /// the period.
    DeputiesOnDuty,
    /// 值班人次: attendance records with a sign-in (one deputy, one station, one day) in the period.
    DutyShifts,
    /// 接待群众人次: one per opinion collected, plus the citizens recorded as received at the
    /// station's events, in the period.
    CitizensReceived,
    /// 收集意见建议: opinions recorded in the period (by the day they were recorded; deleted
    /// records do not count).
    OpinionsCollected,
    /// 现场答复: of those, the ones whose intake decision is "answered on the spot".
    AnsweredOnTheSpot,
    /// 交办: opinions referred to a handling unit for the first time in the period (a re-referral
    /// after a return or a reopening does not count again).
    Referred,
    /// 办结: opinions concluded for the first time in the period (by a unit or by the deputy).
    Concluded,
    /// 超期: referred opinions that were held past their deadline on some day of the period up to
    /// today: the deadline of their latest referral (after extensions) had passed and they were
    /// not yet concluded. An item concluded late counts in the periods it was late in. Only this
    /// figure can grow for a past period when an item is re-referred after the period.
    Overdue,
    /// 办理率: of the opinions referred in the period, the share concluded by the period's end.
    HandlingRate,
    /// 满意率: of the opinions evaluated in the period, the share whose latest evaluation in the
    /// period is satisfied or basically satisfied (an item reopened after a dissatisfied
    /// evaluation and then evaluated satisfied counts once, as satisfied).
    SatisfactionRate,
}

impl Figure {
    pub const ALL: [Figure; 10] = [
        Figure::DeputiesOnDuty,
        Figure::DutyShifts,
        Figure::CitizensReceived,
        Figure::OpinionsCollected,
        Figure::AnsweredOnTheSpot,
        Figure::Referred,
        Figure::Concluded,
        Figure::Overdue,
        Figure::HandlingRate,
        Figure::SatisfactionRate,
    ];

    /// Stable code: JSON, translation keys (`figure.<code>`), CSV and xlsx column ids.
    pub fn code(self) -> &'static str {
        match self {
            Figure::DeputiesOnDuty => "deputies_on_duty",
            Figure::DutyShifts => "duty_shifts",
            Figure::CitizensReceived => "citizens_received",
            Figure::OpinionsCollected => "opinions_collected",
            Figure::AnsweredOnTheSpot => "answered_on_the_spot",
            Figure::Referred => "referred",
            Figure::Concluded => "concluded",
            Figure::Overdue => "overdue",
            Figure::HandlingRate => "handling_rate",
            Figure::SatisfactionRate => "satisfaction_rate",
        }
    }

    /// The heading used in exports and printed reports.
    pub fn name_zh(self) -> &'static str {
        match self {
            Figure::DeputiesOnDuty => "进站代表（人）",
            Figure::DutyShifts => "值班（人次）",
            Figure::CitizensReceived => "接待群众（人次）",
            Figure::OpinionsCollected => "收集意见建议（件）",
            Figure::AnsweredOnTheSpot => "现场答复（件）",
            Figure::Referred => "交办（件）",
            Figure::Concluded => "办结（件）",
            Figure::Overdue => "超期（件）",
            Figure::HandlingRate => "办理率",
            Figure::SatisfactionRate => "满意率",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Figure::DeputiesOnDuty => "Deputies on duty",
            Figure::DutyShifts => "Duty shifts",
            Figure::CitizensReceived => "Citizens received",
            Figure::OpinionsCollected => "Opinions collected",
            Figure::AnsweredOnTheSpot => "Answered on the spot",
            Figure::Referred => "Referred",
            Figure::Concluded => "Concluded",
            Figure::Overdue => "Overdue",
            Figure::HandlingRate => "Handling rate",
            Figure::SatisfactionRate => "Satisfaction rate",
        }
    }

    /// The definition, as the dashboard's legend and the docs give it.
    pub fn definition_zh(self) -> &'static str {
        match self {
            Figure::DeputiesOnDuty => {
                "期间内在联络站签到或参加联络站活动的代表人数（同一代表只计一次）。"
            }
            Figure::DutyShifts => "期间内的值班签到记录数（一名代表在一个联络站一天计一人次）。",
            Figure::CitizensReceived => {
                "期间内登记的每件意见建议计一人次，加上联络站活动登记的接待群众人次。"
            }
            Figure::OpinionsCollected => "期间内登记的意见建议件数（按登记日期；已删除的不计）。",
            Figure::AnsweredOnTheSpot => "期间内登记、登记时处理方式为“现场答复”的件数。",
            Figure::Referred => "期间内首次交办承办单位的件数（退回或重办后再次交办不重复计）。",
            Figure::Concluded => "期间内首次办结的件数（承办单位办结或代表自行办结）。",
            Figure::Overdue => {
                "期间内（截至今天）曾超过最近一次交办时限（含延期）仍未办结的件数；逾期办结的也计入。"
            }
            Figure::HandlingRate => "期间内交办的件数中，至期末已办结的比例。",
            Figure::SatisfactionRate => {
                "期间内有评价的件数中，期间内最近一次评价为“满意”或“基本满意”的比例。"
            }
        }
    }

    pub fn definition_en(self) -> &'static str {
        match self {
            Figure::DeputiesOnDuty => {
                "Distinct deputies who signed in at a station or attended a station event in the period."
            }
            Figure::DutyShifts => {
                "Duty sign-ins in the period: one deputy signed in at one station on one day counts one."
            }
            Figure::CitizensReceived => {
                "One per opinion recorded in the period, plus the citizens recorded as received at station events."
            }
            Figure::OpinionsCollected => {
                "Opinions recorded in the period, by the day they were recorded; deleted records do not count."
            }
            Figure::AnsweredOnTheSpot => {
                "Opinions recorded in the period whose intake decision is \"answered on the spot\"."
            }
            Figure::Referred => {
                "Opinions referred to a handling unit for the first time in the period; re-referrals do not count again."
            }
            Figure::Concluded => {
                "Opinions concluded for the first time in the period, by a unit or by the deputy."
            }
            Figure::Overdue => {
                "Opinions held past the deadline of their latest referral (after extensions) on some day of the period up to today; those concluded late count too."
            }
            Figure::HandlingRate => {
                "Of the opinions referred in the period, the share concluded by the end of the period."
            }
            Figure::SatisfactionRate => {
                "Of the opinions evaluated in the period, the share whose latest evaluation in the period is satisfied or basically satisfied."
            }
        }
    }

    /// Whether the figure has a meaning in a breakdown by `by`: attendance and events belong to
    /// stations, deputies and days, not to categories or units; the opinions' figures are
    /// unknown per unit until they are referred.
    pub fn applies_to(self, by: Breakdown) -> bool {
        match self {
            Figure::DeputiesOnDuty | Figure::DutyShifts | Figure::CitizensReceived => {
                !matches!(by, Breakdown::Category | Breakdown::Unit)
            }
            Figure::OpinionsCollected | Figure::AnsweredOnTheSpot => by != Breakdown::Unit,
            _ => true,
        }
    }

    pub fn is_rate(self) -> bool {
        matches!(self, Figure::HandlingRate | Figure::SatisfactionRate)
    }
}

/// The definitions as a Markdown table, written into `docs/figures.md` (a test keeps the file in
/// step with this code, so the written definitions are these and no others).
pub fn definitions_markdown() -> String {
    let mut out =
        String::from("| 指标 | Figure | 口径 | Definition |\n| --- | --- | --- | --- |\n");
    for figure in Figure::ALL {
        out.push_str(&format!(
            "| {} | {} (`{}`) | {} | {} |\n",
            figure.name_zh(),
            figure.name_en(),
            figure.code(),
            figure.definition_zh(),
            figure.definition_en(),
        ));
    }
    out
}

/// How a report is broken down (drill-down).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    Station,
    Category,
    Deputy,
    /// The unit of the opinion's latest referral.
    Unit,
    /// Calendar months (`YYYY-MM`), for figures over time.
    Month,
    /// Days (`YYYY-MM-DD`).
    Day,
}

impl Breakdown {
    pub const ALL: [Breakdown; 6] = [
        Breakdown::Station,
        Breakdown::Category,
        Breakdown::Deputy,
        Breakdown::Unit,
        Breakdown::Month,
        Breakdown::Day,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Breakdown::Station => "station",
            Breakdown::Category => "category",
            Breakdown::Deputy => "deputy",
            Breakdown::Unit => "unit",
            Breakdown::Month => "month",
            Breakdown::Day => "day",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Breakdown::ALL.into_iter().find(|b| b.code() == code)
    }
}

/// A period of civil days, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: Date,
    pub to: Date,
}

/// Why a period is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period ends before it starts")]
    EndsBeforeStart,
    #[error("the period is longer than {} days", Period::MAX_DAYS)]
    TooLong,
    #[error("the period's dates must be between 1900 and 9998")]
    OutOfRange,
}

impl Period {
    /// Ten years: more is a typing error, and would make a daily breakdown enormous.
    pub const MAX_DAYS: i32 = 3660;

    pub fn new(from: Date, to: Date) -> Result<Period, PeriodError> {
        // The last month's bucket ends the day before the next month starts, which must exist.
        let in_range = |d: Date| (1900..=9998).contains(&d.ymd().0);
        if !in_range(from) || !in_range(to) {
            return Err(PeriodError::OutOfRange);
        }
        if to < from {
            return Err(PeriodError::EndsBeforeStart);
        }
        if from.days_until(to) >= Period::MAX_DAYS {
            return Err(PeriodError::TooLong);
        }
        Ok(Period { from, to })
    }

    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && day <= self.to
    }

    /// The last day that has happened: the period's end, or `today` if that is sooner.
    pub fn as_of(&self, today: Date) -> Date {
        self.to.min(today)
    }
}

/// The counts behind the figures; the two rates are derived from them ([`Figures::rate`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub deputies_on_duty: u64,
    pub duty_shifts: u64,
    pub citizens_received: u64,
    pub opinions_collected: u64,
    pub answered_on_the_spot: u64,
    pub referred: u64,
    pub concluded: u64,
    pub overdue: u64,
    /// Numerator of the handling rate: referred in the period and concluded by its end.
    pub referred_and_concluded: u64,
    /// Denominator of the satisfaction rate.
    pub evaluated: u64,
    /// Numerator of the satisfaction rate.
    pub satisfied: u64,
}

impl Figures {
    /// A count figure's value, or a rate's numerator and denominator for rates.
    pub fn count(&self, figure: Figure) -> u64 {
        match figure {
            Figure::DeputiesOnDuty => self.deputies_on_duty,
            Figure::DutyShifts => self.duty_shifts,
            Figure::CitizensReceived => self.citizens_received,
            Figure::OpinionsCollected => self.opinions_collected,
            Figure::AnsweredOnTheSpot => self.answered_on_the_spot,
            Figure::Referred => self.referred,
            Figure::Concluded => self.concluded,
            Figure::Overdue => self.overdue,
            Figure::HandlingRate => self.referred_and_concluded,
            Figure::SatisfactionRate => self.satisfied,
        }
    }

    /// A rate as a fraction in `0.0..=1.0`; `None` when nothing was referred (or evaluated), which
    /// the UI shows as "—", never as 0 % or 100 %.
    pub fn rate(&self, figure: Figure) -> Option<f64> {
        let (numerator, denominator) = match figure {
            Figure::HandlingRate => (self.referred_and_concluded, self.referred),
            Figure::SatisfactionRate => (self.satisfied, self.evaluated),
            _ => return None,
        };
        (denominator > 0).then(|| numerator as f64 / denominator as f64)
    }

    /// A figure as people read it: a count, or a rate in percent with one decimal
    /// (`"78.9%"`), or `"—"` for a rate over nothing.
    pub fn display(&self, figure: Figure) -> String {
        if figure.is_rate() {
            match self.rate(figure) {
                Some(rate) => format!("{:.1}%", rate * 100.0),
                None => "—".to_owned(),
            }
        } else {
            self.count(figure).to_string()
        }
    }
}

/// What the figures need to know about one opinion, derived from its record and its steps by
/// [`OpinionFacts::derive`]. The server stores one row of these per opinion (indexed, so that
/// figures are database aggregates); the tablet derives them from its local data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpinionFacts {
    pub opinion_id: OpinionId,
    pub station_id: StationId,
    pub deputy_id: DeputyId,
    pub category: String,
    /// The day it was recorded.
    pub collected: Date,
    pub answered_on_the_spot: bool,
    pub first_referred: Option<Date>,
    /// The unit of the latest referral.
    pub unit_id: Option<UnitId>,
    /// The deadline of the latest referral, after extensions (kept after it concluded).
    pub due: Option<Date>,
    /// When the latest referral ended: concluded, or returned by the unit (退回); `None` while a
    /// unit still holds it.
    pub due_concluded: Option<Date>,
    pub first_concluded: Option<Date>,
    /// Every evaluation, in order: its day and whether it counts as satisfied.
    pub evaluations: Vec<(Date, bool)>,
    pub status: StatusKind,
}

/// A day in China time from a device or server timestamp.
pub fn day_of(at_ms: u64) -> Date {
    Date::from_unix_ms(
        i64::try_from(at_ms).unwrap_or(i64::MAX),
        CHINA_UTC_OFFSET_MINUTES,
    )
}

impl OpinionFacts {
    /// The facts of an opinion after `steps` (in order). Steps the lifecycle refuses (an unsynced
    /// step on a tablet that another device overtook) are skipped, as [`Lifecycle::replay`] does.
    pub fn derive<'a>(
        opinion: &Opinion,
        steps: impl IntoIterator<Item = &'a FollowUp>,
    ) -> OpinionFacts {
        let mut lifecycle = Lifecycle::at_intake(&opinion.outcome);
        let mut facts = OpinionFacts {
            opinion_id: opinion.id,
            station_id: opinion.station_id.clone(),
            deputy_id: opinion.deputy_id.clone(),
            category: opinion.category.clone(),
            collected: day_of(opinion.created_at_ms),
            answered_on_the_spot: opinion.outcome == Outcome::AnsweredOnSpot,
            first_referred: None,
            unit_id: None,
            due: None,
            due_concluded: None,
            first_concluded: None,
            evaluations: Vec::new(),
            status: lifecycle.status.kind(),
        };
        for step in steps {
            if lifecycle.apply(step).is_err() {
                continue;
            }
            let day = day_of(step.at_ms);
            match &step.action {
                Action::Refer { unit_id, due, .. } => {
                    facts.first_referred.get_or_insert(day);
                    facts.unit_id = Some(unit_id.clone());
                    facts.due = Some(*due);
                    facts.due_concluded = None;
                }
                Action::Extend { due, .. } => facts.due = Some(*due),
                // Sent back: no unit holds it until the next referral, so it is not overdue.
                Action::Return { .. } => {
                    facts.due_concluded.get_or_insert(day);
                }
                Action::Conclude { .. } => {
                    facts.first_concluded.get_or_insert(day);
                    if facts.due.is_some() && facts.due_concluded.is_none() {
                        facts.due_concluded = Some(day);
                    }
                }
                Action::Evaluate { evaluation, .. } => facts
                    .evaluations
                    .push((day, *evaluation != Evaluation::Dissatisfied)),
                _ => {}
            }
        }
        facts.status = lifecycle.status.kind();
        facts
    }

    /// Whether the latest referral was past its deadline, not yet concluded, on some day of
    /// `period` up to `today` ([`Figure::Overdue`]). Overdue on day `d` means `due < d` and not
    /// concluded before `d`.
    pub fn overdue_in(&self, period: &Period, today: Date) -> bool {
        let Some(due) = self.due else {
            return false;
        };
        let as_of = period.as_of(today);
        // The first overdue day of the period, and the last day it was held.
        let first = period.from.max(due.add_days(1));
        let last = self.due_concluded.map_or(as_of, |c| c.min(as_of));
        first <= last
    }

    /// Its latest evaluation within `period`, if any: whether it counts as satisfied.
    pub fn latest_evaluation_in(&self, period: &Period) -> Option<bool> {
        self.evaluations
            .iter()
            .rev()
            .find(|(day, _)| period.contains(*day))
            .map(|(_, satisfied)| *satisfied)
    }
}

/// One deputy's duty shift at one station on one day ([`AttendanceFact::of`] an
/// [`Attendance`](crate::followup::Attendance) record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceFact {
    pub station_id: StationId,
    pub deputy_id: DeputyId,
    pub day: Date,
}

impl AttendanceFact {
    /// A duty shift is an attendance record with a sign-in: a sign-out alone (the deputy signed
    /// in on paper, or on a tablet whose record never arrived) is not counted until the sign-in
    /// arrives. `None` for a record without one.
    pub fn of(attendance: &crate::followup::Attendance) -> Option<AttendanceFact> {
        attendance.signed_in_at_ms.map(|_| AttendanceFact {
            station_id: attendance.key.station_id.clone(),
            deputy_id: attendance.key.deputy_id.clone(),
            day: attendance.key.day,
        })
    }
}

/// What the figures need to know about a station event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityFact {
    pub station_id: StationId,
    pub day: Date,
    pub citizens_received: u32,
    pub attendees: Vec<DeputyId>,
}

/// Everything counted, in memory: the tablet's offline figures, and the reference the server's
/// SQL is tested against. The caller has already narrowed the inputs to the stations in scope.
pub fn count(
    opinions: &[OpinionFacts],
    attendance: &[AttendanceFact],
    activities: &[ActivityFact],
    period: &Period,
    today: Date,
) -> Figures {
    let mut figures = Figures::default();
    let mut deputies: BTreeSet<&DeputyId> = BTreeSet::new();
    for a in attendance.iter().filter(|a| period.contains(a.day)) {
        figures.duty_shifts += 1;
        deputies.insert(&a.deputy_id);
    }
    for event in activities.iter().filter(|e| period.contains(e.day)) {
        figures.citizens_received += u64::from(event.citizens_received);
        deputies.extend(event.attendees.iter());
    }
    figures.deputies_on_duty = deputies.len() as u64;
    for o in opinions {
        if period.contains(o.collected) {
            figures.opinions_collected += 1;
            figures.citizens_received += 1;
            if o.answered_on_the_spot {
                figures.answered_on_the_spot += 1;
            }
        }
        if o.first_referred.is_some_and(|d| period.contains(d)) {
            figures.referred += 1;
            if o.first_concluded.is_some_and(|c| c <= period.to) {
                figures.referred_and_concluded += 1;
            }
        }
        if o.first_concluded.is_some_and(|d| period.contains(d)) {
            figures.concluded += 1;
        }
        if o.overdue_in(period, today) {
            figures.overdue += 1;
        }
        if let Some(satisfied) = o.latest_evaluation_in(period) {
            figures.evaluated += 1;
            figures.satisfied += u64::from(satisfied);
        }
    }
    figures
}

/// The key of a breakdown row: a station, category, deputy or unit id, a month (`YYYY-MM`) or a
/// day (`YYYY-MM-DD`).
pub type BreakdownKey = String;

/// [`count`] per breakdown key. Each figure is counted where it belongs: an opinion's collection in
/// the month it was collected, its referral in the month it was referred. A figure that does not
/// apply to the breakdown ([`Figure::applies_to`]) is left at zero.
pub fn count_by(
    by: Breakdown,
    opinions: &[OpinionFacts],
    attendance: &[AttendanceFact],
    activities: &[ActivityFact],
    period: &Period,
    today: Date,
) -> BTreeMap<BreakdownKey, Figures> {
    let mut rows: BTreeMap<BreakdownKey, Figures> = BTreeMap::new();
    match by {
        Breakdown::Month | Breakdown::Day => {
            // Over time: each bucket is a period of its own, clipped to the report's.
            for bucket in buckets(by, period) {
                let figures = count(opinions, attendance, activities, &bucket, today);
                rows.insert(bucket_key(by, bucket.from), figures);
            }
        }
        Breakdown::Station | Breakdown::Deputy => {
            let mut keys: BTreeSet<String> = BTreeSet::new();
            let key_of_opinion = |o: &OpinionFacts| match by {
                Breakdown::Station => o.station_id.0.clone(),
                _ => o.deputy_id.0.clone(),
            };
            keys.extend(opinions.iter().map(key_of_opinion));
            keys.extend(attendance.iter().map(|a| match by {
                Breakdown::Station => a.station_id.0.clone(),
                _ => a.deputy_id.0.clone(),
            }));
            for event in activities {
                match by {
                    Breakdown::Station => {
                        keys.insert(event.station_id.0.clone());
                    }
                    _ => keys.extend(event.attendees.iter().map(|d| d.0.clone())),
                }
            }
            for key in keys {
                let opinions: Vec<OpinionFacts> = opinions
                    .iter()
                    .filter(|o| key_of_opinion(o) == key)
                    .cloned()
                    .collect();
                let attendance: Vec<AttendanceFact> = attendance
                    .iter()
                    .filter(|a| match by {
                        Breakdown::Station => a.station_id.0 == key,
                        _ => a.deputy_id.0 == key,
                    })
                    .cloned()
                    .collect();
                let activities: Vec<ActivityFact> = activities
                    .iter()
                    .filter_map(|e| match by {
                        Breakdown::Station => (e.station_id.0 == key).then(|| e.clone()),
                        // Per deputy: the events they attended count toward their days on
                        // duty; the event's citizens belong to the station, not to a deputy.
                        _ => e
                            .attendees
                            .iter()
                            .any(|d| d.0 == key)
                            .then(|| ActivityFact {
                                citizens_received: 0,
                                attendees: vec![DeputyId(key.clone())],
                                ..e.clone()
                            }),
                    })
                    .collect();
                let figures = count(&opinions, &attendance, &activities, period, today);
                if figures != Figures::default() {
                    rows.insert(key, figures);
                }
            }
        }
        Breakdown::Category | Breakdown::Unit => {
            let mut groups: BTreeMap<String, Vec<OpinionFacts>> = BTreeMap::new();
            for o in opinions {
                let key = match by {
                    Breakdown::Category => Some(o.category.clone()),
                    _ => o.unit_id.as_ref().map(|u| u.0.clone()),
                };
                if let Some(key) = key {
                    groups.entry(key).or_default().push(o.clone());
                }
            }
            for (key, group) in groups {
                let mut figures = count(&group, &[], &[], period, today);
                if by == Breakdown::Unit {
                    figures.opinions_collected = 0;
                    figures.answered_on_the_spot = 0;
                }
                figures.citizens_received = 0;
                if figures != Figures::default() {
                    rows.insert(key, figures);
                }
            }
        }
    }
    rows
}

/// The months or days of `period` as periods of their own, clipped to it.
pub fn buckets(by: Breakdown, period: &Period) -> Vec<Period> {
    let mut out = Vec::new();
    let mut from = period.from;
    while from <= period.to {
        let next = match by {
            Breakdown::Day => from.add_days(1),
            _ => {
                let (y, m, _) = from.ymd();
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                Date::from_ymd(y, m, 1).expect("the first of a month exists")
            }
        };
        out.push(Period {
            from,
            to: next.add_days(-1).min(period.to),
        });
        from = next;
    }
    out
}

/// The row key of the bucket starting on `day`.
pub fn bucket_key(by: Breakdown, day: Date) -> BreakdownKey {
    match by {
        Breakdown::Day => day.to_string(),
        _ => {
            let (y, m, _) = day.ymd();
            format!("{y:04}-{m:02}")
        }
    }
}

/// What the dashboard asks the server (`GET /api/v1/figures`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureQuery {
    /// A region (with everything under it) or a station; `None`: everything the reader may read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<crate::account::Scope>,
    pub from: Date,
    pub to: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Breakdown>,
}

/// One breakdown row: its key, a label people read (a station's or unit's name), its figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureRow {
    pub key: BreakdownKey,
    pub label: String,
    pub figures: Figures,
}

/// The answer: totals over the whole scope (not the sum of the rows: a deputy on duty at two
/// stations is one deputy) and the rows of the breakdown, if one was asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureReport {
    pub period: Period,
    /// The day "today" was when counted (for [`Figure::Overdue`]).
    pub today: Date,
    pub total: Figures,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Breakdown>,
    #[serde(default)]
    pub rows: Vec<FigureRow>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Date {
        Date::parse(text).expect("valid date")
    }

    fn facts() -> OpinionFacts {
        OpinionFacts {
            opinion_id: OpinionId::new_v7(1, [0; 10]),
            station_id: StationId("s".into()),
            deputy_id: DeputyId("d".into()),
            category: "parking".into(),
            collected: d("2026-03-02"),
            answered_on_the_spot: false,
            first_referred: Some(d("2026-03-02")),
            unit_id: Some(UnitId("u".into())),
            due: Some(d("2026-03-06")),
            due_concluded: None,
            first_concluded: None,
            evaluations: vec![],
            status: StatusKind::Referred,
        }
    }

    #[test]
    fn overdue_starts_the_day_after_the_deadline() {
        let o = facts();
        let march = Period::new(d("2026-03-01"), d("2026-03-31")).unwrap();
        // Due Friday 6 March: not overdue on the Friday, overdue from Saturday (a weekend day).
        assert!(!o.overdue_in(&march, d("2026-03-06")));
        assert!(o.overdue_in(&march, d("2026-03-07")));
        let first_week = Period::new(d("2026-03-01"), d("2026-03-06")).unwrap();
        assert!(!o.overdue_in(&first_week, d("2026-04-01")));
        let weekend = Period::new(d("2026-03-07"), d("2026-03-08")).unwrap();
        assert!(o.overdue_in(&weekend, d("2026-04-01")));
    }

    #[test]
    fn concluded_late_counts_only_in_the_periods_it_was_late_in() {
        let o = OpinionFacts {
            due_concluded: Some(d("2026-03-10")),
            first_concluded: Some(d("2026-03-10")),
            ..facts()
        };
        let march = Period::new(d("2026-03-01"), d("2026-03-31")).unwrap();
        assert!(o.overdue_in(&march, d("2026-05-01")));
        let april = Period::new(d("2026-04-01"), d("2026-04-30")).unwrap();
        assert!(!o.overdue_in(&april, d("2026-05-01")));
        let on_time = OpinionFacts {
            due_concluded: Some(d("2026-03-06")),
            ..o
        };
        assert!(!on_time.overdue_in(&march, d("2026-05-01")));
    }

    #[test]
    fn the_latest_evaluation_in_the_period_counts() {
        let o = OpinionFacts {
            evaluations: vec![(d("2026-03-10"), false), (d("2026-04-10"), true)],
            ..facts()
        };
        let march = Period::new(d("2026-03-01"), d("2026-03-31")).unwrap();
        let spring = Period::new(d("2026-03-01"), d("2026-05-31")).unwrap();
        assert_eq!(o.latest_evaluation_in(&march), Some(false));
        assert_eq!(o.latest_evaluation_in(&spring), Some(true));
    }

    #[test]
    fn rates_over_nothing_are_not_numbers() {
        let f = Figures::default();
        assert_eq!(f.display(Figure::HandlingRate), "—");
        let f = Figures {
            referred: 3,
            referred_and_concluded: 2,
            ..Figures::default()
        };
        assert_eq!(f.display(Figure::HandlingRate), "66.7%");
    }

    #[test]
    fn months_are_clipped_to_the_period() {
        let p = Period::new(d("2026-01-15"), d("2026-03-03")).unwrap();
        let months = buckets(Breakdown::Month, &p);
        assert_eq!(months.len(), 3);
        assert_eq!(months[0].to, d("2026-01-31"));
        assert_eq!(months[2].from, d("2026-03-01"));
        assert_eq!(months[2].to, d("2026-03-03"));
        assert_eq!(bucket_key(Breakdown::Month, months[1].from), "2026-02");
    }

    #[test]
    fn periods_are_checked() {
        assert_eq!(
            Period::new(d("2026-02-01"), d("2026-01-01")),
            Err(PeriodError::EndsBeforeStart)
        );
        assert!(Period::new(d("2020-01-01"), d("2029-12-31")).is_ok());
        assert_eq!(
            Period::new(d("2000-01-01"), d("2026-01-01")),
            Err(PeriodError::TooLong)
        );
        assert_eq!(
            Period::new(d("9999-12-01"), d("9999-12-31")),
            Err(PeriodError::OutOfRange)
        );
        assert_eq!(
            Period::new(d("1899-12-01"), d("1900-01-31")),
            Err(PeriodError::OutOfRange)
        );
        let last = Period::new(d("9998-12-01"), d("9998-12-31")).unwrap();
        assert_eq!(buckets(Breakdown::Month, &last).len(), 1);
    }
}
