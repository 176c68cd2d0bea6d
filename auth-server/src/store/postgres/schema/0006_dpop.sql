-- DPoP (RFC 9449): the key a public client's refresh tokens are bound to (nullable, so
-- expanding only: an older server's rows are unbound), and the one-time values (the jti of
-- DPoP proofs and client assertions) seen while their proofs are acceptable, by digest.
-- Capped per tenant and in all, as pending logins are.
ALTER TABLE refresh_tokens ADD COLUMN jkt text;
CREATE TABLE used_once (
    digest     bytea PRIMARY KEY,
    tenant     text NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX used_once_expires_at ON used_once (expires_at);
CREATE INDEX used_once_tenant_age ON used_once (tenant, expires_at) INCLUDE (digest);
CREATE INDEX used_once_age ON used_once (expires_at) INCLUDE (digest);
