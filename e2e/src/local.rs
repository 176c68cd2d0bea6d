//! Meridian running locally, one way for the demo and the end-to-end scenarios: a hub and two
//! region clusters, the CRDs, the regions registered, examples/ applied (each region's public
//! URL chosen by the caller), optionally each region on its own PostgreSQL database with two
//! auth-server replicas ([`LocalStore`]), the operator in-process, and each region's
//! auth-servers run by the [`Kubelet`] stand-in from exactly the objects the operator wrote
//! there.
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
use crate::kubelet::{Kubelet, KubeletOptions, SHARED_GROUP};
use crate::meridian::{
    OPERATOR_NAMESPACE, Operator, apply_examples, free_loopback_urls, install_crds,
    register_regions, tenant_ready,
};
use crate::node::ServiceBalancer;
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
    /// Run each region on a real node (kubelet, containerd, kube-proxy; see [`crate::node`]),
    /// its public URL forwarded to the auth-server Service; otherwise the [`Kubelet`]
    /// stand-in runs the auth-servers as processes.
    pub nodes: bool,
}

impl LocalOptions {
    pub fn demo() -> Self {
        Self {
            public_urls: PublicUrls::Examples,
            resync: Duration::from_secs(10),
            ready_timeout: Duration::from_secs(90),
            store: LocalStore::Postgres,
            jwks_max_age: None,
            nodes: true,
        }
    }

    pub fn test() -> Self {
        Self {
            public_urls: PublicUrls::FreePorts,
            resync: Duration::from_secs(2),
            ready_timeout: Duration::from_secs(90),
            store: LocalStore::Memory,
            jwks_max_age: None,
            nodes: true,
        }
    }

    pub fn with_store(mut self, store: LocalStore) -> Self {
        self.store = store;
        self
    }

    pub fn on_nodes(mut self) -> Self {
        self.nodes = true;
        self
    }

