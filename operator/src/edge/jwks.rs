//! Reading a region's JWKS from outside, at its public URL, as a resource server would: the
//! only proof that a key is published there, and that the region serves the tenant's current
//! files (the response's [`REVISION_HEADER`]). One GET answers both.

use std::collections::BTreeSet;
use std::time::Duration;

use meridian_contract::{REVISION_HEADER, Revision};
use serde::Deserialize;

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kid: Option<String>,
}

/// The JWKS URL of `issuer` as served by the region at `public_url`: the issuer's path under the
/// region's base URL (tenants are routed by path in every region).
pub fn jwks_url(public_url: &str, issuer: &str) -> String {
    let path = issuer
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    format!(
        "{}{}/jwks.json",
        public_url.trim_end_matches('/'),
        path.trim_end_matches('/')
    )
}

/// Fetches JWKS documents; one HTTP client (connection pool) for the operator.
#[derive(Clone)]
pub struct JwksFetcher(reqwest::Client);

impl Default for JwksFetcher {
    fn default() -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("HTTP client with default TLS settings");
        Self(client)
    }
}

/// What one read of a tenant's JWKS in a region showed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServedJwks {
    /// Key ids the JWKS lists; `None` when it could not be fetched or read.
    pub kids: Option<BTreeSet<String>>,
    /// The revision of the tenant's files the region serves; `None` when it could not be
    /// reached, answered with an error, or sent no well-formed [`REVISION_HEADER`].
    pub revision: Option<Revision>,
}

impl JwksFetcher {
    /// Reads the JWKS at `url` once.
    pub async fn fetch(&self, url: &str) -> ServedJwks {
        let Some(response) = self
            .0
            .get(url)
            .send()
            .await
            .ok()
            .and_then(|r| r.error_for_status().ok())
        else {
            return ServedJwks::default();
        };
        let revision = response
            .headers()
            .get(REVISION_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(Revision::parse);
        let kids = response
            .json::<Jwks>()
            .await
            .ok()
            .map(|jwks| jwks.keys.into_iter().filter_map(|key| key.kid).collect());
        ServedJwks { kids, revision }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_url_keeps_the_issuer_path_under_the_region_url() {
        assert_eq!(
            jwks_url("http://127.0.0.1:18441", "http://127.0.0.1:18440/t/acme"),
            "http://127.0.0.1:18441/t/acme/jwks.json"
        );
        assert_eq!(
            jwks_url("https://eu.example/", "https://id.acme.example"),
            "https://eu.example/jwks.json"
        );
    }
}
