-- Who was on duty, per station and month; see `migrations/sqlite/0013_duty_months.sql` (its
-- SQLite twin) for what the rows mean and who keeps them. Differences: keys `TEXT COLLATE "C"`,
-- and the trigger's body is a function.
CREATE TABLE duty_months (
    station_id TEXT COLLATE "C" NOT NULL,
    month      TEXT COLLATE "C" NOT NULL,
    deputy_id  TEXT COLLATE "C" NOT NULL,
    shifts     INTEGER NOT NULL DEFAULT 0 CHECK (shifts >= 0),
    PRIMARY KEY (station_id, month, deputy_id)
);

CREATE FUNCTION duty_months_event_attendee() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO duty_months (station_id, month, deputy_id, shifts)
    SELECT ac.station_id, substr(ac.day, 1, 7), NEW.deputy_id, 0
    FROM activities ac WHERE ac.id = NEW.activity_id
    ON CONFLICT (station_id, month, deputy_id) DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE TRIGGER duty_months_event_attendee AFTER INSERT ON activity_attendees
    FOR EACH ROW EXECUTE FUNCTION duty_months_event_attendee();
