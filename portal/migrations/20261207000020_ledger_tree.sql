-- The audit ledger becomes a Merkle tree (tessera_core::ledger, docs/FORMAT.md): an entry's
-- `hash` is its leaf hash, signed checkpoints (C2SP signed notes) replace the chain's heads,
-- and a retention cut leaves the frontier of the entries it removed (one row at most).
CREATE TABLE ledger_checkpoints (
    size      BIGINT NOT NULL,
    signed_at BIGINT NOT NULL,
    key_id    TEXT NOT NULL,
    note      TEXT NOT NULL,
    PRIMARY KEY (size, key_id)
);
CREATE TABLE ledger_frontier (
    id     INTEGER PRIMARY KEY,
    size   BIGINT NOT NULL,
    hashes TEXT NOT NULL
);
DROP TABLE ledger_heads;
