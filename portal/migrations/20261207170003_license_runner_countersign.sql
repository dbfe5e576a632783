-- Whether the license counts its runners at the portal (its `runner_countersign` claim, 0 or
-- 1): the license page then shows its runner places, held or not.
ALTER TABLE licenses ADD COLUMN runner_countersign BIGINT NOT NULL DEFAULT 0;
