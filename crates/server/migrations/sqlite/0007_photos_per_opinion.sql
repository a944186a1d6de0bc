-- A photo belongs to one opinion: the key becomes (opinion_id, id), so that nobody can take a
-- photo id another station's opinion lists (upload something under it first) and block the real
-- upload. Downloads name the opinion too. (Rebuilt: SQLite cannot change a primary key.)
CREATE TABLE photos_per_opinion (
    opinion_id  TEXT NOT NULL,
    id          TEXT NOT NULL,
    station_id  TEXT NOT NULL,
    sha256      TEXT NOT NULL REFERENCES photo_blobs (sha256),
    mime        TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (opinion_id, id)
);
INSERT INTO photos_per_opinion (opinion_id, id, station_id, sha256, mime, uploaded_by, uploaded_at)
    SELECT opinion_id, id, station_id, sha256, mime, uploaded_by, uploaded_at FROM photos;
DROP TABLE photos;
ALTER TABLE photos_per_opinion RENAME TO photos;
