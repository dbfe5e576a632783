-- Failed sign-ins of addresses that have no account, counted and delayed as a person's are,
-- so that trying an unknown address reads and writes as much as trying a known one. Keyed
-- by an HMAC of the address under the portal's secret (never the address), and deleted a day
-- after their last try.
CREATE TABLE unknown_address_signins (
    address_tag    TEXT PRIMARY KEY,
    failed_signins BIGINT NOT NULL,
    next_signin_at BIGINT NOT NULL
);
