-- Who an API key belongs to: the person who made it on the web pages (none: made on the
-- command line) and the organization it is limited to (none: the vendor's, seeing all).
ALTER TABLE api_keys ADD COLUMN owner_id TEXT;
ALTER TABLE api_keys ADD COLUMN org_id TEXT REFERENCES organizations (id);
