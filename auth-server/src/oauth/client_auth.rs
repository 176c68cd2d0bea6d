//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3.1): `client_secret_basic`, `client_secret_post`, or `none` for public clients; and
//! the reading of a `private_key_jwt` assertion (RFC 7523 §2.2), whose check needs the store
//! and so is the HTTP edge's. A client registered with one method may use no other.
//!
//! Secrets are compared by their SHA-256 digest in constant time. A failure never says which
//! part was wrong, and nothing here logs a secret.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use meridian_contract::{ClientAuthMethod, ClientKind};
use subtle::ConstantTimeEq;

use super::client_assertion::{JWT_BEARER, asserted_client};
use super::{OAuthError, Params};
use crate::tenant::{Client, Tenant};

/// How the client presented itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    secret: Option<String>,
    basic: bool,
    /// A `private_key_jwt` assertion (RFC 7523 §2.2).
    assertion: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("basic", &self.basic)
            .field("assertion", &self.assertion.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Credentials {
    /// Reads the `Authorization: Basic` header or the `client_id`/`client_secret` body
    /// parameters; using both at once is refused (RFC 6749 §2.3).
    pub fn from_request(headers: &HeaderMap, params: &Params) -> Result<Self, OAuthError> {
        if let Some(kind) = params.get("client_assertion_type") {
            return Self::from_assertion(kind, headers, params);
        }
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
                    assertion: None,
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
                    assertion: None,
                })
            }
        }
    }

    /// RFC 7523 §3.1: the client is the assertion's `sub`; a `client_id` beside it must agree.
    fn from_assertion(
        kind: &str,
        headers: &HeaderMap,
        params: &Params,
    ) -> Result<Self, OAuthError> {
        let failed = OAuthError::InvalidClient { basic: false };
        if kind != JWT_BEARER {
            return Err(failed);
        }
        if authorization(headers, "Basic").is_some() || params.get("client_secret").is_some() {
            return Err(OAuthError::InvalidRequest(
                "more than one client authentication",
            ));
        }
        let assertion = params.require("client_assertion")?;
        let client_id = asserted_client(assertion).ok_or(failed)?;
        if params.get("client_id").is_some_and(|id| id != client_id) {
            return Err(failed);
        }
        Ok(Self {
            client_id,
            secret: None,
            basic: false,
            assertion: Some(assertion.to_owned()),
        })
    }

    /// The assertion to check, for a `private_key_jwt` client.
    pub fn assertion(&self) -> Option<&str> {
        self.assertion.as_deref()
    }

    /// The method these credentials use.
    fn method(&self) -> ClientAuthMethod {
        match (&self.assertion, self.basic, &self.secret) {
            (Some(_), ..) => ClientAuthMethod::PrivateKeyJwt,
            (None, true, _) => ClientAuthMethod::ClientSecretBasic,
            (None, false, Some(_)) => ClientAuthMethod::ClientSecretPost,
            (None, false, None) => ClientAuthMethod::None,
        }
    }

    /// The registered client these credentials prove by a secret or as a public client, or
    /// `invalid_client` (always for an assertion: see [`Credentials::assertion`]).
    pub fn authenticate<'t>(&self, tenant: &'t Tenant) -> Result<&'t Client, OAuthError> {
        let failed = OAuthError::InvalidClient { basic: self.basic };
        let client = tenant.client(&self.client_id).ok_or(failed)?;
        let registered = client.config.token_endpoint_auth_method;
        if self.assertion.is_some() || registered.is_some_and(|method| method != self.method()) {
            return Err(failed);
        }
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
