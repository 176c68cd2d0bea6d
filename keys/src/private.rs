//! A contract key's PKCS#8 PEM parsed for its algorithm, the public JWK it yields, and the
//! contract's rule that its `kid` is that JWK's thumbprint.
//!
//! ring parses every algorithm (it verifies and signs RSA keys, though it cannot generate
//! them). Nothing here may format the PEM or a parsed key: [`PrivateKey`]'s `Debug` names the
//! algorithm only.

use std::fmt;

use meridian_contract::{Algorithm, KeyRing, SigningKey};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair,
};

use crate::{KeyError, PublicJwk};

/// A key pair parsed once from a contract key, for the auth-server to sign with.
pub enum PrivateKey {
    /// ES256: P-256, signatures in the fixed `r || s` form JWS wants (RFC 7518 §3.4).
    Ecdsa(EcdsaKeyPair),
    /// EdDSA: Ed25519 (RFC 8037).
    Ed25519(Ed25519KeyPair),
    /// RS256: RSASSA-PKCS1-v1_5 with SHA-256, 2048 to 8192 bits.
    Rsa(RsaKeyPair),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PrivateKey").field(&self.alg()).finish()
    }
}

impl PrivateKey {
    /// Parses `key` for its algorithm, refusing it unless its `kid` is its thumbprint.
    pub fn from_contract(key: &SigningKey) -> Result<Self, KeyError> {
        let private = Self::from_pem(key.alg, &key.private_key_pem, &key.kid)?;
        let thumbprint = private.public_jwk().kid;
        if thumbprint != key.kid {
            return Err(KeyError::KidMismatch {
                kid: key.kid.clone(),
                thumbprint,
            });
        }
        Ok(private)
    }

    /// Parses PKCS#8 PEM as a key of `alg`; `kid` names the key in errors.
    fn from_pem(alg: Algorithm, private_key_pem: &str, kid: &str) -> Result<Self, KeyError> {
        let pem = pem::parse(private_key_pem).map_err(|_| KeyError::MalformedPem {
            kid: kid.to_owned(),
        })?;
        let der = pem.contents();
        match alg {
            Algorithm::ES256 => {
                let sig_alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
                EcdsaKeyPair::from_pkcs8(sig_alg, der, &SystemRandom::new()).map(Self::Ecdsa)
            }
            // Accepts PKCS#8 v1 and v2; the public key is derived from the seed either way.
            Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map(Self::Ed25519),
            Algorithm::RS256 => RsaKeyPair::from_pkcs8(der).map(Self::Rsa),
        }
        .map_err(|rejected| KeyError::Rejected {
            kid: kid.to_owned(),
            reason: rejected.to_string(),
        })
    }

    pub fn alg(&self) -> Algorithm {
        match self {
            Self::Ecdsa(_) => Algorithm::ES256,
            Self::Ed25519(_) => Algorithm::EdDSA,
            Self::Rsa(_) => Algorithm::RS256,
        }
    }

    /// The public key in the form ring verifies: a SEC1 point, 32 Ed25519 bytes, or an RSA
    /// public key in DER.
    pub fn public_key(&self) -> &[u8] {
        match self {
            Self::Ecdsa(pair) => pair.public_key().as_ref(),
            Self::Ed25519(pair) => pair.public_key().as_ref(),
            Self::Rsa(pair) => pair.public().as_ref(),
        }
    }

    /// The JWK this key publishes; its `kid` is its thumbprint.
    pub fn public_jwk(&self) -> PublicJwk {
        let mut jwk = match self {
            Self::Ecdsa(pair) => PublicJwk::p256(pair.public_key().as_ref()),
            Self::Ed25519(pair) => PublicJwk::ed25519(pair.public_key().as_ref()),
            Self::Rsa(pair) => {
                let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
                PublicJwk::rsa(&public.n, &public.e)
            }
        };
        jwk.alg = self.alg().as_str();
        jwk.kid = jwk.thumbprint();
        jwk
    }
}

/// The public JWK of a contract key's PEM. Its `kid` is the thumbprint, whatever `key.kid`
/// says; [`check_key`] is the check that they agree.
pub fn public_jwk(key: &SigningKey) -> Result<PublicJwk, KeyError> {
    PrivateKey::from_pem(key.alg, &key.private_key_pem, &key.kid).map(|key| key.public_jwk())
}

/// Whether a contract key is usable as it stands: its PEM is a key of its `alg` and its `kid`
/// is that key's RFC 7638 thumbprint.
pub fn check_key(key: &SigningKey) -> Result<(), KeyError> {
    PrivateKey::from_contract(key).map(drop)
}

/// [`check_key`] over every key of a ring, stopping at the first unusable one.
pub fn check_key_ring(ring: &KeyRing) -> Result<(), KeyError> {
    ring.keys.iter().try_for_each(check_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_key;

    #[test]
    fn a_kid_that_is_not_the_thumbprint_is_refused() {
        let mut key = generate_key(Algorithm::ES256, 1, 0);
        let thumbprint = std::mem::replace(&mut key.kid, "chosen-by-hand".into());
        let error = check_key(&key).unwrap_err();
        assert_eq!(
            error,
            KeyError::KidMismatch {
                kid: "chosen-by-hand".into(),
                thumbprint,
            }
        );
        assert_eq!(error.reason(), "KidMismatch");
        let ring = KeyRing {
            keys: vec![generate_key(Algorithm::EdDSA, 1, 0), key],
        };
        assert_eq!(check_key_ring(&ring), Err(error), "any key of the ring");
    }

    #[test]
    fn a_key_is_checked_against_its_own_algorithm() {
        let mut key = generate_key(Algorithm::ES256, 1, 0);
        key.alg = Algorithm::EdDSA;
        let error = check_key(&key).unwrap_err();
        assert!(matches!(error, KeyError::Rejected { .. }), "{error}");
        assert_eq!(error.reason(), "KeyRejected");
    }

    #[test]
    fn errors_name_the_kid_and_never_the_pem() {
        let key = generate_key(Algorithm::RS256, 1, 0);
        let body_line = key.private_key_pem.lines().nth(1).unwrap().to_owned();
        let mut mismatched = key.clone();
        mismatched.kid = "k1".into();
        let mut wrong_alg = key.clone();
        wrong_alg.alg = Algorithm::ES256;
        let mut truncated = key.clone();
        truncated.private_key_pem.truncate(200);
        for broken in [mismatched, wrong_alg, truncated] {
            let error = check_key(&broken).unwrap_err();
            for shown in [error.to_string(), format!("{error:?}")] {
                assert!(shown.contains(&broken.kid), "{shown}");
                assert!(!shown.contains("PRIVATE KEY"), "{shown}");
                assert!(!shown.contains(&body_line), "{shown}");
            }
        }
        let parsed = PrivateKey::from_contract(&key).unwrap();
        assert_eq!(format!("{parsed:?}"), "PrivateKey(RS256)");
    }
}
