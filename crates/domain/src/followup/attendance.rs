//! Duty attendance (出勤登记), the duty roster (值班表) and station events (活动: collective
//! receptions, inspections, surveys) with their attendees.
//!
//! Attendance is recorded on the shared tablet, offline: a deputy signs in when the shift starts
//! and out when it ends. Two tablets at the same station may both record the same deputy's
//! shift (the deputy signs in on one, the staff on another), so an attendance record is keyed by
//! what it is about, `(station, deputy, day)`, never by a random id, and its marks merge: the
//! earliest sign-in and the latest sign-out win. That is commutative and idempotent, so every
//! replica that has seen the same marks shows the same attendance, and there is one record per
//! deputy per day however many tablets recorded it.

use crate::error::{Field, FieldError, ValidationErrors};
use crate::followup::calendar::{CHINA_UTC_OFFSET_MINUTES, Date};
use crate::ids::{DeputyId, StationId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What an attendance record is about: one deputy's duty at one station on one day.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AttendanceKey {
    pub station_id: StationId,
    pub deputy_id: DeputyId,
    pub day: Date,
}

impl AttendanceKey {
    /// The record's id in storage and in the mutation log: `station|deputy|day`. Station and
    /// deputy ids are assigned by the server and never contain `|`.
    pub fn id(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for AttendanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}|{}", self.station_id, self.deputy_id, self.day)
    }
}

/// Signing in or out of a duty shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mark {
    SignIn,
    SignOut,
}

/// One sign-in or sign-out, as the tablet recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceMark {
    #[serde(flatten)]
    pub key: AttendanceKey,
    pub mark: Mark,
    /// The tablet's clock when it was recorded (milliseconds since the epoch).
    pub at_ms: u64,
}

/// Why a mark is refused. Stable codes; the UI translates `attendance.<code>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceError {
    /// The mark's time is not on its day (in China's time zone), give or take a day for a tablet
    /// whose clock is off.
    #[error("the time of the mark is not on the day it is for")]
    WrongDay,
}

impl AttendanceMark {
    /// A mark's time must fall on its day, allowing a day either way for a wrong tablet clock.
    pub fn validate(&self) -> Result<(), AttendanceError> {
        let on = Date::from_unix_ms(
            i64::try_from(self.at_ms).unwrap_or(i64::MAX),
            CHINA_UTC_OFFSET_MINUTES,
        );
        if on.days_until(self.key.day).abs() > 1 {
            return Err(AttendanceError::WrongDay);
        }
        Ok(())
    }
}

/// One deputy's attendance on one day at one station, merged from every mark seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendance {
    #[serde(flatten)]
    pub key: AttendanceKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_out_at_ms: Option<u64>,
}

impl Attendance {
    pub fn new(key: AttendanceKey) -> Self {
        Attendance {
            key,
            signed_in_at_ms: None,
            signed_out_at_ms: None,
        }
    }

    /// Merges a mark: the earliest sign-in, the latest sign-out. Tells whether anything changed.
    /// A mark for another key changes nothing.
    pub fn apply(&mut self, mark: &AttendanceMark) -> bool {
        if mark.key != self.key {
            return false;
        }
        let at = mark.at_ms;
        let slot = match mark.mark {
            Mark::SignIn => &mut self.signed_in_at_ms,
            Mark::SignOut => &mut self.signed_out_at_ms,
        };
        let wins = match (*slot, mark.mark) {
            (None, _) => true,
            (Some(old), Mark::SignIn) => at < old,
            (Some(old), Mark::SignOut) => at > old,
        };
        if wins {
            *slot = Some(at);
        }
        wins
    }

    /// Signed in and not (yet) out: on duty now.
    pub fn on_duty(&self) -> bool {
        match (self.signed_in_at_ms, self.signed_out_at_ms) {
            (Some(_), None) => true,
            (Some(signed_in), Some(signed_out)) => signed_out < signed_in,
            _ => false,
        }
    }
}

/// The kinds of station event (活动).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// 集体接待
    CollectiveReception,
    /// 视察
    Inspection,
    /// 调研
    Survey,
}

impl ActivityKind {
    pub const ALL: [ActivityKind; 3] = [
        ActivityKind::CollectiveReception,
        ActivityKind::Inspection,
        ActivityKind::Survey,
    ];

