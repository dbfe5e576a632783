-- An invitation to the portal: a one-time link, valid 7 days. The link holds a random token;
-- only its SHA-256 is stored, with the invited email, the role and organization offered, who
-- invited (a user id) and when. Deleted when used, and by the periodic job when expired.
CREATE TABLE invitations (
    token_sha256 TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL,
    org_id       TEXT REFERENCES organizations (id),
    invited_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX invitations_expires_at ON invitations (expires_at);

-- When a customer last reset the binding of a license themselves (self-service is limited
-- to one reset per `customer_reset_every_secs`); a vendor's reset is never limited.
ALTER TABLE licenses ADD COLUMN customer_reset_at BIGINT;
