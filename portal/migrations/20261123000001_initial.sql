-- Tessera portal schema, version 1. Portable SQL: the same file runs on SQLite and PostgreSQL.
-- It holds only what docs/OPERATIONS.md ("What the portal stores") lists: no IP addresses,
-- no user agents, no request bodies, no raw license keys or API keys.

-- One row per registered license: its terms, never its key (only the key's SHA-256).
CREATE TABLE licenses (
    id                 TEXT PRIMARY KEY,
    key_sha256         TEXT NOT NULL UNIQUE,
    org                TEXT NOT NULL,
    product            TEXT NOT NULL,
    runners            BIGINT NOT NULL,
    not_before         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    terminates_at      BIGINT,
    grace_period_secs  BIGINT NOT NULL,
    ping_interval_secs BIGINT NOT NULL,
    status             TEXT NOT NULL,
    registered_at      BIGINT NOT NULL,
    status_changed_at  BIGINT NOT NULL
);

-- The hub a license is bound to: the fingerprint as the hub sent it (component names and
-- keyed hashes, never raw hardware ids), the hub's public key, and timestamps.
CREATE TABLE activations (
    license_id        TEXT PRIMARY KEY REFERENCES licenses (id),
    fingerprint       TEXT NOT NULL,
    hub_key           TEXT NOT NULL,
    activated_at      BIGINT NOT NULL,
    last_ping_at      BIGINT,
    last_hub_time_ms  BIGINT NOT NULL
);

-- Pings per license and UTC day (days since 1970-01-01), for a rolling 90 days.
CREATE TABLE ping_days (
    license_id TEXT NOT NULL REFERENCES licenses (id),
    day        BIGINT NOT NULL,
    pings      BIGINT NOT NULL,
    PRIMARY KEY (license_id, day)
);

-- Older days rolled into months (YYYYMM).
CREATE TABLE ping_months (
    license_id TEXT NOT NULL REFERENCES licenses (id),
    month      BIGINT NOT NULL,
    pings      BIGINT NOT NULL,
    PRIMARY KEY (license_id, month)
);

-- Admin API keys: an id to find the key, the SHA-256 of its secret, never the secret.
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    label         TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT
);
