-- Who was on duty, per day, deputy and station (the figures' "deputies on duty" and "duty
-- shifts" of days: the breakdown by day, and the days of a period outside its whole months;
-- see `db/figures.rs`): one row per deputy who had a signed-in attendance record or attended a
-- station event at that station that day, with the number of signed-in attendance records
-- (`shifts`: 1, or 0 for a deputy who only attended events). A distinct count of deputies
-- per day reads these rows in key order instead of deduplicating the attendance records and
-- the events' attendees in a temporary table, several times faster over a city's year.
--
-- Kept by the triggers below, in the transaction that writes the records: an attendance
-- record signed in (when stored signed in, or when its `signed_in` turns true; a sign-in is
-- never taken back) and an event's attendee (events are only ever added). Counted again from
-- `attendance`, `activities` and `activity_attendees` by `Db::rebuild_rollups`, and filled
-- here from what is already stored.
CREATE TABLE duty_days (
    day        TEXT NOT NULL,
    deputy_id  TEXT NOT NULL,
    station_id TEXT NOT NULL,
    shifts     INTEGER NOT NULL DEFAULT 0 CHECK (shifts >= 0),
    PRIMARY KEY (day, deputy_id, station_id)
) WITHOUT ROWID;

-- A station's or a few stations' days (the primary key serves the whole city's).
CREATE INDEX duty_days_by_station ON duty_days (station_id, day, deputy_id, shifts);

CREATE TRIGGER duty_days_attendance_stored_signed_in AFTER INSERT ON attendance
WHEN NEW.signed_in
BEGIN
    INSERT INTO duty_days (day, deputy_id, station_id, shifts)
    VALUES (NEW.day, NEW.deputy_id, NEW.station_id, 1)
    ON CONFLICT (day, deputy_id, station_id) DO UPDATE SET shifts = duty_days.shifts + 1;
END;

CREATE TRIGGER duty_days_attendance_signed_in AFTER UPDATE OF signed_in ON attendance
WHEN NEW.signed_in AND NOT OLD.signed_in
BEGIN
    INSERT INTO duty_days (day, deputy_id, station_id, shifts)
    VALUES (NEW.day, NEW.deputy_id, NEW.station_id, 1)
    ON CONFLICT (day, deputy_id, station_id) DO UPDATE SET shifts = duty_days.shifts + 1;
END;

CREATE TRIGGER duty_days_event_attendee AFTER INSERT ON activity_attendees
BEGIN
    INSERT INTO duty_days (day, deputy_id, station_id, shifts)
    SELECT ac.day, NEW.deputy_id, ac.station_id, 0
    FROM activities ac WHERE ac.id = NEW.activity_id
    ON CONFLICT (day, deputy_id, station_id) DO NOTHING;
END;

INSERT INTO duty_days (day, deputy_id, station_id, shifts)
SELECT u.day, u.deputy_id, u.station_id, SUM(u.shifts) FROM (
    SELECT day, deputy_id, station_id, 1 AS shifts FROM attendance WHERE signed_in
    UNION ALL
    SELECT ac.day, t.deputy_id, ac.station_id, 0 AS shifts
    FROM activities ac JOIN activity_attendees t ON t.activity_id = ac.id
) u GROUP BY u.day, u.deputy_id, u.station_id;
