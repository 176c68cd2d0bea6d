//! DPoP proofs (RFC 9449 §4.3) and the server nonces they may have to carry (§8).
//!
//! Pure: the caller gives the request's method, the public URL of the endpoint (the issuer's,
//! never one built from the `Host` the request came in on), the time and, at a resource, the
//! access token. Whether a proof's `jti` was seen before is the store's to say, so a check
//! here returns what must be recorded. A refusal names the rule, never the proof's contents.
//!
//! A nonce is stateless: the time window it was made in, signed by the tenant's signing key,
//! so every replica of every region accepts it without asking anyone.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meridian_contract::UnixSeconds;
use serde::Deserialize;

use super::client_key::ClientKey;
use super::jwt::Jws;
use crate::keys::{Signer, TenantKeys};

/// The proof's JOSE `typ` (§4.2).
pub const DPOP_TYP: &str = "dpop+jwt";
/// How old a proof's `iat` may be; a proof's `jti` is remembered this long.
pub const PROOF_MAX_AGE: i64 = 60;
/// How far ahead of this server's clock a client's may run.
const PROOF_MAX_SKEW: i64 = 10;
/// A nonce is made for a window of this many seconds and accepted in it and the next.
const NONCE_WINDOW: i64 = 300;

/// What a proof is checked against.
#[derive(Debug, Clone, Copy)]
pub struct ProofTarget<'a> {
    /// The request's method (`htm`).
    pub method: &'a str,
    /// The endpoint's public URL (`htu`).
    pub uri: &'a str,
    pub now: UnixSeconds,
    /// The access token presented with the proof, at a resource (`ath`, §4.3 step 12).
    pub access_token: Option<&'a str>,
    /// The algorithms the tenant accepts (fewer in FAPI 2.0 mode).
    pub algs: &'a [&'a str],
}

/// A proof that passed every check but the replay check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The thumbprint of the key that signed it (`cnf.jkt`, §6.1).
    pub jkt: String,
    pub jti: String,
    /// Until when its `jti` must be remembered.
    pub replayable_until: UnixSeconds,
    /// The nonce it carried, if any.
    pub nonce: Option<String>,
}

/// Why a proof is refused: the reason goes into `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid DPoP proof: {0}")]
pub struct ProofRefused(pub &'static str);

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: UnixSeconds,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// Checks a DPoP proof (§4.3 steps 2 to 12; step 1, one `DPoP` header, is the caller's).
pub fn check_proof(proof: &str, target: ProofTarget<'_>) -> Result<Proof, ProofRefused> {
    let jws = Jws::parse(proof).map_err(|_| ProofRefused("not a signed JWT"))?;
    if !jws.header.has_type(DPOP_TYP) {
        return Err(ProofRefused("typ must be dpop+jwt"));
    }
    if !target.algs.contains(&jws.header.alg.as_str()) {
        return Err(ProofRefused("alg is not a supported asymmetric algorithm"));
    }
    let jwk = jws.header.jwk.as_ref().ok_or(ProofRefused("no jwk"))?;
    let key = ClientKey::from_jwk(jwk, &jws.header.alg)
        .map_err(|_| ProofRefused("jwk is not a public key for alg"))?;
    let claims: ProofClaims = jws
        .verified_claims(Some(DPOP_TYP), &key)
        .map_err(|_| ProofRefused("signature does not verify"))?;
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(ProofRefused("jti is missing or too long"));
    }
    if claims.htm != target.method {
        return Err(ProofRefused("htm is not the request's method"));
    }
    if !same_uri(&claims.htu, target.uri) {
        return Err(ProofRefused("htu is not this endpoint's URL"));
    }
    if claims.iat < target.now - PROOF_MAX_AGE || claims.iat > target.now + PROOF_MAX_SKEW {
        return Err(ProofRefused("iat is outside the accepted window"));
    }
    match (target.access_token, &claims.ath) {
        (Some(token), Some(ath)) if *ath == access_token_hash(token) => {}
        (Some(_), _) => return Err(ProofRefused("ath is not the access token's hash")),
        (None, _) => {}
    }
    Ok(Proof {
        jkt: key.thumbprint().to_owned(),
        jti: claims.jti,
        replayable_until: claims.iat + PROOF_MAX_AGE + 1,
        nonce: claims.nonce,
    })
}

/// `ath` (§4.2): base64url SHA-256 of the access token's ASCII.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

/// §4.3 step 9: `htu` against the endpoint's URL, without query and fragment, after RFC 3986
/// §6.2.2/§6.2.3 normalization (case of scheme and host, default port, empty path).
fn same_uri(htu: &str, expected: &str) -> bool {
    let normalized = |uri: &str| {
        let mut url = url::Url::parse(uri).ok()?;
        url.set_query(None);
        url.set_fragment(None);
        Some(url)
    };
    match (normalized(htu), normalized(expected)) {
        (Some(htu), Some(expected)) => htu == expected,
        _ => false,
    }
}

/// A nonce for `tenant` made now: `window.kid.signature`.
pub fn nonce(signer: &Signer, tenant: &str, now: UnixSeconds) -> String {
    let window = now.div_euclid(NONCE_WINDOW);
    let signature = signer.sign(nonce_message(tenant, window).as_bytes());
    format!(
        "{window}.{}.{}",
        signer.kid(),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// Whether `nonce` is one of this tenant's, made in this window or the one before.
pub fn nonce_is_current(nonce: &str, keys: &TenantKeys, tenant: &str, now: UnixSeconds) -> bool {
    let mut parts = nonce.splitn(3, '.');
    let (Some(window), Some(kid), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(window) = window.parse::<i64>() else {
        return false;
    };
    let current = now.div_euclid(NONCE_WINDOW);
    if window != current && window != current - 1 {
        return false;
    }
    let (Some(key), Ok(signature)) = (keys.verifier(kid, now), URL_SAFE_NO_PAD.decode(signature))
    else {
        return false;
    };
    key.verify(nonce_message(tenant, window).as_bytes(), &signature)
}

fn nonce_message(tenant: &str, window: i64) -> String {
    format!("meridian dpop-nonce\n{tenant}\n{window}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htu_compares_after_normalization_without_query() {
        let endpoint = "https://auth.example/t/acme/token";
        assert!(same_uri(
            "HTTPS://Auth.Example:443/t/acme/token?x=1#f",
            endpoint
        ));
        assert!(!same_uri("https://evil.example/t/acme/token", endpoint));
        assert!(!same_uri("https://auth.example/t/acme/token/", endpoint));
        assert!(!same_uri("not a url", endpoint));
    }

    #[test]
    fn ath_is_the_base64url_sha256_of_the_token() {
        // RFC 9449 §7.1's example: the access token and its `ath`.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }
}
