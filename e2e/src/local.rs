//! Meridian running locally, one way for the demo and the end-to-end scenarios: a hub and two
//! region clusters, the CRDs, the regions registered, examples/ applied (each region's public
//! URL chosen by the caller), optionally each region on its own PostgreSQL database with two
//! auth-server replicas ([`LocalStore`]), the operator in-process, and each region's
//! auth-servers run as real pods on the region's node from exactly the objects the operator
//! wrote there ([`RegionPods`]).
//!
//! Every step is timed and reported; a failing step names itself and carries the failing
//! component's log tail. Dropping a [`LocalMeridian`] stops everything it started and removes
//! its files. It must never bind the examples' fixed ports unless asked to ([`PublicUrls`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use meridian_operator::api::{AuthRegion, Tenant};
use tokio::time::Instant;

mod store;

pub use store::{LocalStore, REPLICAS, RegionStores, STORE_SECRET};

use crate::frontdoor::{IssuerFrontDoor, front_door_from_hub};
use crate::meridian::{
    OPERATOR_NAMESPACE, Operator, apply_examples, free_loopback_urls, install_crds,
    register_regions, tenant_ready,
};
use crate::region_pods::RegionPods;
pub use crate::region_pods::{AUTH_SERVER_COMM, ServingPod};
use crate::tokens::RegionIssuer;
use crate::{ClusterOptions, Clusters, eventually};

/// The regions of examples/, in the order [`Clusters::start`] names them.
pub const REGIONS: [&str; 2] = ["eu-west", "us-east"];
/// The tenant of examples/.
pub const TENANT: &str = "acme";
/// The issuer base the operator is given in the demo, as in examples/ comments and the README:
/// the front door listens there.
pub const ISSUER_BASE: &str = "http://127.0.0.1:18440";

/// Which public URL each region serves on.
#[derive(Clone, Debug)]
pub enum PublicUrls {
    /// examples/'s own (`http://127.0.0.1:18441` and `:18442`, the issuer on
    /// [`ISSUER_BASE`]): the demo.
    Examples,
    /// Fresh loopback ports for the regions (patched into each AuthRegion) and for the
    /// issuer's front door: tests running side by side.
    FreePorts,
}

/// How to run Meridian locally.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    pub public_urls: PublicUrls,
    /// The operator's resync period: how soon drift and region recovery are noticed.
    pub resync: Duration,
    /// How long the Tenant may take to become Ready.
    pub ready_timeout: Duration,
    /// Where the regions keep grant state, and so how many replicas they run.
    pub store: LocalStore,
    /// The JWKS max-age the auth-servers announce (and the operator waits out before a new
    /// key signs); `None` keeps the operator's default.
    pub jwks_max_age: Option<Duration>,
}

impl LocalOptions {
    pub fn demo() -> Self {
        Self {
            public_urls: PublicUrls::Examples,
            resync: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(90),
            store: LocalStore::Postgres,
            jwks_max_age: None,
        }
    }

    pub fn test() -> Self {
        Self {
            public_urls: PublicUrls::FreePorts,
            resync: Duration::from_secs(2),
            ready_timeout: Duration::from_secs(90),
            store: LocalStore::Memory,
            jwks_max_age: None,
        }
    }

    pub fn with_store(mut self, store: LocalStore) -> Self {
        self.store = store;
        self
    }
}

/// Prints each step with its duration. Tests print to stderr (shown when they fail), the
/// demo to stdout.
pub struct Steps {
    print: fn(&str),
}

impl Steps {
    pub fn stdout() -> Self {
        Self {
            print: |line| println!("{line}"),
        }
    }

    pub fn stderr() -> Self {
        Self {
            print: |line| eprintln!("{line}"),
        }
    }

    pub fn say(&self, line: &str) {
        (self.print)(line);
    }

    /// Runs one step; its failure says which step failed, with the cause's full chain.
    pub async fn run<T>(
        &self,
        name: &str,
        step: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let started = Instant::now();
        let outcome = step.await;
        let took = started.elapsed().as_secs_f64();
        match &outcome {
            Ok(_) => self.say(&format!("  ✓ {name} ({took:.1} s)")),
            Err(_) => self.say(&format!("  ✗ {name} failed after {took:.1} s")),
        }
        outcome.with_context(|| format!("step failed: {name}"))
    }
}

