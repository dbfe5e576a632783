-- Each entry's tag: an HMAC of its leaf hash under a key derived from the portal's receipt
-- key. The portal signs no checkpoint over an entry whose tag is missing or wrong, so
-- entries written into the database by anyone but the portal are refused, not signed.
-- None: written before the ledger's first checkpoint by a command that held no receipt key.
ALTER TABLE ledger ADD COLUMN tag TEXT;
