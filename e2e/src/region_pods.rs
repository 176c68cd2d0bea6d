//! A region's auth-servers as its real node runs them, reached at the region's public URL: what
//! a test does to a region (serve it, take it away, bring it back, stall its kubelet, crash its
//! auth-servers) in one place, for [`crate::local::LocalMeridian`] and the tests that start
//! their own clusters alike.
//!
//! The pods are the operator's shared group (`auth-shared`) in the AuthRegion's namespace; the
//! public URL is a [`ServiceBalancer`] in front of its Service, so what answers there is
//! decided by the Service, its EndpointSlices and the pods' readiness probes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client};

use crate::node::{Node, ServiceBalancer};
use crate::{Cluster, Clusters, eventually};

/// The Deployment (and Service) serving every tenant of a region that has no group of its own.
pub const SHARED_GROUP: &str = "auth-shared";
/// The kernel's name for the auth-server process (comm is cut at 15 bytes).
pub const AUTH_SERVER_COMM: &str = "meridian-auth-s";
/// How long a region's pods may take to be scheduled, started and pass their readiness probe.
pub const WAIT_PODS: Duration = Duration::from_secs(120);
/// The Service port the operator renders.
const SERVICE_PORT: u16 = 80;

/// One auth-server pod of a region's shared group, as a person watching the demo sees it.
#[derive(Clone, Debug)]
pub struct ServingPod {
    pub name: String,
    /// Its pod IP and port, and the node it runs on.
    pub address: String,
    /// Among its Service's ready endpoints.
    pub ready: bool,
}

/// A pod's auth-server as the node runs it.
#[derive(Clone, Debug)]
pub struct AuthServerProcess {
    pub pod: String,
    pub restarts: i32,
    pub pid: Option<u32>,
}

/// A pod of the shared group, as the crash helpers follow it.
struct SharedPod {
    name: String,
    uid: String,
    restarts: i32,
    ready: bool,
}

/// A region's shared auth-server group on its node, and its public URL while it serves.
#[derive(Debug)]
pub struct RegionPods {
    region: String,
    namespace: String,
    public_url: String,
    public_address: SocketAddr,
    /// Present while the region serves at its public URL.
    balancer: Option<ServiceBalancer>,
}

impl RegionPods {
    /// Serves the region's shared group at `public_url` (a loopback `http://` URL) and waits
    /// until its Deployment is rolled out and `/readyz` answers there. `hub` names the
    /// namespace (the AuthRegion's `spec.namespace`); `cluster` must have a node.
    pub async fn serve(hub: &Client, cluster: &Cluster, public_url: &str) -> anyhow::Result<Self> {
        Self::serve_within(hub, cluster, public_url, WAIT_PODS).await
    }

