//! A kubelet stand-in for region clusters, which this machine lacks: for every auth-server
//! Deployment the operator wrote into a region, run the real `meridian-auth-server` binary as
//! a process, with exactly the files of the Deployment's projected volume laid out as kubelet
//! lays them out (a `..data` link swapped atomically), kept in step with the region.
//!
//! The region's shared auth-server group serves the AuthRegion's public address; any other
//! group (a Dedicated tenant's) gets a free loopback port ([`Kubelet::address`]). Like a
//! kubelet, it keeps pods running with their last files while the region's API server is
//! unreachable, restarts a process that died, and rolls a pod whose template changed.
//!
//! It must never hand a pod anything kubelet would not: only the files of the ConfigMaps and
//! Secrets its volume names, as they are in the region. Dropping it kills every process it
//! started.

mod binary;
mod error;
mod pod;
mod projection;
mod sync;
mod volume;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::{Cluster, eventually};

pub use binary::{BINARY_ENV, auth_server_binary};
pub use error::{KubeletError, PodFailure};
pub use projection::{ProjectedFile, ProjectedFiles, ProjectionError, Sources, projected_files};

use pod::Pod;
use sync::{Pods, lock, run};

/// The group serving a region's shared tenants (the operator's naming).
pub const SHARED_GROUP: &str = "auth-shared";

/// How one region's kubelet runs.
#[derive(Clone, Debug)]
pub struct KubeletOptions {
    /// The AuthRegion's `spec.namespace`.
    pub namespace: String,
    /// Where the shared group serves: the AuthRegion's public URL.
    pub public_address: SocketAddr,
    /// How often the region is read.
    pub sync_interval: Duration,
    /// How long [`Kubelet::start`] waits for every auth-server to be ready.
    pub ready_timeout: Duration,
}

impl KubeletOptions {
    pub fn new(public_address: SocketAddr) -> Self {
        Self {
            namespace: "meridian-auth".into(),
            public_address,
            sync_interval: Duration::from_millis(500),
            ready_timeout: Duration::from_secs(60),
        }
    }

    /// From an AuthRegion `publicUrl` such as `http://127.0.0.1:18441`.
    pub fn for_public_url(public_url: &str) -> Result<Self, KubeletError> {
        let address = public_url
            .strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .and_then(|authority| authority.parse::<SocketAddr>().ok())
            .filter(|address| address.ip().is_loopback())
            .ok_or_else(|| KubeletError::PublicUrl(public_url.to_owned()))?;
        Ok(Self::new(address))
    }
}

/// The auth-server pods of one region cluster.
pub struct Kubelet {
    region: String,
    options: KubeletOptions,
    pods: Arc<Mutex<Pods>>,
    task: JoinHandle<()>,
    http: reqwest::Client,
}

impl Kubelet {
    /// Starts syncing `cluster` and waits until every auth-server Deployment there serves
    /// (`/readyz`); there must be at least one.
    pub async fn start(
        cluster: &Cluster,
        options: KubeletOptions,
    ) -> Result<Kubelet, KubeletError> {
        let binary = tokio::task::spawn_blocking(auth_server_binary)
            .await
            .expect("locating the auth-server does not panic")?;
        let dir = cluster.dir().join("kubelet");
        std::fs::create_dir_all(&dir).map_err(|source| KubeletError::Io {
            action: format!("create {}", dir.display()),
            source,
        })?;
        let pods = Arc::new(Mutex::new(Pods {
            region: cluster.name().to_owned(),
            binary,
            dir,
            pods: BTreeMap::new(),
            waiting: BTreeMap::new(),
            unreachable: None,
        }));
        let task = tokio::spawn(run(cluster.client(), options.clone(), pods.clone()));
        let kubelet = Kubelet {
            region: cluster.name().to_owned(),
            options,
            pods,
            task,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("an HTTP client builds"),
        };
        kubelet.wait_ready(kubelet.options.ready_timeout).await?;
        Ok(kubelet)
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// `http://<public address>`: the region's public URL as the shared group serves it.
    pub fn public_url(&self) -> String {
        format!("http://{}", self.options.public_address)
    }

    /// Where a Deployment's auth-server listens.
    pub fn address(&self, deployment: &str) -> Result<SocketAddr, KubeletError> {
        self.with_pod(deployment, |pod| pod.listen)
    }

    /// The directory handed to the auth-server as `--config-dir`.
    pub fn volume_dir(&self, deployment: &str) -> Result<PathBuf, KubeletError> {
        self.with_pod(deployment, |pod| pod.volume.path().to_owned())
    }

    pub fn log_path(&self, deployment: &str) -> Result<PathBuf, KubeletError> {
        self.with_pod(deployment, |pod| pod.log.clone())
    }

    pub fn log_tail(&self, deployment: &str) -> Result<String, KubeletError> {
        self.with_pod(deployment, Pod::log_tail)
    }

    /// How many times the Deployment's auth-server was started.
    pub fn starts(&self, deployment: &str) -> Result<u32, KubeletError> {
        self.with_pod(deployment, |pod| pod.starts)
    }

    /// Kills the Deployment's auth-server with SIGKILL, as a crash would; it is started again
    /// on the next sync, as kubelet restarts a container.
    pub fn kill(&self, deployment: &str) -> Result<(), KubeletError> {
        self.with_pod_mut(deployment, Pod::kill)
    }

    /// Waits until every auth-server of the region answers `/readyz`, failing at once with
    /// the log tail if one exits meanwhile.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), KubeletError> {
        let exits_before: BTreeMap<String, usize> = lock(&self.pods)
            .pods
            .iter()
            .map(|(name, pod)| (name.clone(), pod.exits.len()))
            .collect();
        let what = format!("auth-servers of {} ready", self.region);
        let outcome = eventually(&what, timeout, async || {
            let targets = {
                let pods = lock(&self.pods);
                if let Some(failure) = pods.new_exit(&exits_before) {
                    return Ok(Some(Err(failure)));
                }
                let targets: Vec<SocketAddr> = pods.pods.values().map(|p| p.listen).collect();
                targets
            };
            if targets.is_empty() {
                return Ok(None);
            }
            for address in targets {
                if !self.ready(address).await {
                    return Ok(None);
                }
            }
            Ok(Some(Ok(())))
        })
        .await;
        match outcome {
            Ok(result) => result,
            Err(crate::Error::Timeout { waited, .. }) => Err(KubeletError::NotReady {
                region: self.region.clone(),
                waited,
                detail: lock(&self.pods).describe(),
            }),
            Err(other) => Err(KubeletError::NotReady {
                region: self.region.clone(),
                waited: timeout,
                detail: other.to_string(),
            }),
        }
    }

    async fn ready(&self, address: SocketAddr) -> bool {
        let url = format!("http://{address}/readyz");
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }

    fn with_pod<T>(&self, deployment: &str, f: impl FnOnce(&Pod) -> T) -> Result<T, KubeletError> {
        self.with_pod_mut(deployment, |pod| f(pod))
    }

    fn with_pod_mut<T>(
        &self,
        deployment: &str,
        f: impl FnOnce(&mut Pod) -> T,
    ) -> Result<T, KubeletError> {
        let mut pods = lock(&self.pods);
        let pod = pods
            .pods
            .get_mut(deployment)
            .ok_or_else(|| KubeletError::UnknownDeployment {
                region: self.region.clone(),
                deployment: deployment.to_owned(),
            })?;
        Ok(f(pod))
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
        // Kill now rather than when the aborted task is next polled.
        lock(&self.pods).pods.clear();
    }
}
