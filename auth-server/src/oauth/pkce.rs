//! PKCE (RFC 7636) with S256 only; `plain` is refused for every client, as RFC 9700 §2.1.1
//! recommends. Pure functions: no I/O, no clock.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::OAuthError;

/// A `code_challenge` accepted at the authorize endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Validates `code_challenge` and `code_challenge_method` (RFC 7636 §4.3).
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, OAuthError> {
        match method.unwrap_or("plain") {
            "S256" => {}
            "plain" => {
                return Err(OAuthError::InvalidRequest(
                    "code_challenge_method must be S256",
                ));
            }
            _ => {
                return Err(OAuthError::InvalidRequest(
                    "unsupported code_challenge_method",
                ));
            }
        }
        // A base64url SHA-256 digest is exactly 43 characters.
        let well_formed = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(OAuthError::InvalidRequest("malformed code_challenge"));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Whether `verifier` (RFC 7636 §4.1: 43–128 unreserved characters) hashes to this
    /// challenge.
    pub fn is_met_by(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        let computed = URL_SAFE_NO_PAD.encode(digest);
        well_formed && bool::from(computed.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_example_verifies() {
        let challenge = CodeChallenge::parse(CHALLENGE, Some("S256")).unwrap();
        assert!(challenge.is_met_by(VERIFIER));
        assert!(!challenge.is_met_by(&VERIFIER.replace('d', "e")));
    }

    #[test]
    fn plain_and_missing_method_are_refused() {
        assert!(CodeChallenge::parse(CHALLENGE, Some("plain")).is_err());
        assert!(CodeChallenge::parse(CHALLENGE, None).is_err());
    }
}
