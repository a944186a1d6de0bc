-- The follow-up loop (issue 4); see `migrations/sqlite/0008_followup.sql` (its SQLite twin) for
-- what each table is for. Differences: keys `TEXT COLLATE "C"` (bytewise, as on SQLite), counts,
-- seqs and times BIGINT.

CREATE TABLE handling_units (
    id        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name      TEXT NOT NULL,
    region_id TEXT COLLATE "C" NOT NULL REFERENCES regions (id)
);

CREATE INDEX handling_units_region_id ON handling_units (region_id);

ALTER TABLE users ADD COLUMN unit_id TEXT COLLATE "C" NULL REFERENCES handling_units (id),
    ADD CONSTRAINT users_unit_id_only_for_units
        CHECK (unit_id IS NULL OR role = 'handling_unit');

ALTER TABLE users ADD COLUMN server_client_id TEXT COLLATE "C" NULL;

CREATE UNIQUE INDEX users_server_client_id ON users (server_client_id)
    WHERE server_client_id IS NOT NULL;

ALTER TABLE mutations ADD COLUMN reject_transition TEXT NULL;

CREATE TABLE referrals (
    unit_id    TEXT COLLATE "C" NOT NULL,
    opinion_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (unit_id, opinion_id)
);

CREATE TABLE attendance (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    station_id TEXT COLLATE "C" NOT NULL,
    deputy_id  TEXT COLLATE "C" NOT NULL,
    day        TEXT COLLATE "C" NOT NULL,
    state      TEXT NOT NULL,
    change_seq BIGINT NOT NULL UNIQUE
);

CREATE INDEX attendance_station_id_change_seq ON attendance (station_id, change_seq);
CREATE INDEX attendance_station_id_day ON attendance (station_id, day);

CREATE TABLE calendar_days (
    day  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'make_up_working_day'))
);

CREATE TABLE roster (
    station_id TEXT COLLATE "C" NOT NULL REFERENCES stations (id),
    day        TEXT COLLATE "C" NOT NULL,
    deputy_id  TEXT COLLATE "C" NOT NULL REFERENCES deputies (id),
    PRIMARY KEY (station_id, day, deputy_id)
);

CREATE TABLE activities (
    id                TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    station_id        TEXT COLLATE "C" NOT NULL REFERENCES stations (id),
    day               TEXT COLLATE "C" NOT NULL,
    kind              TEXT NOT NULL
        CHECK (kind IN ('collective_reception', 'inspection', 'survey')),
    title             TEXT NOT NULL,
    citizens_received BIGINT NOT NULL CHECK (citizens_received >= 0),
    note              TEXT NOT NULL,
    recorded_by       TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    recorded_at       BIGINT NOT NULL
);

CREATE INDEX activities_station_id_day ON activities (station_id, day);

CREATE TABLE activity_attendees (
    activity_id TEXT COLLATE "C" NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    deputy_id   TEXT COLLATE "C" NOT NULL REFERENCES deputies (id),
    position    BIGINT NOT NULL,
    PRIMARY KEY (activity_id, deputy_id)
);
