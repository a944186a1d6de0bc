-- The figures issue; see `migrations/sqlite/0009_figures.sql` (its SQLite twin) for what each
-- table is for. Differences: keys and days `TEXT COLLATE "C"` (bytewise, as on SQLite),
-- booleans BOOLEAN, counts and times BIGINT.

CREATE TABLE opinion_facts (
    opinion_id           TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    station_id           TEXT COLLATE "C" NOT NULL,
    deputy_id            TEXT COLLATE "C" NOT NULL,
    category             TEXT COLLATE "C" NOT NULL,
    collected            TEXT COLLATE "C" NOT NULL,
    answered_on_the_spot BOOLEAN NOT NULL,
    first_referred       TEXT COLLATE "C" NULL,
    unit_id              TEXT COLLATE "C" NULL,
    due                  TEXT COLLATE "C" NULL,
    due_concluded        TEXT COLLATE "C" NULL,
    first_concluded      TEXT COLLATE "C" NULL,
    status               TEXT NOT NULL
);

CREATE INDEX opinion_facts_collected
    ON opinion_facts (station_id, collected, answered_on_the_spot, category, deputy_id);
CREATE INDEX opinion_facts_referred
    ON opinion_facts (station_id, first_referred, first_concluded, category, deputy_id, unit_id)
    WHERE first_referred IS NOT NULL;
CREATE INDEX opinion_facts_concluded
    ON opinion_facts (station_id, first_concluded, category, deputy_id, unit_id)
    WHERE first_concluded IS NOT NULL;
CREATE INDEX opinion_facts_held
    ON opinion_facts (station_id, due_concluded, due, category, deputy_id, unit_id)
    WHERE due IS NOT NULL;

CREATE TABLE opinion_evaluations (
    opinion_id TEXT COLLATE "C" NOT NULL,
    ord        BIGINT NOT NULL CHECK (ord >= 0),
    station_id TEXT COLLATE "C" NOT NULL,
    day        TEXT COLLATE "C" NOT NULL,
    satisfied  BOOLEAN NOT NULL,
    is_last    BOOLEAN NOT NULL,
    category   TEXT COLLATE "C" NOT NULL,
    deputy_id  TEXT COLLATE "C" NOT NULL,
    unit_id    TEXT COLLATE "C" NULL,
    PRIMARY KEY (opinion_id, ord) INCLUDE (day)
);

CREATE INDEX opinion_evaluations_station_day
    ON opinion_evaluations (station_id, day, is_last, satisfied, opinion_id, ord, category,
                            deputy_id, unit_id);

ALTER TABLE attendance ADD COLUMN signed_in BOOLEAN NOT NULL DEFAULT FALSE;

CREATE INDEX attendance_station_day_signed_in
    ON attendance (station_id, day, signed_in, deputy_id);

CREATE TABLE server_meta (
    key   TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);

INSERT INTO server_meta (key, value) VALUES ('facts_version', 0);

CREATE TABLE audit_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms        BIGINT NOT NULL,
    user_id      TEXT COLLATE "C" NOT NULL,
    username     TEXT NOT NULL,
    display_name TEXT NOT NULL,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL
);

CREATE INDEX audit_log_at_ms ON audit_log (at_ms);
