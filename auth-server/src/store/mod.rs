//! What the server remembers between requests: authorization codes, refresh-token families,
//! revoked access tokens, login sessions, pending logins, login-failure counts and the
//! one-time values (`jti`) of DPoP proofs and client assertions.
//!
//! Behind the async [`Store`] seam with two implementations: [`MemoryStore`] (one process:
//! `--dev` and fast tests) and [`PgStore`] (PostgreSQL, shared by every replica of a region).
//! Codes, refresh tokens, session ids and login ids are kept only as SHA-256 digests, so the
//! store never holds a usable credential. Single-use and rotate-once hold by the store's own
//! atomicity (one mutex, or one row lock), never by a lock in a handler.
//!
//! Nothing that must survive a database outage may depend on this module: client
//! credentials, discovery and JWKS are served from the configuration files alone.

mod bounded;
mod choice;
mod digest;
mod memory;
mod postgres;

use async_trait::async_trait;
use meridian_contract::UnixSeconds;
use serde::{Deserialize, Serialize};

pub use bounded::Caps;
pub use choice::{OpenedStore, StoreChoice, StoreChoiceError};
pub use memory::MemoryStore;
pub use postgres::{
    InvalidUri, MIGRATIONS, Migrated, Migration, MigrationError, PgStore, SCHEMA_VERSION, migrate,
};

use crate::oauth::{AuthorizeRequest, OAuthError};

/// A code's grant (RFC 6749 §4.1.2), bound to tenant, client and redirect URI.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeGrant {
    pub tenant: String,
    pub request: AuthorizeRequest,
    pub username: String,
    pub auth_time: UnixSeconds,
    pub expires_at: UnixSeconds,
    /// The `sid` of the session the code was issued in; absent in codes from before logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// The tokens issued from a code, revoked if the code is ever presented again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedTokens {
    pub access_jti: String,
    pub access_expires_at: UnixSeconds,
    pub family: Option<String>,
    /// When the refresh family started from the code ends: the code is remembered until then,
    /// so a replay revokes the family for as long as it lives.
    #[serde(default)]
    pub family_expires_at: Option<UnixSeconds>,
}

impl IssuedTokens {
    /// Until when the code that issued these must be remembered.
    pub fn remembered_until(&self) -> UnixSeconds {
        self.family_expires_at
            .map_or(self.access_expires_at, |f| f.max(self.access_expires_at))
    }
}

/// A code looked at without consuming it, so a request that fails its checks burns nothing.
pub enum CodePeek {
    Live(CodeGrant),
    Redeemed {
        grant: CodeGrant,
        issued: Option<IssuedTokens>,
    },
    Unknown,
}

/// A refresh token looked at without consuming it.
pub enum RefreshPeek {
    Live(RefreshGrant),
    /// Rotated away already: presenting it again is reuse.
    Rotated(RefreshGrant),
    Unknown,
}

pub enum CodeRedemption {
    Fresh(Box<CodeGrant>),
    /// Presented before: RFC 6749 §4.1.2 asks to revoke what it issued.
    Replayed(Option<IssuedTokens>),
    Unknown,
}

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub tenant: String,
    pub client_id: String,
    pub username: String,
    pub scope: String,
    pub auth_time: UnixSeconds,
    pub family: String,
    pub expires_at: UnixSeconds,
    /// The resource (RFC 8707) the grant is for, kept across rotations.
    pub resource: Option<String>,
    /// The DPoP key a public client's refresh tokens are bound to (RFC 9449 §5): every
    /// refresh of the family must prove it.
    pub jkt: Option<String>,
}

/// An access token issued within a refresh family: revoked with the family.
#[derive(Debug, Clone, Copy)]
pub struct FamilyAccess<'a> {
    pub jti: &'a str,
    pub expires_at: UnixSeconds,
}

pub enum RefreshRedemption {
    Fresh(RefreshGrant),
    /// Already rotated away: a sign that the token leaked (RFC 9700 §4.14.2).
    Replayed(RefreshGrant),
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub tenant: String,
    pub username: String,
    pub auth_time: UnixSeconds,
    pub expires_at: UnixSeconds,
    /// The clients this session signed the user in to, each once: the relying parties told
    /// when it ends (OIDC Back-Channel Logout 1.0 §2.7).
    pub clients: Vec<String>,
}

/// An authorize request waiting for its user to log in, with the CSRF token of its form.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub tenant: String,
    pub csrf: String,
    pub request: AuthorizeRequest,
    pub expires_at: UnixSeconds,
}

/// A pushed authorization request (RFC 9126): the parameters as the client pushed them,
/// validated again when its `request_uri` is used, which it can be once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushedRequest {
    pub tenant: String,
    pub client_id: String,
    pub params: Vec<(String, String)>,
    pub expires_at: UnixSeconds,
}

/// Pushed requests that may wait at once: anyone may push for a public client, so they are
/// bounded like pending logins (and live a minute).
pub const PUSHED_CAPS: Caps = LOGIN_CAPS;

/// One-time values (DPoP proofs' and client assertions' `jti`) remembered at once. Each is
/// remembered for as long as its proof or assertion is acceptable, and never forgotten
/// sooner: at a cap a new value is refused ([`UseOnce::Full`]) instead, since forgetting a
/// live one would make it replayable. Values are recorded only for requests that hold
/// otherwise (see `http/dpop.rs`), so filling a cap takes credentials, not just a key.
pub const ONCE_CAPS: Caps = Caps {
    per_tenant: 50_000,
    global: 100_000,
};

