-- A person's new email waiting for confirmation: the SHA-256 of the one-time link's token,
-- whose it is, the new address, and until when the link works (a day). Deleted when used
-- or expired.
CREATE TABLE email_changes (
    token_sha256 TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    new_email    TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
