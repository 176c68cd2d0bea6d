//! A JWKS as HAProxy's `jwt_verify` can use it: one PEM public key per `kid`.
//!
//! `jwt_verify` takes a path to a PEM public key, never a JWKS, and loads every key it may use
//! when the config is read; so the gateway's keys are files, one per kid, and a new kid means
//! a new config and a reload. HAProxy 2.6 verifies ES256/384/512 and RS256/384/512 (no PS*,
//! no EdDSA): a key of another kind is refused here with the reason, rather than silently
//! never matching.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::BigUint;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use serde_json::Value;

use crate::haproxy::RoutingError;

/// One verification key of a JWKS, ready to be written to `<kid>.pem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyPem {
    pub kid: String,
    /// The JWS `alg` it verifies (the JWK's own, RFC 7517 §4.4).
    pub alg: String,
    pub pem: String,
}

/// SubjectPublicKeyInfo DER up to the uncompressed point, per curve (RFC 5480 §2).
const P256_SPKI_PREFIX: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
const P384_SPKI_PREFIX: &str = "3076301006072a8648ce3d020106052b81040022036200";

/// The keys of a JWKS document (`{"keys": [...]}`) that may verify signatures.
pub fn jwks_to_pems(jwks: &Value) -> Result<Vec<PublicKeyPem>, RoutingError> {
    let keys = jwks["keys"].as_array().ok_or(RoutingError::UnusableKey {
        kid: "(none)".into(),
        reason: "the document has no keys array".into(),
    })?;
    keys.iter()
        // RFC 7517 §4.2: a key marked for encryption never verifies a signature.
        .filter(|k| k["use"].as_str().is_none_or(|u| u == "sig"))
        .map(jwk_to_pem)
        .collect()
}

/// One JWK as PEM; its `kid` must be base64url characters, as it becomes a file name.
pub fn jwk_to_pem(jwk: &Value) -> Result<PublicKeyPem, RoutingError> {
    let text = |name: &str| jwk[name].as_str().unwrap_or_default();
    let kid = text("kid").to_owned();
    let unusable = |reason: String| RoutingError::UnusableKey {
        kid: kid.clone(),
        reason,
    };
    // It becomes a file name and a config word: base64url characters only (an RFC 7638
    // thumbprint is one), so no `/` or `..` can lead elsewhere.
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if kid.is_empty() || !kid.chars().all(safe) {
        return Err(unusable("the kid is not base64url characters only".into()));
    }
    let bytes = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(text(name))
            .map_err(|e| unusable(format!("{name} is not base64url: {e}")))
    };
    let alg = text("alg").to_owned();
    let der = match (text("kty"), text("crv"), alg.as_str()) {
        ("EC", "P-256", "ES256") => ec_spki(P256_SPKI_PREFIX, &bytes("x")?, &bytes("y")?, 32),
        ("EC", "P-384", "ES384") => ec_spki(P384_SPKI_PREFIX, &bytes("x")?, &bytes("y")?, 48),
        ("RSA", _, "RS256" | "RS384" | "RS512") => {
            let key = rsa::RsaPublicKey::new(
                BigUint::from_bytes_be(&bytes("n")?),
                BigUint::from_bytes_be(&bytes("e")?),
            )
            .map_err(|e| unusable(e.to_string()))?;
            let pem = key
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| unusable(e.to_string()))?;
            return Ok(PublicKeyPem { kid, alg, pem });
        }
        (kty, crv, alg) => {
            return Err(unusable(format!(
                "kty {kty:?} crv {crv:?} alg {alg:?} is not one HAProxy's jwt_verify checks"
            )));
        }
    }
    .map_err(unusable)?;
    Ok(PublicKeyPem {
        kid,
        alg,
        pem: pem_block("PUBLIC KEY", &der),
    })
}

fn ec_spki(prefix: &str, x: &[u8], y: &[u8], size: usize) -> Result<Vec<u8>, String> {
    if x.len() != size || y.len() != size {
        return Err(format!("x and y must be {size} bytes each"));
    }
    let mut der: Vec<u8> = (0..prefix.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&prefix[i..i + 2], 16).expect("a hex constant"))
        .collect();
    der.push(0x04);
    der.extend_from_slice(x);
    der.extend_from_slice(y);
    Ok(der)
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests {
    use rsa::pkcs8::DecodePublicKey;
    use serde_json::json;

    use super::*;

    #[test]
    fn an_ec_jwk_becomes_the_pem_openssl_writes_for_it() {
        // RFC 7517 Appendix A.1's P-256 key; the PEM is `openssl pkey -pubin -outform PEM`'s.
        let jwk = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "1",
            "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
            "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"});
        let key = jwk_to_pem(&jwk).unwrap();
        assert_eq!(key.alg, "ES256");
        assert_eq!(
            key.pem,
            "-----BEGIN PUBLIC KEY-----\n\
             MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEMKBCTNIcKUSDii11ySs3526iDZ8A\n\
             iTo7Tu6KPAqv7D7gS2XpJFbZiItSs3m9+9Ue6GnvHw/GW2ZZaVtszggXIw==\n\
             -----END PUBLIC KEY-----\n"
        );
    }

    #[test]
    fn an_rsa_jwk_becomes_a_public_key_with_the_same_modulus() {
        let n = URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let jwk = json!({"kty": "RSA", "alg": "RS256", "kid": "r1", "n": n, "e": "AQAB"});
        let key = jwk_to_pem(&jwk).unwrap();
        let parsed = rsa::RsaPublicKey::from_public_key_pem(&key.pem).unwrap();
        assert_eq!(
            rsa::traits::PublicKeyParts::n(&parsed).to_bytes_be(),
            [0xC5u8; 256]
        );
    }

    #[test]
    fn keys_haproxy_cannot_check_or_name_are_refused_and_encryption_keys_skipped() {
        let eddsa = json!({"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "kid": "e", "x": "AA"});
        assert!(
            jwk_to_pem(&eddsa)
                .unwrap_err()
                .to_string()
                .contains("EdDSA")
        );
        let traversal = json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "../../x"});
        assert_eq!(jwk_to_pem(&traversal).unwrap_err().reason(), "UnusableKey");
        let set = json!({"keys": [{"kty": "RSA", "use": "enc", "kid": "enc1"}]});
        assert!(jwks_to_pems(&set).unwrap().is_empty());
    }
}
