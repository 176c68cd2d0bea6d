//! A public key a client presents as a JWK (RFC 7517): in a DPoP proof's header, or in the
//! JWKS it registered for `private_key_jwt`. Parsed into the form ring verifies, with its RFC
//! 7638 thumbprint (the `jkt` that binds tokens to it), computed by [`meridian_keys`].
//!
//! Asymmetric algorithms only (RFC 9449 §4.2, RFC 8725 §3.1): a JWK with private members,
//! a symmetric key, or a key of another type than `alg` needs is refused. Nothing here logs a
//! key or says which member was wrong.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meridian_keys::PublicJwk;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::Value;

use super::jwt::JwsKey;

/// The JWS algorithms a client may sign with, for discovery's `*_signing_alg_values_supported`.
/// `Ed25519` is RFC 9864's fully-specified name for what `EdDSA` means with an Ed25519 key;
/// clients send either.
pub const CLIENT_SIGNING_ALGS: &[&str] = &["ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256"];

/// What a tenant in FAPI 2.0 mode accepts: PS256, ES256 or EdDSA with Ed25519 only (FAPI 2.0
/// Security Profile §5.4.1); RSA PKCS#1 v1.5 and ES384 are not among them.
pub const FAPI2_CLIENT_SIGNING_ALGS: &[&str] = &["ES256", "EdDSA", "Ed25519", "PS256"];

/// The algorithms a tenant's clients may sign proofs and assertions with.
pub fn client_signing_algs(fapi2: bool) -> &'static [&'static str] {
    if fapi2 {
        FAPI2_CLIENT_SIGNING_ALGS
    } else {
        CLIENT_SIGNING_ALGS
    }
}

/// Members only a private or symmetric JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A client's public key, ready to verify one algorithm.
pub struct ClientKey {
    alg: &'static str,
    material: Material,
    thumbprint: String,
}

enum Material {
    /// A SEC1 uncompressed point or 32 Ed25519 bytes, for ring's `UnparsedPublicKey`.
    Raw(&'static dyn VerificationAlgorithm, Vec<u8>),
    Rsa {
        params: &'static signature::RsaParameters,
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

/// The JWK is not a public key usable with the `alg` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a public key for a supported asymmetric algorithm")]
pub struct KeyRefused;

impl ClientKey {
    /// The key of `jwk` for verifying `alg`; a JWK that names another `alg` is refused.
    pub fn from_jwk(jwk: &Value, alg: &str) -> Result<Self, KeyRefused> {
        let jwk = jwk.as_object().ok_or(KeyRefused)?;
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(KeyRefused);
        }
        if jwk.get("alg").is_some_and(|named| named != alg) {
            return Err(KeyRefused);
        }
        let member = |name: &str| jwk.get(name).and_then(Value::as_str).ok_or(KeyRefused);
        // Strict base64url: a member decodes only from its one canonical text, so the
        // thumbprint over the text is the thumbprint over the key.
        let bytes = |name: &str| {
            URL_SAFE_NO_PAD
                .decode(member(name)?)
                .map_err(|_| KeyRefused)
        };
        let kty = member("kty")?;
        let (alg, material, public) = match (alg, kty) {
            ("ES256" | "ES384", "EC") => {
                let (crv, size, verifier): (_, _, &'static dyn VerificationAlgorithm) = match alg {
                    "ES256" => ("P-256", 32, &signature::ECDSA_P256_SHA256_FIXED),
                    _ => ("P-384", 48, &signature::ECDSA_P384_SHA384_FIXED),
                };
                if member("crv")? != crv {
                    return Err(KeyRefused);
                }
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != size || y.len() != size {
                    return Err(KeyRefused);
                }
                let point = [&[4u8][..], &x, &y].concat();
                let public = PublicJwk {
                    crv: Some(crv),
                    x: Some(member("x")?.to_owned()),
                    y: Some(member("y")?.to_owned()),
                    ..PublicJwk::empty("EC")
                };
                (alg_name(alg), Material::Raw(verifier, point), public)
            }
            ("EdDSA" | "Ed25519", "OKP") => {
                let x = bytes("x")?;
                if member("crv")? != "Ed25519" || x.len() != 32 {
                    return Err(KeyRefused);
                }
                let public = PublicJwk {
                    crv: Some("Ed25519"),
                    x: Some(member("x")?.to_owned()),
                    ..PublicJwk::empty("OKP")
                };
                (alg_name(alg), Material::Raw(&signature::ED25519, x), public)
            }
            ("RS256" | "PS256", "RSA") => {
                let params = match alg {
                    "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                    _ => &signature::RSA_PSS_2048_8192_SHA256,
                };
                let (n, e) = (bytes("n")?, bytes("e")?);
                let public = PublicJwk {
                    n: Some(member("n")?.to_owned()),
                    e: Some(member("e")?.to_owned()),
                    ..PublicJwk::empty("RSA")
                };
                (alg_name(alg), Material::Rsa { params, n, e }, public)
            }
            _ => return Err(KeyRefused),
        };
        Ok(Self {
            alg,
            material,
            thumbprint: public.thumbprint(),
        })
    }

    /// The RFC 7638 thumbprint: the `jkt` of tokens bound to this key (RFC 9449 §6.1).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }
}

impl JwsKey for ClientKey {
    fn alg(&self) -> &str {
        self.alg
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Material::Raw(alg, public) => UnparsedPublicKey::new(*alg, public)
                .verify(message, signature)
                .is_ok(),
            Material::Rsa { params, n, e } => RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok(),
        }
    }
}

fn alg_name(alg: &str) -> &'static str {
    CLIENT_SIGNING_ALGS
        .iter()
        .find(|known| **known == alg)
        .copied()
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// RFC 7638 §3.1's example key and its thumbprint.
    const RFC_7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        let jwk = json!({"kty": "RSA", "n": RFC_7638_N, "e": "AQAB", "kid": "2011-04-29"});
        let key = ClientKey::from_jwk(&jwk, "RS256").unwrap();
        assert_eq!(
            key.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_symmetric_and_mismatched_keys_are_refused() {
        let x = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let okp = json!({"kty": "OKP", "crv": "Ed25519", "x": x});
        assert!(ClientKey::from_jwk(&okp, "EdDSA").is_ok());
        let mut private = okp.clone();
        private["d"] = json!(x);
        for (jwk, alg) in [
            (private, "EdDSA"),
            (json!({"kty": "oct", "k": x}), "HS256"),
            (okp.clone(), "ES256"),
            (okp.clone(), "none"),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": x, "alg": "ES256"}),
                "EdDSA",
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": "AA"}),
                "ES256",
            ),
        ] {
            assert_eq!(
                ClientKey::from_jwk(&jwk, alg).err(),
                Some(KeyRefused),
                "{jwk}"
            );
        }
    }
}
