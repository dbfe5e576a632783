-- The hub time of the call that last re-activated a binding: a ping signed by the key that
-- re-activation replaced is a fork only when made after it, in the order of the hub's clock
-- on both sides (one clock when a hub is reinstalled on its host), never by comparing the
-- hub's clock with the portal's.
ALTER TABLE activations ADD COLUMN rebound_hub_time_ms BIGINT;
