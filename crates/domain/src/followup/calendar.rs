//! Calendar dates and working days. Referral deadlines (办理时限) are counted in working days:
//! weekends and public holidays do not count, and the make-up working days that China moves
//! onto a weekend around a long holiday (调休) do. The list of both is configured by the office
//! (it changes every year); this module only does the arithmetic.
//!
//! A [`Date`] is a civil date without a time zone. Which day "now" is depends on where the
//! station is: [`Date::from_unix_ms`] takes the UTC offset, and [`CHINA_UTC_OFFSET_MINUTES`] is
//! the one every station uses.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// China Standard Time, UTC+8, all year.
pub const CHINA_UTC_OFFSET_MINUTES: i32 = 8 * 60;

/// A day of the proleptic Gregorian calendar, stored as days since 1970-01-01.
/// JSON and text form: `"2026-11-27"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days: i32,
}

/// Days of the week, Monday first as on a Chinese calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Date {
    /// The date of year, month (1–12) and day (1–31), if it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        if !(1..=9999).contains(&year) {
            return None;
        }
        Some(Date {
            days: days_from_civil(year, month, day),
        })
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.days)
    }

    /// The local date at `unix_ms` in a zone `utc_offset_minutes` east of UTC.
    pub fn from_unix_ms(unix_ms: i64, utc_offset_minutes: i32) -> Date {
        // Saturating: a corrupt time far from now still gives a (far) date, never an overflow.
        let local_ms = unix_ms.saturating_add(i64::from(utc_offset_minutes) * 60_000);
        let days = local_ms.div_euclid(86_400_000);
        Date {
            days: i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX }),
        }
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i32 {
        self.days
    }

    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        match (self.days + 3).rem_euclid(7) {
            0 => Weekday::Monday,
            1 => Weekday::Tuesday,
            2 => Weekday::Wednesday,
            3 => Weekday::Thursday,
            4 => Weekday::Friday,
            5 => Weekday::Saturday,
            _ => Weekday::Sunday,
        }
    }

    pub fn is_weekend(self) -> bool {
        matches!(self.weekday(), Weekday::Saturday | Weekday::Sunday)
    }

    /// The date `n` calendar days later (earlier for a negative `n`).
    pub fn add_days(self, n: i32) -> Date {
        Date {
            days: self.days.saturating_add(n),
        }
    }

    /// Calendar days from `self` to `other` (negative when `other` is earlier).
    pub fn days_until(self, other: Date) -> i32 {
        other.days - self.days
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.trim().splitn(3, '-');
        let year = parts.next()?;
        let month = parts.next()?;
        let day = parts.next()?;
        if year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return None;
        }
        Date::from_ymd(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Date::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a date (YYYY-MM-DD): {text}")))
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's `days_from_civil` and `civil_from_days`
// (http://howardhinnant.github.io/date_algorithms.html), exact for every Gregorian date.
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

/// The working-day calendar: Monday to Friday, minus the public holidays, plus the make-up
/// working days (调休) that fall on a weekend.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkCalendar {
    /// Days off that would otherwise be working days (法定节假日).
    #[serde(default)]
    pub holidays: BTreeSet<Date>,
    /// Weekend days that are working days (调休上班).
    #[serde(default)]
    pub make_up_working_days: BTreeSet<Date>,
}

/// The longest deadline this arithmetic will count to, in working days: ten years. A bound, so
/// that a bad input (or a calendar with every day a holiday) cannot loop for ever.
const MAX_SCAN_DAYS: i32 = 3660;

impl WorkCalendar {
    /// Monday to Friday, no holidays.
    pub fn weekdays_only() -> Self {
        WorkCalendar::default()
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        if self.make_up_working_days.contains(&date) {
            return true;
        }
        !date.is_weekend() && !self.holidays.contains(&date)
    }

    /// The `n`th working day after `start` (`start` itself does not count, whatever it is): an
    /// item referred on a Friday with 1 working day is due the next Monday. `n == 0` is `start`.
    /// Stops after ten years of calendar days (a calendar with no working days at all).
    pub fn add_working_days(&self, start: Date, n: u32) -> Date {
        let mut date = start;
        let mut left = n;
        let mut scanned = 0;
        while left > 0 && scanned < MAX_SCAN_DAYS {
            date = date.add_days(1);
            scanned += 1;
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        date
    }

    /// The working days in `(from, to]`: how many working days are left from `from` until `to`.
    /// Negative (the working days in `(to, from]`, negated) when `to` is earlier.
    pub fn working_days_between(&self, from: Date, to: Date) -> i32 {
        let (low, high, sign) = if from <= to {
            (from, to, 1)
        } else {
            (to, from, -1)
        };
        let span = low.days_until(high).min(MAX_SCAN_DAYS);
        let count = (1..=span)
            .filter(|d| self.is_working_day(low.add_days(*d)))
            .count() as i32;
        sign * count
    }
}

/// The three supervision colours (三色督办) of an item with a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineColour {
    /// On time (green).
    OnTime,
    /// Due within [`DUE_SOON_WORKING_DAYS`] working days (yellow).
    DueSoon,
    /// Past its deadline and not concluded (red).
    Overdue,
}

impl DeadlineColour {
    /// Code used in CSS classes and translation keys (`deadline.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            DeadlineColour::OnTime => "on_time",
            DeadlineColour::DueSoon => "due_soon",
            DeadlineColour::Overdue => "overdue",
        }
    }
}

/// How close to its deadline an item turns yellow: this many working days or fewer left.
pub const DUE_SOON_WORKING_DAYS: i32 = 3;

