-- The runner keys the portal countersigned for a license that asks it to count them (only
-- their key ids, never a runner's name or host), each until the grace of the last receipt
-- that named it ends: while a receipt naming it counts, the key holds one of the license's
-- runner places, so a hub that rotates keys across pings cannot exceed the limit.
CREATE TABLE countersigned_runners (
    license_id    TEXT NOT NULL REFERENCES licenses (id),
    runner_key_id TEXT NOT NULL,
    until         BIGINT NOT NULL,
    PRIMARY KEY (license_id, runner_key_id)
);
