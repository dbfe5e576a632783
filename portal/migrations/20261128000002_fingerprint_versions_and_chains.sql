-- Tessera portal schema, version 2. Portable SQL (SQLite and PostgreSQL).

-- The version of the stored fingerprint: 1 (components keyed by the product id, guessable
-- by whoever knows the product) or 2 (keyed by a secret that never leaves the host). Hubs
-- bound with version 1 move to version 2 at their next ping.
ALTER TABLE activations ADD COLUMN fingerprint_version BIGINT NOT NULL DEFAULT 1;

-- The chain of a hub's pings (nonces of the receipts it was sent, base64url): the receipt
-- it has shown it holds, and the one sent since. A copy of the hub that falls behind
-- presents neither and is refused as `cloned`.
ALTER TABLE activations ADD COLUMN chain_confirmed TEXT;
ALTER TABLE activations ADD COLUMN chain_pending TEXT;

-- When a copy of the bound hub was last refused (shown to the vendor), if ever.
ALTER TABLE activations ADD COLUMN cloned_at BIGINT;

-- Re-activations of an existing binding (same host, same or new hub key): counted, and
-- limited in time, so that re-activating cannot alternate two copies of one hub.
ALTER TABLE activations ADD COLUMN rebinds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE activations ADD COLUMN rebound_at BIGINT;
