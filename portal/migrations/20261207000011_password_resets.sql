-- A forgotten password's reset link: the SHA-256 of the one-time token, whose it is, and
-- until when it works (30 minutes). Deleted when used, when the person's password changes
-- any other way, when a newer link is asked for, or once expired.
CREATE TABLE password_resets (
    token_sha256 TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id),
    expires_at   BIGINT NOT NULL
);
CREATE INDEX password_resets_user ON password_resets (user_id);
