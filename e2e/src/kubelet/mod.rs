//! A kubelet stand-in for region clusters, which this machine lacks: for every auth-server
//! Deployment the operator wrote into a region, run `spec.replicas` copies of the real
//! `meridian-auth-server` binary as processes, with exactly the files of the Deployment's
//! projected volume laid out as kubelet lays them out (a `..data` link swapped atomically)
//! and the container's `env` (values, and keys of the region's Secrets and ConfigMaps), kept
//! in step with the region.
//!
//! Each pod listens on its own loopback port; a Service stand-in (`service`) forwards the
//! Deployment's address to the pods that pass their readiness probe. The region's shared
//! group is served on the AuthRegion's public address; any other group (a Dedicated
//! tenant's) on a free loopback port ([`Kubelet::address`]). Like a kubelet, it keeps pods
//! running with their last files while the region's API server is unreachable, restarts a
//! process that died, and rolls pods whose template changed, one at a time. A test can stall
//! its sync ([`Kubelet::pause_sync`]) to hold a region's pods on their last files.
//!
//! It must never hand a pod anything kubelet would not: only the files of the ConfigMaps and
//! Secrets its volume names and the variables its container declares, as they are in the
//! region; and never log an environment value (a store URI carries a password). Dropping it
//! kills every process it started and closes every address it served.

mod binary;
mod env;
mod error;
mod pod;
mod projection;
mod service;
mod sync;
mod volume;
mod workload;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::{Cluster, eventually};

pub use binary::{BINARY_ENV, auth_server_binary};
pub use env::{EnvError, Environment, container_env};
pub use error::{KubeletError, PodFailure};
pub use projection::{ProjectedFile, ProjectedFiles, ProjectionError, Sources, projected_files};

use sync::{Pods, lock, run};
use workload::Workload;

