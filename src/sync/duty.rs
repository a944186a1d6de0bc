//! The station duty page's HTTP calls (online, like the back office's in [`super::office`]):
//! the attendance recorded on the tablets, the duty roster (排班) and the station's activities.
//!
//! Every call has the sync calls' timeout, and every answer is read the way
//! [`read_answer`](super::office::read_answer) reads one: only the server's own JSON counts as
//! a success, and only its own JSON error is believed.
//!
//! - A roster day is replaced whole (`PUT /roster`, 204), so sending it again is harmless; the
//!   day is then read back (`GET /roster`, JSON) and only the server's copy is shown as saved.
//! - An activity carries the id its form made when it opened ([`new_activity_id`]): the server
//!   stores one activity per id (201, and 200 for the same activity sent again), so a resend
//!   after a lost answer records it once.

use super::api::{bearer, send};
use super::office::{OfficeError, get, read_no_content_answer, read_stored_answer};
use gloo_net::http::Request;
use liaison_domain::followup::{
    Activity, ActivityKind, Attendance, CHINA_UTC_OFFSET_MINUTES, Date, RosterEntry,
};
use liaison_domain::{DeputyId, StationId, ValidationErrors};
use serde::{Deserialize, Serialize};

/// Days the roster shows: today and the 13 days after it.
pub const ROSTER_DAYS: i32 = 14;
/// Days of attendance shown: today and the 6 days before it.
pub const ATTENDANCE_DAYS: i32 = 7;

/// The day it is at the stations (China time) at `now_ms`, whatever zone the device is set to.
pub fn china_day(now_ms: u64) -> Date {
    Date::from_unix_ms(
        i64::try_from(now_ms).unwrap_or(i64::MAX),
        CHINA_UTC_OFFSET_MINUTES,
    )
}

/// The roster's days from `today` on: [`ROSTER_DAYS`] consecutive days, today first.
pub fn roster_days(today: Date) -> Vec<Date> {
    (0..ROSTER_DAYS).map(|n| today.add_days(n)).collect()
}

/// The attendance period ending `today`: ([`ATTENDANCE_DAYS`] − 1) days before it, and today.
pub fn attendance_period(today: Date) -> (Date, Date) {
    (today.add_days(1 - ATTENDANCE_DAYS), today)
}

/// `?station=…&from=…&to=…` (dates `YYYY-MM-DD`; a missing end is left out).
pub fn period_query(station: &StationId, from: Option<Date>, to: Option<Date>) -> String {
    let encode = |value: &str| String::from(js_sys::encode_uri_component(value));
    let mut query = format!("?station={}", encode(&station.0));
    if let Some(from) = from {
        query.push_str(&format!("&from={from}"));
    }
    if let Some(to) = to {
        query.push_str(&format!("&to={to}"));
    }
    query
}

/// The station's attendance in the period, one merged record per deputy and day.
pub async fn attendance(
    token: &str,
    station: &StationId,
    from: Date,
    to: Date,
) -> Result<Vec<Attendance>, OfficeError> {
    let query = period_query(station, Some(from), Some(to));
    get(token, &format!("/api/v1/attendance{query}")).await
}

/// The station's roster in the period.
pub async fn roster(
    token: &str,
    station: &StationId,
    from: Date,
    to: Date,
) -> Result<Vec<RosterEntry>, OfficeError> {
    let query = period_query(station, Some(from), Some(to));
    get(token, &format!("/api/v1/roster{query}")).await
}

/// The body of `PUT /roster`: who is on duty at a station on a day (replacing that day).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterDay {
    pub station_id: StationId,
    pub day: Date,
    pub deputy_ids: Vec<DeputyId>,
}

/// The deputies `entries` put on duty at `station` on `day`, in the order given.
pub fn on_duty(entries: &[RosterEntry], station: &StationId, day: Date) -> Vec<DeputyId> {
    entries
        .iter()
        .filter(|e| &e.station_id == station && e.day == day)
        .map(|e| e.deputy_id.clone())
        .collect()
}

