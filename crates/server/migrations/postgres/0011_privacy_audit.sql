-- Issue 6, privacy and audit: the same as `sqlite/0011_privacy_audit.sql` (see there for why).
-- The append-only rule is a trigger function; TRUNCATE is refused by a statement trigger.

ALTER TABLE audit_log ADD COLUMN station_id TEXT COLLATE "C" NULL;

CREATE INDEX audit_log_station_id ON audit_log (station_id, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_user_id ON audit_log (user_id, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- 15552000000 ms = 180 days.
    IF TG_OP = 'DELETE'
       AND OLD.at_ms < CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT) - 15552000000
    THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only (records are kept at least 180 days)';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE FUNCTION audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_no_truncate();

INSERT INTO users (id, username, display_name, role, password_hash, disabled, created_at)
VALUES ('system', 'system', '系统', 'admin', '!', TRUE, 0)
ON CONFLICT DO NOTHING;
