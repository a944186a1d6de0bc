-- Statistics, registers and exports (the figures issue): per-opinion facts the figures are
-- counted from with SQL aggregates, whether an attendance record has a sign-in, the facts'
-- version for the startup backfill, and the audit log. See `src/db/facts.rs`,
-- `src/db/figures.rs` and `src/db/audit.rs`. Runs unchanged on PostgreSQL except for the types
-- and collations noted in its twin.
--
-- Days are `YYYY-MM-DD` text, which sorts like the dates, so a period is a text range.

-- `liaison_domain::figures::OpinionFacts` of each live opinion (not deleted, creation arrived),
-- derived with `OpinionFacts::derive` and written in the transaction that writes the opinion;
-- a deleted opinion has no row. `status` is the `StatusKind` code.
CREATE TABLE opinion_facts (
    opinion_id           TEXT PRIMARY KEY NOT NULL,
    station_id           TEXT NOT NULL,
    deputy_id            TEXT NOT NULL,
    category             TEXT NOT NULL,
    collected            TEXT NOT NULL,
    answered_on_the_spot INTEGER NOT NULL CHECK (answered_on_the_spot IN (0, 1)),
    first_referred       TEXT NULL,
    unit_id              TEXT NULL,
    due                  TEXT NULL,
    due_concluded        TEXT NULL,
    first_concluded      TEXT NULL,
    status               TEXT NOT NULL
);

-- One per figure's date, each leading with the station (every query names its stations) and
-- covering what that figure counts and groups by, so that a count reads the index only.
CREATE INDEX opinion_facts_collected
    ON opinion_facts (station_id, collected, answered_on_the_spot, category, deputy_id);
CREATE INDEX opinion_facts_referred
    ON opinion_facts (station_id, first_referred, first_concluded, category, deputy_id, unit_id)
    WHERE first_referred IS NOT NULL;
CREATE INDEX opinion_facts_concluded
    ON opinion_facts (station_id, first_concluded, category, deputy_id, unit_id)
    WHERE first_concluded IS NOT NULL;
-- Overdue in a period: due before its last day and still held on its first, read as two
-- ranges: the open ones (`due_concluded IS NULL`) and those concluded since the first day.
CREATE INDEX opinion_facts_held
    ON opinion_facts (station_id, due_concluded, due, category, deputy_id, unit_id)
    WHERE due IS NOT NULL;

-- Each evaluation of a live opinion, in order (`ord` from 0): its day and whether it counts as
-- satisfied. `station_id`, `category`, `deputy_id` and `unit_id` are the opinion's facts (all
-- the rows of an opinion are rewritten with its facts), so that a period's evaluations are read
-- by station and day, and broken down, without a join; `is_last` marks the opinion's latest evaluation, which is the latest
-- in any period it falls in (an earlier one is the latest in a period only if no later one
-- falls in it too: looked up by the key, rarely). Without rowid: the key holds the day.
CREATE TABLE opinion_evaluations (
    opinion_id TEXT NOT NULL,
    ord        INTEGER NOT NULL CHECK (ord >= 0),
    station_id TEXT NOT NULL,
    day        TEXT NOT NULL,
    satisfied  INTEGER NOT NULL CHECK (satisfied IN (0, 1)),
    is_last    INTEGER NOT NULL CHECK (is_last IN (0, 1)),
    category   TEXT NOT NULL,
    deputy_id  TEXT NOT NULL,
    unit_id    TEXT NULL,
    PRIMARY KEY (opinion_id, ord)
) WITHOUT ROWID;

CREATE INDEX opinion_evaluations_station_day
    ON opinion_evaluations (station_id, day, is_last, satisfied, opinion_id, ord, category,
                            deputy_id, unit_id);

-- Whether the merged attendance has a sign-in (only those count as duty shifts). Filled for the
-- existing rows by the startup backfill, and by every push after.
ALTER TABLE attendance ADD COLUMN signed_in INTEGER NOT NULL DEFAULT 0
    CHECK (signed_in IN (0, 1));

CREATE INDEX attendance_station_day_signed_in
    ON attendance (station_id, day, signed_in, deputy_id);

-- Small settings the server keeps for itself. `facts_version`: the `FACTS_VERSION` the facts
-- above were derived with; a server whose constant is newer rebuilds them at startup.
CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);

INSERT INTO server_meta (key, value) VALUES ('facts_version', 0);

-- Who did what with the data, kept at least six months (Cybersecurity Law art. 21): every
-- export (`export_register`, `export_ledger`), and what later issues add. `detail` is JSON
-- (for an export: format, filters, whether personal data was included, row count).
-- `id` numbers the records in the order they were written.
CREATE TABLE audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Server time in milliseconds since the Unix epoch.
    at_ms        INTEGER NOT NULL,
    user_id      TEXT NOT NULL,
    username     TEXT NOT NULL,
    display_name TEXT NOT NULL,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL
);

CREATE INDEX audit_log_at_ms ON audit_log (at_ms);
