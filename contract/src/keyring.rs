//! A tenant's signing keys and the schedule that every region follows without coordination.
//!
//! The schedule travels with the keys, so every region switches signing key at the same instant
//! by its own clock. The operator is the only writer; the auth-server only reads. The rules
//! here are the single definition of "published" and "signing" for both sides.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

/// `<tenant>.keys.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyRing {
    pub keys: Vec<SigningKey>,
}

/// JWS algorithms a tenant may sign with (RFC 7518 / RFC 8037 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    ES256,
    EdDSA,
    RS256,
}

impl Algorithm {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
            Self::RS256 => "RS256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One key and its schedule: published from `publish_at`, signs from `activate_at` until
/// `retire_at`, and leaves the JWKS at `remove_at`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SigningKey {
    /// RFC 7638 JWK thumbprint of the public key, base64url.
    pub kid: String,
    pub alg: Algorithm,
    /// Grows by one with every key a tenant ever had; the newest active key signs.
    pub generation: u64,
    /// PKCS#8 PEM. Never logged: [`SigningKey`]'s `Debug` leaves it out.
    pub private_key_pem: String,
    pub publish_at: UnixSeconds,
    pub activate_at: UnixSeconds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<UnixSeconds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_at: Option<UnixSeconds>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("generation", &self.generation)
            .field("private_key_pem", &"<redacted>")
            .field("publish_at", &self.publish_at)
            .field("activate_at", &self.activate_at)
            .field("retire_at", &self.retire_at)
            .field("remove_at", &self.remove_at)
            .finish()
    }
}

impl SigningKey {
    /// In the JWKS: `publish_at <= now < remove_at`.
    pub fn is_published(&self, now: UnixSeconds) -> bool {
        self.publish_at <= now && self.remove_at.is_none_or(|remove| now < remove)
    }

    /// May sign: published, activated and not yet retired.
    pub fn may_sign(&self, now: UnixSeconds) -> bool {
        self.is_published(now)
            && self.activate_at <= now
            && self.retire_at.is_none_or(|retire| now < retire)
    }
}

impl KeyRing {
    /// Keys a JWKS serves at `now`.
    pub fn published(&self, now: UnixSeconds) -> impl Iterator<Item = &SigningKey> {
        self.keys.iter().filter(move |key| key.is_published(now))
    }

    /// The key that signs at `now`: the newest (highest generation) key that may sign.
    pub fn signing_key(&self, now: UnixSeconds) -> Option<&SigningKey> {
        self.keys
            .iter()
            .filter(|key| key.may_sign(now))
            .max_by_key(|key| key.generation)
    }

    /// The next instant after `now` at which [`Self::published`] or [`Self::signing_key`] may
    /// change, so a reader can re-evaluate exactly then instead of polling.
    pub fn next_transition(&self, now: UnixSeconds) -> Option<UnixSeconds> {
        self.keys
            .iter()
            .flat_map(|key| {
                [
                    Some(key.publish_at),
                    Some(key.activate_at),
                    key.retire_at,
                    key.remove_at,
                ]
            })
            .flatten()
            .filter(|at| *at > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(
        generation: u64,
        publish: i64,
        activate: i64,
        retire: Option<i64>,
        remove: Option<i64>,
    ) -> SigningKey {
        SigningKey {
            kid: format!("k{generation}"),
            alg: Algorithm::ES256,
            generation,
            private_key_pem: "-----BEGIN PRIVATE KEY-----secret".into(),
            publish_at: publish,
            activate_at: activate,
            retire_at: retire,
            remove_at: remove,
        }
    }

    fn kids<'a>(keys: impl Iterator<Item = &'a SigningKey>) -> Vec<&'a str> {
        keys.map(|k| k.kid.as_str()).collect()
    }

    #[test]
    fn staged_key_is_published_before_it_signs() {
        let ring = KeyRing {
            keys: vec![key(1, 0, 0, None, None), key(2, 100, 200, None, None)],
        };
        assert_eq!(kids(ring.published(99)), ["k1"]);
        assert_eq!(kids(ring.published(100)), ["k1", "k2"]);
        assert_eq!(ring.signing_key(199).unwrap().kid, "k1");
        assert_eq!(ring.signing_key(200).unwrap().kid, "k2");
    }

    #[test]
    fn retired_key_stays_published_until_removed() {
        let ring = KeyRing {
            keys: vec![
                key(1, 0, 0, Some(200), Some(500)),
                key(2, 100, 200, None, None),
            ],
        };
        assert_eq!(ring.signing_key(250).unwrap().kid, "k2");
        assert_eq!(kids(ring.published(499)), ["k1", "k2"]);
        assert_eq!(kids(ring.published(500)), ["k2"]);
    }

    #[test]
    fn a_retired_key_never_signs_even_when_nothing_else_can() {
        let ring = KeyRing {
            keys: vec![key(1, 0, 0, Some(10), None)],
        };
        assert!(ring.signing_key(10).is_none());
    }

    #[test]
    fn an_unpublished_key_never_signs() {
        let ring = KeyRing {
            keys: vec![key(1, 50, 0, None, None)],
        };
        assert!(ring.signing_key(10).is_none());
    }

    #[test]
    fn next_transition_is_the_nearest_future_instant() {
        let ring = KeyRing {
            keys: vec![
                key(1, 0, 0, Some(200), Some(500)),
                key(2, 100, 200, None, None),
            ],
        };
        assert_eq!(ring.next_transition(0), Some(100));
        assert_eq!(ring.next_transition(150), Some(200));
        assert_eq!(ring.next_transition(200), Some(500));
        assert_eq!(ring.next_transition(500), None);
    }

    #[test]
    fn debug_output_never_contains_the_private_key() {
        let debug = format!("{:?}", key(1, 0, 0, None, None));
        assert!(!debug.contains("secret"), "{debug}");
        assert!(debug.contains("k1"));
    }
}
