-- The directory: regions, stations, deputies and the configurable category list.
-- The PostgreSQL twin of `migrations/sqlite/0001_directory.sql`: same tables, columns and
-- constraints. Differences: keys are `TEXT COLLATE "C"` so that `ORDER BY id` is bytewise, as
-- SQLite's default BINARY collation is and as the server's binary searches over sorted ids
-- assume (a database created with a linguistic locale would otherwise sort ids differently);
-- integers are BIGINT (Rust i64); `speciality` is BOOLEAN.

CREATE TABLE regions (
    id        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name      TEXT NOT NULL,
    -- NULL at the top of the hierarchy (city above district above township / sub-district).
    parent_id TEXT COLLATE "C" NULL REFERENCES regions (id)
);

CREATE INDEX regions_parent_id ON regions (parent_id);

CREATE TABLE stations (
    id        TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    region_id TEXT COLLATE "C" NOT NULL REFERENCES regions (id),
    name      TEXT NOT NULL,
    address   TEXT NOT NULL
);

CREATE INDEX stations_region_id ON stations (region_id);

CREATE TABLE deputies (
    id    TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name  TEXT NOT NULL,
    -- The congress level as people write it, e.g. '区人大代表'.
    level TEXT NOT NULL
);

-- Where each deputy takes duty shifts; a deputy may serve at several stations.
CREATE TABLE deputy_stations (
    deputy_id  TEXT COLLATE "C" NOT NULL REFERENCES deputies (id) ON DELETE CASCADE,
    station_id TEXT COLLATE "C" NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    PRIMARY KEY (deputy_id, station_id)
);

CREATE INDEX deputy_stations_station_id ON deputy_stations (station_id);

-- Filled from liaison_domain::default_categories() on first start (by the server, not here), so
-- the list stays data that a region can change without a new release.
CREATE TABLE categories (
    code       TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    zh         TEXT NOT NULL,
    en         TEXT NOT NULL,
    speciality BOOLEAN NOT NULL,
    position   BIGINT NOT NULL
);
