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
    /// The FAPI 2.0 Security Profile for every client: pushed authorization requests, PKCE
    /// S256, DPoP-bound tokens, `private_key_jwt` for confidential clients.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fapi2: bool,
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
    /// How this client authenticates (RFC 7591 §2 `token_endpoint_auth_method`). Absent: a
    /// confidential client with its secret (Basic or in the body), a public one with none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,
    /// The public keys of a `private_key_jwt` client, inline (RFC 7591 §2 `jwks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<ClientJwks>,
    /// Where the public keys of a `private_key_jwt` client are served (`jwks_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// What this client may obtain by token exchange; none without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchange: Option<TokenExchangePolicy>,
}

impl ClientConfig {
    /// Whether this client authenticates with a JWT signed by its own key (RFC 7523).
    pub fn uses_private_key_jwt(&self) -> bool {
        self.token_endpoint_auth_method == Some(ClientAuthMethod::PrivateKeyJwt)
    }
}

/// A client authentication method (OAuth Token Endpoint Authentication Methods registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523 §2.2, OIDC Core §9).
    PrivateKeyJwt,
    None,
}

impl ClientAuthMethod {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }
}

/// A client's public keys (RFC 7517 §5): only public members are carried.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientJwks {
    pub keys: Vec<ClientJwk>,
}

/// One public JWK (RFC 7517 §4, RFC 7518 §6); other members are not kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientJwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
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
    /// RFC 8693 token exchange, within the client's [`TokenExchangePolicy`].
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
}

impl GrantType {
    /// The `grant_type` parameter value (RFC 6749, RFC 8693 §2.1).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client_credentials",
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }
}

/// What a client may obtain by token exchange (RFC 8693): access tokens for these audiences
/// with at most these scopes, never more than the subject token itself had.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenExchangePolicy {
    pub audiences: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
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
            GrantType::TokenExchange,
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
