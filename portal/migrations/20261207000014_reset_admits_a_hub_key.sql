-- A vendor's reset of a binding may name the one hub key the next activation must be
-- signed by (the key id the customer reads from `tessera-hub status --json`), so that a
-- stranger holding the license file can neither bind first nor spend the license's
-- activation allowance. Cleared when that hub binds, or by a reset that names none.
ALTER TABLE licenses ADD COLUMN admit_hub_key TEXT;
