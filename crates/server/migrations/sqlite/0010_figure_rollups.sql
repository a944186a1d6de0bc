-- Rollups of the figures (issue 5's speed target): the additive counts of `opinion_facts`
-- summed per station and day (`figure_days`) and per station, month and breakdown key
-- (`figure_months`), so that a city's year is read from a few hundred thousand small rows
-- instead of a million facts. Kept by the transaction that writes the facts (`write_facts` in
-- `src/db/facts.rs`: the old facts' contribution subtracted, the new one added) and rebuilt
-- from the facts at startup with them (`FACTS_VERSION`). See `src/db/figures.rs` for how each
-- figure is read from them.
--
-- Each count is dated by its own event, as the facts are:
--   collected, answered          the day it was recorded (and answered on the spot)
--   referred                     the day it was first referred
--   referred_concluded_day       of those, concluded on or before that day
--   referred_concluded_month     of those, concluded by the end of that day's month
--   concluded                    the day it was first concluded
--   overdue_from, overdue_to     the first and last day it was held past its deadline (the day
--                                after `due`, and `due_concluded` if that is later; none while
--                                it is held): "overdue on some day of [a, b]" is then
--                                overdue_from up to min(b, today) minus overdue_to before a
--   evaluated_last, satisfied    the day of its latest evaluation (and whether satisfied)
-- Attendance and station events are not rolled up: they are read from their own tables.

CREATE TABLE figure_days (
    station_id               TEXT NOT NULL,
    day                      TEXT NOT NULL,
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
) WITHOUT ROWID;

-- `dim` is '' (the station's own row, `key` ''), 'category', 'deputy' or 'unit' (only referred
-- opinions have one: their latest referral's). `month` is `YYYY-MM`.
CREATE TABLE figure_months (
    station_id               TEXT NOT NULL,
    dim                      TEXT NOT NULL,
    month                    TEXT NOT NULL,
    key                      TEXT NOT NULL,
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
) WITHOUT ROWID;

-- A day breakdown of many stations, read in the order of the days (`db/figures.rs`).
CREATE INDEX figure_days_by_day
    ON figure_days (day, station_id, collected, answered, referred, referred_concluded_day,
                    concluded, overdue_from, overdue_to, evaluated_last, satisfied_last);

-- "Referred in the period, not concluded by its end": the open ones and those concluded
-- after the end, by the day they were referred.
CREATE INDEX opinion_facts_unconcluded
    ON opinion_facts (station_id, first_concluded, first_referred, category, deputy_id, unit_id)
    WHERE first_referred IS NOT NULL;
-- Overdue intervals starting in a few days (the rest of a month): by deadline.
CREATE INDEX opinion_facts_due
    ON opinion_facts (station_id, due, due_concluded, category, deputy_id, unit_id)
    WHERE due IS NOT NULL;
-- Evaluations that are not their opinion's latest (rare): the latest in a period among them.
CREATE INDEX opinion_evaluations_earlier
    ON opinion_evaluations (station_id, day, is_last, opinion_id, ord, satisfied, category,
                            deputy_id, unit_id)
    WHERE NOT is_last;
