//! New signing keys in the contract's format: the operator's for every tenant, and the
//! auth-server's for `--dev` and tests. A new key's `kid` is computed by the code that checks
//! it, so a generated key passes [`check_key`](crate::check_key) by construction.

use meridian_contract::{Algorithm, SigningKey, UnixSeconds};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};

use crate::public_jwk;

/// RS256 keys get the size RFC 7518 §3.3 requires at least, which every verifier accepts.
const RSA_BITS: usize = 2048;

/// A new key of `alg`, published and signing from `now`, with its thumbprint as `kid`.
///
/// # Panics
/// Only if the operating system's random number generator fails.
pub fn generate_key(alg: Algorithm, generation: u64, now: UnixSeconds) -> SigningKey {
    let pkcs8 = match alg {
        Algorithm::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map(|document| document.as_ref().to_vec())
        }
        Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map(|document| document.as_ref().to_vec()),
        Algorithm::RS256 => Ok(rsa_pkcs8()),
    }
    .expect("the system random number generator");
    let pem = pem::Pem::new("PRIVATE KEY", pkcs8);
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    let mut key = SigningKey {
        kid: String::new(),
        alg,
        generation,
        private_key_pem: pem::encode_config(&pem, config),
        publish_at: now,
        activate_at: now,
        retire_at: None,
        remove_at: None,
    };
    key.kid = public_jwk(&key).expect("a key generated here parses").kid;
    key
}

fn rsa_pkcs8() -> Vec<u8> {
    use rsa::pkcs8::EncodePrivateKey;
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
        .expect("the system random number generator");
    key.to_pkcs8_der()
        .expect("an RSA key encodes as PKCS#8")
        .as_bytes()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PrivateKey, check_key};

    const ALGORITHMS: [Algorithm; 3] = [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256];

    #[test]
    fn generated_keys_pass_the_check_for_every_algorithm() {
        for alg in ALGORITHMS {
            let key = generate_key(alg, 7, 1_000);
            assert_eq!(check_key(&key), Ok(()), "{alg}");
            assert_eq!((key.alg, key.generation), (alg, 7));
            assert_eq!((key.publish_at, key.activate_at), (1_000, 1_000));
            assert_eq!((key.retire_at, key.remove_at), (None, None));
            assert_eq!(key.kid.len(), 43, "{alg}: base64url SHA-256");
            assert!(
                key.private_key_pem
                    .starts_with("-----BEGIN PRIVATE KEY-----\n")
            );
            let jwk = public_jwk(&key).unwrap();
            assert_eq!(
                (jwk.alg, jwk.kid.as_str()),
                (alg.as_str(), key.kid.as_str())
            );
        }
    }

    #[test]
    fn rsa_keys_are_2048_bits() {
        let key = PrivateKey::from_contract(&generate_key(Algorithm::RS256, 1, 0)).unwrap();
        let PrivateKey::Rsa(pair) = key else {
            panic!("an RS256 key parses as RSA")
        };
        assert_eq!(pair.public().modulus_len(), RSA_BITS / 8);
    }
}
