//! Real nodes for region clusters: Debian's containerd and runc, the CNI plugins, and kubelet
//! and kube-proxy built from the same pinned Kubernetes module as the API server, each node in
//! its own network namespace (see `network`). The operator's Deployments become real pods,
//! from images built here (`images`), behind real Services; tests reach a region's Service at
//! its public URL through a [`ServiceBalancer`], the part a cloud load balancer plays.
//!
//! A node must never outlive its [`Node`]: dropping it kills its components and every process
//! of its pods, unmounts what they mounted and deletes its namespace and cgroups
//! (`cleanup`). A test process killed outright is cleaned up after by the next one to take its
//! slot. Needs root (namespaces, cgroups, mounts).

mod balancer;
mod cleanup;
mod config;
mod images;
mod inspect;
mod network;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use k8s_openapi::api::core::v1::Node as NodeObject;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams};

pub use balancer::ServiceBalancer;
pub use config::{KUBELET_DEFAULT_SYNC_FREQUENCY, KUBELET_SYNC_FREQUENCY, SANDBOX_IMAGE};
pub use images::{LocalImages, local_images};
pub use inspect::{ProcessFacts, process_facts};
pub use network::{HOST_ADDRESS, NodeAddresses};

use crate::binaries::Binaries;
use crate::error::{Component, Error, Result};
use crate::files::ClusterFiles;
use crate::kubeconfig::{self, Credentials};
use crate::pki::CertificateAuthority;
use crate::process::{Process, ProcessSpec};
use crate::wait::eventually;
use config::NodeDirs;
pub(crate) use network::{Slot, ensure_host_address};

/// Kubernetes' group for kubelets; bound to the `system:node` ClusterRole (the harness runs
/// no Node authorizer, so RBAC is what limits them).
const NODES_GROUP: &str = "system:nodes";
/// kube-proxy's user: Kubernetes binds `system:node-proxier` to it by default.
const KUBE_PROXY_USER: &str = "system:kube-proxy";
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What a cluster's node is started with; the slot is taken before the API server starts,
/// since the cluster's Service range comes from it.
pub(crate) struct NodePlan<'a> {
    pub cluster: &'a str,
    pub slot: Slot,
    pub dir: PathBuf,
    pub binaries: &'static Binaries,
    pub ca: &'a CertificateAuthority,
    /// The API server as the node reaches it: `https://HOST_ADDRESS:<port>`.
    pub server: &'a str,
    pub admin: kube::Client,
    pub ready_timeout: Duration,
    /// The kubelet's `syncFrequency`.
    pub kubelet_sync: Duration,
}

/// One node of a region cluster, Ready when [`Node::start`] returns.
pub struct Node {
    name: String,
    dirs: NodeDirs,
    addresses: NodeAddresses,
    kubelet_spec: ProcessSpec,
    kubelet: Mutex<Option<Process>>,
    kube_proxy: Mutex<Option<Process>>,
    containerd: Mutex<Option<Process>>,
    slot: Mutex<Option<Slot>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("ip", &self.addresses.node_ip())
            .finish_non_exhaustive()
    }
}

