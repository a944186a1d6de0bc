-- Accounts: users with a role and scopes, enrolled station tablets (devices), and sessions.
-- See `src/db/accounts.rs` and `src/auth.rs`. Times are milliseconds since the Unix epoch.
--
-- No secret is stored in the clear: passwords as Argon2id PHC strings, session and device tokens
-- as the base64url SHA-256 of the token (the token itself is shown once, to its holder).
-- Runs unchanged on PostgreSQL except that `INTEGER` times become `BIGINT` there.

CREATE TABLE users (
    id              TEXT PRIMARY KEY NOT NULL,
    -- Lower-cased and trimmed by the server before it is stored or looked up.
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL
        CHECK (role IN ('admin', 'office_staff', 'station_staff', 'deputy', 'handling_unit')),
    -- The deputy this account signs in as; only for the deputy role.
    deputy_id       TEXT NULL REFERENCES deputies (id),
    password_hash   TEXT NOT NULL,
    -- Failed sign-ins since the last success or lock; at the limit the account is locked until
    -- `locked_until` and the count starts again.
    failed_attempts INTEGER NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    INTEGER NULL,
    disabled        INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at      INTEGER NOT NULL,
    CHECK (deputy_id IS NULL OR role = 'deputy')
);

-- Where a user may act: exactly one of a region (and everything below it) or a station.
CREATE TABLE user_scopes (
    id         INTEGER PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    region_id  TEXT NULL REFERENCES regions (id),
    station_id TEXT NULL REFERENCES stations (id),
    CHECK ((region_id IS NULL) <> (station_id IS NULL))
);

CREATE INDEX user_scopes_user_id ON user_scopes (user_id);

-- A tablet enrolled to a station. Revoking it (`revoked_at`) cuts off every session signed in on
-- it at its next request.
CREATE TABLE devices (
    id          TEXT PRIMARY KEY NOT NULL,
    station_id  TEXT NOT NULL REFERENCES stations (id),
    name        TEXT NOT NULL,
    enrolled_by TEXT NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER NULL,
    token_hash  TEXT NOT NULL UNIQUE
);

CREATE INDEX devices_station_id ON devices (station_id);

-- A signed-in user, optionally on an enrolled device (a deputy on the shared tablet).
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id),
    device_id  TEXT NULL REFERENCES devices (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_device_id ON sessions (device_id);
