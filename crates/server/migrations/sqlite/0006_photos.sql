-- Photos uploaded by the tablets. The bytes are stored once per content (`photo_blobs`, keyed by
-- their SHA-256), so the same picture attached twice, or uploaded again after a lost answer,
-- costs nothing. `photos` maps each photo id (the tablet's UUIDv7, in the opinion's `PhotoRef`)
-- to its content and to the opinion and station it belongs to, which decide who may read it.
-- In the database, not in files: several server instances on PostgreSQL share them, and a
-- backup of the database is a backup of everything.
CREATE TABLE photo_blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    bytes  BLOB NOT NULL,
    size   INTEGER NOT NULL
);

CREATE TABLE photos (
    id          TEXT PRIMARY KEY NOT NULL,
    opinion_id  TEXT NOT NULL,
    station_id  TEXT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES photo_blobs (sha256),
    mime        TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    -- Server time in milliseconds since the Unix epoch.
    uploaded_at INTEGER NOT NULL
);
