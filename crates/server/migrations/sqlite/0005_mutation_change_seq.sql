-- The change each applied mutation made: the value of `sync_counter` it bumped to (the
-- opinion's `change_seq` at that moment), NULL when it changed nothing or was rejected. An audit
-- of which mutation produced which pulled change, and the commit order of the changing ones on
-- every backend (PostgreSQL has no insertion-ordered `rowid`).
ALTER TABLE mutations ADD COLUMN change_seq INTEGER NULL;