/// Meridian on local control planes. Field order is drop order: front door, auth-servers,
/// operator, databases, clusters.
pub struct LocalMeridian {
    front_door: Option<IssuerFrontDoor>,
    regions: BTreeMap<String, RegionPods>,
    operator: Option<Operator>,
    stores: RegionStores,
    clusters: Clusters,
    public_urls: BTreeMap<String, String>,
    issuer_base: String,
    issuer: String,
}

impl LocalMeridian {
    pub async fn start(options: LocalOptions, steps: &Steps) -> anyhow::Result<Self> {
        let (clusters, public_urls, stores) = start_clusters(&options, steps).await?;
        let issuer_base = issuer_base(&options.public_urls)?;
        let hub = clusters.hub().client();
        let operator = steps
            .run("operator started", async {
                let mut settings = Operator::test_settings(options.resync);
                settings.issuer_base_url = issuer_base.clone();
                if let Some(max_age) = options.jwks_max_age {
                    settings.jwks_max_age = max_age;
                }
                let operator = Operator::start(hub.clone(), settings);
                operator.ready().await?;
                Ok(operator)
            })
            .await?;
        let mut meridian = Self {
            front_door: None,
            regions: BTreeMap::new(),
            operator: Some(operator),
            stores,
            clusters,
            public_urls,
            issuer_base,
            // Known once the Tenant is Ready, below.
            issuer: String::new(),
        };
        let serving = match meridian.stores.replicas() {
            1 => "auth-server".to_owned(),
            n => format!("{n} auth-server replicas"),
        };
        for region in REGIONS {
            let url = meridian.public_url(region).to_owned();
            let cluster = meridian.clusters.get(region)?;
            let pods = steps
                .run(
                    &format!(
                        "{serving} of {region}: pods Ready on {region}-node, its Service on {url}"
                    ),
                    RegionPods::serve(&hub, cluster, &url),
                )
                .await?;
            meridian.regions.insert(region.to_owned(), pods);
        }
        // Ready means served: only now can both regions be seen serving the tenant.
        meridian.issuer = steps
            .run("Tenant acme Ready: served in both regions", async {
                let tenant = wait_tenant_ready(&hub, TENANT, options.ready_timeout).await?;
                tenant
                    .status
                    .and_then(|s| s.issuer)
                    .context("a Ready Tenant reports its issuer")
            })
            .await?;
        let base = meridian.issuer_base.clone();
        steps
            .run(
                &format!("front door (HAProxy) on {base}: acme from eu-west, then us-east"),
                meridian.start_front_door(),
            )
            .await?;
        Ok(meridian)
    }

    /// Starts HAProxy on the issuer's address, routing every Tenant of the hub, and waits
    /// until the tenant's discovery document answers through it.
    async fn start_front_door(&mut self) -> anyhow::Result<()> {
        let bind = self.issuer_base.trim_start_matches("http://").to_owned();
        let door = front_door_from_hub(&self.hub(), &bind, &REGIONS).await?;
        let dir = self.clusters.dir().join("frontdoor");
        std::fs::create_dir_all(&dir)?;
        let front_door = IssuerFrontDoor::start(&dir, &self.issuer_base, door).await?;
        let issuer = self.through_front_door();
        eventually(
            "discovery through the front door",
            WAIT_SERVED,
            async || Ok(issuer.discovery().await.ok()),
        )
        .await?;
        self.front_door = Some(front_door);
        Ok(())
    }

    /// The issuer's front door; present once [`Self::start`] returned.
    pub fn front_door(&self) -> anyhow::Result<&IssuerFrontDoor> {
        self.front_door
            .as_ref()
            .context("the front door is not running")
    }

    /// Renders the front door again from the hub's Tenants and AuthRegions and reloads it.
    pub async fn refresh_front_door(&mut self) -> anyhow::Result<()> {
        let bind = self.issuer_base.trim_start_matches("http://").to_owned();
        let door = front_door_from_hub(&self.hub(), &bind, &REGIONS).await?;
        self.front_door
            .as_mut()
            .context("the front door is not running")?
            .update(door)
    }

    /// The issuer base URL: the front door's address.
    pub fn issuer_base(&self) -> &str {
        &self.issuer_base
    }

    /// The tenant's endpoints as clients reach them: at the issuer URL, through the front
    /// door.
    pub fn through_front_door(&self) -> RegionIssuer {
        RegionIssuer::new("front door", &self.issuer_base, &self.issuer)
    }

    pub fn clusters(&self) -> &Clusters {
        &self.clusters
    }

