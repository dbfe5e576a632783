-- The audit ledger (docs/PRIVACY.md, docs/PORTAL.md): every change made by a person or an
-- API key, chained by SHA-256 (tessera_core::ledger). The actor is a pseudonymous id, never a
-- name or an email. `org_id` names the organization an entry concerns, for its org-admins.
CREATE TABLE ledger (
    seq    BIGINT PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    org_id TEXT,
    hash   TEXT NOT NULL
);
CREATE INDEX ledger_org ON ledger (org_id, seq);

-- Heads of the chain signed by the portal's receipt key, and the vendor's delegations of the
-- keys that signed them (kept, so exports verify after the key is rotated).
CREATE TABLE ledger_heads (
    seq       BIGINT NOT NULL,
    hash      TEXT NOT NULL,
    signed_at BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (seq, key_id)
);
CREATE TABLE ledger_delegations (
    key_id TEXT PRIMARY KEY,
    text   TEXT NOT NULL
);
