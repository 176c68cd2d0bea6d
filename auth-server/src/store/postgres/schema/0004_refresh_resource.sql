-- The resource (RFC 8707) a refresh token's grant is for, so rotation keeps its audience.
-- Expanding only: nullable, and an older server's rows (without it) mean the default audience.
ALTER TABLE refresh_tokens ADD COLUMN resource text;
