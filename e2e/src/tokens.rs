//! Tokens as Meridian's users get them and check them, through clients no one here wrote:
//! the `oauth2` crate at a region's token endpoint, `jsonwebtoken` against a region's JWKS
//! as a resource server would. Shared by the end-to-end scenarios and the demo.
//!
//! It must never read the operator's Secrets or the auth-server's files: only what a client
//! or an API sees over HTTP.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use serde::Deserialize;

/// One tenant as one region serves it: endpoints under the region's public URL at the
/// issuer's path (`http://127.0.0.1:18441` + `/t/acme` → `.../t/acme/token`).
#[derive(Clone, Debug)]
pub struct RegionIssuer {
    pub region: String,
    pub public_url: String,
    pub issuer: String,
}

/// RFC 9068 claims plus Meridian's `tenant_id` and `region`.
#[derive(Clone, Debug, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    pub tenant_id: String,
    pub region: String,
}

/// A verified access token: which key signed it, and its claims.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    pub kid: String,
    pub claims: AccessTokenClaims,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token request to {url} failed: {reason}")]
    Request { url: String, reason: String },
    #[error("JWKS of {url} unavailable: {reason}")]
    Jwks { url: String, reason: String },
    #[error("discovery document {url} unavailable: {reason}")]
    Discovery { url: String, reason: String },
    #[error("token rejected against {jwks}: {reason}")]
    Rejected { jwks: String, reason: String },
}

impl RegionIssuer {
    pub fn new(region: &str, public_url: &str, issuer: &str) -> Self {
        Self {
            region: region.to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            issuer: issuer.to_owned(),
        }
    }

    /// `<public url><issuer path><path>`.
    pub fn endpoint(&self, path: &str) -> String {
        let issuer_path = self
            .issuer
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("")
            .trim_end_matches('/');
        format!("{}{issuer_path}{path}", self.public_url)
    }

    pub fn token_url(&self) -> String {
        self.endpoint("/token")
    }

    pub fn jwks_url(&self) -> String {
        self.endpoint("/jwks.json")
    }

    pub fn discovery_url(&self) -> String {
        self.endpoint("/.well-known/openid-configuration")
    }

    /// A `client_credentials` access token (RFC 6749 §4.4), client authenticated with HTTP
    /// Basic.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        secret: &str,
        scopes: &[&str],
    ) -> Result<String, TokenError> {
        let url = self.token_url();
        let failed = |reason: String| TokenError::Request {
            url: url.clone(),
            reason,
        };
        let client = BasicClient::new(ClientId::new(client_id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            .set_token_uri(TokenUrl::new(url.clone()).map_err(|e| failed(e.to_string()))?);
        let mut request = client.exchange_client_credentials();
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let response = request
            .request_async(&http_client())
            .await
            .map_err(|e| failed(describe_request_error(&e)))?;
        Ok(response.access_token().secret().clone())
    }

    /// Verifies an access token as a resource server of this region would: signature by a
    /// key of this region's JWKS, `typ: at+jwt`, issuer, audience, expiry.
    pub async fn verify(&self, token: &str, audience: &str) -> Result<VerifiedToken, TokenError> {
        let jwks = self.jwks_url();
        let rejected = |reason: String| TokenError::Rejected {
            jwks: jwks.clone(),
            reason,
        };
        let header = decode_header(token).map_err(|e| rejected(e.to_string()))?;
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(rejected(format!("typ is {:?}, not at+jwt", header.typ)));
        }
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| rejected("no kid".into()))?;
        let set = self.jwks().await?;
        let jwk = set
            .find(&kid)
            .ok_or_else(|| rejected(format!("kid {kid} is not published")))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| rejected(e.to_string()))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let data = decode::<AccessTokenClaims>(token, &key, &validation)
            .map_err(|e| rejected(e.to_string()))?;
        Ok(VerifiedToken {
            kid,
            claims: data.claims,
        })
    }

    /// The OpenID Provider metadata (OIDC Discovery §4), as any client's first request.
    pub async fn discovery(&self) -> Result<serde_json::Value, TokenError> {
        let url = self.discovery_url();
        get_json(&url)
            .await
            .map_err(|reason| TokenError::Discovery { url, reason })
    }

    pub async fn jwks(&self) -> Result<JwkSet, TokenError> {
        let url = self.jwks_url();
        get_json(&url)
            .await
            .map_err(|reason| TokenError::Jwks { url, reason })
    }
}

/// A JSON document by GET, or why not.
async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, String> {
    let response = http_client()
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.json().await.map_err(|e| e.to_string())
}

/// The client OAuth requests go through: no redirects followed (RFC 9700 §4.11), no proxy
/// for loopback addresses, bounded time.
pub fn http_client() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client builds")
}

fn describe_request_error<E: std::error::Error + 'static>(
    error: &oauth2::RequestTokenError<E, oauth2::basic::BasicErrorResponse>,
) -> String {
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => format!(
            "{}{}",
            response.error(),
            response
                .error_description()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        ),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}
