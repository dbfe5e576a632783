-- The license list sorted by last validation: the bound licenses that have pinged, in the
-- order of their last ping (the never pinged are walked by the license id).
CREATE INDEX activations_last_ping ON activations (last_ping_at, license_id);