/// The colour of an item due on `due`, seen on `today`. An item is overdue from the day after its
/// deadline; the deadline day itself is "due soon".
pub fn deadline_colour(calendar: &WorkCalendar, today: Date, due: Date) -> DeadlineColour {
    if today > due {
        DeadlineColour::Overdue
    } else if calendar.working_days_between(today, due) <= DUE_SOON_WORKING_DAYS {
        DeadlineColour::DueSoon
    } else {
        DeadlineColour::OnTime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    /// National Day 2026 as a test calendar: 1–7 October off, Saturday 10 October worked.
    fn national_day() -> WorkCalendar {
        WorkCalendar {
            holidays: (1..=7)
                .map(|day| Date::from_ymd(2026, 10, day).unwrap())
                .collect(),
            make_up_working_days: [d("2026-10-10")].into_iter().collect(),
        }
    }

    #[test]
    fn dates_round_trip_through_days_and_text() {
        for days in -800_000..800_000 {
            if days % 997 != 0 {
                continue;
            }
            let date = Date { days };
            let (y, m, dd) = date.ymd();
            assert_eq!(Date::from_ymd(y, m, dd), Some(date).filter(|_| y >= 1));
        }
        assert_eq!(d("1970-01-01").days_since_epoch(), 0);
        assert_eq!(d("2000-03-01").days_since_epoch(), 11_017);
        assert_eq!(d("2024-02-29").to_string(), "2024-02-29");
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2026-13-01"), None);
        assert_eq!(Date::parse("2026-1-01"), None);
        assert_eq!(Date::parse("yesterday"), None);
        assert_eq!(
            serde_json::to_string(&d("2026-11-27")).unwrap(),
            "\"2026-11-27\""
        );
        assert!(serde_json::from_str::<Date>("\"2026-02-30\"").is_err());
    }

    #[test]
    fn weekdays_and_the_local_day_in_china() {
        assert_eq!(d("1970-01-01").weekday(), Weekday::Thursday);
        assert_eq!(d("2026-11-27").weekday(), Weekday::Friday);
        assert_eq!(d("2026-11-29").weekday(), Weekday::Sunday);
        // 2026-11-27 16:30 UTC is already the 28th in Beijing.
        let ms = 1_795_797_000_000;
        assert_eq!(Date::from_unix_ms(ms, 0), d("2026-11-27"));
        assert_eq!(
            Date::from_unix_ms(ms, CHINA_UTC_OFFSET_MINUTES),
            d("2026-11-28")
        );
        // A nonsense time does not overflow.
        let far = Date::from_unix_ms(i64::MAX, CHINA_UTC_OFFSET_MINUTES);
        assert!(far > d("9999-12-31") || far.days_since_epoch() == i32::MAX);
        let _ = Date::from_unix_ms(i64::MIN, -CHINA_UTC_OFFSET_MINUTES);
    }

    #[test]
    fn working_days_skip_weekends() {
        let cal = WorkCalendar::weekdays_only();
        // Friday + 1 working day = Monday.
        assert_eq!(cal.add_working_days(d("2026-11-27"), 1), d("2026-11-30"));
        // Friday + 5 = the next Friday.
        assert_eq!(cal.add_working_days(d("2026-11-27"), 5), d("2026-12-04"));
        // Referred on a Saturday, 1 working day: Monday.
        assert_eq!(cal.add_working_days(d("2026-11-28"), 1), d("2026-11-30"));
        assert_eq!(cal.add_working_days(d("2026-11-28"), 0), d("2026-11-28"));
        assert_eq!(
            cal.working_days_between(d("2026-11-27"), d("2026-12-04")),
            5
        );
        assert_eq!(
            cal.working_days_between(d("2026-12-04"), d("2026-11-27")),
            -5
        );
        assert_eq!(
            cal.working_days_between(d("2026-11-28"), d("2026-11-29")),
            0
        );
    }

    #[test]
    fn working_days_skip_public_holidays_and_count_make_up_days() {
        let cal = national_day();
        assert!(!cal.is_working_day(d("2026-10-01")), "a Thursday holiday");
        assert!(cal.is_working_day(d("2026-10-10")), "a Saturday worked");
        assert!(!cal.is_working_day(d("2026-10-11")), "an ordinary Sunday");
        // Referred Wednesday 30 September with 3 working days: 8 Oct (Thu), 9 Oct (Fri),
        // 10 Oct (the make-up Saturday).
        assert_eq!(cal.add_working_days(d("2026-09-30"), 3), d("2026-10-10"));
        // Without the calendar it would have been due on Monday 5 October.
        assert_eq!(
            WorkCalendar::weekdays_only().add_working_days(d("2026-09-30"), 3),
            d("2026-10-05")
        );
        assert_eq!(
            cal.working_days_between(d("2026-09-30"), d("2026-10-12")),
            4
        );
    }

    #[test]
    fn a_calendar_without_working_days_does_not_hang() {
        let mut cal = WorkCalendar::weekdays_only();
        let start = d("2026-01-01");
        cal.holidays = (0..4000).map(|n| start.add_days(n)).collect();
        let due = cal.add_working_days(start, 10);
        assert!(due > start);
    }

    #[test]
    fn deadline_colours() {
        let cal = WorkCalendar::weekdays_only();
        let due = d("2026-12-04"); // a Friday
        assert_eq!(
            deadline_colour(&cal, d("2026-11-27"), due),
            DeadlineColour::OnTime
        );
        assert_eq!(
            deadline_colour(&cal, d("2026-12-01"), due),
            DeadlineColour::DueSoon
        );
        assert_eq!(deadline_colour(&cal, due, due), DeadlineColour::DueSoon);
        assert_eq!(
            deadline_colour(&cal, d("2026-12-05"), due),
            DeadlineColour::Overdue
        );
    }
}