    pub fn hub(&self) -> Client {
        self.clusters.hub().client()
    }

    /// The tenant's issuer, identical in every region.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The regions' grant store: the PostgreSQL server and each region's database.
    pub fn stores(&self) -> &RegionStores {
        &self.stores
    }

    pub fn public_url(&self, region: &str) -> &str {
        &self.public_urls[region]
    }

    /// The tenant's endpoints as `region` serves them.
    pub fn region_issuer(&self, region: &str) -> RegionIssuer {
        RegionIssuer::new(region, self.public_url(region), &self.issuer)
    }

    /// The region's shared auth-server pods as they run now on its node.
    pub async fn serving_pods(&self, region: &str) -> anyhow::Result<Vec<ServingPod>> {
        let (pods, cluster) = self.region(region)?;
        pods.pods(cluster).await
    }

    /// The region comes back: its kubelet starts again, its public URL opens, and this returns
    /// once its pods are Ready and answer there.
    pub async fn start_kubelet(&mut self, region: &str) -> anyhow::Result<()> {
        let cluster = self.clusters.get(region)?;
        let pods = self
            .regions
            .get_mut(region)
            .with_context(|| format!("no region {region}"))?;
        pods.start(cluster).await
    }

    /// The region goes away: its kubelet dies and so does every auth-server process, and its
    /// public URL closes, as a region whose nodes and load balancer are gone; none restarts
    /// until [`Self::start_kubelet`].
    pub fn stop_kubelet(&mut self, region: &str) {
        if let (Some(pods), Ok(cluster)) = (self.regions.get_mut(region), self.clusters.get(region))
        {
            pods.stop(cluster);
        }
    }

    /// Every auth-server of the region crashes (SIGKILL); returns once each has been started
    /// again (by the kubelet: a container restart) and serves.
    pub async fn crash_auth_servers(&self, region: &str) -> anyhow::Result<()> {
        let (pods, cluster) = self.region(region)?;
        pods.crash_all(cluster).await
    }

    /// One auth-server replica of the region crashes (SIGKILL) and is left to its kubelet.
    pub async fn crash_one_replica(&self, region: &str) -> anyhow::Result<()> {
        let (pods, cluster) = self.region(region)?;
        pods.crash_one(cluster).await
    }

    /// The directory an auth-server of the region reads its files from, as the kubelet laid it
    /// out (the projected volume of one pod, seen from this machine).
    pub async fn config_dir(&self, region: &str) -> anyhow::Result<std::path::PathBuf> {
        let (pods, cluster) = self.region(region)?;
        pods.config_dir(cluster).await
    }

    fn region(&self, region: &str) -> anyhow::Result<(&RegionPods, &crate::Cluster)> {
        let pods = self
            .regions
            .get(region)
            .with_context(|| format!("no region {region}"))?;
        Ok((pods, self.clusters.get(region)?))
    }

    /// The client secret of a confidential client, as its owner knows it (from the hub).
    pub async fn client_secret(&self, secret: &str, key: &str) -> anyhow::Result<String> {
        let secret = Api::<Secret>::namespaced(self.hub(), OPERATOR_NAMESPACE)
            .get(secret)
            .await?;
        let value = secret
            .data
            .and_then(|mut data| data.remove(key))
            .with_context(|| format!("Secret has no key {key}"))?;
        Ok(String::from_utf8(value.0)?)
    }

    /// Stops the operator gracefully, then everything else.
    pub async fn stop(mut self) {
        self.front_door = None;
        self.regions.clear();
        if let Some(operator) = self.operator.take() {
            operator.stop().await;
        }
    }
}