    /// Code used in element values and translation keys (`activity.<code>`).
    pub fn code(self) -> &'static str {
        match self {
            ActivityKind::CollectiveReception => "collective_reception",
            ActivityKind::Inspection => "inspection",
            ActivityKind::Survey => "survey",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A station event (活动) and the deputies who attended it. Recorded online by station staff.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Made by whoever records it (a UUID).
    pub id: String,
    pub station_id: StationId,
    pub kind: ActivityKind,
    pub title: String,
    pub day: Date,
    pub attendees: Vec<DeputyId>,
    /// Citizens received at the event (接待群众人次).
    #[serde(default)]
    pub citizens_received: u32,
    #[serde(default)]
    pub note: String,
}

/// Length limits of an activity's texts, in characters.
pub mod limits {
    pub const TITLE: usize = 200;
    pub const NOTE: usize = 2000;
    /// More than any station's event; a bound against nonsense input.
    pub const ATTENDEES: usize = 200;
}

impl Activity {
    /// The activity's own rules: a title, texts within their limits, each attendee once (in the
    /// order first given).
    /// Returns it with its texts trimmed. Whether the attendees are deputies of the directory is
    /// the server's check.
    pub fn validate(&self) -> Result<Activity, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let title = self.title.trim().to_owned();
        if title.is_empty() {
            errors.push(Field::Title, FieldError::Required);
        } else if title.chars().count() > limits::TITLE {
            errors.push(Field::Title, FieldError::TooLong { max: limits::TITLE });
        } else if let Err(e) = crate::text::check_single_line(&title) {
            errors.push(Field::Title, e);
        }
        let note = self.note.trim().to_owned();
        if note.chars().count() > limits::NOTE {
            errors.push(Field::Note, FieldError::TooLong { max: limits::NOTE });
        } else if let Err(e) = crate::text::check_multi_line(&note) {
            errors.push(Field::Note, e);
        }
        if let Err(e) = crate::text::check_single_line(&self.station_id.0) {
            errors.push(Field::Station, e);
        }
        if let Some(e) = self
            .attendees
            .iter()
            .find_map(|d| crate::text::check_single_line(&d.0).err())
        {
            errors.push(Field::Attendees, e);
        }
        // Each once, in the order first given (the order people were listed in).
        let mut attendees: Vec<DeputyId> = Vec::with_capacity(self.attendees.len());
        for deputy in &self.attendees {
            if !attendees.contains(deputy) {
                attendees.push(deputy.clone());
            }
        }
        if attendees.len() > limits::ATTENDEES {
            errors.push(
                Field::Attendees,
                FieldError::TooMany {
                    max: limits::ATTENDEES,
                },
            );
        }
        errors.into_result(Activity {
            title,
            note,
            attendees,
            ..self.clone()
        })
    }
}

/// A deputy on the duty roster of a station for a day (排班).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RosterEntry {
    pub station_id: StationId,
    pub day: Date,
    pub deputy_id: DeputyId,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AttendanceKey {
        AttendanceKey {
            station_id: "st-1".into(),
            deputy_id: "dep-1".into(),
            day: Date::parse("2026-11-27").unwrap(),
        }
    }

    // 2026-11-27 09:00 and 17:00 in Beijing.
    const NINE: u64 = 1_795_741_200_000;
    const FIVE: u64 = NINE + 8 * 3_600_000;

    fn mark(mark: Mark, at_ms: u64) -> AttendanceMark {
        AttendanceMark {
            key: key(),
            mark,
            at_ms,
        }
    }

    #[test]
    fn marks_merge_to_the_earliest_sign_in_and_the_latest_sign_out_in_any_order() {
        let marks = [
            mark(Mark::SignIn, NINE + 600_000),
            mark(Mark::SignIn, NINE),
            mark(Mark::SignOut, FIVE - 600_000),
            mark(Mark::SignOut, FIVE),
        ];
        let expected = Attendance {
            key: key(),
            signed_in_at_ms: Some(NINE),
            signed_out_at_ms: Some(FIVE),
        };
        // Every order, with every mark applied twice.
        let orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
        for order in orders {
            let mut state = Attendance::new(key());
            for i in order.iter().chain(order.iter()) {
                state.apply(&marks[*i]);
            }
            assert_eq!(state, expected, "order {order:?}");
        }
    }

    #[test]
    fn on_duty_between_sign_in_and_sign_out() {
        let mut state = Attendance::new(key());
        assert!(!state.on_duty());
        assert!(state.apply(&mark(Mark::SignIn, NINE)));
        assert!(state.on_duty());
        assert!(
            !state.apply(&mark(Mark::SignIn, NINE)),
            "a repeat changes nothing"
        );
        assert!(state.apply(&mark(Mark::SignOut, FIVE)));
        assert!(!state.on_duty());
    }

    #[test]
    fn a_mark_must_be_on_its_day_give_or_take_one() {
        assert_eq!(mark(Mark::SignIn, NINE).validate(), Ok(()));
        assert_eq!(mark(Mark::SignIn, NINE + 86_400_000).validate(), Ok(()));
        assert_eq!(
            mark(Mark::SignIn, NINE + 3 * 86_400_000).validate(),
            Err(AttendanceError::WrongDay)
        );
    }

    #[test]
    fn the_key_is_its_id() {
        assert_eq!(key().id(), "st-1|dep-1|2026-11-27");
        let json = serde_json::to_value(mark(Mark::SignIn, NINE)).unwrap();
        assert_eq!(json["day"], "2026-11-27");
        assert_eq!(json["mark"], "sign_in");
    }
}
