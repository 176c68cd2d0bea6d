//! Several independent clusters for one test, started concurrently, stopped together.
//!
//! Dropping [`Clusters`] (also while a failing test unwinds) kills every process and removes
//! the temporary directory. A start failure stops whatever already started and names the
//! component that failed, with its log tail.

use std::{
    ops::Index,
    path::{Path, PathBuf},
    time::Duration,
};

use futures::future::try_join_all;
use tokio::time::Instant;

use crate::{
    binaries::Binaries,
    cluster::{Cluster, ClusterPlan},
    error::{Error, Result},
    etcd::Etcd,
    leftovers,
    node::Slot,
    ports::free_loopback_ports,
};

/// Names given by [`Clusters::start`]: the hub first, then regions.
pub const DEFAULT_NAMES: &[&str] = &[
    "hub", "eu-west", "us-east", "ap-south", "sa-east", "af-south",
];

/// How the clusters of a test run.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Run kube-controller-manager (garbage collector, namespace deletion, Deployment →
    /// ReplicaSet, default ServiceAccounts) in every cluster. Off by default: it costs start-up
    /// time and most tests only need the API.
    pub controller_manager: bool,
    /// How long each component may take to become healthy.
    pub ready_timeout: Duration,
    /// Extra kube-apiserver flags (e.g. `--feature-gates=...`), after the harness's own; for a
    /// flag given twice the later value wins.
    pub extra_apiserver_args: Vec<String>,
    /// Give every cluster but the hub a real node (kubelet, containerd, kube-proxy) and a
    /// kube-scheduler, and so kube-controller-manager too: see [`crate::node`]. Needs root.
    pub nodes: bool,
    /// With `nodes`, the hub gets a node too: for the hub serving as a region.
    pub hub_node: bool,
    /// The nodes' kubelet `syncFrequency`, and so how soon a changed ConfigMap or Secret
    /// reaches the pods: 5 s, where the kubelet's own default is 1 min.
    pub kubelet_sync: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            controller_manager: false,
            ready_timeout: Duration::from_secs(90),
            extra_apiserver_args: Vec::new(),
            nodes: false,
            hub_node: false,
            kubelet_sync: crate::node::KUBELET_SYNC_FREQUENCY,
        }
    }
}

impl ClusterOptions {
    pub fn with_controller_manager(mut self) -> Self {
        self.controller_manager = true;
        self
    }

    /// Real nodes in every cluster not named `hub`.
    pub fn with_nodes(mut self) -> Self {
        self.nodes = true;
        self.controller_manager = true;
        self
    }

    /// Real nodes in every cluster, the hub included (it serves as a region).
    pub fn with_nodes_everywhere(mut self) -> Self {
        self.hub_node = true;
        self.with_nodes()
    }

    /// The nodes' kubelets resync every `period`: the kubelet's own default
    /// ([`crate::node::KUBELET_DEFAULT_SYNC_FREQUENCY`]) where a test measures what a production
    /// node costs rather than how soon a change reaches pods.
    pub fn with_kubelet_sync(mut self, period: Duration) -> Self {
        self.kubelet_sync = period;
        self
    }

    pub fn with_apiserver_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_apiserver_args.push(arg.into());
        self
    }
}

/// The clusters of one test. Field order is drop order: clusters, then etcd, then files.
#[derive(Debug)]
pub struct Clusters {
    clusters: Vec<Cluster>,
    _etcd: Etcd,
    dir: tempfile::TempDir,
    binaries: &'static Binaries,
    startup: Duration,
}

impl Clusters {
    /// Starts `count` clusters named from [`DEFAULT_NAMES`] (`hub`, `eu-west`, `us-east`, ...).
    pub async fn start(count: usize, options: ClusterOptions) -> Result<Clusters> {
        let names: Vec<String> = (0..count)
            .map(|i| {
                DEFAULT_NAMES
                    .get(i)
                    .map_or_else(|| format!("region-{i}"), |n| n.to_string())
            })
            .collect();
        Self::start_named(&names, options).await
    }

    /// Starts one cluster per name, concurrently, and returns when every one is ready.
    ///
    /// Panics (failing the test) if `names` is empty or repeats a name.
    pub async fn start_named<S: AsRef<str>>(
        names: &[S],
        options: ClusterOptions,
    ) -> Result<Clusters> {
        let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        assert!(!names.is_empty(), "a test needs at least one cluster");
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "cluster names repeat: {names:?}");

