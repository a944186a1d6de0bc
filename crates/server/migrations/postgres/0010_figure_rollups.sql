-- Rollups of the figures; see `migrations/sqlite/0010_figure_rollups.sql` (its SQLite twin)
-- for what each column counts. Differences: keys and days `TEXT COLLATE "C"`, counts INTEGER
-- (so that `SUM` is a BIGINT, not a NUMERIC).

CREATE TABLE figure_days (
    station_id               TEXT COLLATE "C" NOT NULL,
    day                      TEXT COLLATE "C" NOT NULL,
    collected                INTEGER NOT NULL,
    answered                 INTEGER NOT NULL,
    referred                 INTEGER NOT NULL,
    referred_concluded_day   INTEGER NOT NULL,
    referred_concluded_month INTEGER NOT NULL,
    concluded                INTEGER NOT NULL,
    overdue_from             INTEGER NOT NULL,
    overdue_to               INTEGER NOT NULL,
    evaluated_last           INTEGER NOT NULL,
    satisfied_last           INTEGER NOT NULL,
    PRIMARY KEY (station_id, day)
);

CREATE TABLE figure_months (
    station_id               TEXT COLLATE "C" NOT NULL,
    dim                      TEXT COLLATE "C" NOT NULL,
    month                    TEXT COLLATE "C" NOT NULL,
    key                      TEXT COLLATE "C" NOT NULL,
    collected                INTEGER NOT NULL,
    answered                 INTEGER NOT NULL,
    referred                 INTEGER NOT NULL,
    referred_concluded_month INTEGER NOT NULL,
    concluded                INTEGER NOT NULL,
    overdue_from             INTEGER NOT NULL,
    overdue_to               INTEGER NOT NULL,
    evaluated_last           INTEGER NOT NULL,
    satisfied_last           INTEGER NOT NULL,
    PRIMARY KEY (station_id, dim, month, key)
);

CREATE INDEX opinion_facts_unconcluded
    ON opinion_facts (station_id, first_concluded, first_referred, category, deputy_id, unit_id)
    WHERE first_referred IS NOT NULL;
CREATE INDEX opinion_facts_due
    ON opinion_facts (station_id, due, due_concluded, category, deputy_id, unit_id)
    WHERE due IS NOT NULL;
CREATE INDEX opinion_evaluations_earlier
    ON opinion_evaluations (station_id, day, is_last, opinion_id, ord, satisfied, category,
                            deputy_id, unit_id)
    WHERE NOT is_last;
