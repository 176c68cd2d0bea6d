//! One tenant key, parsed once: the private half signs, the public half verifies and is
//! published as a JWK (RFC 7517).
//!
//! A [`Signer`] is built when a key ring is loaded and reused for every token; nothing on the
//! request path may parse key material. Parsing, the JWK and the `kid` check are
//! [`meridian_keys`]'s; neither `Debug` nor the JWK exposes private key bytes.

use std::fmt;

use meridian_contract::{Algorithm, SigningKey};
use meridian_keys::{KeyError, PrivateKey, PublicJwk};
use ring::rand::SystemRandom;
use ring::signature;

/// A parsed key pair with its published JWK.
pub struct Signer {
    private: PrivateKey,
    jwk: PublicJwk,
    rng: SystemRandom,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.jwk.kid)
            .field("alg", &self.alg())
            .finish()
    }
}

impl Signer {
    /// Parses a contract key; refuses a key whose `kid` is not its RFC 7638 thumbprint, so
    /// every region publishes the same `kid` for the same key.
    pub fn from_contract(key: &SigningKey) -> Result<Self, KeyError> {
        let private = PrivateKey::from_contract(key)?;
        Ok(Self {
            jwk: private.public_jwk(),
            private,
            rng: SystemRandom::new(),
        })
    }

    pub fn kid(&self) -> &str {
        &self.jwk.kid
    }

    pub fn alg(&self) -> Algorithm {
        self.private.alg()
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
        let alg: &dyn signature::VerificationAlgorithm = match self.alg() {
            Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            Algorithm::EdDSA => &signature::ED25519,
            Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        signature::UnparsedPublicKey::new(alg, self.private.public_key())
            .verify(message, signature)
            .is_ok()
    }
}