    /// The auth-servers as processes of the kubelet stand-in instead of pods on real nodes.
    pub fn on_stand_in(mut self) -> Self {
        self.nodes = false;
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

/// One auth-server pod of a region's shared group, as a person watching the demo sees it.
#[derive(Clone, Debug)]
pub struct ServingPod {
    pub name: String,
    /// Where it listens: its pod IP on its node, or the stand-in's loopback port.
    pub address: String,
    /// Among its Service's ready endpoints.
    pub ready: bool,
}

/// The kernel's name for the auth-server process (comm is cut at 15 bytes).
pub const AUTH_SERVER_COMM: &str = "meridian-auth-s";

/// A pod of the shared group, as the crash helpers follow it.
struct SharedPod {
    name: String,
    uid: String,
    restarts: i32,
    ready: bool,
}

/// The shared group's pods that are not being deleted, oldest name first.
async fn shared_pods(pods: &Api<k8s_openapi::api::core::v1::Pod>) -> crate::Result<Vec<SharedPod>> {
    let selector = format!("app.kubernetes.io/instance={SHARED_GROUP}");
    let list = pods
        .list(&kube::api::ListParams::default().labels(&selector))
        .await?;
    let mut found: Vec<SharedPod> = list
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            let status = p.status.unwrap_or_default();
            let container = status.container_statuses.unwrap_or_default();
            SharedPod {
                name: p.metadata.name.unwrap_or_default(),
                uid: p.metadata.uid.unwrap_or_default(),
                restarts: container.first().map_or(0, |c| c.restart_count),
                ready: container.first().is_some_and(|c| c.ready),
            }
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Meridian on local control planes. Field order is drop order: front door, auth-servers,
/// operator, databases, clusters.
pub struct LocalMeridian {
    front_door: Option<IssuerFrontDoor>,
    kubelets: BTreeMap<String, Kubelet>,
    balancers: BTreeMap<String, ServiceBalancer>,
    operator: Option<Operator>,
    stores: RegionStores,
    clusters: Clusters,
    public_urls: BTreeMap<String, String>,
    issuer_base: String,
    issuer: String,
    /// The regions run on real nodes (else the stand-in).
    nodes: bool,
    /// Each region's `spec.namespace`, read at start: a hub outage must not stop a test
    /// from reaching a region's pods.
    namespaces: BTreeMap<String, String>,
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
            kubelets: BTreeMap::new(),
            balancers: BTreeMap::new(),
            operator: Some(operator),
            stores,
            clusters,
            public_urls,
            issuer_base,
            // Known once the Tenant is Ready, below.
            issuer: String::new(),
            nodes: options.nodes,
            namespaces: BTreeMap::new(),
        };
        for region in REGIONS {
            let namespace = region_namespace(&hub, region).await?;
            meridian.namespaces.insert(region.to_owned(), namespace);
        }
        let serving = match meridian.stores.replicas() {
            1 => "auth-server".to_owned(),
            n => format!("{n} auth-server replicas"),
        };
        for region in REGIONS {
            let url = meridian.public_url(region).to_owned();
            if options.nodes {
                steps
                    .run(
                        &format!("{serving} of {region}: pods Ready on {region}-node, its Service on {url}"),
                        meridian.start_balancer(region),
                    )
                    .await?;
            } else {
                steps
                    .run(
                        &format!("{serving} of {region} serving on {url}"),
                        meridian.start_kubelet(region),
                    )
                    .await?;
            }
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

    pub fn kubelet(&self, region: &str) -> anyhow::Result<&Kubelet> {
        self.kubelets
            .get(region)
            .with_context(|| format!("no auth-server runs for region {region}"))
    }

    /// The region's shared auth-server pods as they run now: on its node, or in the stand-in.
    pub async fn serving_pods(&self, region: &str) -> anyhow::Result<Vec<ServingPod>> {
        if let Some(kubelet) = self.kubelets.get(region) {
            return Ok(kubelet
                .pods(SHARED_GROUP)?
                .into_iter()
                .map(|pod| ServingPod {
                    name: pod.name,
                    address: pod.listen.to_string(),
                    ready: pod.ready,
                })
                .collect());
        }
        use k8s_openapi::api::core::v1::Pod;
        let namespace = self.namespace(region)?;
        let selector = format!("app.kubernetes.io/instance={SHARED_GROUP}");
        let pods = Api::<Pod>::namespaced(self.clusters.get(region)?.client(), &namespace)
            .list(&kube::api::ListParams::default().labels(&selector))
            .await?;
        Ok(pods
            .items
            .into_iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .map(|pod| {
                let status = pod.status.unwrap_or_default();
                let ready = status
                    .conditions
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                let node = pod.spec.and_then(|s| s.node_name).unwrap_or_default();
                ServingPod {
                    name: pod.metadata.name.unwrap_or_default(),
                    address: format!("{}:8080 on {node}", status.pod_ip.unwrap_or_default()),
                    ready,
                }
            })
            .collect())
    }

    /// Forwards the region's public URL to its shared auth-server Service (on the region's real
    /// node) and waits until the Deployment's pods are all Ready and `/readyz` answers there.
    pub async fn start_balancer(&mut self, region: &str) -> anyhow::Result<()> {
        let cluster = self.clusters.get(region)?;
        let address = KubeletOptions::for_public_url(self.public_url(region))?.public_address;
        let namespace = self.namespace(region)?;
        let balancer =
            ServiceBalancer::start(cluster.client(), &namespace, SHARED_GROUP, 80, address).await?;
        self.balancers.insert(region.to_owned(), balancer);
        wait_deployment_ready(&cluster.client(), &namespace, SHARED_GROUP, WAIT_PODS).await?;
        let readyz = format!("{}/readyz", self.public_url(region));
        // Each try is bounded: until kube-proxy has written the Service's rules, a ClusterIP
        // routes nowhere, and an unbounded connect would wait out every SYN retry (~2 min).
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(3))
            .build()?;
        eventually(
            "the region's /readyz through its Service",
            WAIT_PODS,
            async || {
                let answer = http.get(&readyz).send().await;
                Ok(answer.ok().filter(|a| a.status().is_success()).map(drop))
            },
        )
        .await?;
        Ok(())
    }

    /// Starts the region's auth-servers (again) and waits until they serve: the kubelet of its
    /// node, or the stand-in.
    pub async fn start_kubelet(&mut self, region: &str) -> anyhow::Result<()> {
        if self.nodes {
            let cluster = self.clusters.get(region)?;
            let node = cluster.node().context("the region has a node")?;
            node.start_kubelet(&cluster.client(), WAIT_PODS).await?;
            return self.start_balancer(region).await;
        }
        let options = KubeletOptions::for_public_url(self.public_url(region))?;
        let kubelet = Kubelet::start(self.clusters.get(region)?, options).await?;
        self.kubelets.insert(region.to_owned(), kubelet);
        Ok(())
    }

    /// The region goes away: every auth-server process of the region is killed and none
    /// restarts until [`Self::start_kubelet`]; on nodes its kubelet dies too and its public
    /// URL closes, as a region whose nodes and load balancer are gone.
    pub fn stop_kubelet(&mut self, region: &str) {
        self.kubelets.remove(region);
        if self.balancers.remove(region).is_some()
            && let Some(node) = self.clusters.get(region).ok().and_then(|c| c.node())
        {
            node.power_off();
        }
    }

    /// Every auth-server of the region crashes (SIGKILL); returns once each has been started
    /// again (by the kubelet: a container restart) and serves.
    pub async fn crash_auth_servers(&self, region: &str) -> anyhow::Result<()> {
        if let Some(kubelet) = self.kubelets.get(region) {
            let before = kubelet.starts(SHARED_GROUP)?;
            kubelet.kill(SHARED_GROUP)?;
            eventually("the auth-servers started again", WAIT_PODS, async || {
                Ok((kubelet.starts(SHARED_GROUP).ok() > Some(before)).then_some(()))
            })
            .await?;
            kubelet.wait_ready(WAIT_PODS).await?;
            return Ok(());
        }
        let (node, pods) = self.region_node(region)?;
        let before = shared_pods(&pods).await?;
        for pod in &before {
            let killed = node.kill_in_pod(&pod.uid, AUTH_SERVER_COMM);
            anyhow::ensure!(killed > 0, "no auth-server process in pod {}", pod.name);
        }
        eventually(
            "every auth-server container restarted and Ready",
            WAIT_PODS,
            async || {
                let now = shared_pods(&pods).await?;
                let restarted = before.iter().all(|old| {
                    now.iter()
                        .any(|p| p.uid == old.uid && p.restarts > old.restarts && p.ready)
                });
                Ok(restarted.then_some(()))
            },
        )
        .await?;
        Ok(())
    }

    /// One auth-server replica of the region crashes (SIGKILL) and is left to its kubelet.
    pub async fn crash_one_replica(&self, region: &str) -> anyhow::Result<()> {
        if let Some(kubelet) = self.kubelets.get(region) {
            kubelet.kill_pod(&format!("{SHARED_GROUP}-0"))?;
            return Ok(());
        }
        let (node, first) = self.first_shared_pod(region).await?;
        let killed = node.kill_in_pod(&first.uid, AUTH_SERVER_COMM);
        anyhow::ensure!(killed > 0, "no auth-server process in pod {}", first.name);
        Ok(())
    }

    /// The directory an auth-server of the region reads its files from, as the kubelet laid it
    /// out (the projected volume of one pod, seen from this machine).
    pub async fn config_dir(&self, region: &str) -> anyhow::Result<std::path::PathBuf> {
        if let Some(kubelet) = self.kubelets.get(region) {
            return Ok(kubelet.volume_dir(SHARED_GROUP)?);
        }
        let (node, first) = self.first_shared_pod(region).await?;
        Ok(node.pod_volume_dir(&first.uid, "projected", "config"))
    }

    fn namespace(&self, region: &str) -> anyhow::Result<String> {
        self.namespaces
            .get(region)
            .cloned()
            .with_context(|| format!("no region {region}"))
    }

    /// The region's node and the first (by name) pod of its shared group.
    async fn first_shared_pod(
        &self,
        region: &str,
    ) -> anyhow::Result<(&crate::node::Node, SharedPod)> {
        let (node, pods) = self.region_node(region)?;
        let first = shared_pods(&pods).await?.into_iter().next();
        Ok((node, first.context("the region runs no auth-server pod")?))
    }

    /// The region's node and its shared group's pods in the region's namespace.
    fn region_node(
        &self,
        region: &str,
    ) -> anyhow::Result<(&crate::node::Node, Api<k8s_openapi::api::core::v1::Pod>)> {
        let cluster = self.clusters.get(region)?;
        let node = cluster.node().context("the region has a node")?;
        let namespace = self.namespace(region)?;
        Ok((node, Api::namespaced(cluster.client(), &namespace)))
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
        self.kubelets.clear();
        self.balancers.clear();
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
    let (what, cluster_options) = if options.nodes {
        (
            "control planes: hub, eu-west, us-east, each region with a real node \
             (kubelet, containerd, kube-proxy, kube-scheduler)",
            ClusterOptions::default().with_nodes(),
        )
    } else {
        (
            "control planes: hub, eu-west, us-east (kube-apiserver + etcd)",
            ClusterOptions::default(),
        )
    };
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
/// How long a region's pods may take to be scheduled, started and pass their readiness probe.
const WAIT_PODS: Duration = Duration::from_secs(120);

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
