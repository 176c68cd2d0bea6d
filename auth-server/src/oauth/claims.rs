//! The claims of access tokens (RFC 9068) and ID tokens (OIDC Core §2), built from plain
//! values. Pure: the caller supplies the time, the ids and the signer.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meridian_contract::{Algorithm, UnixSeconds};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Claim names a tenant's static claims or a user's claims may not override: the contract's
/// list, which the operator and the Tenant CRD's admission rule use too.
pub use meridian_contract::RESERVED_CLAIMS;

/// RFC 9068 §2.2 plus Meridian's `tenant_id` and `region`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: UnixSeconds,
    pub iat: UnixSeconds,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    pub tenant_id: String,
    pub region: String,
    /// The key the token is bound to (RFC 9449 §6): only a DPoP proof by it may present it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Who acts for the subject (RFC 8693 §4.1), set by a token exchange with an actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// An actor (RFC 8693 §4.1): its `sub`, and the actor before it when the subject token was
/// itself delegated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

/// A token's confirmation claim (RFC 7800 §3.1) with the JWK thumbprint of RFC 9449 §6.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessClaims {
    /// Scopes as a list (RFC 6749 §3.3: space-delimited).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }

    /// Still valid at `now` for `issuer` (RFC 9068 §4: exact issuer, unexpired).
    pub fn is_current(&self, issuer: &str, now: UnixSeconds) -> bool {
        self.iss == issuer && now < self.exp && self.iat <= now + 60
    }
}

/// OIDC Core §2 ID token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub exp: UnixSeconds,
    pub iat: UnixSeconds,
    pub auth_time: UnixSeconds,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub at_hash: String,
    /// The session the user signed in with (OIDC Back-Channel Logout 1.0 §2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub tenant_id: String,
    pub region: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The claims of a logout token (OIDC Back-Channel Logout 1.0 §2.4): never a `nonce`, always
/// the back-channel logout event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: UnixSeconds,
    pub exp: UnixSeconds,
    pub jti: String,
    pub sid: String,
    pub events: BTreeMap<String, Value>,
}

/// The event a logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// `at_hash` (OIDC Core §3.1.3.6): the left half of the hash of the access token, with the
/// hash of the signing algorithm (SHA-512 for Ed25519, as OpenID implementations agree).
pub fn at_hash(access_token: &str, alg: Algorithm) -> String {
    let hash = match alg {
        Algorithm::ES256 | Algorithm::RS256 => &ring::digest::SHA256,
        Algorithm::EdDSA => &ring::digest::SHA512,
    };
    let digest = ring::digest::digest(hash, access_token.as_bytes());
    let bytes = digest.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// OIDC Core §5.4: the standard claims each scope value asks for.
pub const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    (
        "profile",
        &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// The scope a user claim is released under: its §5.4 scope, and `profile` for a claim §5.4
/// does not name (a tenant's own user attributes are profile data too).
pub fn scope_of_claim(claim: &str) -> &'static str {
    SCOPE_CLAIMS
        .iter()
        .find(|(_, claims)| claims.contains(&claim))
        .map_or("profile", |(scope, _)| scope)
}

/// The user's claims the granted `scope` releases (OIDC Core §5.4); nothing else leaves.
pub fn released_claims(user: &BTreeMap<String, Value>, scope: &str) -> BTreeMap<String, Value> {
    let granted: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    user.iter()
        .filter(|(name, _)| granted.contains(&scope_of_claim(name)))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// Static tenant claims first, then the user's own: both already checked against
/// [`RESERVED_CLAIMS`] at load, so neither can shadow a registered claim.
pub fn merged_claims(
    tenant: &BTreeMap<String, String>,
    user: Option<&BTreeMap<String, Value>>,
) -> BTreeMap<String, Value> {
    let mut claims: BTreeMap<String, Value> = tenant
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if let Some(user) = user {
        claims.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_oidc_core_example_length() {
        // Half of SHA-256 is 16 bytes: 22 base64url characters.
        assert_eq!(at_hash("token", Algorithm::ES256).len(), 22);
        assert_eq!(at_hash("token", Algorithm::EdDSA).len(), 43);
    }

    #[test]
    fn user_claims_are_released_by_their_scope_only() {
        let user: BTreeMap<String, Value> = [
            ("email", "a@example.com"),
            ("name", "Alice"),
            ("phone_number", "+1"),
            ("department", "R&D"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
        let names = |scope| {
            released_claims(&user, scope)
                .into_keys()
                .collect::<Vec<_>>()
        };
        assert!(names("openid").is_empty());
        assert_eq!(names("openid email"), ["email"]);
        assert_eq!(names("openid profile"), ["department", "name"]);
        assert_eq!(names("phone"), ["phone_number"]);
    }

    #[test]
    fn expired_or_foreign_tokens_are_not_current() {
        let claims = AccessClaims {
            iss: "https://a".into(),
            sub: "s".into(),
            aud: "a".into(),
            exp: 100,
            iat: 0,
            jti: "j".into(),
            client_id: "c".into(),
            scope: "openid".into(),
            tenant_id: "t".into(),
            region: "r".into(),
            cnf: None,
            act: None,
            extra: BTreeMap::new(),
        };
        assert!(claims.is_current("https://a", 99));
        assert!(!claims.is_current("https://a", 100));
        assert!(!claims.is_current("https://b", 50));
    }
}
