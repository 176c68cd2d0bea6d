//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1): `client_secret_basic`, `client_secret_post`, or `none` for public clients.
//!
//! Secrets are compared by their SHA-256 digest in constant time. A failure never says which
//! part was wrong, and nothing here logs a secret.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use meridian_contract::ClientKind;
use subtle::ConstantTimeEq;

use super::{OAuthError, Params};
use crate::tenant::{Client, Tenant};

/// How the client presented itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    secret: Option<String>,
    basic: bool,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("basic", &self.basic)
            .finish()
    }
}

impl Credentials {
    /// Reads the `Authorization: Basic` header or the `client_id`/`client_secret` body
    /// parameters; using both at once is refused (RFC 6749 §2.3).
    pub fn from_request(headers: &HeaderMap, params: &Params) -> Result<Self, OAuthError> {
        match authorization(headers, "Basic") {
            Some(encoded) => {
                if params.get("client_secret").is_some() {
                    return Err(OAuthError::InvalidRequest(
                        "more than one client authentication",
                    ));
                }
                let (client_id, secret) =
                    decode_basic(encoded).ok_or(OAuthError::InvalidClient { basic: true })?;
                let body_id = params.get("client_id");
                if body_id.is_some_and(|id| id != client_id) {
                    return Err(OAuthError::InvalidClient { basic: true });
                }
                Ok(Self {
                    client_id,
                    secret: Some(secret),
                    basic: true,
                })
            }
            None => {
                let client_id = params
                    .get("client_id")
                    .ok_or(OAuthError::InvalidClient { basic: false })?
                    .to_owned();
                let secret = params.get("client_secret").map(str::to_owned);
                Ok(Self {
                    client_id,
                    secret,
                    basic: false,
                })
            }
        }
    }

    /// The registered client these credentials prove, or `invalid_client`.
    pub fn authenticate<'t>(&self, tenant: &'t Tenant) -> Result<&'t Client, OAuthError> {
        let failed = OAuthError::InvalidClient { basic: self.basic };
        let client = tenant.client(&self.client_id).ok_or(failed)?;
        match (client.config.kind, &self.secret, &client.secret_digest) {
            (ClientKind::Public, None, _) => Ok(client),
            (ClientKind::Confidential, Some(secret), Some(expected)) => {
                let presented = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
                if bool::from(presented.as_ref().ct_eq(expected)) {
                    Ok(client)
                } else {
                    Err(failed)
                }
            }
            _ => Err(failed),
        }
    }
}

/// The credentials of an `Authorization` header with the given scheme, which RFC 9110 §11.1
/// compares case-insensitively.
pub fn authorization<'h>(headers: &'h HeaderMap, scheme: &str) -> Option<&'h str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (given, credentials) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credentials.trim())
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined with `:`.
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("v={part}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let encoded = STANDARD.encode("my%20client:s%3Acret+x");
        assert_eq!(
            decode_basic(&encoded),
            Some(("my client".into(), "s:cret x".into()))
        );
    }

    #[test]
    fn basic_without_colon_is_refused() {
        assert_eq!(decode_basic(&STANDARD.encode("nocolon")), None);
    }
}
