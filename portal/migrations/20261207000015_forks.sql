-- A re-activation with a new hub key keeps the key it replaced: a ping signed by that key
-- later proves the old hub still runs beside the new one (a fork). It is answered with a
-- signed `cloned`, `cloned_at` is set, and `forks` counts the re-activations whose old hub
-- was seen again. Shown to the vendor.
ALTER TABLE activations ADD COLUMN previous_hub_key TEXT;
ALTER TABLE activations ADD COLUMN forks BIGINT NOT NULL DEFAULT 0;
-- Whether the replaced key has been seen since the last re-activation (counted once).
ALTER TABLE activations ADD COLUMN previous_seen BIGINT NOT NULL DEFAULT 0;
