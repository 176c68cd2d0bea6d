//! One tenant key, parsed once: the private half signs, the public half verifies and is
//! published as a JWK (RFC 7517).
//!
//! A [`Signer`] is built when a key ring is loaded and reused for every token; nothing on the
//! request path may parse key material. Private key bytes never leave this module, and neither
//! `Debug` nor the JWK exposes them.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meridian_contract::{Algorithm, SigningKey};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde::Serialize;

use super::KeyError;

/// A public key as served in the JWKS: public members only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicJwk {
    pub kty: &'static str,
    #[serde(rename = "use")]
    pub usage: &'static str,
    pub alg: &'static str,
    pub kid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl PublicJwk {
    /// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
    pub fn thumbprint(&self) -> String {
        let canonical = match (self.kty, &self.x, &self.y, &self.n, &self.e) {
            ("EC", Some(x), Some(y), ..) => {
                format!(
                    r#"{{"crv":"{}","kty":"EC","x":"{x}","y":"{y}"}}"#,
                    self.crv.unwrap_or("")
                )
            }
            ("OKP", Some(x), ..) => {
                format!(
                    r#"{{"crv":"{}","kty":"OKP","x":"{x}"}}"#,
                    self.crv.unwrap_or("")
                )
            }
            (_, _, _, Some(n), Some(e)) => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            _ => String::new(),
        };
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            canonical.as_bytes(),
        ))
    }
}

enum PrivateKey {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

/// A parsed key pair with its published JWK and its pre-encoded JWS headers.
pub struct Signer {
    alg: Algorithm,
    private: PrivateKey,
    public_key: Vec<u8>,
    jwk: PublicJwk,
    rng: SystemRandom,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.jwk.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

impl Signer {
    /// Parses a contract key; refuses a key whose `kid` is not its RFC 7638 thumbprint, so
    /// every region publishes the same `kid` for the same key.
    pub fn from_contract(key: &SigningKey) -> Result<Self, KeyError> {
        let signer = Self::parse(key.alg, &key.private_key_pem, &key.kid)?;
        if signer.jwk.kid != key.kid {
            let thumbprint = signer.jwk.kid.clone();
            return Err(KeyError::KidMismatch {
                kid: key.kid.clone(),
                thumbprint,
            });
        }
        Ok(signer)
    }

    /// Parses a PKCS#8 PEM key; its `kid` is its thumbprint. `label` names it in errors.
    pub fn parse(alg: Algorithm, private_key_pem: &str, label: &str) -> Result<Self, KeyError> {
        let kid = label.to_owned();
        let der =
            pem::parse(private_key_pem).map_err(|_| KeyError::MalformedPem { kid: kid.clone() })?;
        let rejected = |reason: ring::error::KeyRejected| KeyError::Rejected {
            kid: kid.clone(),
            reason: reason.to_string(),
        };
        let rng = SystemRandom::new();
        let (private, public_key, mut jwk) = match alg {
            Algorithm::ES256 => {
                let sig_alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let pair =
                    EcdsaKeyPair::from_pkcs8(sig_alg, der.contents(), &rng).map_err(rejected)?;
                let public = pair.public_key().as_ref().to_vec();
                let jwk = ec_jwk(&public);
                (PrivateKey::Ecdsa(pair), public, jwk)
            }
            Algorithm::EdDSA => {
                let pair =
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.contents()).map_err(rejected)?;
                let public = pair.public_key().as_ref().to_vec();
                let jwk = okp_jwk(&public);
                (PrivateKey::Ed25519(pair), public, jwk)
            }
            Algorithm::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(der.contents()).map_err(rejected)?;
                let public = pair.public().as_ref().to_vec();
                let jwk = rsa_jwk(&pair);
                (PrivateKey::Rsa(pair), public, jwk)
            }
        };
        jwk.alg = alg.as_str();
        jwk.kid = jwk.thumbprint();
        Ok(Self {
            alg,
            private,
            public_key,
            jwk,
            rng,
        })
    }

    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// The JWS signature of `message` (RFC 7515 §5.1; ECDSA in the fixed `r || s` form).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signed = match &self.private {
            PrivateKey::Ecdsa(pair) => pair.sign(&self.rng, message).map(|s| s.as_ref().to_vec()),
            PrivateKey::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            PrivateKey::Rsa(pair) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut out)
                    .map(|()| out)
            }
        };
        // Signing with a key that parsed cleanly fails only if the system RNG does.
        signed.expect("signing with a validated key")
    }

    /// Whether `signature` over `message` was made by this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let alg: &dyn signature::VerificationAlgorithm = match self.alg {
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        signature::UnparsedPublicKey::new(alg, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn empty_jwk(kty: &'static str) -> PublicJwk {
    PublicJwk {
        kty,
        usage: "sig",
        alg: "",
        kid: String::new(),
        crv: None,
        x: None,
        y: None,
        n: None,
        e: None,
    }
}

fn ec_jwk(uncompressed_point: &[u8]) -> PublicJwk {
    // SEC1 uncompressed: 0x04 || x || y.
    let (x, y) = uncompressed_point[1..].split_at(32);
    PublicJwk {
        crv: Some("P-256"),
        x: Some(b64(x)),
        y: Some(b64(y)),
        ..empty_jwk("EC")
    }
}

fn okp_jwk(public: &[u8]) -> PublicJwk {
    PublicJwk {
        crv: Some("Ed25519"),
        x: Some(b64(public)),
        ..empty_jwk("OKP")
    }
}

fn rsa_jwk(pair: &RsaKeyPair) -> PublicJwk {
    let components = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
    let trim = |bytes: &[u8]| {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        b64(&bytes[start..])
    };
    PublicJwk {
        n: Some(trim(&components.n)),
        e: Some(trim(&components.e)),
        ..empty_jwk("RSA")
    }
}
