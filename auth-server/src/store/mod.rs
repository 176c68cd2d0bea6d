//! What the server remembers between requests: authorization codes, refresh-token families,
//! revoked access tokens, login sessions and pending logins.
//!
//! Behind the small [`Store`] trait so a shared store can replace [`MemoryStore`]; until one
//! exists a region runs one replica. Codes and refresh tokens are kept only as SHA-256
//! digests, so the store never holds a usable credential.

mod memory;

use meridian_contract::UnixSeconds;

pub use memory::MemoryStore;

use crate::oauth::AuthorizeRequest;

/// A code's grant (RFC 6749 §4.1.2), bound to tenant, client and redirect URI.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub tenant: String,
    pub request: AuthorizeRequest,
    pub username: String,
    pub auth_time: UnixSeconds,
    pub expires_at: UnixSeconds,
}

/// The tokens issued from a code, revoked if the code is ever presented again.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_jti: String,
    pub access_expires_at: UnixSeconds,
    pub family: Option<String>,
}

pub enum CodeRedemption {
    Fresh(CodeGrant),
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
}

/// An authorize request waiting for its user to log in, with the CSRF token of its form.
#[derive(Debug, Clone)]
pub struct PendingLogin {
    pub tenant: String,
    pub csrf: String,
    pub request: AuthorizeRequest,
    pub expires_at: UnixSeconds,
}

pub trait Store: Send + Sync + 'static {
    fn save_code(&self, code: &str, grant: CodeGrant);
    /// Consumes a code; a second redemption reports what the first one issued.
    fn redeem_code(&self, code: &str, now: UnixSeconds) -> CodeRedemption;
    fn record_code_tokens(&self, code: &str, issued: IssuedTokens);
    fn save_refresh(&self, token: &str, grant: RefreshGrant);
    /// Consumes a refresh token for rotation; one bound to another tenant or client is
    /// `Unknown` and left untouched.
    fn redeem_refresh(
        &self,
        token: &str,
        binding: (&str, &str),
        now: UnixSeconds,
    ) -> RefreshRedemption;
    /// A live refresh token, without consuming it (introspection).
    fn find_refresh(&self, token: &str, now: UnixSeconds) -> Option<RefreshGrant>;
    fn record_family_access(&self, family: &str, jti: &str, expires_at: UnixSeconds);
    /// Revokes every refresh token of a family and every access token issued within it.
    fn revoke_family(&self, family: &str);
    fn revoke_access(&self, jti: &str, expires_at: UnixSeconds);
    fn is_access_revoked(&self, jti: &str) -> bool;
    fn save_session(&self, id: &str, session: Session);
    fn session(&self, id: &str, now: UnixSeconds) -> Option<Session>;
    fn save_login(&self, id: &str, login: PendingLogin);
    fn login(&self, id: &str, now: UnixSeconds) -> Option<PendingLogin>;
    fn remove_login(&self, id: &str);
    /// Forgets everything expired at `now`.
    fn sweep(&self, now: UnixSeconds);
}
