//! The public half of a key as a JWK (RFC 7517), as the JWKS serves it, and its RFC 7638
//! thumbprint, which is the key's `kid` everywhere.
//!
//! A [`PublicJwk`] has public members only; there is no private member to leak.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

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
    /// RFC 7638 thumbprint: base64url SHA-256 over the key type's required members, in
    /// lexicographic order and without whitespace (§3.2). `alg`, `use` and `kid` take no part.
    pub fn thumbprint(&self) -> String {
        let crv = self.crv.unwrap_or("");
        let canonical = match (self.kty, &self.x, &self.y, &self.n, &self.e) {
            ("EC", Some(x), Some(y), ..) => {
                format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            ("OKP", Some(x), ..) => format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{x}"}}"#),
            ("RSA", _, _, Some(n), Some(e)) => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            _ => String::new(),
        };
        b64(ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// A P-256 key from its SEC1 uncompressed point (`0x04 || x || y`).
    pub(crate) fn p256(uncompressed_point: &[u8]) -> Self {
        let (x, y) = uncompressed_point[1..].split_at(32);
        Self {
            crv: Some("P-256"),
            x: Some(b64(x)),
            y: Some(b64(y)),
            ..Self::empty("EC")
        }
    }

    /// An Ed25519 key from its 32 public bytes (RFC 8037 §2).
    pub(crate) fn ed25519(public: &[u8]) -> Self {
        Self {
            crv: Some("Ed25519"),
            x: Some(b64(public)),
            ..Self::empty("OKP")
        }
    }

    /// An RSA key from its big-endian modulus and exponent; RFC 7518 §6.3.1 wants them without
    /// leading zero octets, or the thumbprint would differ between encoders.
    pub(crate) fn rsa(modulus: &[u8], exponent: &[u8]) -> Self {
        let unsigned = |bytes: &[u8]| {
            let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
            b64(&bytes[start..])
        };
        Self {
            n: Some(unsigned(modulus)),
            e: Some(unsigned(exponent)),
            ..Self::empty("RSA")
        }
    }

    /// A JWK of type `kty` with no key members yet, for `sig` use.
    pub fn empty(kty: &'static str) -> Self {
        Self {
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
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1's example key and its published thumbprint.
    const RFC_7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const RFC_7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        let jwk = PublicJwk {
            n: Some(RFC_7638_N.into()),
            e: Some("AQAB".into()),
            alg: "RS256",
            kid: "2011-04-29".into(),
            ..PublicJwk::empty("RSA")
        };
        assert_eq!(jwk.thumbprint(), RFC_7638_THUMBPRINT);
    }

    #[test]
    fn rsa_members_drop_leading_zero_octets() {
        let mut modulus = vec![0, 0];
        modulus.extend(URL_SAFE_NO_PAD.decode(RFC_7638_N).unwrap());
        let jwk = PublicJwk::rsa(&modulus, &[0, 1, 0, 1]);
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        assert_eq!(jwk.thumbprint(), RFC_7638_THUMBPRINT);
    }

    #[test]
    fn served_jwk_has_only_public_members() {
        let json = serde_json::to_string(&PublicJwk::ed25519(&[7; 32])).unwrap();
        assert_eq!(
            json,
            r#"{"kty":"OKP","use":"sig","alg":"","kid":"","crv":"Ed25519","x":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"}"#
        );
    }
}
