-- Self-service repairs: re-activations from the bound host sooner than `rebind_every_secs`
-- allows (a hub whose state was lost twice in a day), allowed `repairs_per_year` times per
-- license and year: the repairs of the current year, when that year began (its first
-- repair), and the last repair. Shown to the vendor.
ALTER TABLE activations ADD COLUMN repairs BIGINT NOT NULL DEFAULT 0;
ALTER TABLE activations ADD COLUMN repairs_from BIGINT;
ALTER TABLE activations ADD COLUMN repaired_at BIGINT;
