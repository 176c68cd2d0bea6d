//! A tenant's keys at run time: the contract's [`KeyRing`] schedule plus one [`Signer`] per
//! key, built once at load.
//!
//! The schedule rules are the contract's (`KeyRing::published`, `KeyRing::signing_key`) and
//! what makes one key usable is [`meridian_keys`]'s; this module only maps their answers onto
//! parsed keys. It must never hold PEM text after load.

mod signer;

use std::collections::HashMap;

use meridian_contract::{KeyRing, UnixSeconds};
use meridian_keys::PublicJwk;
use serde::Serialize;

pub use signer::Signer;

/// Why a key of the ring does not load: [`meridian_keys`]'s verdict on one key. The ring's
/// shape (a key at all, unique kids, an ordered schedule) is the contract's validation, which
/// runs before a tenant is built.
pub use meridian_keys::KeyError;

/// A JWKS document (RFC 7517 §5).
#[derive(Debug, Serialize)]
pub struct Jwks<'a> {
    pub keys: Vec<&'a PublicJwk>,
}

/// The key ring's schedule, without private material, and its parsed keys.
#[derive(Debug)]
pub struct TenantKeys {
    schedule: KeyRing,
    signers: HashMap<String, Signer>,
}

impl TenantKeys {
    /// Parses every key of a ring that passed the contract's validation.
    pub fn load(mut ring: KeyRing) -> Result<Self, KeyError> {
        let mut signers = HashMap::with_capacity(ring.keys.len());
        for key in &mut ring.keys {
            let signer = Signer::from_contract(key)?;
            // Only the parsed key pair keeps the private key from here on.
            key.private_key_pem = String::new();
            signers.insert(key.kid.clone(), signer);
        }
        Ok(Self {
            schedule: ring,
            signers,
        })
    }

    /// The key that signs at `now`, per the contract's schedule.
    pub fn signer(&self, now: UnixSeconds) -> Option<&Signer> {
        let key = self.schedule.signing_key(now)?;
        self.signers.get(&key.kid)
    }

    /// A key that may verify at `now`: exactly the keys the JWKS publishes.
    pub fn verifier(&self, kid: &str, now: UnixSeconds) -> Option<&Signer> {
        let key = self.schedule.published(now).find(|key| key.kid == kid)?;
        self.signers.get(&key.kid)
    }

    pub fn jwks(&self, now: UnixSeconds) -> Jwks<'_> {
        let keys = self.schedule.published(now);
        Jwks {
            keys: keys
                .filter_map(|key| self.signers.get(&key.kid))
                .map(Signer::jwk)
                .collect(),
        }
    }

    /// The algorithms this tenant may sign with, for discovery.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut algs: Vec<_> = self
            .schedule
            .keys
            .iter()
            .map(|key| key.alg.as_str())
            .collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }
}
