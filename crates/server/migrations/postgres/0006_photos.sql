-- Photos uploaded by the tablets; see `migrations/sqlite/0006_photos.sql` (its PostgreSQL twin).
CREATE TABLE photo_blobs (
    sha256 TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    bytes  BYTEA NOT NULL,
    size   BIGINT NOT NULL
);

CREATE TABLE photos (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    opinion_id  TEXT COLLATE "C" NOT NULL,
    station_id  TEXT COLLATE "C" NOT NULL,
    sha256      TEXT COLLATE "C" NOT NULL REFERENCES photo_blobs (sha256),
    mime        TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL
);
