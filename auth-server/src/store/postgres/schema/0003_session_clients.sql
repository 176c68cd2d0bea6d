-- The clients a session signed its user in to, told when it ends (OIDC Back-Channel Logout).
-- Expanding only: an older server inserts sessions without it and gets the empty default.
ALTER TABLE sessions ADD COLUMN clients text[] NOT NULL DEFAULT '{}';
