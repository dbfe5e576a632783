-- The runners the portal countersigned for a license whose hub asks it to count them: only
-- an opaque place id each (a digest of the runner's key id and its machine digest, never a
-- runner's name, host or address), each until the grace of the last receipt that named it
-- ends: while such a receipt counts, the place holds one of the license's runner places, so a
-- hub that rotates runners across pings cannot exceed the limit.
CREATE TABLE countersigned_runners (
    license_id   TEXT NOT NULL REFERENCES licenses (id),
    runner_place TEXT NOT NULL,
    until        BIGINT NOT NULL,
    PRIMARY KEY (license_id, runner_place)
);
