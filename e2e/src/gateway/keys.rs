//! Keys as a resource server finds them: discovery at the issuer, then its `jwks_uri`, each
//! key written as `<tenant>/<kid>.pem` for HAProxy's `jwt_verify`, and how long the JWKS may be
//! cached. A tenant's keys have a directory of their own, so two tenants never share a file
//! whatever kids their JWKS use, and a file is rewritten whenever its key differs.

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

/// What a fetch of every tenant's JWKS found.
pub(super) struct Fetched {
    pub tenants: Vec<GatewayTenant>,
    /// How long until the first of the JWKS may have changed.
    pub wait: Duration,
    /// A key file now holds another key than before: HAProxy, which read the files when it
    /// loaded its config, must load them again even if no kid changed.
    pub rewritten: bool,
}

/// Every tenant's keys.
pub(super) async fn fetch_all(
    sources: &[TenantSource],
    keys_dir: &Path,
) -> anyhow::Result<Fetched> {
    let mut tenants = Vec::new();
    let mut wait = POLL_AT_MOST;
    let mut rewritten = false;
    for source in sources {
        let (keys, max_age, changed) = fetch_keys(source, keys_dir).await?;
        wait = wait.min(max_age);
        rewritten |= changed;
        tenants.push(GatewayTenant {
            name: source.name.clone(),
            issuer: source.issuer.clone(),
            audience: source.audience.clone(),
            keys,
        });
    }
    Ok(Fetched {
        tenants,
        wait: wait.clamp(POLL_AT_LEAST, POLL_AT_MOST),
        rewritten,
    })
}

/// The tenant's JWKS (its `jwks_uri` from discovery), each key written as
/// `<tenant>/<kid>.pem`; whether a file was rewritten with another key.
async fn fetch_keys(
    source: &TenantSource,
    keys_dir: &Path,
) -> anyhow::Result<(Vec<TenantKey>, Duration, bool)> {
    anyhow::ensure!(
        !source.name.is_empty()
            && source
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "tenant name {:?} is not a Kubernetes name",
        source.name
    );
    let dir = keys_dir.join(&source.name);
    std::fs::create_dir_all(&dir)?;
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
    let mut rewritten = false;
    for key in jwks_to_pems(&jwks)? {
        let path = dir.join(format!("{}.pem", key.kid));
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing == key.pem => {}
            existing => {
                rewritten |= existing.is_ok();
                let partial = path.with_extension("pem.new");
                std::fs::write(&partial, &key.pem)?;
                std::fs::rename(&partial, &path)?;
            }
        }
        keys.push(TenantKey {
            kid: key.kid,
            alg: key.alg,
            pem_path: path.display().to_string(),
        });
    }
    Ok((keys, max_age, rewritten))
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
