-- Sync: the clients that push, every mutation the server took, the merged opinions, and the
-- commit-ordered change counter that pull cursors follow. See `src/db/sync.rs`.
-- The PostgreSQL twin of `migrations/sqlite/0002_sync.sql`: seqs and times are BIGINT, keys
-- `TEXT COLLATE "C"` (bytewise, as on SQLite), JSON stays TEXT (not JSONB) so the stored bytes
-- are what serde wrote.

-- One row per tablet (client id made on the device). `last_seq` is the highest seq the server has
-- taken (applied or rejected); `last_stamp` the greatest stamp it stored for the client, the floor
-- for `liaison_domain::sync::clamp`. Both move only inside the push transaction.
CREATE TABLE sync_clients (
    client_id  TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    last_seq   BIGINT NOT NULL CHECK (last_seq >= 0),
    last_stamp TEXT NULL
);

-- Every mutation the server took, applied or rejected: a rejection is kept and returned again
-- when the tablet resends the seq, never dropped. `hlc` is the stamp the server used (after the
-- clamp); `original_hlc` the tablet's stamp when the clamp changed it. `body` is the mutation as
-- received (JSON).
CREATE TABLE mutations (
    client_id      TEXT COLLATE "C" NOT NULL REFERENCES sync_clients (client_id),
    seq            BIGINT NOT NULL CHECK (seq >= 1),
    kind           TEXT NOT NULL,
    opinion_id     TEXT COLLATE "C" NOT NULL,
    hlc            TEXT NOT NULL,
    original_hlc   TEXT NULL,
    body           TEXT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected')),
    reject_code    TEXT NULL,
    reject_message TEXT NULL,
    -- JSON of the field errors (`ValidationErrors`), so a resend gets the same rejection.
    reject_errors  TEXT NULL,
    -- Server time in milliseconds since the Unix epoch.
    received_at    BIGINT NOT NULL,
    PRIMARY KEY (client_id, seq),
    CHECK ((outcome = 'applied') = (reject_code IS NULL))
);

CREATE INDEX mutations_opinion_id ON mutations (opinion_id);

-- The merged state of each opinion: JSON of `liaison_domain::sync::OpinionReplica`.
-- `station_id` is NULL while only edits have arrived (no creation yet) and is kept after a delete
-- (the tombstone itself no longer carries it), so that pulls scoped by station still deliver it.
-- `change_seq` is the value of `sync_counter` taken by the transaction that last changed the row.
CREATE TABLE opinions (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    station_id TEXT COLLATE "C" NULL,
    state      TEXT NOT NULL,
    change_seq BIGINT NOT NULL UNIQUE
);

CREATE INDEX opinions_station_id_change_seq ON opinions (station_id, change_seq);

-- The change counter: one row. A push locks it first (`SELECT ... FOR UPDATE`) and bumps it
-- (`UPDATE ... RETURNING`) for each change, holding the lock until commit: pushes run one at a
-- time, so counter order is commit order and a pull cursor never skips a change (a SEQUENCE
-- would hand out numbers in start order, not commit order).
CREATE TABLE sync_counter (
    id    BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    value BIGINT NOT NULL
);

INSERT INTO sync_counter (id, value) VALUES (1, 0);
