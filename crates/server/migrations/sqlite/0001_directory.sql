-- The directory: regions, stations, deputies and the configurable category list.
-- Ids are TEXT: they are assigned by the server (or by an administrator's import) and the tablets
-- store them as opaque strings.

CREATE TABLE regions (
    id        TEXT PRIMARY KEY NOT NULL,
    name      TEXT NOT NULL,
    -- NULL at the top of the hierarchy (city above district above township / sub-district).
    parent_id TEXT NULL REFERENCES regions (id)
);

CREATE INDEX regions_parent_id ON regions (parent_id);

CREATE TABLE stations (
    id        TEXT PRIMARY KEY NOT NULL,
    region_id TEXT NOT NULL REFERENCES regions (id),
    name      TEXT NOT NULL,
    address   TEXT NOT NULL
);

CREATE INDEX stations_region_id ON stations (region_id);

CREATE TABLE deputies (
    id    TEXT PRIMARY KEY NOT NULL,
    name  TEXT NOT NULL,
    -- The congress level as people write it, e.g. '区人大代表'.
    level TEXT NOT NULL
);

-- Where each deputy takes duty shifts; a deputy may serve at several stations.
CREATE TABLE deputy_stations (
    deputy_id  TEXT NOT NULL REFERENCES deputies (id) ON DELETE CASCADE,
    station_id TEXT NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
    PRIMARY KEY (deputy_id, station_id)
);

CREATE INDEX deputy_stations_station_id ON deputy_stations (station_id);

-- Filled from liaison_domain::default_categories() on first start (by the server, not here), so
-- the list stays data that a region can change without a new release.
CREATE TABLE categories (
    code       TEXT PRIMARY KEY NOT NULL,
    zh         TEXT NOT NULL,
    en         TEXT NOT NULL,
    speciality INTEGER NOT NULL CHECK (speciality IN (0, 1)),
    position   INTEGER NOT NULL
);
