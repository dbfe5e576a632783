-- A renewed ledger delegation of the same key is kept beside the old one: each checkpoint
-- needs the delegation whose window held its signing time, so one text per key lost the
-- renewal (checkpoints signed after it did not verify).
CREATE TABLE ledger_delegations_renewed (
    key_id TEXT NOT NULL,
    text   TEXT NOT NULL,
    PRIMARY KEY (key_id, text)
);
INSERT INTO ledger_delegations_renewed (key_id, text) SELECT key_id, text FROM ledger_delegations;
DROP TABLE ledger_delegations;
ALTER TABLE ledger_delegations_renewed RENAME TO ledger_delegations;