    /// As [`Self::serve`], waiting up to `timeout` for the pods (a region of thousands of
    /// tenants takes a while before its Deployment exists).
    pub async fn serve_within(
        hub: &Client,
        cluster: &Cluster,
        public_url: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let namespace = crate::local::region_namespace(hub, cluster.name()).await?;
        let mut pods = Self {
            region: cluster.name().to_owned(),
            namespace,
            public_url: public_url.to_owned(),
            public_address: loopback_address(public_url)?,
            balancer: None,
        };
        pods.start_within(cluster, timeout).await?;
        Ok(pods)
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The region comes back: its kubelet starts (a no-op when it runs), its public URL opens,
    /// and this returns once the pods are Ready and `/readyz` answers there.
    pub async fn start(&mut self, cluster: &Cluster) -> anyhow::Result<()> {
        self.start_within(cluster, WAIT_PODS).await
    }

    async fn start_within(&mut self, cluster: &Cluster, timeout: Duration) -> anyhow::Result<()> {
        self.node(cluster)?
            .start_kubelet(&cluster.client(), WAIT_PODS)
            .await?;
        if self.balancer.is_none() {
            let balancer = ServiceBalancer::start(
                cluster.client(),
                &self.namespace,
                SHARED_GROUP,
                SERVICE_PORT,
                self.public_address,
            )
            .await?;
            self.balancer = Some(balancer);
        }
        crate::local::wait_deployment_ready(
            &cluster.client(),
            &self.namespace,
            SHARED_GROUP,
            timeout,
        )
        .await?;
        self.wait_served().await
    }

    /// Until `/readyz` answers at the region's public URL: a pod Ready in the API is served
    /// only once kube-proxy has written its endpoint into the Service's rules, a moment later.
    async fn wait_served(&self) -> anyhow::Result<()> {
        let readyz = format!("{}/readyz", self.public_url);
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

    /// The region goes away: its public URL closes, its kubelet dies and so does every process
    /// of its pods, as a region whose nodes and load balancer are gone. [`Self::start`] brings
    /// it back.
    pub fn stop(&mut self, cluster: &Cluster) {
        self.balancer = None;
        if let Some(node) = cluster.node() {
            node.power_off();
        }
    }

    /// The region's kubelet stalls: its pods keep serving the files they have, whatever the
    /// operator writes, until [`Self::resume_kubelet`].
    pub fn pause_kubelet(&self, cluster: &Cluster) -> anyhow::Result<()> {
        self.node(cluster)?.pause_kubelet();
        Ok(())
    }

    pub fn resume_kubelet(&self, cluster: &Cluster) -> anyhow::Result<()> {
        self.node(cluster)?.resume_kubelet();
        Ok(())
    }

    /// The shared group's pods as they run now (those being deleted left out).
    pub async fn pods(&self, cluster: &Cluster) -> anyhow::Result<Vec<ServingPod>> {
        let selector = format!("app.kubernetes.io/instance={SHARED_GROUP}");
        let pods = self
            .pods_api(cluster)
            .list(&ListParams::default().labels(&selector))
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

    /// Each pod's auth-server process on the node (`None` between a crash and its restart),
    /// with the pod's name and container restarts.
    pub async fn auth_servers(&self, cluster: &Cluster) -> anyhow::Result<Vec<AuthServerProcess>> {
        let node = self.node(cluster)?;
        Ok(shared_pods(&self.pods_api(cluster))
            .await?
            .into_iter()
            .map(|pod| AuthServerProcess {
                pid: node.pod_processes(&pod.uid).into_iter().find(|pid| {
                    crate::node::process_facts(*pid).is_some_and(|f| f.command == AUTH_SERVER_COMM)
                }),
                pod: pod.name,
                restarts: pod.restarts,
            })
            .collect())
    }

    /// Every auth-server of the region crashes (SIGKILL); returns once the kubelet has
    /// restarted each container, it is Ready again and the region's Service routes to it.
    pub async fn crash_all(&self, cluster: &Cluster) -> anyhow::Result<()> {
        let node = self.node(cluster)?;
        let pods = self.pods_api(cluster);
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
        self.wait_served().await
    }

    /// One auth-server replica crashes (SIGKILL) and is left to its kubelet.
    pub async fn crash_one(&self, cluster: &Cluster) -> anyhow::Result<()> {
        let first = self.first_pod(cluster).await?;
        let killed = self
            .node(cluster)?
            .kill_in_pod(&first.uid, AUTH_SERVER_COMM);
        anyhow::ensure!(killed > 0, "no auth-server process in pod {}", first.name);
        Ok(())
    }

    /// The directory an auth-server reads its files from, as the kubelet laid it out (the
    /// projected volume of the first pod, seen from this machine).
    pub async fn config_dir(&self, cluster: &Cluster) -> anyhow::Result<PathBuf> {
        let first = self.first_pod(cluster).await?;
        Ok(self
            .node(cluster)?
            .pod_volume_dir(&first.uid, "projected", "config"))
    }

    async fn first_pod(&self, cluster: &Cluster) -> anyhow::Result<SharedPod> {
        let first = shared_pods(&self.pods_api(cluster))
            .await?
            .into_iter()
            .next();
        first.with_context(|| format!("region {} runs no auth-server pod", self.region))
    }

    fn pods_api(&self, cluster: &Cluster) -> Api<Pod> {
        Api::namespaced(cluster.client(), &self.namespace)
    }

    fn node<'c>(&self, cluster: &'c Cluster) -> anyhow::Result<&'c Node> {
        anyhow::ensure!(
            cluster.name() == self.region,
            "cluster {} is not region {}",
            cluster.name(),
            self.region
        );
        cluster
            .node()
            .with_context(|| format!("region {} has no node", self.region))
    }
}

/// Serves every region of `urls` (region name → public URL) on its node: a Tenant is Ready
/// only once its regions serve it.
pub async fn serve_regions(
    clusters: &Clusters,
    urls: &BTreeMap<String, String>,
) -> anyhow::Result<BTreeMap<String, RegionPods>> {
    let hub = clusters.hub().client();
    let mut served = BTreeMap::new();
    for (region, url) in urls {
        let pods = RegionPods::serve(&hub, clusters.get(region)?, url).await?;
        served.insert(region.clone(), pods);
    }
    Ok(served)
}

/// `http://127.0.0.1:<port>` as a socket address: the balancer listens there.
fn loopback_address(public_url: &str) -> anyhow::Result<SocketAddr> {
    public_url
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .and_then(|authority| authority.parse::<SocketAddr>().ok())
        .filter(|address| address.ip().is_loopback())
        .with_context(|| format!("public URL {public_url} is not http://<loopback>:<port>"))
}

/// The shared group's pods that are not being deleted, oldest name first.
async fn shared_pods(pods: &Api<Pod>) -> crate::Result<Vec<SharedPod>> {
    let selector = format!("app.kubernetes.io/instance={SHARED_GROUP}");
    let list = pods.list(&ListParams::default().labels(&selector)).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_must_be_loopback_http_with_a_port() {
        assert_eq!(
            loopback_address("http://127.0.0.1:18441/").unwrap(),
            "127.0.0.1:18441".parse().unwrap()
        );
        for bad in [
            "https://127.0.0.1:1",
            "http://10.0.0.1:1",
            "http://127.0.0.1",
            "http://localhost:1",
        ] {
            assert!(loopback_address(bad).is_err(), "{bad}");
        }
    }
}