impl Node {
    pub(crate) async fn start(plan: NodePlan<'_>) -> Result<Node> {
        let name = format!("{}-node", plan.cluster);
        let binaries = plan.binaries;
        let (kubelet, kube_proxy, images) = tokio::task::spawn_blocking(move || {
            Ok::<_, Error>((
                binaries.node_binary("kubelet")?,
                binaries.node_binary("kube-proxy")?,
                local_images(binaries)?,
            ))
        })
        .await
        .expect("locating node binaries does not panic")?;
        let addresses = plan.slot.addresses;
        if let Some(previous) = &plan.slot.previous_dir {
            cleanup::tear_down(&addresses, previous);
        }
        cleanup::tear_down(&addresses, &plan.dir);
        let dirs = NodeDirs::new(plan.dir.clone());
        write_files(&dirs, &addresses, &plan, &name)?;
        cleanup::create_cgroups(&addresses.cgroup())
            .map_err(Error::io(format!("create cgroup {}", addresses.cgroup())))?;
        network::create(&name, &addresses)?;
        bind_nodes_group(&plan.admin).await?;

        let cluster = plan.cluster.to_owned();
        let in_node = |component, program: &Path, args: Vec<String>, log: PathBuf| {
            let mut all = vec![
                format!("--net={}", addresses.netns_path().display()),
                "--".into(),
                program.display().to_string(),
            ];
            all.extend(args);
            ProcessSpec {
                cluster: cluster.clone(),
                component,
                program: "nsenter".into(),
                args: all,
                log,
            }
        };
        let containerd_spec = in_node(
            Component::Containerd,
            Path::new("containerd"),
            vec![format!("--config={}", dirs.containerd_config().display())],
            dirs.containerd_log(),
        );
        let kubelet_spec = in_node(
            Component::Kubelet,
            &kubelet,
            vec![
                format!("--config={}", dirs.kubelet_config().display()),
                format!("--kubeconfig={}", dirs.kubelet_kubeconfig().display()),
                format!("--root-dir={}", dirs.kubelet_root().display()),
                format!("--cert-dir={}", dirs.root.join("kubelet-pki").display()),
                format!("--hostname-override={name}"),
                format!("--node-ip={}", addresses.node_ip()),
                format!(
                    "--node-labels=topology.kubernetes.io/region={}",
                    plan.cluster
                ),
            ],
            dirs.kubelet_log(),
        );
        let kube_proxy_spec = in_node(
            Component::KubeProxy,
            &kube_proxy,
            vec![format!("--config={}", dirs.kube_proxy_config().display())],
            dirs.kube_proxy_log(),
        );
        // From here on, dropping the node tears down whatever already runs.
        let node = Node {
            name,
            dirs,
            addresses,
            kubelet_spec,
            kubelet: Mutex::new(None),
            kube_proxy: Mutex::new(None),
            containerd: Mutex::new(None),
            slot: Mutex::new(Some(plan.slot)),
        };
        let mut containerd = containerd_spec.spawn()?;
        wait_for_socket(
            &mut containerd,
            &node.dirs.containerd_socket(),
            plan.ready_timeout,
        )
        .await?;
        *lock(&node.containerd) = Some(containerd);
        let socket = node.dirs.containerd_socket();
        let node_name = node.name.clone();
        tokio::task::spawn_blocking(move || images::import(&node_name, &socket, &images))
            .await
            .expect("importing images does not panic")?;
        *lock(&node.kube_proxy) = Some(kube_proxy_spec.spawn()?);
        node.start_kubelet(&plan.admin, plan.ready_timeout).await?;
        Ok(node)
    }

