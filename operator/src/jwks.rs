//! Reading a region's JWKS from outside, at its public URL, as a resource server would: the
//! only proof that a key is published there.

use std::collections::BTreeSet;
use std::time::Duration;

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

impl JwksFetcher {
    /// Key ids the JWKS at `url` lists, or `None` when it cannot be fetched or read.
    pub async fn published_kids(&self, url: &str) -> Option<BTreeSet<String>> {
        let response = self.0.get(url).send().await.ok()?.error_for_status().ok()?;
        let jwks: Jwks = response.json().await.ok()?;
        Some(jwks.keys.into_iter().filter_map(|key| key.kid).collect())
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
