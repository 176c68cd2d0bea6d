//! A tenant's token lifetimes and signing policy.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Token lifetimes, as Kubernetes-style durations (`15m`, `1h30m`, `720h`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokensSpec {
    /// Lifetime of access tokens: more than 0, at most 24h.
    #[serde(default = "TokensSpec::default_access")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new(super::rules::is_positive_duration(Some("24h"))).message("spec.tokens.accessTokenTtl must be a duration such as 15m, more than 0 and at most 24h"))]
    pub access_token_ttl: String,

    /// Lifetime of ID tokens: more than 0, at most 24h.
    #[serde(default = "TokensSpec::default_id")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new(super::rules::is_positive_duration(Some("24h"))).message("spec.tokens.idTokenTtl must be a duration such as 1h, more than 0 and at most 24h"))]
    pub id_token_ttl: String,

    /// Lifetime of refresh tokens: more than 0, at most 2160h (90 days).
    #[serde(default = "TokensSpec::default_refresh")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new(super::rules::is_positive_duration(Some("2160h"))).message("spec.tokens.refreshTokenTtl must be a duration such as 720h, more than 0 and at most 2160h (90 days)"))]
    pub refresh_token_ttl: String,
}

impl TokensSpec {
    fn default_access() -> String {
        "15m".into()
    }
    fn default_id() -> String {
        "1h".into()
    }
    fn default_refresh() -> String {
        "720h".into()
    }
}

impl Default for TokensSpec {
    fn default() -> Self {
        Self {
            access_token_ttl: Self::default_access(),
            id_token_ttl: Self::default_id(),
            refresh_token_ttl: Self::default_refresh(),
        }
    }
}

/// How a tenant's tokens are signed and how often its key rotates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("duration(self.publishAhead) < duration(self.rotationInterval)")
    .message("spec.signing.publishAhead must be shorter than spec.signing.rotationInterval")
    .field_path(".publishAhead"))]
pub struct SigningSpec {
    /// JWS algorithm: ES256 (default), EdDSA (Ed25519) or RS256. Changing it starts a rotation
    /// to a key of the new algorithm; it never swaps keys in place.
    #[serde(default)]
    pub algorithm: SigningAlgorithm,

    /// How long a key signs before the next one takes over, e.g. `720h`.
    #[serde(default = "SigningSpec::default_rotation_interval")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new(super::rules::is_positive_duration(None)).message("spec.signing.rotationInterval must be a positive duration such as 720h"))]
    pub rotation_interval: String,

    /// How long before it signs a new key is published in every region's JWKS. Must exceed the
    /// JWKS cache lifetime plus propagation time, so resource servers know a key before they
    /// see a token signed with it; the operator raises it to the least its propagation, resync
    /// and JWKS max-age allow (the KeyStaged Event says so).
    #[serde(default = "SigningSpec::default_publish_ahead")]
    #[schemars(length(max = 32))]
    #[x_kube(validation = Rule::new(super::rules::is_positive_duration(None)).message("spec.signing.publishAhead must be a positive duration such as 1h"))]
    pub publish_ahead: String,

    /// Key ids (`kid`) revoked in an emergency: removed from every region at once. Tokens they
    /// signed stop verifying immediately; use only for a compromised key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), inner(length(max = 64)))]
    pub revoked_kids: Vec<String>,
}

impl SigningSpec {
    fn default_rotation_interval() -> String {
        "720h".into()
    }
    fn default_publish_ahead() -> String {
        "1h".into()
    }
}

impl Default for SigningSpec {
    fn default() -> Self {
        Self {
            algorithm: SigningAlgorithm::default(),
            rotation_interval: Self::default_rotation_interval(),
            publish_ahead: Self::default_publish_ahead(),
            revoked_kids: Vec::new(),
        }
    }
}

/// A JWS signing algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SigningAlgorithm {
    // ECDSA on P-256 with SHA-256.
    #[default]
    ES256,
    // Ed25519.
    EdDSA,
    // RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    RS256,
}