/// One pod of a Deployment, as a test sees it.
#[derive(Clone, Debug)]
pub struct PodStatus {
    /// `<deployment>-<ordinal>`; ordinals are never reused.
    pub name: String,
    /// Where this pod itself listens (the Deployment's address is the Service's).
    pub listen: SocketAddr,
    /// The process id while it runs.
    pub pid: Option<u32>,
    pub starts: u32,
    /// Among the Service's ready endpoints.
    pub ready: bool,
    /// Connections the Service forwarded to it.
    pub connections: u64,
    pub log: PathBuf,
}

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
        // kubelet mounts Secret and projected volumes on tmpfs; on a disk, rewriting a volume of
        // thousands of tenants' files costs seconds of inode allocation per update.
        let volumes = tempfile::Builder::new()
            .prefix(&format!("meridian-kubelet-{}-", cluster.name()))
            .tempdir_in(volume_root(&dir))
            .map_err(|source| KubeletError::Io {
                action: "create the volumes directory".into(),
                source,
            })?;
        let pods = Arc::new(Mutex::new(Pods {
            region: cluster.name().to_owned(),
            binary,
            dir,
            volumes,
            workloads: BTreeMap::new(),
            waiting: BTreeMap::new(),
            unreachable: None,
            paused: false,
        }));
        let task = tokio::spawn(run(cluster.client(), options.clone(), pods.clone()));
        let kubelet = Kubelet {
            region: cluster.name().to_owned(),
            options,
            pods,
            task,
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

    /// Where a Deployment is served: its Service's address.
    pub fn address(&self, deployment: &str) -> Result<SocketAddr, KubeletError> {
        self.with_workload(deployment, |w| w.service.address())
    }

    /// The directory handed to the Deployment's auth-servers as `--config-dir`.
    pub fn volume_dir(&self, deployment: &str) -> Result<PathBuf, KubeletError> {
        self.with_workload(deployment, Workload::volume_dir)
    }

    /// The Deployment's pods, by ordinal.
    pub fn pods(&self, deployment: &str) -> Result<Vec<PodStatus>, KubeletError> {
        self.with_workload(deployment, |w| {
            w.pods
                .iter()
                .map(|pod| PodStatus {
                    name: pod.name.clone(),
                    listen: pod.listen,
                    pid: pod.pid(),
                    starts: pod.starts,
                    ready: w.service.is_ready(pod.listen),
                    connections: w.service.connections(pod.listen),
                    log: pod.log.clone(),
                })
                .collect()
        })
    }

    /// The log of the Deployment's first pod.
    pub fn log_path(&self, deployment: &str) -> Result<PathBuf, KubeletError> {
        self.with_workload(deployment, |w| {
            w.pods.first().map(|p| p.log.clone()).unwrap_or_default()
        })
    }

    /// The last log lines of every pod of the Deployment, each headed by its name.
    pub fn log_tail(&self, deployment: &str) -> Result<String, KubeletError> {
        self.with_workload(deployment, |w| {
            let tails: Vec<String> = w
                .pods
                .iter()
                .map(|p| format!("--- {} ---\n{}", p.name, p.log_tail()))
                .collect();
            tails.join("\n")
        })
    }

    /// How many times the Deployment's auth-server was started: the fewest starts of any of
    /// its pods, so after [`Kubelet::kill`] it grows by one once every pod is back.
    pub fn starts(&self, deployment: &str) -> Result<u32, KubeletError> {
        self.with_workload(deployment, |w| {
            w.pods.iter().map(|p| p.starts).min().unwrap_or(0)
        })
    }

    /// Kills every pod of the Deployment with SIGKILL, as a crash would; each is started
    /// again on the next sync, as kubelet restarts a container.
    pub fn kill(&self, deployment: &str) -> Result<(), KubeletError> {
        self.with_workload_mut(deployment, |w| {
            w.kill(None);
        })
    }

    /// Kills one pod (a name from [`Kubelet::pods`]) with SIGKILL; the Service stops sending
    /// it connections at once, and the kubelet starts it again on the next sync.
    pub fn kill_pod(&self, pod: &str) -> Result<(), KubeletError> {
        let mut pods = lock(&self.pods);
        if pods.workloads.values_mut().any(|w| w.kill(Some(pod))) {
            return Ok(());
        }
        Err(KubeletError::UnknownPod {
            region: self.region.clone(),
            pod: pod.to_owned(),
        })
    }

    /// Stops reading the region, as a node whose kubelet has stalled: the pods keep serving
    /// their last files (and are restarted if they die) while the region changes, until
    /// [`Kubelet::resume_sync`].
    pub fn pause_sync(&self) {
        lock(&self.pods).paused = true;
    }

    /// Reads the region again from the next sync on, catching up with what changed meanwhile.
    pub fn resume_sync(&self) {
        lock(&self.pods).paused = false;
    }

    /// Waits until every pod of every auth-server Deployment in the region exists and is
    /// among its Service's ready endpoints, failing at once with the log tail if one exits
    /// meanwhile.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), KubeletError> {
        let exits_before: BTreeMap<String, usize> = lock(&self.pods)
            .all_pods()
            .map(|pod| (pod.name.clone(), pod.exits.len()))
            .collect();
        let what = format!("auth-servers of {} ready", self.region);
        let outcome = eventually(&what, timeout, async || {
            let pods = lock(&self.pods);
            if let Some(failure) = pods.new_exit(&exits_before) {
                return Ok(Some(Err(failure)));
            }
            let ready = !pods.workloads.is_empty() && pods.workloads.values().all(Workload::ready);
            Ok(ready.then_some(Ok(())))
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

    fn with_workload<T>(
        &self,
        deployment: &str,
        f: impl FnOnce(&Workload) -> T,
    ) -> Result<T, KubeletError> {
        self.with_workload_mut(deployment, |w| f(w))
    }

    fn with_workload_mut<T>(
        &self,
        deployment: &str,
        f: impl FnOnce(&mut Workload) -> T,
    ) -> Result<T, KubeletError> {
        let mut pods = lock(&self.pods);
        let workload =
            pods.workloads
                .get_mut(deployment)
                .ok_or_else(|| KubeletError::UnknownDeployment {
                    region: self.region.clone(),
                    deployment: deployment.to_owned(),
                })?;
        Ok(f(workload))
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
        // Kill now rather than when the aborted task is next polled.
        lock(&self.pods).workloads.clear();
    }
}

/// Memory-backed `/dev/shm` where the machine has it, else beside the pods' logs.
fn volume_root(kubelet_dir: &std::path::Path) -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        kubelet_dir.to_owned()
    }
}