        let started = Instant::now();
        let (binaries, kcm_program) = locate_binaries(options.controller_manager).await?;
        let dir = create_directory()?;
        let etcd = Etcd::start(&binaries.etcd(), dir.path(), options.ready_timeout).await?;
        let mut slots = node_slots(&names, &options, dir.path())?;
        // All ports at once, so no two components are handed the same one.
        let ports = free_loopback_ports(names.len() * 3)?;
        let plans = names.iter().enumerate().map(|(i, name)| ClusterPlan {
            name: name.to_string(),
            dir: dir.path().join(name),
            binaries,
            etcd_url: etcd.client_url(),
            apiserver_port: ports[3 * i],
            extra_apiserver_args: &options.extra_apiserver_args,
            controller_manager: kcm_program
                .clone()
                .map(|program| (program, ports[3 * i + 1])),
            node: slots[i].take().map(|slot| (slot, ports[3 * i + 2])),
            kubelet_sync: options.kubelet_sync,
            ready_timeout: options.ready_timeout,
        });
        let clusters = try_join_all(plans.map(Cluster::start)).await?;
        let startup = started.elapsed();
        let elapsed_ms = startup.as_millis() as u64;
        tracing::info!(clusters = ?names, elapsed_ms, "clusters ready");
        Ok(Clusters {
            clusters,
            _etcd: etcd,
            dir,
            binaries,
            startup,
        })
    }

    /// The first cluster (`hub` with [`Clusters::start`]).
    pub fn hub(&self) -> &Cluster {
        &self.clusters[0]
    }

    /// Every cluster but the first.
    pub fn regions(&self) -> &[Cluster] {
        &self.clusters[1..]
    }

    pub fn get(&self, name: &str) -> Result<&Cluster> {
        self.clusters
            .iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| Error::UnknownCluster(name.to_string()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Cluster> {
        self.clusters.iter()
    }

    /// Wall time from the call to `start` until every cluster was ready.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    pub fn binaries(&self) -> &'static Binaries {
        self.binaries
    }

    /// The temporary directory holding every cluster's files and logs (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A node slot for every cluster that gets a node (all but `hub`, unless it is to have one too),
/// in `names`' order.
fn node_slots(names: &[&str], options: &ClusterOptions, dir: &Path) -> Result<Vec<Option<Slot>>> {
    if !options.nodes {
        return Ok(names.iter().map(|_| None).collect());
    }
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::Node {
            node: "(any)".into(),
            step: "start".into(),
            reason: "real nodes need root (network namespaces, cgroups, mounts)".into(),
        });
    }
    crate::node::ensure_host_address()?;
    names
        .iter()
        .map(|name| {
            (*name != "hub" || options.hub_node)
                .then(|| Slot::acquire(&dir.join(name).join("node")))
                .transpose()
        })
        .collect()
}

/// The binaries, and kube-controller-manager's if wanted; off the async runtime, because the
/// first call may build them.
async fn locate_binaries(controller_manager: bool) -> Result<(&'static Binaries, Option<PathBuf>)> {
    tokio::task::spawn_blocking(move || {
        let binaries = Binaries::locate()?;
        let kcm = controller_manager
            .then(|| binaries.kube_controller_manager())
            .transpose()?;
        Ok((binaries, kcm))
    })
    .await
    .expect("locating binaries does not panic")
}

/// The test's temporary directory, claimed as ours, after removing those of dead test runs.
fn create_directory() -> Result<tempfile::TempDir> {
    leftovers::remove_abandoned(&std::env::temp_dir());
    let dir = tempfile::Builder::new()
        .prefix(leftovers::directory_prefix())
        .tempdir()
        .map_err(Error::io("create the clusters' temporary directory"))?;
    leftovers::claim(dir.path()).map_err(Error::io("mark the temporary directory as ours"))?;
    Ok(dir)
}

impl Index<&str> for Clusters {
    type Output = Cluster;

    /// `clusters["eu-west"]`; panics (failing the test) if there is no such cluster.
    fn index(&self, name: &str) -> &Cluster {
        self.get(name).unwrap_or_else(|e| panic!("{e}"))
    }
}