/// Whether two lists name the same deputies (in any order).
pub fn same_deputies(a: &[DeputyId], b: &[DeputyId]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

/// Replaces the roster of one station's day, then reads the day back from the server: the
/// answer is who the server has on duty that day.
pub async fn set_roster(token: &str, day: &RosterDay) -> Result<Vec<DeputyId>, OfficeError> {
    let Ok(body) = serde_json::to_string(day) else {
        return Err(OfficeError::Refused("unserialisable".into()));
    };
    let answer = send(bearer(Request::put("/api/v1/roster"), token), Some(body)).await;
    match answer {
        Some((status, text)) => read_no_content_answer(Some(status), &text)?,
        None => read_no_content_answer(None, "")?,
    }
    let stored = roster(token, &day.station_id, day.day, day.day).await?;
    Ok(on_duty(&stored, &day.station_id, day.day))
}

/// The station's activities (all of them, newest day first as the page sorts them).
pub async fn activities(token: &str, station: &StationId) -> Result<Vec<Activity>, OfficeError> {
    let query = period_query(station, None, None);
    get(token, &format!("/api/v1/activities{query}")).await
}

/// Records an activity; the answer is the activity as stored (texts trimmed). Sending the same
/// activity (same id) again records it once.
pub async fn add_activity(token: &str, activity: &Activity) -> Result<Activity, OfficeError> {
    let Ok(body) = serde_json::to_string(activity) else {
        return Err(OfficeError::Refused("unserialisable".into()));
    };
    match send(
        bearer(Request::post("/api/v1/activities"), token),
        Some(body),
    )
    .await
    {
        Some((status, text)) => read_stored_answer(Some(status), &text),
        None => read_stored_answer(None, ""),
    }
}

/// A new activity id: a UUIDv7 from the device clock and `crypto.getRandomValues`.
pub fn new_activity_id() -> String {
    liaison_domain::ids::uuid_v7(crate::platform::now_ms(), crate::platform::random_bytes())
        .hyphenated()
        .to_string()
}

/// The activity form as typed (texts as in the inputs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityInput {
    pub kind: String,
    pub title: String,
    pub day: String,
    pub attendees: Vec<DeputyId>,
    pub citizens: String,
    pub note: String,
}

/// What is wrong with the typed activity: the domain's field errors ([`Activity::validate`];
/// the server answers with the same), and the two inputs that are not a value at all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActivityProblems {
    pub fields: ValidationErrors,
    /// The day is not a date.
    pub day: bool,
    /// The number of citizens received is not a whole number from 0.
    pub citizens: bool,
}

impl ActivityProblems {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && !self.day && !self.citizens
    }
}

impl ActivityInput {
    /// The activity `id` at `station` as typed, checked by the domain's rules (texts trimmed).
    /// An empty number of citizens is 0.
    pub fn build(&self, id: &str, station: &StationId) -> Result<Activity, ActivityProblems> {
        let mut problems = ActivityProblems::default();
        // The select offers only the domain's kinds.
        let kind = ActivityKind::from_code(&self.kind).unwrap_or(ActivityKind::CollectiveReception);
        let day = Date::parse(self.day.trim());
        problems.day = day.is_none();
        let citizens = self.citizens.trim();
        let citizens_received = if citizens.is_empty() {
            Some(0)
        } else {
            citizens.parse::<u32>().ok()
        };
        problems.citizens = citizens_received.is_none();
        let activity = Activity {
            id: id.to_owned(),
            station_id: station.clone(),
            kind,
            title: self.title.clone(),
            day: day.unwrap_or(Date::from_unix_ms(0, 0)),
            attendees: self.attendees.clone(),
            citizens_received: citizens_received.unwrap_or(0),
            note: self.note.clone(),
        };
        match activity.validate() {
            Ok(activity) if problems.is_empty() => Ok(activity),
            Ok(_) => Err(problems),
            Err(errors) => {
                problems.fields.0.extend(errors.0);
                Err(problems)
            }
        }
    }
}

/// One of a station's tablets, as the list of tablets shows it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct StationTablet {
    pub id: String,
    pub name: String,
    pub created_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
}

/// The station's tablets, revoked ones too (for whoever may enrol and revoke them there).
pub async fn tablets(token: &str, station: &StationId) -> Result<Vec<StationTablet>, OfficeError> {
    let station = String::from(js_sys::encode_uri_component(&station.0));
    get(token, &format!("/api/v1/devices?station={station}")).await
}

/// Revokes a tablet (a lost or retired one): its sessions stop at once, and it deletes its data
/// at its next contact. Revoking twice is harmless (204 both times).
pub async fn revoke_tablet(token: &str, id: &str) -> Result<(), OfficeError> {
    let id = String::from(js_sys::encode_uri_component(id));
    match send(
        bearer(Request::delete(&format!("/api/v1/devices/{id}")), token),
        None,
    )
    .await
    {
        Some((status, text)) => read_no_content_answer(Some(status), &text),
        None => read_no_content_answer(None, ""),
    }
}
