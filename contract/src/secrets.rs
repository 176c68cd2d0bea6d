//! Digests of confidential clients' secrets.
//!
//! Client secrets are generated with high entropy, so a fast digest is safe (unlike
//! passwords, they cannot be guessed) and keeps client authentication on the token endpoint's
//! hot path cheap. The plaintext never leaves the hub cluster: the operator writes only digests.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// `<tenant>.clients.json`: client id → digest of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientSecrets {
    pub secrets: BTreeMap<String, SecretDigest>,
}

/// `sha256:<64 lowercase hex digits>` of the secret's UTF-8 bytes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretDigest(pub String);

impl SecretDigest {
    pub const PREFIX: &'static str = "sha256:";

    /// The 32 digest bytes, or `None` when the value is not a well-formed SHA-256 digest.
    pub fn sha256_bytes(&self) -> Option<[u8; 32]> {
        let hex = self.0.strip_prefix(Self::PREFIX)?;
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(out)
    }

    /// Formats raw digest bytes as a contract value.
    pub fn from_sha256(bytes: [u8; 32]) -> Self {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{}{hex}", Self::PREFIX))
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretDigest(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trips() {
        let bytes: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
        assert_eq!(SecretDigest::from_sha256(bytes).sha256_bytes(), Some(bytes));
    }

    #[test]
    fn malformed_digests_are_refused() {
        for bad in [
            "",
            "sha256:",
            "sha256:zz",
            "md5:00",
            &format!("sha256:{}", "0".repeat(63)),
        ] {
            assert_eq!(SecretDigest(bad.into()).sha256_bytes(), None, "{bad}");
        }
    }
}
