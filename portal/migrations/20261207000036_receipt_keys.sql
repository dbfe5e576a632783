-- Every vendor delegation of a receipt key this portal has served, kept with the database
-- (and its backups): a portal restored with a new receipt key still checks the receipts its
-- hubs hold, signed with the old one, when they show them to re-sync a forgotten chain.
CREATE TABLE receipt_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    delegation TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