/// Pending logins (created by any unauthenticated `/authorize`) that may wait at once;
/// beyond a cap the oldest go first (see `bounded.rs`; PostgreSQL evicts a tenant's oldest
/// the same way, and at the global cap the oldest of all tenants).
/// With [`MAX_STORED_REQUEST`] bytes each, the global cap holds at most ~20 MiB.
pub const LOGIN_CAPS: Caps = Caps {
    per_tenant: 2_000,
    global: 5_000,
};
/// Signed-in sessions that may live at once; beyond a cap the oldest are signed out.
pub const SESSION_CAPS: Caps = Caps {
    per_tenant: 20_000,
    global: 50_000,
};
/// The largest authorize request a pending login stores, JSON-encoded.
pub const MAX_STORED_REQUEST: usize = 4096;

/// What recording a one-time value found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseOnce {
    /// Recorded now: its first use.
    First,
    /// Recorded before and still remembered: a replay.
    Seen,
    /// Not recorded: the tenant's (or every tenant's) cap is held by values still live.
    Full,
}

/// The store cannot answer now (database down, pool exhausted, timeout). Never carries the
/// connection URI or anything a caller sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("grant store unavailable: {reason}")]
pub struct StoreUnavailable {
    pub reason: String,
}

impl StoreUnavailable {
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }
}

impl From<StoreUnavailable> for OAuthError {
    fn from(error: StoreUnavailable) -> Self {
        // One line per failing request would flood the log during an outage; the health
        // monitor logs the transition once.
        tracing::debug!(%error, "request needs the grant store");
        OAuthError::TemporarilyUnavailable
    }
}

pub type StoreResult<T> = Result<T, StoreUnavailable>;

/// How many expired rows one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub rows: u64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn save_code(&self, code: &str, grant: &CodeGrant) -> StoreResult<()>;
    /// A code's grant and whether it was redeemed, consuming nothing.
    async fn peek_code(&self, code: &str, now: UnixSeconds) -> StoreResult<CodePeek>;
    /// Consumes a code exactly once; a second redemption reports what the first one issued.
    async fn redeem_code(&self, code: &str, now: UnixSeconds) -> StoreResult<CodeRedemption>;
    async fn record_code_tokens(&self, code: &str, issued: &IssuedTokens) -> StoreResult<()>;
    /// Saves a refresh token (creating its family on first use) together with the access
    /// token issued beside it. If the family was revoked meanwhile, that access token is
    /// revoked at once: a revocation never misses a token issued concurrently.
    async fn save_refresh(
        &self,
        token: &str,
        grant: &RefreshGrant,
        access: FamilyAccess<'_>,
    ) -> StoreResult<()>;
    /// Consumes a refresh token for rotation, exactly once across replicas; one bound to
    /// another tenant or client is `Unknown` and left untouched.
    async fn redeem_refresh(
        &self,
        token: &str,
        binding: (&str, &str),
        now: UnixSeconds,
    ) -> StoreResult<RefreshRedemption>;
    /// A refresh token bound to this tenant and client, live or rotated, consuming nothing.
    async fn peek_refresh(
        &self,
        token: &str,
        binding: (&str, &str),
        now: UnixSeconds,
    ) -> StoreResult<RefreshPeek>;
    /// A live refresh token, without consuming it (introspection, revocation).
    async fn find_refresh(
        &self,
        token: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<RefreshGrant>>;
    /// Revokes every refresh token of a family and every access token issued within it;
    /// done when this returns, for every replica.
    async fn revoke_family(&self, family: &str) -> StoreResult<()>;
    async fn revoke_access(&self, jti: &str, expires_at: UnixSeconds) -> StoreResult<()>;
    async fn is_access_revoked(&self, jti: &str) -> StoreResult<bool>;
    async fn save_session(&self, id: &str, session: &Session) -> StoreResult<()>;
    async fn session(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<Session>>;
    /// Records that the session signed the user in to `client_id` (kept once).
    async fn add_session_client(&self, id: &str, client_id: &str) -> StoreResult<()>;
    /// Ends a live session and returns it, exactly once across replicas: of two logouts of
    /// the same session, one gets it and the other `None`.
    async fn end_session(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<Session>>;
    async fn save_login(&self, id: &str, login: &PendingLogin) -> StoreResult<()>;
    async fn login(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<PendingLogin>>;
    async fn remove_login(&self, id: &str) -> StoreResult<()>;
    async fn save_pushed(&self, handle: &str, pushed: &PushedRequest) -> StoreResult<()>;
    /// Consumes a live pushed request, exactly once across replicas.
    async fn take_pushed(
        &self,
        handle: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<PushedRequest>>;
    /// Records a one-time value of `tenant` (a DPoP proof's or a client assertion's `jti`)
    /// until `expires_at`: `First` the first time, `Seen` while it is remembered, exactly once
    /// across replicas; `Full` when [`ONCE_CAPS`] are held by live values, none of which is
    /// ever dropped before it expires.
    async fn use_once(
        &self,
        value: &str,
        tenant: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<UseOnce>;
    /// Counts one failure against `key` in a fixed window of `window` seconds and returns the
    /// failures in the current window, this one included; atomic across replicas.
    async fn count_failure(&self, key: &str, window: i64, now: UnixSeconds) -> StoreResult<u32>;
    /// Failures against `key` in its current window.
    async fn failures(&self, key: &str, now: UnixSeconds) -> StoreResult<u32>;
    async fn clear_failures(&self, key: &str) -> StoreResult<()>;
    /// Takes back one counted failure (a reserved attempt that succeeded); never below zero.
    async fn forgive_failure(&self, key: &str) -> StoreResult<()>;
    /// Forgets what expired before `now`, in bounded batches.
    async fn sweep(&self, now: UnixSeconds) -> StoreResult<Swept>;
    /// Whether the store answers now.
    async fn ping(&self) -> StoreResult<()>;
}
