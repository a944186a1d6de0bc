-- Issue 6, privacy and audit (see `src/db/audit.rs` and `src/privacy.rs`).
--
-- 1. `audit_log.station_id`: the station an audit record is about (an unmasking, a step, a
--    device), so that office staff read the records of their own regions' stations only; NULL
--    for what belongs to no one station (sign-ins, exports over several stations), which only
--    administrators read.
-- 2. The audit log is append-only in the database itself: an UPDATE is refused, and so is a
--    DELETE of a record younger than 180 days (Cybersecurity Law art. 21: access logs are kept at
--    least six months). The retention purge (`Db::purge_audit`) deletes only older records, and
--    no setting can make the database delete younger ones.
-- 3. The `system` account: the author of what the server does by itself (the retention purge
--    of personal data), with its own server-side sync client like every account that takes
--    steps online. Disabled, with a password hash that never verifies: nobody signs in as it.

ALTER TABLE audit_log ADD COLUMN station_id TEXT NULL;

CREATE INDEX audit_log_station_id ON audit_log (station_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_user_id ON audit_log (user_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

-- 15552000000 ms = 180 days.
CREATE TRIGGER audit_log_no_early_delete BEFORE DELETE ON audit_log
WHEN OLD.at_ms >= CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 15552000000
BEGIN
    SELECT RAISE(ABORT, 'audit_log records are kept at least 180 days');
END;

INSERT INTO users (id, username, display_name, role, password_hash, disabled, created_at)
VALUES ('system', 'system', '系统', 'admin', '!', 1, 0)
ON CONFLICT DO NOTHING;
