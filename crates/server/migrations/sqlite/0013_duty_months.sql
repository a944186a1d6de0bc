-- Who was on duty, per station and month (the figures' "deputies on duty" and "duty shifts";
-- see `db/figures.rs`): one row per deputy who had a signed-in attendance record or attended a
-- station event at that station that month, with the number of signed-in attendance records
-- (`shifts`, 0 for a deputy who only attended events). A distinct count of deputies over whole
-- months reads these rows instead of every attendance record and attendee.
--
-- Kept where the records are written: the push transaction for attendance (a sign-in is never
-- taken back, so a record adds one shift once), and the trigger below for event attendees
-- (events are only ever added). Counted again from `attendance`, `activities` and
-- `activity_attendees` by `Db::rebuild_rollups` (at start-up when `FACTS_VERSION` grows).
CREATE TABLE duty_months (
    station_id TEXT NOT NULL,
    month      TEXT NOT NULL,
    deputy_id  TEXT NOT NULL,
    shifts     INTEGER NOT NULL DEFAULT 0 CHECK (shifts >= 0),
    PRIMARY KEY (station_id, month, deputy_id)
);

CREATE TRIGGER duty_months_event_attendee AFTER INSERT ON activity_attendees
BEGIN
    INSERT INTO duty_months (station_id, month, deputy_id, shifts)
    SELECT ac.station_id, substr(ac.day, 1, 7), NEW.deputy_id, 0
    FROM activities ac WHERE ac.id = NEW.activity_id
    ON CONFLICT (station_id, month, deputy_id) DO NOTHING;
END;
