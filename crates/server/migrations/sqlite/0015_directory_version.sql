-- The directory's version (`Db::station_hierarchy`, `db/accounts.rs`): one number, raised in
-- the same transaction as every change to the tables the directory is read from. A server
-- instance keeps the directory it last read together with the version read in the same
-- snapshot, and reads the tables again only when the version it reads differs: the same
-- version means the same committed rows, also when several instances share the database.
-- (A change that is not committed yet has not raised the committed version either.)
CREATE TABLE directory_version (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    value INTEGER NOT NULL
);

INSERT INTO directory_version (id, value) VALUES (1, 0);

-- SQLite has row triggers only: a statement changing n rows raises the version n times.

CREATE TRIGGER regions_insert_directory_version AFTER INSERT ON regions
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER regions_update_directory_version AFTER UPDATE ON regions
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER regions_delete_directory_version AFTER DELETE ON regions
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER stations_insert_directory_version AFTER INSERT ON stations
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER stations_update_directory_version AFTER UPDATE ON stations
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER stations_delete_directory_version AFTER DELETE ON stations
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER deputies_insert_directory_version AFTER INSERT ON deputies
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER deputies_update_directory_version AFTER UPDATE ON deputies
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER deputies_delete_directory_version AFTER DELETE ON deputies
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER deputy_stations_insert_directory_version AFTER INSERT ON deputy_stations
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER deputy_stations_update_directory_version AFTER UPDATE ON deputy_stations
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER deputy_stations_delete_directory_version AFTER DELETE ON deputy_stations
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER categories_insert_directory_version AFTER INSERT ON categories
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER categories_update_directory_version AFTER UPDATE ON categories
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER categories_delete_directory_version AFTER DELETE ON categories
BEGIN
    UPDATE directory_version SET value = value + 1 WHERE id = 1;
END;
