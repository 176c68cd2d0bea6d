//! JWS compact serialization of the tokens this server issues, and verification of tokens it
//! is shown, under RFC 8725's rules.
//!
//! The algorithm is taken from the key found by `kid`, never from the token: `alg: none`, an
//! HMAC made with a public key or any other algorithm than the key's own is refused before a
//! signature is even checked. This module never logs or returns token contents on failure.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::keys::Signer;

/// The JOSE `typ` of a token (RFC 9068 §2.1 for access tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    Access,
    Id,
    /// OIDC Back-Channel Logout 1.0 §2.4: explicitly typed, so it can never pass for an ID token.
    Logout,
}

impl TokenType {
    pub const fn typ(self) -> &'static str {
        match self {
            Self::Access => "at+jwt",
            Self::Id => "JWT",
            Self::Logout => "logout+jwt",
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

/// The JOSE header of a token this server is shown.
#[derive(Deserialize)]
pub struct ReceivedHeader {
    pub alg: String,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
    /// The public key a DPoP proof is signed with (RFC 9449 §4.2).
    #[serde(default)]
    pub jwk: Option<serde_json::Value>,
}

impl ReceivedHeader {
    /// Whether `typ` is `expected` (RFC 8725 §3.11: explicit typing; compared
    /// case-insensitively, as RFC 7515 §4.1.9 says media types are).
    pub fn has_type(&self, expected: &str) -> bool {
        self.typ
            .as_deref()
            .is_some_and(|received| received.eq_ignore_ascii_case(expected))
    }
}

/// A key a JWS is verified with: it verifies exactly one `alg`.
pub trait JwsKey {
    fn alg(&self) -> &str;
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool;
}

impl JwsKey for Signer {
    fn alg(&self) -> &str {
        Signer::alg(self).as_str()
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        Signer::verify(self, message, signature)
    }
}

/// Why a presented token is not accepted. Deliberately coarse: callers answer
/// `invalid_token` or `{"active":false}` whatever the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("not a JWS compact serialization")]
    Malformed,
    #[error("no published key with this kid")]
    UnknownKey,
    #[error("alg differs from the key's algorithm")]
    AlgorithmMismatch,
    #[error("unexpected typ")]
    WrongType,
    #[error("signature does not verify")]
    BadSignature,
}

/// Signs `claims` as a compact JWS with the signer's key.
pub fn encode<C: Serialize>(signer: &Signer, typ: TokenType, claims: &C) -> String {
    let header = Header {
        alg: signer.alg().as_str(),
        typ: typ.typ(),
        kid: signer.kid(),
    };
    let header = serde_json::to_vec(&header).expect("header serializes");
    let claims = serde_json::to_vec(claims).expect("claims serialize");
    let mut token = String::with_capacity(64 + 2 * claims.len() + 2 * header.len());
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let signature = signer.sign(token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    token
}

/// Verifies signature, `alg` and `typ` and returns the claims; the caller checks `iss`,
/// `exp` and the rest. `key` finds a key that may verify by `kid`.
pub fn verify<'k, C: DeserializeOwned>(
    token: &str,
    typ: TokenType,
    key: impl FnOnce(&str) -> Option<&'k Signer>,
) -> Result<C, JwtError> {
    let jws = Jws::parse(token)?;
    let signer = jws
        .header
        .kid
        .as_deref()
        .and_then(key)
        .ok_or(JwtError::UnknownKey)?;
    jws.verified_claims(Some(typ.typ()), signer)
}

/// A compact JWS taken apart; nothing in it is trusted until [`Jws::verified_claims`].
pub struct Jws<'t> {
    pub header: ReceivedHeader,
    signing_input: &'t str,
    claims_b64: &'t str,
    signature_b64: &'t str,
}

impl<'t> Jws<'t> {
    pub fn parse(token: &'t str) -> Result<Self, JwtError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: ReceivedHeader = decode_part(header_b64)?;
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: no extension is understood here, so none may be critical.
            return Err(JwtError::Malformed);
        }
        Ok(Self {
            header,
            signing_input: &token[..header_b64.len() + 1 + claims_b64.len()],
            claims_b64,
            signature_b64,
        })
    }

    /// The claims, once `alg` is the key's own, `typ` is `typ` (when one is required: RFC
    /// 7523 client assertions have none) and the signature verifies.
    pub fn verified_claims<C: DeserializeOwned>(
        &self,
        typ: Option<&str>,
        key: &dyn JwsKey,
    ) -> Result<C, JwtError> {
        if self.header.alg != key.alg() {
            return Err(JwtError::AlgorithmMismatch);
        }
        if typ.is_some_and(|typ| !self.header.has_type(typ)) {
            return Err(JwtError::WrongType);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(self.signature_b64)
            .map_err(|_| JwtError::Malformed)?;
        if !key.verify(self.signing_input.as_bytes(), &signature) {
            return Err(JwtError::BadSignature);
        }
        decode_part(self.claims_b64)
    }
}

fn decode_part<T: DeserializeOwned>(part: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use meridian_contract::Algorithm;
    use meridian_keys::generate_key;
    use serde_json::{Value, json};

    use super::*;
    use crate::keys::Signer;

    fn signer(alg: Algorithm) -> Signer {
        Signer::from_contract(&generate_key(alg, 1, 0)).unwrap()
    }

    fn forge(header: Value, claims: Value, signature: &[u8]) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!(
            "{}.{}.{}",
            part(&header),
            part(&claims),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn issued_tokens_verify_for_every_algorithm() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA] {
            let key = signer(alg);
            let token = encode(&key, TokenType::Access, &json!({"sub": "alice"}));
            let claims: Value = verify(&token, TokenType::Access, |_| Some(&key)).unwrap();
            assert_eq!(claims["sub"], "alice");
        }
    }

    #[test]
    fn alg_none_is_refused_before_any_signature_check() {
        let key = signer(Algorithm::ES256);
        let token = forge(
            json!({"alg": "none", "typ": "at+jwt", "kid": key.kid()}),
            json!({}),
            b"",
        );
        let result = verify::<Value>(&token, TokenType::Access, |_| Some(&key));
        assert_eq!(result.unwrap_err(), JwtError::AlgorithmMismatch);
    }

    #[test]
    fn an_id_token_is_not_an_access_token() {
        let key = signer(Algorithm::EdDSA);
        let token = encode(&key, TokenType::Id, &json!({"sub": "alice"}));
        let result = verify::<Value>(&token, TokenType::Access, |_| Some(&key));
        assert_eq!(result.unwrap_err(), JwtError::WrongType);
    }

    #[test]
    fn a_signature_by_another_key_is_refused() {
        let (key, other) = (signer(Algorithm::ES256), signer(Algorithm::ES256));
        let token = encode(&other, TokenType::Access, &json!({"sub": "alice"}));
        let result = verify::<Value>(&token, TokenType::Access, |_| Some(&key));
        assert_eq!(result.unwrap_err(), JwtError::BadSignature);
    }

    #[test]
    fn extra_segments_are_malformed() {
        let key = signer(Algorithm::ES256);
        let token = format!("{}.x", encode(&key, TokenType::Access, &json!({})));
        let result = verify::<Value>(&token, TokenType::Access, |_| Some(&key));
        assert_eq!(result.unwrap_err(), JwtError::Malformed);
    }
}
