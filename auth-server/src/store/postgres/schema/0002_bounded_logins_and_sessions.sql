-- Pending logins and sessions are capped per tenant and in all (oldest first, see
-- store/bounded.rs). These indexes let the eviction after each insert count a tenant's rows,
-- or all rows, newest first, from the index alone. Expanding only: older servers ignore them.
CREATE INDEX pending_logins_tenant_age ON pending_logins (tenant, expires_at) INCLUDE (digest);
CREATE INDEX pending_logins_age ON pending_logins (expires_at) INCLUDE (digest);
CREATE INDEX sessions_tenant_age ON sessions (tenant, expires_at) INCLUDE (digest);
CREATE INDEX sessions_age ON sessions (expires_at) INCLUDE (digest);
