-- Schema version 1: the grant state of a region's auth-servers.
--
-- Every credential is a SHA-256 digest (bytea); every instant is Unix seconds (bigint) from the
-- server's clock. Every table has an expiry column with an index, so the sweep deletes in
-- bounded batches and the tables plateau under steady load.

CREATE TABLE authorization_codes (
    digest      bytea PRIMARY KEY,
    tenant      text NOT NULL,
    grant_data  jsonb NOT NULL,
    expires_at  bigint NOT NULL,
    redeemed_at bigint,
    -- What the first redemption issued, revoked if the code comes back (RFC 6749 §4.1.2).
    issued      jsonb,
    -- The code's expiry, extended to that of what it issued.
    keep_until  bigint NOT NULL
);
CREATE INDEX authorization_codes_keep_until ON authorization_codes (keep_until);

CREATE TABLE refresh_families (
    id         text PRIMARY KEY,
    tenant     text NOT NULL,
    revoked    boolean NOT NULL DEFAULT false,
    expires_at bigint NOT NULL
);
CREATE INDEX refresh_families_expires_at ON refresh_families (expires_at);

CREATE TABLE refresh_tokens (
    digest     bytea PRIMARY KEY,
    family     text NOT NULL,
    tenant     text NOT NULL,
    client_id  text NOT NULL,
    username   text NOT NULL,
    scope      text NOT NULL,
    auth_time  bigint NOT NULL,
    expires_at bigint NOT NULL,
    rotated_at bigint
);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- Access tokens issued within a family, revoked with it; kept until they expire.
CREATE TABLE family_access_tokens (
    family     text NOT NULL,
    jti        text NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (family, jti)
);
CREATE INDEX family_access_tokens_expires_at ON family_access_tokens (expires_at);

CREATE TABLE revoked_access_tokens (
    jti        text PRIMARY KEY,
    expires_at bigint NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at ON revoked_access_tokens (expires_at);

CREATE TABLE sessions (
    digest     bytea PRIMARY KEY,
    tenant     text NOT NULL,
    username   text NOT NULL,
    auth_time  bigint NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE pending_logins (
    digest     bytea PRIMARY KEY,
    tenant     text NOT NULL,
    login      jsonb NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);

CREATE TABLE login_failures (
    key         text PRIMARY KEY,
    failures    integer NOT NULL,
    window_ends bigint NOT NULL
);
CREATE INDEX login_failures_window_ends ON login_failures (window_ends);
