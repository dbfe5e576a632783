-- When a person last signed in, and when an API key was last used (noted at most once a
-- minute per key): the people and API key pages show both. None: not since this column came.
ALTER TABLE users ADD COLUMN last_signin_at BIGINT;
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;
