-- The directory's version (`Db::station_hierarchy`, `db/accounts.rs`): one number, raised in
-- the same transaction as every change to the tables the directory is read from. A server
-- instance keeps the directory it last read together with the version read in the same
-- snapshot, and reads the tables again only when the version it reads differs: the same
-- version means the same committed rows, also when several instances share the database.
-- (A change that is not committed yet has not raised the committed version either.)
CREATE TABLE directory_version (
    id    BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    value BIGINT NOT NULL
);

INSERT INTO directory_version (id, value) VALUES (1, 0);

-- Once per statement (TRUNCATE included). Concurrent changes queue on the version row's lock,
-- so each commit leaves a number of its own.
CREATE FUNCTION directory_version_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER regions_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON regions
    FOR EACH STATEMENT EXECUTE FUNCTION directory_version_raise();

CREATE TRIGGER stations_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stations
    FOR EACH STATEMENT EXECUTE FUNCTION directory_version_raise();

CREATE TRIGGER deputies_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deputies
    FOR EACH STATEMENT EXECUTE FUNCTION directory_version_raise();

CREATE TRIGGER deputy_stations_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON deputy_stations
    FOR EACH STATEMENT EXECUTE FUNCTION directory_version_raise();

CREATE TRIGGER categories_directory_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON categories
    FOR EACH STATEMENT EXECUTE FUNCTION directory_version_raise();
