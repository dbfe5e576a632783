-- Failed second-factor codes, counted apart from failed passwords: a right password clears
-- its own count but not this one, so knowing it buys no undelayed guesses at the code, and
-- wrong codes do not hold up the password step. The same growing delays as passwords.
ALTER TABLE users ADD COLUMN failed_codes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN next_code_at BIGINT NOT NULL DEFAULT 0;