    /// `<cluster>-node`, the Node object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn addresses(&self) -> &NodeAddresses {
        &self.addresses
    }

    pub fn kubelet_log(&self) -> PathBuf {
        self.dirs.kubelet_log()
    }

    /// Starts the kubelet (again) and waits until the Node is Ready. A no-op when running.
    pub async fn start_kubelet(&self, admin: &kube::Client, timeout: Duration) -> Result<()> {
        let _one_kubelet_starting = if lock(&self.kubelet).is_none() {
            let held = tokio::task::spawn_blocking(|| network::StartLock::acquire("kubelet-start"))
                .await
                .expect("taking a lock does not panic")?;
            *lock(&self.kubelet) = Some(self.kubelet_spec.spawn()?);
            Some(held)
        } else {
            None
        };
        let nodes = Api::<NodeObject>::all(admin.clone());
        let what = format!("node {} Ready", self.name);
        eventually(&what, timeout, async || {
            if let Some(kubelet) = lock(&self.kubelet).as_mut() {
                kubelet.check_running()?;
            }
            let Some(node) = nodes.get_opt(&self.name).await? else {
                return Ok(None);
            };
            Ok(node_ready(&node).then_some(()))
        })
        .await
    }

    /// The node goes away at once: the kubelet is killed and so is every process of its pods.
    /// containerd stays (it holds no pod); [`Node::start_kubelet`] brings the pods back, as
    /// a rebooted node's kubelet would.
    pub fn power_off(&self) {
        if let Some(kubelet) = lock(&self.kubelet).take() {
            kubelet.stop_blocking(libc::SIGKILL, STOP_GRACE);
        }
        cleanup::kill_cgroup_tree(&self.addresses.cgroup());
    }

    /// The kubelet freezes (SIGSTOP) and its pods run on untouched: nothing of the node's pods
    /// changes, their projected volumes included, until [`Node::resume_kubelet`], as a kubelet
    /// stuck on a slow disk or an overloaded node. Well under the node-monitor grace period
    /// (40 s) nothing else notices.
    pub fn pause_kubelet(&self) {
        if let Some(kubelet) = lock(&self.kubelet).as_ref() {
            kubelet.signal(libc::SIGSTOP);
        }
    }

    pub fn resume_kubelet(&self) {
        if let Some(kubelet) = lock(&self.kubelet).as_ref() {
            kubelet.signal(libc::SIGCONT);
        }
    }

    /// SIGKILL to the processes of a pod whose command is `command` (`/proc/<pid>/comm`, at
    /// most 15 bytes): a crash the kubelet sees and restarts the container after. Returns how
    /// many it killed.
    pub fn kill_in_pod(&self, pod_uid: &str, command: &str) -> usize {
        let victims: Vec<u32> = self
            .pod_processes(pod_uid)
            .into_iter()
            .filter(|pid| process_facts(*pid).is_some_and(|f| f.command == command))
            .collect();
        for pid in &victims {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
        victims.len()
    }

    /// Where the kubelet keeps a pod's volume on this machine: what the container sees at the
    /// volume's mount path.
    pub fn pod_volume_dir(&self, pod_uid: &str, plugin: &str, volume: &str) -> PathBuf {
        self.dirs
            .kubelet_root()
            .join("pods")
            .join(pod_uid)
            .join("volumes")
            .join(format!("kubernetes.io~{plugin}"))
            .join(volume)
    }

    /// The processes of a pod's containers (its sandbox included), found by its cgroup.
    pub fn pod_processes(&self, pod_uid: &str) -> Vec<u32> {
        let wanted = format!("pod{pod_uid}");
        cleanup::cgroup_dirs(&self.addresses.cgroup())
            .iter()
            .filter(|dir| dir.parent().is_some_and(|p| p.ends_with("memory")))
            .flat_map(|dir| find_dir(dir, &wanted))
            .flat_map(|pod| cleanup::processes_in(&pod))
            .collect()
    }

    /// Stops kube-proxy, the kubelet and containerd, and removes everything of the node.
    fn tear_down(&self) {
        for process in [&self.kubelet, &self.kube_proxy] {
            if let Some(process) = lock(process).take() {
                process.stop_blocking(libc::SIGTERM, STOP_GRACE);
            }
        }
        cleanup::tear_down(&self.addresses, &self.dirs.root);
        drop(lock(&self.containerd).take());
        if let Some(slot) = lock(&self.slot).take() {
            slot.release();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.tear_down();
    }
}

/// The directory named `name` at or under `dir`.
fn find_dir(dir: &Path, name: &str) -> Option<PathBuf> {
    if dir.file_name().is_some_and(|n| n == name) {
        return Some(dir.to_path_buf());
    }
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .find_map(|p| find_dir(&p, name))
}

fn node_ready(node: &NodeObject) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Config files and the kubelet's and kube-proxy's kubeconfigs (their own identities).
fn write_files(dirs: &NodeDirs, a: &NodeAddresses, plan: &NodePlan<'_>, name: &str) -> Result<()> {
    for dir in [
        dirs.root.clone(),
        dirs.cni_conf_dir(),
        dirs.cni_ipam_dir(),
        dirs.kubelet_root(),
        dirs.pod_logs(),
    ] {
        std::fs::create_dir_all(&dir).map_err(Error::io(format!("create {}", dir.display())))?;
    }
    let public = |path: PathBuf, text: String| ClusterFiles::write_public(&path, &text);
    public(dirs.containerd_config(), config::containerd_config(dirs))?;
    public(
        dirs.cni_conf_dir().join("10-meridian-node.conflist"),
        config::cni_config(dirs, a),
    )?;
    public(
        dirs.kubelet_config(),
        config::kubelet_config(dirs, a, plan.kubelet_sync),
    )?;
    public(
        dirs.kube_proxy_config(),
        config::kube_proxy_config(dirs, a, name),
    )?;
    let kubelet_user = format!("system:node:{name}");
    let identities = [
        (
            dirs.kubelet_kubeconfig(),
            kubelet_user.as_str(),
            Some(NODES_GROUP),
        ),
        (dirs.kube_proxy_kubeconfig(), KUBE_PROXY_USER, None),
    ];
    for (path, user, group) in identities {
        let pair = plan.ca.client(user, group)?;
        let document = kubeconfig::render(
            plan.cluster,
            plan.server,
            plan.ca.cert_pem(),
            user,
            Credentials::ClientCertificate(&pair),
        );
        ClusterFiles::write_private(&path, &document)?;
    }
    Ok(())
}

/// What the Node authorizer would grant, through RBAC: Kubernetes ships the `system:node`
/// ClusterRole but binds it to no one.
async fn bind_nodes_group(admin: &kube::Client) -> Result<()> {
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some("meridian-e2e:nodes".into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "system:node".into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Group".into(),
            name: NODES_GROUP.into(),
            ..Subject::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(admin.clone())
        .patch(
            "meridian-e2e:nodes",
            &PatchParams::apply("meridian-e2e").force(),
            &Patch::Apply(&binding),
        )
        .await?;
    Ok(())
}

async fn wait_for_socket(process: &mut Process, socket: &Path, timeout: Duration) -> Result<()> {
    let what = format!("containerd's socket {}", socket.display());
    eventually(&what, timeout, async || {
        process.check_running()?;
        Ok(socket.exists().then_some(()))
    })
    .await
}

/// A poisoned lock only means another test thread panicked; the handle is still valid.
fn lock<T>(slot: &Mutex<T>) -> MutexGuard<'_, T> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
