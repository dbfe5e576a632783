-- A second factor: a TOTP secret (RFC 6238; the portal must read it to check codes, so it is
-- kept as is, like the password hash only in this database) and the last time step a code
-- was accepted for (a code works once). Recovery codes: ten per person, only their SHA-256,
-- deleted when used.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

CREATE TABLE recovery_codes (
    user_id     TEXT NOT NULL REFERENCES users (id),
    code_sha256 TEXT NOT NULL,
    PRIMARY KEY (user_id, code_sha256)
);
