-- Pushed authorization requests (RFC 9126), by the digest of their request_uri: single-use
-- (deleted when used) and short-lived. Capped per tenant and in all, as pending logins are.
CREATE TABLE pushed_requests (
    digest     bytea PRIMARY KEY,
    tenant     text NOT NULL,
    request    jsonb NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
CREATE INDEX pushed_requests_tenant_age ON pushed_requests (tenant, expires_at) INCLUDE (digest);
CREATE INDEX pushed_requests_age ON pushed_requests (expires_at) INCLUDE (digest);
