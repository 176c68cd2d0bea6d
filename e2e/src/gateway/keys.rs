//! Keys as a resource server finds them: discovery at the issuer, then its `jwks_uri`, each
//! key written as `<kid>.pem` for HAProxy's `jwt_verify`, and how long the JWKS may be cached.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use meridian_routing::jwk::jwks_to_pems;
use meridian_routing::{GatewayTenant, TenantKey};

use super::TenantSource;
use crate::tokens::http_client;

/// The bounds on how often a JWKS is refetched, whatever its max-age says.
pub(super) const POLL_AT_LEAST: Duration = Duration::from_secs(1);
pub(super) const POLL_AT_MOST: Duration = Duration::from_secs(300);

/// Every tenant's keys, and how long until the first of them may have changed.
pub(super) async fn fetch_all(
    sources: &[TenantSource],
    keys_dir: &Path,
) -> anyhow::Result<(Vec<GatewayTenant>, Duration)> {
    let mut tenants = Vec::new();
    let mut wait = POLL_AT_MOST;
    for source in sources {
        let (keys, max_age) = fetch_keys(source, keys_dir).await?;
        wait = wait.min(max_age);
        tenants.push(GatewayTenant {
            name: source.name.clone(),
            issuer: source.issuer.clone(),
            audience: source.audience.clone(),
            keys,
        });
    }
    Ok((tenants, wait.clamp(POLL_AT_LEAST, POLL_AT_MOST)))
}

/// The tenant's JWKS (its `jwks_uri` from discovery), each key written as `<kid>.pem`.
async fn fetch_keys(
    source: &TenantSource,
    keys_dir: &Path,
) -> anyhow::Result<(Vec<TenantKey>, Duration)> {
    let http = http_client();
    let discovery = format!("{}/.well-known/openid-configuration", source.issuer);
    let metadata: serde_json::Value = http
        .get(&discovery)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await
        .with_context(|| format!("discovery {discovery}"))?;
    let jwks_uri = metadata["jwks_uri"]
        .as_str()
        .with_context(|| format!("{discovery} has no jwks_uri"))?;
    let response = http.get(jwks_uri).send().await?.error_for_status()?;
    let max_age = response
        .headers()
        .get(http::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age)
        .unwrap_or(POLL_AT_LEAST);
    let jwks: serde_json::Value = response.json().await?;
    let mut keys = Vec::new();
    for key in jwks_to_pems(&jwks)? {
        let path = keys_dir.join(format!("{}.pem", key.kid));
        if !path.exists() {
            let partial = path.with_extension("pem.new");
            std::fs::write(&partial, &key.pem)?;
            std::fs::rename(&partial, &path)?;
        }
        keys.push(TenantKey {
            kid: key.kid,
            alg: key.alg,
            pem_path: path.display().to_string(),
        });
    }
    Ok((keys, max_age))
}

/// `max-age` of a Cache-Control value (RFC 9111 §5.2.2.1).
fn max_age(value: &str) -> Option<Duration> {
    value
        .split(',')
        .filter_map(|d| d.trim().strip_prefix("max-age="))
        .find_map(|s| s.trim_matches('"').parse().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_among_other_directives() {
        assert_eq!(
            max_age("public, max-age=300, must-revalidate"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(max_age("no-store"), None);
    }
}
