//! The API gateway on this machine: HAProxy on the config `meridian-routing` renders, and the
//! glue a platform team runs beside it. The glue follows each tenant's JWKS as any resource
//! server does — found through discovery at the issuer URL, refetched when its
//! `Cache-Control: max-age` runs out — writes each key as a PEM file, and reloads HAProxy when
//! the set of kids changes.
//!
//! Following max-age is enough for Meridian's rotations: the operator activates a key only
//! after every region has published it for longer than the max-age, so by the time a token
//! carries a new kid the gateway has loaded it. A fetch that fails keeps the last keys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use meridian_routing::jwk::jwks_to_pems;
use meridian_routing::{ApiInstance, ApiRoute, Gateway, GatewayTenant, TenantKey};
use tokio::task::JoinHandle;

use crate::haproxy::HaProxy;
use crate::tokens::http_client;

/// The bounds on how often a JWKS is refetched, whatever its max-age says.
const POLL_AT_LEAST: Duration = Duration::from_secs(1);
const POLL_AT_MOST: Duration = Duration::from_secs(300);

/// A tenant whose tokens the gateway accepts: where its keys come from.
#[derive(Debug, Clone)]
pub struct TenantSource {
    pub name: String,
    pub issuer: String,
    pub audience: String,
}

/// What the gateway serves: routes and the regional instances behind it.
#[derive(Debug, Clone)]
pub struct GatewayPlan {
    pub tenants: Vec<TenantSource>,
    pub routes: Vec<ApiRoute>,
    pub instances: Vec<ApiInstance>,
}

struct Running {
    haproxy: HaProxy,
    gateway: Gateway,
}

/// HAProxy verifying tokens, and the task keeping its keys current. Dropping it stops both.
pub struct ApiGateway {
    url: String,
    running: Arc<Mutex<Running>>,
    task: JoinHandle<()>,
}

impl ApiGateway {
    /// Fetches every tenant's keys, starts HAProxy on `bind` (`127.0.0.1:<port>`) with its
    /// files in `dir`, and keeps the keys current.
    pub async fn start(dir: &Path, bind: &str, plan: GatewayPlan) -> anyhow::Result<Self> {
        let keys_dir = dir.join("keys");
        std::fs::create_dir_all(&keys_dir)?;
        let (tenants, wait) = fetch_all(&plan.tenants, &keys_dir).await?;
        let gateway = Gateway {
            bind: bind.to_owned(),
            realm: "api".into(),
            tenants,
            routes: plan.routes.clone(),
            instances: plan.instances.clone(),
            key_refresh: None,
        };
        let config = gateway.render().context("rendering the gateway's config")?;
        let haproxy = HaProxy::start("gateway", dir, &config, bind).await?;
        let running = Arc::new(Mutex::new(Running { haproxy, gateway }));
        let task = tokio::spawn(follow_keys(plan.tenants, keys_dir, running.clone(), wait));
        Ok(Self {
            url: format!("http://{bind}"),
            running,
            task,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many times a changed key set was loaded.
    pub fn reloads(&self) -> u32 {
        self.running.lock().expect("not poisoned").haproxy.reloads()
    }

    /// The kids HAProxy verifies with now.
    pub fn kids(&self) -> BTreeSet<String> {
        kids(&self.running.lock().expect("not poisoned").gateway.tenants)
    }

    pub fn log_tail(&self) -> String {
        self.running
            .lock()
            .expect("not poisoned")
            .haproxy
            .log_tail()
    }
}

impl Drop for ApiGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn kids(tenants: &[GatewayTenant]) -> BTreeSet<String> {
    tenants
        .iter()
        .flat_map(|t| t.keys.iter().map(|k| k.kid.clone()))
        .collect()
}

/// Refetches when the shortest max-age runs out; reloads HAProxy when the kids change.
async fn follow_keys(
    sources: Vec<TenantSource>,
    keys_dir: PathBuf,
    running: Arc<Mutex<Running>>,
    mut wait: Duration,
) {
    loop {
        tokio::time::sleep(wait).await;
        let (tenants, next) = match fetch_all(&sources, &keys_dir).await {
            Ok(fetched) => fetched,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "gateway: JWKS fetch failed, keeping the last keys");
                wait = POLL_AT_LEAST;
                continue;
            }
        };
        wait = next;
        let running = running.clone();
        let reloaded = tokio::task::spawn_blocking(move || {
            let mut running = running.lock().expect("not poisoned");
            if kids(&running.gateway.tenants) == kids(&tenants) {
                return Ok(false);
            }
            let mut gateway = running.gateway.clone();
            gateway.tenants = tenants;
            running.haproxy.reload(&gateway.render()?)?;
            running.gateway = gateway;
            anyhow::Ok(true)
        })
        .await;
        match reloaded {
            Ok(Ok(true)) => tracing::info!("gateway: key set changed, HAProxy reloaded"),
            Ok(Ok(false)) => {}
            Ok(Err(error)) => {
                tracing::warn!(error = %format!("{error:#}"), "gateway: reload refused")
            }
            Err(error) => tracing::warn!(%error, "gateway: reload task failed"),
        }
    }
}

/// Every tenant's keys, and how long until the first of them may have changed.
async fn fetch_all(
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
