-- A photo belongs to one opinion: the key becomes (opinion_id, id); see
-- `migrations/sqlite/0007_photos_per_opinion.sql` (its SQLite twin).
ALTER TABLE photos DROP CONSTRAINT photos_pkey;
ALTER TABLE photos ADD PRIMARY KEY (opinion_id, id);
