-- The license list sorted by end date, a page at a time: the end date with the id that
-- breaks its ties, so that a page after a cursor starts in the index instead of sorting every
-- license that ends the same day as the cursor's (thousands at a million licenses).
DROP INDEX licenses_expires_at;
CREATE INDEX licenses_expires_at_id ON licenses (expires_at, id);
