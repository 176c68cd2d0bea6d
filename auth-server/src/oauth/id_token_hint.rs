//! `id_token_hint` (OIDC Core §3.1.2.1, RP-Initiated Logout 1.0 §2): an ID token this tenant
//! issued, shown back to name a user and a client. Pure.
//!
//! It must be signed by a key the tenant publishes now and carry the tenant's issuer; it may
//! have expired, since it grants nothing. Which client it must have been issued to is the
//! caller's check.

use meridian_contract::UnixSeconds;
use serde::Deserialize;

use super::jwt::{self, TokenType};
use crate::tenant::Tenant;

/// The claims of a verified hint that this server reads.
#[derive(Debug, Deserialize)]
pub struct IdTokenHint {
    iss: String,
    pub sub: String,
    pub aud: String,
    tenant_id: String,
    #[serde(default)]
    pub sid: Option<String>,
}

impl IdTokenHint {
    /// The hint's claims, if it is an ID token of this tenant; never says why not.
    pub fn verify(tenant: &Tenant, hint: &str, now: UnixSeconds) -> Option<Self> {
        let claims: Self =
            jwt::verify(hint, TokenType::Id, |kid| tenant.keys().verifier(kid, now)).ok()?;
        (claims.iss == tenant.issuer() && claims.tenant_id == tenant.id()).then_some(claims)
    }
}
