-- Accounts: users with a role and scopes, enrolled station tablets (devices), and sessions.
-- See `src/db/accounts.rs` and `src/auth.rs`. Times are milliseconds since the Unix epoch.
-- The PostgreSQL twin of `migrations/sqlite/0003_accounts.sql`: times and counts are BIGINT,
-- `disabled` is BOOLEAN, keys `TEXT COLLATE "C"` (bytewise, as on SQLite), and the scopes' id is
-- an identity column (SQLite's INTEGER PRIMARY KEY rowid).
--
-- No secret is stored in the clear: passwords as Argon2id PHC strings, session and device tokens
-- as the base64url SHA-256 of the token (the token itself is shown once, to its holder).

CREATE TABLE users (
    id              TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    -- Lower-cased and trimmed by the server before it is stored or looked up.
    username        TEXT COLLATE "C" NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL
        CHECK (role IN ('admin', 'office_staff', 'station_staff', 'deputy', 'handling_unit')),
    -- The deputy this account signs in as; only for the deputy role.
    deputy_id       TEXT COLLATE "C" NULL REFERENCES deputies (id),
    password_hash   TEXT NOT NULL,
    -- Failed sign-ins since the last success or lock; at the limit the account is locked until
    -- `locked_until` and the count starts again.
    failed_attempts BIGINT NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    BIGINT NULL,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    CHECK (deputy_id IS NULL OR role = 'deputy')
);

-- Where a user may act: exactly one of a region (and everything below it) or a station.
CREATE TABLE user_scopes (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    region_id  TEXT COLLATE "C" NULL REFERENCES regions (id),
    station_id TEXT COLLATE "C" NULL REFERENCES stations (id),
    CHECK ((region_id IS NULL) <> (station_id IS NULL))
);

CREATE INDEX user_scopes_user_id ON user_scopes (user_id);

-- A tablet enrolled to a station. Revoking it (`revoked_at`) cuts off every session signed in on
-- it at its next request.
CREATE TABLE devices (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    station_id  TEXT COLLATE "C" NOT NULL REFERENCES stations (id),
    name        TEXT NOT NULL,
    enrolled_by TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT NULL,
    token_hash  TEXT COLLATE "C" NOT NULL UNIQUE
);

CREATE INDEX devices_station_id ON devices (station_id);

-- A signed-in user, optionally on an enrolled device (a deputy on the shared tablet).
CREATE TABLE sessions (
    id         TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_id    TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    device_id  TEXT COLLATE "C" NULL REFERENCES devices (id),
    token_hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NULL
);

CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_device_id ON sessions (device_id);
