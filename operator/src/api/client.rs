//! An OAuth 2.0 client of a tenant.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::secret_ref::SecretKeyRef;

/// An OAuth 2.0 client (RFC 6749 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.type != 'public' || !has(self.secretRef)")
        .message("spec.clients[].secretRef must not be set for a public client")
        .field_path(".secretRef"),
    validation = Rule::new("self.type != 'public' || self.grantTypes.all(g, g == 'authorization_code' || g == 'refresh_token')")
        .message("spec.clients[].grantTypes of a public client may only be authorization_code and refresh_token")
        .field_path(".grantTypes"),
    validation = Rule::new("!('token_exchange' in self.grantTypes) || has(self.tokenExchange)")
        .message("spec.clients[].tokenExchange is required when grantTypes include token_exchange"),
    validation = Rule::new("self.type != 'confidential' || has(self.secretRef) || (has(self.tokenEndpointAuthMethod) && self.tokenEndpointAuthMethod == 'private_key_jwt')")
        .message("spec.clients[].secretRef is required for a confidential client (unless it uses private_key_jwt)"),
    validation = Rule::new("(has(self.tokenEndpointAuthMethod) && self.tokenEndpointAuthMethod == 'private_key_jwt') ? has(self.jwks) != has(self.jwksUri) : !has(self.jwks) && !has(self.jwksUri)")
        .message("spec.clients[].jwks or jwksUri (exactly one) is required with tokenEndpointAuthMethod private_key_jwt, and allowed only with it"),
    validation = Rule::new("!has(self.tokenEndpointAuthMethod) || (self.type == 'public') == (self.tokenEndpointAuthMethod == 'none')")
        .message("spec.clients[].tokenEndpointAuthMethod none is for public clients only, and every other method for confidential ones"),
    validation = Rule::new("!(has(self.tokenEndpointAuthMethod) && self.tokenEndpointAuthMethod == 'private_key_jwt') || !has(self.secretRef)")
        .message("spec.clients[].secretRef must not be set for a private_key_jwt client"),
    validation = Rule::new("!('authorization_code' in self.grantTypes) || (has(self.redirectUris) && size(self.redirectUris) > 0)")
        .message("spec.clients[].redirectUris needs at least one URI when grantTypes include authorization_code")
)]
pub struct ClientSpec {
    /// The `client_id`, unique within the tenant.
    #[schemars(length(min = 1, max = 128))]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9._~-]+$')")
        .message("spec.clients[].clientId may hold only letters, digits and '.', '_', '~', '-'"))]
    pub client_id: String,

    /// Human-readable name, shown on the login page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub display_name: Option<String>,

    /// `confidential` clients authenticate with a secret; `public` clients cannot keep one and
    /// must use PKCE with S256.
    #[serde(rename = "type")]
    pub client_type: ClientType,

    /// Grants this client may use: `client_credentials`, `authorization_code`,
    /// `refresh_token`, `token_exchange` (RFC 8693, within `tokenExchange`).
    #[schemars(length(min = 1, max = 4), extend("x-kubernetes-list-type" = "set"))]
    pub grant_types: Vec<GrantType>,

    /// Redirect URIs, compared exactly: absolute https URLs (http only for localhost, 127.0.0.1
    /// and [::1], as native apps use) without a fragment. One exception (RFC 8252 §7.3): an
    /// http URI on 127.0.0.1 or [::1] registered without a port matches the same URI with any
    /// port, for native apps listening on an ephemeral one; localhost is always compared
    /// exactly (RFC 8252 §8.3 does not recommend it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(max = 1024)))]
    #[x_kube(
        validation = Rule::new(format!("self.all(u, {})", super::rules::is_https_or_loopback_url("u"))).message("spec.clients[].redirectUris must be absolute https URLs (http only for localhost, 127.0.0.1 or [::1])"),
        validation = Rule::new("self.all(u, !u.contains('#'))")
            .message("spec.clients[].redirectUris must not contain a fragment")
    )]
    pub redirect_uris: Vec<String>,

    /// Scopes this client may request: names from the tenant's `scopes` or openid, profile,
    /// email, offline_access.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(max = 64)))]
    pub scopes: Vec<String>,

    /// The `aud` claim of access tokens issued to this client; the issuer when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub audience: Option<String>,

    /// Resource indicators (RFC 8707) this client may ask for with the `resource` parameter at
    /// authorize and token: the one asked for becomes the access token's `aud` in place of
    /// `audience`; any other is refused with `invalid_target`. Absolute URIs without a
    /// fragment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(max = 512)))]
    #[x_kube(validation = Rule::new(r"self.all(r, r.matches('^[a-zA-Z][a-zA-Z0-9+.-]*:[^#\\s]+$'))")
        .message("spec.clients[].resources must be absolute URIs without a fragment"))]
    pub resources: Vec<String>,

    /// Browser origins (`https://host[:port]`, http only for localhost, 127.0.0.1 and [::1])
    /// whose pages may read this client's answers from the token, userinfo, revocation and
    /// introspection endpoints (CORS). Absent: the origins of `redirectUris`; an empty list:
    /// none. Authorize and login never answer other origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16), inner(length(max = 256)))]
    #[x_kube(validation = Rule::new(format!("self.all(o, {})", super::rules::is_origin("o")))
        .message("spec.clients[].allowedOrigins must be origins: scheme://host[:port] without a path, https (http only for localhost, 127.0.0.1 or [::1])"))]
    pub allowed_origins: Option<Vec<String>>,

    /// Where the end-session endpoint may send the browser after a logout this client asked
    /// for (OIDC RP-Initiated Logout 1.0 `post_logout_redirect_uri`), compared exactly: absolute
    /// https URLs (http only for localhost, 127.0.0.1 and [::1]) without a fragment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(max = 1024)))]
    #[x_kube(
        validation = Rule::new(format!("self.all(u, {})", super::rules::is_https_or_loopback_url("u"))).message("spec.clients[].postLogoutRedirectUris must be absolute https URLs (http only for localhost, 127.0.0.1 or [::1])"),
        validation = Rule::new("self.all(u, !u.contains('#'))")
            .message("spec.clients[].postLogoutRedirectUris must not contain a fragment")
    )]
    pub post_logout_redirect_uris: Vec<String>,

    /// Where the auth-server POSTs a signed logout token (`typ: logout+jwt`, with `sub` and
    /// `sid`) when a session this client signed a user in with ends (OIDC Back-Channel Logout
    /// 1.0): an absolute https URL (http only for localhost, 127.0.0.1 and [::1]) without a
    /// fragment. Delivered after the user's answer, retried at most three times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(
        validation = Rule::new(super::rules::is_https_or_loopback_url("self")).message("spec.clients[].backchannelLogoutUri must be an absolute https URL (http only for localhost, 127.0.0.1 or [::1])"),
        validation = Rule::new("!self.contains('#')")
            .message("spec.clients[].backchannelLogoutUri must not contain a fragment")
    )]
    pub backchannel_logout_uri: Option<String>,

    /// Whether this client's authorization requests must be pushed to the pushed
    /// authorization request endpoint first (RFC 9126 §5, as FAPI 2.0 requires); authorize
    /// then refuses any request that was not. Default false: pushing is allowed, not required.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,

    /// Whether every token request of this client must carry a DPoP proof (RFC 9449 §5.2,
    /// `dpop_bound_access_tokens`), so that its access tokens are always bound to the client's
    /// key (`cnf.jkt`, `token_type: DPoP`). Default false: a proof is honoured when sent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,

    /// Whether this client's DPoP proofs must carry a nonce the auth-server provided (RFC 9449
    /// §8, answered with `use_dpop_nonce` and a `DPoP-Nonce` header), which limits how long a
    /// proof made in advance is of any use. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_dpop_nonce: bool,

    /// How this client authenticates at the token, PAR, introspection and revocation endpoints
    /// (`token_endpoint_auth_method`): `client_secret_basic`, `client_secret_post`,
    /// `private_key_jwt` (RFC 7523: a JWT signed with the client's key, checked against `jwks`
    /// or `jwksUri`; no secret) or `none` (public clients). Absent: a confidential client's
    /// secret either way, nothing for a public one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,

    /// The public keys of a `private_key_jwt` client, inline (a JWKS, RFC 7517 §5): only the
    /// public members below are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<ClientJwksSpec>,

    /// Where a `private_key_jwt` client serves its public keys (a JWKS): an absolute https URL
    /// (http only for localhost, 127.0.0.1 and [::1]). Fetched by each auth-server when first
    /// needed, cached 5 minutes, fetched again for an unknown `kid` at most every 30 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    #[x_kube(validation = Rule::new(super::rules::is_https_or_loopback_url("self")).message("spec.clients[].jwksUri must be an absolute https URL (http only for localhost, 127.0.0.1 or [::1])"))]
    pub jwks_uri: Option<String>,

    /// What this client may obtain by token exchange (RFC 8693, grant `token_exchange`): an
    /// access token of this tenant (the subject token) exchanged for one for one of
    /// `audiences`, with at most `scopes` and never more than the subject token had; with an
    /// `actor_token`, the new token names its actor in `act` (delegation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchange: Option<TokenExchangeSpec>,

    /// Secret holding this client's secret in the operator's namespace; key defaults to
    /// `clientSecret`. Only its SHA-256 digest ever leaves the hub. Required for confidential
    /// clients, forbidden for public ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,
}

