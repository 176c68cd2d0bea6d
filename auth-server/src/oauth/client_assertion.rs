//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): a JWT the
//! client signed with its own key, checked against the public keys it registered.
//!
//! Pure: the caller gives the keys (inline, or fetched from the client's `jwks_uri`), the
//! audiences this tenant answers to (its issuer, its public token endpoint URL and that of the
//! endpoint the assertion came to, never one built from the request's `Host`), the algorithms
//! it accepts and the time; whether the `jti` was used before is the
//! store's to say. A refusal is `invalid_client` to the caller, whatever the reason.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meridian_contract::UnixSeconds;
use serde::Deserialize;
use serde_json::Value;

use super::client_key::ClientKey;
use super::jwt::Jws;

/// `client_assertion_type` of RFC 7523 §2.2.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live (authlib's default is an hour); its `jti` is remembered
/// until it expires, so this bounds how long.
const MAX_LIFETIME: i64 = 3600 + 60;
/// How far ahead of this server's clock a client's may run (`iat`, `nbf`).
const MAX_SKEW: i64 = 60;

/// An assertion that passed every check but the replay check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asserted {
    pub jti: String,
    pub expires_at: UnixSeconds,
}

/// Why an assertion is refused, for a debug line; callers answer `invalid_client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("client assertion refused: {0}")]
pub struct AssertionRefused(pub &'static str);

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: UnixSeconds,
    jti: String,
    #[serde(default)]
    iat: Option<UnixSeconds>,
    #[serde(default)]
    nbf: Option<UnixSeconds>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Several(Vec<String>),
}

impl Audience {
    fn contains_any(&self, accepted: &[&str]) -> bool {
        match self {
            Self::One(aud) => accepted.contains(&aud.as_str()),
            Self::Several(auds) => auds.iter().any(|aud| accepted.contains(&aud.as_str())),
        }
    }
}

/// The client an assertion claims to be (`sub`), unverified: only to find whose keys check it.
pub fn asserted_client(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

/// The `kid` an assertion names, unverified: to know whether a cached JWKS has its key.
pub fn asserted_kid(assertion: &str) -> Option<String> {
    Jws::parse(assertion).ok()?.header.kid
}

/// RFC 7523 §3: signed by one of `keys` with an asymmetric algorithm; `iss` and `sub` are
/// `client_id`; `aud` names one of `audiences`; signed with one of `algs`; unexpired, not for
/// later, and short-lived.
pub fn check_assertion(
    assertion: &str,
    client_id: &str,
    keys: &[Value],
    (audiences, algs): (&[&str], &[&str]),
    now: UnixSeconds,
) -> Result<Asserted, AssertionRefused> {
    let jws = Jws::parse(assertion).map_err(|_| AssertionRefused("not a signed JWT"))?;
    let alg = jws.header.alg.as_str();
    if !algs.contains(&alg) {
        return Err(AssertionRefused(
            "alg is not a supported asymmetric algorithm",
        ));
    }
    let kid = jws.header.kid.as_deref();
    let candidates = keys
        .iter()
        .filter(|jwk| kid.is_none_or(|kid| jwk["kid"].as_str() == Some(kid)))
        .filter(|jwk| jwk.get("use").is_none_or(|usage| usage == "sig"))
        .filter_map(|jwk| ClientKey::from_jwk(jwk, alg).ok());
    let claims: AssertionClaims = candidates
        .into_iter()
        .find_map(|key| jws.verified_claims(None, &key).ok())
        .ok_or(AssertionRefused("no registered key verifies the signature"))?;
    if claims.iss != client_id || claims.sub != client_id {
        return Err(AssertionRefused("iss and sub must be the client_id"));
    }
    if !claims.aud.contains_any(audiences) {
        return Err(AssertionRefused("aud is not this server"));
    }
    if claims.exp <= now || claims.exp > now + MAX_LIFETIME {
        return Err(AssertionRefused("expired, or lives too long"));
    }
    let early = |at: Option<UnixSeconds>| at.is_some_and(|at| at > now + MAX_SKEW);
    if early(claims.iat) || early(claims.nbf) {
        return Err(AssertionRefused("issued for later"));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(AssertionRefused("jti is missing or too long"));
    }
    Ok(Asserted {
        jti: claims.jti,
        expires_at: claims.exp,
    })
}
