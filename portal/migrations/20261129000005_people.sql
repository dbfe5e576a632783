-- People on the portal: organizations as records, their users, and signed-in sessions.
-- Only what docs/PORTAL.md ("What is stored about a person") lists.

-- A customer organization. A license belongs to the organization whose name is exactly its
-- `org` claim (set at registration, or when the organization is made); none: unassigned.
CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- A person: a random id (a pseudonym, never derived from the name or email), business
-- email (lower-cased, unique), name, role, organization (org-admins only), the argon2id
-- hash of the password, and the failed sign-ins since the last good one with the time the
-- next attempt is allowed (growing delays; never a lock that outlasts them).
CREATE TABLE users (
    id                     TEXT PRIMARY KEY,
    email                  TEXT NOT NULL UNIQUE,
    name                   TEXT NOT NULL,
    role                   TEXT NOT NULL,
    org_id                 TEXT REFERENCES organizations (id),
    password_hash          TEXT NOT NULL,
    failed_signins         BIGINT NOT NULL,
    next_signin_at         BIGINT NOT NULL,
    created_at             BIGINT NOT NULL,
    credentials_changed_at BIGINT NOT NULL
);

-- A signed-in browser: the SHA-256 of its random token (the cookie holds the token), whose
-- it is, when it began and when it was last used (idle and absolute expiry).
CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

ALTER TABLE licenses ADD COLUMN org_id TEXT REFERENCES organizations (id);
CREATE INDEX licenses_organization ON licenses (org_id, id);

-- Keys the portal makes for itself and every instance shares: the key of device cookies
-- and form tokens (random, made on first start).
CREATE TABLE portal_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