/// A client's token exchange policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenExchangeSpec {
    /// The audiences (`audience` or `resource`) exchanged tokens may be for: absolute URIs.
    #[schemars(length(min = 1, max = 16), inner(length(max = 512)))]
    #[x_kube(validation = Rule::new(r"self.all(a, a.matches('^[a-zA-Z][a-zA-Z0-9+.-]*:[^#\\s]+$'))")
        .message("spec.clients[].tokenExchange.audiences must be absolute URIs without a fragment"))]
    pub audiences: Vec<String>,

    /// The scopes exchanged tokens may carry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(max = 64)))]
    pub scopes: Vec<String>,
}

/// A client authentication method (OAuth Token Endpoint Authentication Methods registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    None,
}

/// A client's public keys (RFC 7517 §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientJwksSpec {
    #[schemars(length(min = 1, max = 8))]
    pub keys: Vec<ClientJwkSpec>,
}

/// One public JWK (RFC 7517 §4, RFC 7518 §6): EC (`crv`, `x`, `y`), OKP (`crv`, `x`) or RSA
/// (`n`, `e`). Private members are not part of the schema, so they are never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClientJwkSpec {
    #[schemars(regex(pattern = r"^(EC|OKP|RSA)$"))]
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 256))]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 8))]
    pub usage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1400))]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 16))]
    pub e: Option<String>,
}

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    Confidential,
    Public,
}

/// An OAuth 2.0 grant type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
    TokenExchange,
}
