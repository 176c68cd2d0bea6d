//! The API gateway on this machine: HAProxy on the config `meridian-routing` renders, and the
//! glue a platform team runs beside it. The glue follows each tenant's JWKS as any resource
//! server does — found through discovery at the issuer URL, refetched a second before its
//! `Cache-Control: max-age` runs out — writes each key as a PEM file, and reloads HAProxy when
//! a tenant's keys change (a kid, its alg, or the key a file holds). A token whose kid HAProxy does not know is sent to the glue's
//! refresh endpoint ([`refresh`]), which refetches at most once per [`REFETCH_AT_MOST_EVERY`].
//!
//! Following max-age is enough for Meridian's rotations: the operator activates a key only
//! after every region has published it for longer than the max-age, so by the time a token
//! carries a new kid the gateway has loaded it (it refetches early by the time a reload takes,
//! and a reload returns once HAProxy's new worker runs); the refresh endpoint covers a gateway that
//! lagged (started late, a failed fetch). A fetch that fails keeps the last keys.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use meridian_routing::{ApiInstance, ApiRoute, Gateway, GatewayTenant};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::haproxy::HaProxy;

mod keys;
mod refresh;

/// The `realm` of the gateway's `WWW-Authenticate` challenges (RFC 6750 §3).
pub const REALM: &str = "api";

/// The bound on refetches caused by unknown kids: whatever arrives, at most one per this long.
pub const REFETCH_AT_MOST_EVERY: Duration = Duration::from_secs(5);

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
    /// Refetch each JWKS when its max-age runs out; `false` leaves only the refetch on an
    /// unknown kid (a gateway that lags, on purpose).
    pub follow_max_age: bool,
}

struct Running {
    haproxy: HaProxy,
    gateway: Gateway,
}

/// What the max-age loop and the refresh endpoint share.
struct Keys {
    sources: Vec<TenantSource>,
    dir: PathBuf,
    running: Mutex<Running>,
    /// When an unknown kid last caused a refetch; held while one runs (single flight).
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
    fetches: AtomicU32,
}

/// HAProxy verifying tokens, and the tasks keeping its keys current. Dropping it stops them.
pub struct ApiGateway {
    url: String,
    keys: Arc<Keys>,
    tasks: Vec<JoinHandle<()>>,
}

impl ApiGateway {
    /// Fetches every tenant's keys, starts HAProxy on `bind` (`127.0.0.1:<port>`) with its
    /// files in `dir`, and keeps the keys current.
    pub async fn start(dir: &Path, bind: &str, plan: GatewayPlan) -> anyhow::Result<Self> {
        let keys_dir = dir.join("keys");
        std::fs::create_dir_all(&keys_dir)?;
        let keys::Fetched { tenants, wait, .. } = keys::fetch_all(&plan.tenants, &keys_dir).await?;
        let (refresh_url, refresh) = refresh::listen().await?;
        let gateway = Gateway {
            bind: bind.to_owned(),
            realm: REALM.into(),
            tenants,
            routes: plan.routes.clone(),
            instances: plan.instances.clone(),
            key_refresh: Some(refresh_url),
        };
        let config = gateway.render().context("rendering the gateway's config")?;
        let haproxy = HaProxy::start("gateway", dir, &config, bind).await?;
        let keys = Arc::new(Keys {
            sources: plan.tenants,
            dir: keys_dir,
            running: Mutex::new(Running { haproxy, gateway }),
            last_refetch: tokio::sync::Mutex::new(None),
            fetches: AtomicU32::new(1),
        });
        let mut tasks = vec![tokio::spawn(refresh::serve(refresh, keys.clone()))];
        if plan.follow_max_age {
            tasks.push(tokio::spawn(follow_max_age(keys.clone(), wait)));
        }
        Ok(Self {
            url: format!("http://{bind}"),
            keys,
            tasks,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many times a changed key set was loaded.
    pub fn reloads(&self) -> u32 {
        self.keys.running().haproxy.reloads()
    }

    /// How many times the tenants' JWKS were fetched, the first included.
    pub fn fetches(&self) -> u32 {
        self.keys.fetches.load(Ordering::Relaxed)
    }

    /// The kids HAProxy verifies with now.
    pub fn kids(&self) -> BTreeSet<String> {
        kids(&self.keys.running().gateway.tenants)
    }

    pub fn log_tail(&self) -> String {
        self.keys.running().haproxy.log_tail()
    }
}

impl Drop for ApiGateway {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Keys {
    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().expect("not poisoned")
    }

    fn knows(&self, kid: &str) -> bool {
        kids(&self.running().gateway.tenants).contains(kid)
    }

    /// Fetches every JWKS and, if any tenant's keys changed, loads them into HAProxy; returns how long
    /// the JWKS may be cached.
    async fn fetch_and_load(self: &Arc<Self>) -> anyhow::Result<Duration> {
        let keys::Fetched {
            tenants,
            wait,
            rewritten,
        } = keys::fetch_all(&self.sources, &self.dir).await?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let keys = self.clone();
        // `haproxy -c` and the signal are blocking calls.
        let reloaded = tokio::task::spawn_blocking(move || {
            let mut running = keys.running();
            // Which tenant holds which kid with which alg, or a key file's content.
            if running.gateway.tenants == tenants && !rewritten {
                return anyhow::Ok(false);
            }
            let mut gateway = running.gateway.clone();
            gateway.tenants = tenants;
            running.haproxy.reload(&gateway.render()?)?;
            running.gateway = gateway;
            Ok(true)
        })
        .await??;
        if reloaded {
            tracing::info!("gateway: key set changed, HAProxy reloaded");
        }
        Ok(wait)
    }
}

fn kids(tenants: &[GatewayTenant]) -> BTreeSet<String> {
    tenants
        .iter()
        .flat_map(|t| t.keys.iter().map(|k| k.kid.clone()))
        .collect()
}

/// How much sooner than max-age the keys are refetched: the time a fetch and HAProxy's reload
/// may take. Meridian activates a key one second after every region's JWKS has shown it for a
/// max-age, so a gateway that fetched only as max-age ran out still had the old key set loaded
/// for as long as its reload took past that second (once, under load: one request in a
/// hundred refused during a rotation).
const LOAD_AHEAD: Duration = Duration::from_secs(1);

/// Refetches before the shortest max-age runs out, by [`LOAD_AHEAD`].
async fn follow_max_age(keys: Arc<Keys>, mut wait: Duration) {
    loop {
        let early = wait.saturating_sub(LOAD_AHEAD).max(keys::POLL_AT_LEAST);
        tokio::time::sleep(early).await;
        wait = match keys.fetch_and_load().await {
            Ok(next) => next,
            Err(error) => {
                tracing::warn!(error = %format!("{error:#}"), "gateway: JWKS fetch failed, keeping the last keys");
                keys::POLL_AT_LEAST
            }
        };
    }
}
