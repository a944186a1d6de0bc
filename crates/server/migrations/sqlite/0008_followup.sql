-- The follow-up loop (issue 4): handling units and their accounts, the server's sync client per
-- account (for steps taken online), refused steps' reasons kept for resends, which units each
-- opinion was referred to, the working-day calendar, duty attendance, the duty roster and
-- station events. See `src/db/followup.rs` and `src/db/sync.rs`.
-- Runs unchanged on PostgreSQL except for the types and collations noted in its twin.

-- 承办单位: government departments, township governments, the 12345 hotline. `region_id` is the
-- region whose office refers items to it.
CREATE TABLE handling_units (
    id        TEXT PRIMARY KEY NOT NULL,
    name      TEXT NOT NULL,
    region_id TEXT NOT NULL REFERENCES regions (id)
);

CREATE INDEX handling_units_region_id ON handling_units (region_id);

-- The unit a handling-unit account acts for. Only that role has one. (Not required for the
-- role: a migration must not fail on handling-unit accounts created before units existed; such
-- an account sees nothing.)
ALTER TABLE users ADD COLUMN unit_id TEXT NULL REFERENCES handling_units (id)
    CHECK (unit_id IS NULL OR role = 'handling_unit');

-- The sync client the server numbers this account's online steps with (`POST
-- /api/v1/opinions/{id}/steps`), made on first use; never a tablet's (see `src/sync.rs`).
ALTER TABLE users ADD COLUMN server_client_id TEXT NULL;

CREATE UNIQUE INDEX users_server_client_id ON users (server_client_id)
    WHERE server_client_id IS NOT NULL;

-- JSON of the `TransitionError` of a follow-up step the lifecycle refused, so that a resend
-- gets the identical rejection. (`mutations.opinion_id` holds the record id: an opinion's id,
-- or an attendance key `station|deputy|day`.)
ALTER TABLE mutations ADD COLUMN reject_transition TEXT NULL;

-- Every unit an opinion was ever referred to, written with the referral step: a unit reads an
-- item only if it is listed here (its ledger is narrowed by this table).
CREATE TABLE referrals (
    unit_id    TEXT NOT NULL,
    opinion_id TEXT NOT NULL,
    PRIMARY KEY (unit_id, opinion_id)
);

-- One deputy's attendance at one station on one day: the merged `Attendance` JSON of every
-- sign-in and sign-out mark, one row however many tablets recorded it. `id` is the key's text
-- (`station|deputy|day`); `change_seq` comes from the same commit-ordered counter as the
-- opinions', so pulls return both in one order.
CREATE TABLE attendance (
    id         TEXT PRIMARY KEY NOT NULL,
    station_id TEXT NOT NULL,
    deputy_id  TEXT NOT NULL,
    day        TEXT NOT NULL,
    state      TEXT NOT NULL,
    change_seq INTEGER NOT NULL UNIQUE
);

CREATE INDEX attendance_station_id_change_seq ON attendance (station_id, change_seq);
CREATE INDEX attendance_station_id_day ON attendance (station_id, day);

-- The working-day calendar (`WorkCalendar`): public holidays and make-up working days, as
-- `YYYY-MM-DD`. Set as a whole by the office (`PUT /api/v1/calendar`).
CREATE TABLE calendar_days (
    day  TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'make_up_working_day'))
);

-- The duty roster (排班): who is on duty at a station on a day.
CREATE TABLE roster (
    station_id TEXT NOT NULL REFERENCES stations (id),
    day        TEXT NOT NULL,
    deputy_id  TEXT NOT NULL REFERENCES deputies (id),
    PRIMARY KEY (station_id, day, deputy_id)
);

-- Station events (活动: collective receptions, inspections, surveys) and their attendees, in
-- the order given. `id` is made by whoever records it.
CREATE TABLE activities (
    id                TEXT PRIMARY KEY NOT NULL,
    station_id        TEXT NOT NULL REFERENCES stations (id),
    day               TEXT NOT NULL,
    kind              TEXT NOT NULL
        CHECK (kind IN ('collective_reception', 'inspection', 'survey')),
    title             TEXT NOT NULL,
    citizens_received INTEGER NOT NULL CHECK (citizens_received >= 0),
    note              TEXT NOT NULL,
    recorded_by       TEXT NOT NULL REFERENCES users (id),
    -- Server time in milliseconds since the Unix epoch.
    recorded_at       INTEGER NOT NULL
);

CREATE INDEX activities_station_id_day ON activities (station_id, day);

CREATE TABLE activity_attendees (
    activity_id TEXT NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    deputy_id   TEXT NOT NULL REFERENCES deputies (id),
    position    INTEGER NOT NULL,
    PRIMARY KEY (activity_id, deputy_id)
);
