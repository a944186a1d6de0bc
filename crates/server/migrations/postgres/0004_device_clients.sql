-- The sync client (the tablet app's `ClientId`, which numbers its outbox) bound to an enrolled
-- device. The first push from a session on the device records it; a push from that device with
-- another client id is refused (409 `client_mismatch`), and so is a push with this client id from
-- anywhere else, so one outbox stream is never fed by two tablets. See `src/sync.rs`.
-- The PostgreSQL twin of `migrations/sqlite/0004_device_clients.sql`.

ALTER TABLE devices ADD COLUMN client_id TEXT COLLATE "C" NULL;

CREATE UNIQUE INDEX devices_client_id ON devices (client_id) WHERE client_id IS NOT NULL;