/// The control planes, with Meridian's CRDs, the regions registered, their stores, and
/// examples/ applied at the chosen public URLs; returns those URLs and the stores.
async fn start_clusters(
    options: &LocalOptions,
    steps: &Steps,
) -> anyhow::Result<(Clusters, BTreeMap<String, String>, RegionStores)> {
    let what = "control planes: hub, eu-west, us-east, each region with a real node \
                (kubelet, containerd, kube-proxy, kube-scheduler)";
    let cluster_options = ClusterOptions::default().with_nodes();
    let clusters = steps
        .run(what, async {
            Ok(Clusters::start(3, cluster_options).await?)
        })
        .await?;
    steps
        .run("CRDs installed in the hub", async {
            install_crds(clusters.hub())
        })
        .await?;
    steps
        .run(
            "regions registered (kubeconfig Secrets)",
            register_regions(&clusters),
        )
        .await?;
    let public_urls = public_urls(&options.public_urls)?;
    steps
        .run("examples/ applied", async {
            apply_examples(clusters.hub())
        })
        .await?;
    let (stores, on) = match options.store {
        LocalStore::Memory => (RegionStores::memory(), String::new()),
        LocalStore::Postgres => {
            let stores = steps
                .run(
                    "PostgreSQL: a database per region, its URI in a Secret in that region",
                    RegionStores::start_postgres(&clusters, &REGIONS),
                )
                .await?;
            (stores, format!(", on PostgreSQL with {REPLICAS} replicas"))
        }
    };
    steps
        .run(&format!("AuthRegions at their public URLs{on}"), async {
            configure_regions(&clusters.hub().client(), &public_urls, &stores).await
        })
        .await?;
    Ok((clusters, public_urls, stores))
}

/// How long the front door may take to answer for a Ready tenant (its first health checks).
const WAIT_SERVED: Duration = Duration::from_secs(20);

/// The namespace the region's auth-servers run in (`spec.namespace` of its AuthRegion).
pub async fn region_namespace(hub: &Client, region: &str) -> anyhow::Result<String> {
    let region = Api::<AuthRegion>::all(hub.clone()).get(region).await?;
    Ok(region.spec.namespace)
}

/// Waits until the Deployment has rolled out its current template: every replica updated,
/// available and Ready, none left of an older template.
pub async fn wait_deployment_ready(
    region: &Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    use k8s_openapi::api::apps::v1::Deployment;
    let deployments = Api::<Deployment>::namespaced(region.clone(), namespace);
    let what = format!("Deployment {namespace}/{name} rolled out and Ready");
    eventually(&what, timeout, async || {
        let Some(deployment) = deployments.get_opt(name).await? else {
            return Ok(None);
        };
        let wanted = deployment
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(1);
        let status = deployment.status.unwrap_or_default();
        let current = deployment.metadata.generation == status.observed_generation
            && status.updated_replicas == Some(wanted)
            && status.ready_replicas == Some(wanted)
            && status.available_replicas == Some(wanted)
            && status.replicas == Some(wanted);
        Ok(current.then_some(()))
    })
    .await?;
    Ok(())
}

fn issuer_base(choice: &PublicUrls) -> anyhow::Result<String> {
    Ok(match choice {
        PublicUrls::Examples => ISSUER_BASE.to_owned(),
        PublicUrls::FreePorts => free_loopback_urls(1)?.remove(0),
    })
}

fn public_urls(choice: &PublicUrls) -> anyhow::Result<BTreeMap<String, String>> {
    let urls = match choice {
        PublicUrls::Examples => vec![
            "http://127.0.0.1:18441".to_owned(),
            "http://127.0.0.1:18442".to_owned(),
        ],
        PublicUrls::FreePorts => free_loopback_urls(REGIONS.len())?,
    };
    Ok(REGIONS.iter().map(|r| r.to_string()).zip(urls).collect())
}

async fn configure_regions(
    hub: &Client,
    urls: &BTreeMap<String, String>,
    stores: &RegionStores,
) -> anyhow::Result<()> {
    let regions = Api::<AuthRegion>::all(hub.clone());
    for (region, url) in urls {
        let patch = serde_json::json!({"spec": {
            "publicUrl": url,
            "authServer": stores.auth_server_patch(),
        }});
        regions
            .patch(region, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("configuring AuthRegion {region}"))?;
    }
    Ok(())
}

/// Waits until the Tenant's `Ready` condition is `True` for its current generation.
pub async fn wait_tenant_ready(
    hub: &Client,
    name: &str,
    timeout: Duration,
) -> anyhow::Result<Tenant> {
    let tenants = Api::<Tenant>::all(hub.clone());
    let what = format!("Tenant {name} Ready");
    let tenant = eventually(&what, timeout, async || tenant_ready(hub, name).await).await;
    match tenant {
        Ok(tenant) => Ok(tenant),
        Err(error) => {
            let conditions = tenants
                .get(name)
                .await
                .ok()
                .and_then(|t| t.status)
                .map(|s| {
                    s.conditions
                        .iter()
                        .map(|c| format!("{}={} {}: {}", c.type_, c.status, c.reason, c.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            Err(anyhow::anyhow!("{error}; conditions: {conditions}"))
        }
    }
}
