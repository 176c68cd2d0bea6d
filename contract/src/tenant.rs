//! A tenant's public configuration: issuer, scopes, clients, lifetimes, static claims.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `<tenant>.tenant.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantConfig {
    /// Tenant id (the Tenant object's name); the `tenant_id` claim.
    pub id: String,
    pub display_name: String,
    /// Issuer identifier, identical in every region (OIDC Discovery §3: compared exactly).
    pub issuer: String,
    /// The tenant's home region; the `region` claim when a subject has no home of its own.
    pub home_region: String,
    #[serde(default)]
    pub scopes: Vec<Scope>,
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    pub tokens: TokenLifetimes,
    /// Static string claims added to every access and ID token.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scope {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    #[serde(default)]
    pub display_name: String,
    pub kind: ClientKind,
    pub grant_types: Vec<GrantType>,
    /// Compared exactly (RFC 9700 §4.1.1): no prefix or pattern matching, except that an
    /// http URI on 127.0.0.1 or [::1] without a port matches any port (RFC 8252 §7.3).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Scopes this client may request.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `aud` of access tokens issued to this client; the issuer when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Resource indicators (RFC 8707) this client may ask for with `resource`: the one asked
    /// for becomes the access token's `aud` in place of `audience`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Browser origins (`scheme://host[:port]`) that may read this client's answers from the
    /// token, userinfo, revocation and introspection endpoints (CORS). Absent: the origins of
    /// its redirect URIs; empty: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Where the end-session endpoint may send the browser after a logout this client asked
    /// for (OIDC RP-Initiated Logout 1.0 §3), compared exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Where a signed logout token is POSTed when a session this client took part in ends
    /// (OIDC Back-Channel Logout 1.0 §2.2); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Authorization requests must be pushed first (RFC 9126 §5); authorize refuses others.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// Every token request of this client carries a DPoP proof (RFC 9449 §5.2,
    /// `dpop_bound_access_tokens`): one without is refused, so its access tokens are always
    /// sender-constrained.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// DPoP proofs of this client must carry a nonce the server provided (RFC 9449 §8), which
    /// bounds how long a proof made in advance is of any use.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_dpop_nonce: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// Authenticates with a secret (RFC 6749 §2.1).
    Confidential,
    /// Cannot keep a secret: PKCE S256 is mandatory.
    Public,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
}

impl GrantType {
    /// The `grant_type` parameter value of RFC 6749.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
        }
    }
}

/// Token lifetimes in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenLifetimes {
    pub access_token_seconds: u64,
    pub id_token_seconds: u64,
    pub refresh_token_seconds: u64,
}

impl TokenLifetimes {
    /// The longest lifetime of any token that a key can sign; a retired key stays published
    /// at least this long so every token it signed can still be verified.
    pub fn longest_signed_token_seconds(&self) -> u64 {
        // Refresh tokens are opaque and never verified against the JWKS.
        self.access_token_seconds.max(self.id_token_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_type_serializes_as_rfc_6749_value() {
        for grant in [
            GrantType::ClientCredentials,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
        ] {
            let json = serde_json::to_string(&grant).unwrap();
            assert_eq!(json, format!("\"{}\"", grant.as_str()));
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<Scope>(r#"{"name":"a","colour":"red"}"#).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
