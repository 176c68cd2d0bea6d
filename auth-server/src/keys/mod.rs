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

/// Why a tenant's key ring does not load: one of its keys is unusable (the first three, which
/// are [`meridian_keys::KeyError`]'s cases under the same names), or the ring's shape is wrong.
///
/// The shape cases go once the contract's `validate_tenant` runs before every load; this type
/// then becomes `meridian_keys::KeyError` itself.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key {kid}: private key is not PEM")]
    MalformedPem { kid: String },
    #[error("key {kid}: private key refused: {reason}")]
    Rejected { kid: String, reason: String },
    #[error("key {kid}: kid is not the key's RFC 7638 thumbprint ({thumbprint})")]
    KidMismatch { kid: String, thumbprint: String },
    #[error("key {kid}: appears twice in the key ring")]
    DuplicateKid { kid: String },
    #[error("key {kid}: must be published no later than it activates, and removed after")]
    BadSchedule { kid: String },
}

impl KeyError {
    /// A short machine label, for log fields and metrics.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::MalformedPem { .. } => "MalformedKey",
            Self::Rejected { .. } => "KeyRejected",
            Self::KidMismatch { .. } => "KidMismatch",
            Self::DuplicateKid { .. } => "DuplicateKid",
            Self::BadSchedule { .. } => "BadKeySchedule",
        }
    }
}

impl From<meridian_keys::KeyError> for KeyError {
    fn from(error: meridian_keys::KeyError) -> Self {
        use meridian_keys::KeyError as Key;
        match error {
            Key::MalformedPem { kid } => Self::MalformedPem { kid },
            Key::Rejected { kid, reason } => Self::Rejected { kid, reason },
            Key::KidMismatch { kid, thumbprint } => Self::KidMismatch { kid, thumbprint },
        }
    }
}

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
    pub fn load(mut ring: KeyRing) -> Result<Self, KeyError> {
        let mut signers = HashMap::with_capacity(ring.keys.len());
        for key in &mut ring.keys {
            let scheduled_in_order = key.publish_at <= key.activate_at
                && key.remove_at.is_none_or(|remove| remove > key.publish_at);
            if !scheduled_in_order {
                return Err(KeyError::BadSchedule {
                    kid: key.kid.clone(),
                });
            }
            let signer = Signer::from_contract(key)?;
            // Only the parsed key pair keeps the private key from here on.
            key.private_key_pem = String::new();
            if signers.insert(key.kid.clone(), signer).is_some() {
                return Err(KeyError::DuplicateKid {
                    kid: key.kid.clone(),
                });
            }
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
