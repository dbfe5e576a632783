-- A license's daily ping counts of the last 90 days move from ping_days (a row per license
-- and day) into the license's own row: day_counts holds them as a few bytes
-- (portal/src/store/day_counts.rs), days_from the first day held, so that the rollup finds
-- the licenses with days to roll. BYTEA is PostgreSQL's byte string; SQLite stores the
-- bytes as a blob whatever the declared type. The portal moves the rows of ping_days over
-- when it starts, then the table stays empty (docs/OPERATIONS.md).
ALTER TABLE licenses ADD COLUMN day_counts BYTEA;
ALTER TABLE licenses ADD COLUMN days_from BIGINT;
CREATE INDEX licenses_days_from ON licenses (days_from);
