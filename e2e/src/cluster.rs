//! One test cluster: its API server (which a test may stop and restart on the same port), an
//! optional controller-manager, its credentials, kubeconfig, admin client and audit log.
//!
//! A cluster never outlives its [`crate::Clusters`]: processes die with it, files go with the
//! test's temporary directory.

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use crate::{
    apiserver,
    audit::{self, AuditLog},
    binaries::Binaries,
    controller_manager,
    error::Result,
    files::ClusterFiles,
    health::{probe_client, wait_healthy},
    kubeconfig::{self, Credentials},
    node::{HOST_ADDRESS, Node, NodePlan, Slot},
    pki::{self, CertificateAuthority},
    process::{Process, ProcessSpec},
    scheduler,
};

/// The admin identity of every cluster: a client certificate in group `system:masters`.
pub const ADMIN_USER: &str = "e2e-admin";
const ADMIN_GROUP: &str = "system:masters";
/// A stopping API server closes its port at once but, while clients hold watches open, lingers
/// for about 10 s; nothing a test observes depends on that drain, so it is cut short.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What one cluster needs to start; decided by [`crate::Clusters::start`].
pub(crate) struct ClusterPlan<'a> {
    pub name: String,
    pub dir: PathBuf,
    pub binaries: &'static Binaries,
    pub etcd_url: &'a str,
    pub apiserver_port: u16,
    pub extra_apiserver_args: &'a [String],
    /// `Some((program, port))` runs kube-controller-manager serving health on that port.
    pub controller_manager: Option<(PathBuf, u16)>,
    /// A real node in this slot, with kube-scheduler serving health on the port.
    pub node: Option<(Slot, u16)>,
    /// The node's kubelet `syncFrequency`.
    pub kubelet_sync: Duration,
    pub ready_timeout: Duration,
}

/// Field order is drop order: the node (and its pods) go first, the API server last.
pub struct Cluster {
    node: Option<Node>,
    _scheduler: Option<Process>,
    pub(crate) name: String,
    /// 127.0.0.1, or [`HOST_ADDRESS`] when the cluster's node must reach its API server.
    host: Ipv4Addr,
    pub(crate) port: u16,
    pub(crate) files: ClusterFiles,
    pub(crate) ca: CertificateAuthority,
    pub(crate) kubeconfig: String,
    pub(crate) admin_config: kube::Config,
    pub(crate) binaries: &'static Binaries,
    client: kube::Client,
    probe: kube::Client,
    audit: AuditLog,
    ready_timeout: Duration,
    apiserver_spec: ProcessSpec,
    apiserver: Mutex<Option<Process>>,
    controller_manager: Mutex<Option<Process>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.name)
            .field("server", &self.server_url())
            .field("dir", &self.files.dir)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    pub(crate) async fn start(plan: ClusterPlan<'_>) -> Result<Cluster> {
        let files = ClusterFiles::create(plan.dir)?;
        let ca = CertificateAuthority::generate(&plan.name)?;
        let network = match &plan.node {
            Some((slot, _)) => apiserver::Network {
                bind: HOST_ADDRESS,
                service_cidr: slot.addresses.service_cidr(),
            },
            None => apiserver::Network {
                bind: Ipv4Addr::LOCALHOST,
                service_cidr: apiserver::SERVICE_CLUSTER_IP_RANGE.into(),
            },
        };
        let host = network.bind;
        let server = format!("https://{host}:{}", plan.apiserver_port);
        let kubeconfig = write_bootstrap_files(&plan.name, &server, &files, &ca)?;
        let admin_config = kubeconfig::config(&kubeconfig).await?;
        let probe = probe_client(admin_config.clone())?;
        let mut apiserver_spec = apiserver::spec(
            &plan.name,
            &plan.binaries.kube_apiserver(),
            &files,
            plan.apiserver_port,
            plan.etcd_url,
            &network,
        );
        apiserver_spec
            .args
            .extend_from_slice(plan.extra_apiserver_args);
        let mut apiserver = apiserver_spec.spawn()?;
        wait_healthy(&mut apiserver, &probe, "/readyz", plan.ready_timeout).await?;
        let with_node = plan.node.is_some();
        let controller_manager = match plan.controller_manager {
            Some((program, port)) => {
                let spec = controller_manager::spec(&plan.name, &program, &files, port, with_node);
                Some(start_component(spec, &ca, port, plan.ready_timeout).await?)
            }
            None => None,
        };
        let client = kubeconfig::client(admin_config.clone())?;
        let (node, scheduler) = match plan.node {
            Some((slot, scheduler_port)) => {
                let program =
                    tokio::task::spawn_blocking(|| plan.binaries.node_binary("kube-scheduler"))
                        .await
                        .expect("locating kube-scheduler does not panic")?;
                let spec = scheduler::spec(&plan.name, &program, &files, scheduler_port);
                let scheduler =
                    start_component(spec, &ca, scheduler_port, plan.ready_timeout).await?;
                let node = Node::start(NodePlan {
                    cluster: &plan.name,
                    slot,
                    dir: files.dir.join("node"),
                    binaries: plan.binaries,
                    ca: &ca,
                    server: &server,
                    admin: client.clone(),
                    ready_timeout: plan.ready_timeout,
                    kubelet_sync: plan.kubelet_sync,
                })
                .await?;
                (Some(node), Some(scheduler))
            }
            None => (None, None),
        };
        Ok(Cluster {
            node,
            _scheduler: scheduler,
            name: plan.name,
            host,
            port: plan.apiserver_port,
            client,
            audit: AuditLog::new(files.audit_log.clone()),
            files,
            ca,
            kubeconfig,
            admin_config,
            binaries: plan.binaries,
            probe,
            ready_timeout: plan.ready_timeout,
            apiserver_spec,
            apiserver: Mutex::new(Some(apiserver)),
            controller_manager: Mutex::new(controller_manager),
        })
    }

    /// `hub`, `eu-west`, ...
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `https://127.0.0.1:<port>` (`https://10.250.255.1:<port>` with a node, see
    /// [`crate::node::HOST_ADDRESS`]); the same across API server restarts.
    pub fn server_url(&self) -> String {
        format!("https://{}:{}", self.host, self.port)
    }

    /// The cluster's real node, when it was started with one
    /// ([`crate::ClusterOptions::with_nodes`]).
    pub fn node(&self) -> Option<&Node> {
        self.node.as_ref()
    }

    /// A client authenticated as [`ADMIN_USER`] (group `system:masters`). Cheap to clone.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The admin kubeconfig file, for `kubectl --kubeconfig` and `helm --kubeconfig`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.files.admin_kubeconfig
    }

    /// The admin kubeconfig document, with credentials embedded (fit for a Secret).
    pub fn kubeconfig(&self) -> &str {
        &self.kubeconfig
    }

    /// The cluster CA in PEM: it signs the serving certificate and trusted client certs.
    pub fn ca_pem(&self) -> &str {
        self.ca.cert_pem()
    }

    /// The cluster's write audit log.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// The `iss` of service-account tokens this cluster issues.
    pub fn service_account_issuer(&self) -> String {
        apiserver::service_account_issuer(&self.name)
    }

    /// The cluster's directory: certificates, kubeconfigs, component logs.
    pub fn dir(&self) -> &Path {
        &self.files.dir
    }

    pub fn apiserver_log(&self) -> &Path {
        &self.files.apiserver_log
    }

    pub fn has_controller_manager(&self) -> bool {
        lock(&self.controller_manager).is_some()
    }

    pub fn apiserver_running(&self) -> bool {
        lock(&self.apiserver).is_some()
    }

    /// Stops the API server (SIGTERM, then SIGKILL after 2 s). Its port closes; data stays in etcd;
    /// clients get connection errors until [`Cluster::start_apiserver`]. A no-op when stopped.
    pub async fn stop_apiserver(&self) -> Result<()> {
        let process = lock(&self.apiserver).take();
        if let Some(process) = process {
            process.stop(STOP_GRACE).await?;
        }
        Ok(())
    }

    /// Starts the API server again on the same port with the same certificates and keys, and
    /// waits until it is ready; existing clients and kubeconfigs keep working. A no-op when
    /// running. Not meant to race another stop or start of the same cluster.
    pub async fn start_apiserver(&self) -> Result<()> {
        if self.apiserver_running() {
            return Ok(());
        }
        let mut process = self.apiserver_spec.spawn()?;
        wait_healthy(&mut process, &self.probe, "/readyz", self.ready_timeout).await?;
        *lock(&self.apiserver) = Some(process);
        Ok(())
    }
}

/// Writes certificates, keys, the audit policy and kubeconfigs; returns the admin kubeconfig.
fn write_bootstrap_files(
    name: &str,
    server: &str,
    files: &ClusterFiles,
    ca: &CertificateAuthority,
) -> Result<String> {
    let host_address = HOST_ADDRESS.to_string();
    let serving = ca.serving(&[
        "127.0.0.1",
        &host_address,
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        apiserver::KUBERNETES_SERVICE_IP,
    ])?;
    let (sa_key, sa_public_key) = pki::service_account_signing_key()?;
    ClusterFiles::write_public(&files.ca_cert, ca.cert_pem())?;
    ClusterFiles::write_public(&files.serving_cert, &serving.cert_pem)?;
    ClusterFiles::write_private(&files.serving_key, &serving.key_pem)?;
    ClusterFiles::write_private(&files.service_account_key, &sa_key)?;
    ClusterFiles::write_public(&files.service_account_public_key, &sa_public_key)?;
    ClusterFiles::write_public(&files.audit_policy, audit::POLICY)?;

    let admin = ca.client(ADMIN_USER, Some(ADMIN_GROUP))?;
    let admin_kubeconfig = kubeconfig::render(
        name,
        server,
        ca.cert_pem(),
        ADMIN_USER,
        Credentials::ClientCertificate(&admin),
    );
    ClusterFiles::write_private(&files.admin_kubeconfig, &admin_kubeconfig)?;
    // Its own identity, so the audit log tells its writes from the test's; system:masters
    // because without per-controller service-account credentials it needs every controller's
    // permissions.
    let kcm = ca.client(controller_manager::USER, Some(ADMIN_GROUP))?;
    let kcm_kubeconfig = kubeconfig::render(
        name,
        server,
        ca.cert_pem(),
        controller_manager::USER,
        Credentials::ClientCertificate(&kcm),
    );
    ClusterFiles::write_private(&files.controller_manager_kubeconfig, &kcm_kubeconfig)?;
    // Kubernetes' default RBAC binds the scheduler's roles to this user: no system:masters.
    let scheduler = ca.client(scheduler::USER, None)?;
    let scheduler_kubeconfig = kubeconfig::render(
        name,
        server,
        ca.cert_pem(),
        scheduler::USER,
        Credentials::ClientCertificate(&scheduler),
    );
    ClusterFiles::write_private(&files.scheduler_kubeconfig, &scheduler_kubeconfig)?;
    Ok(admin_kubeconfig)
}

/// Starts a control-plane component serving `/healthz` over TLS on a loopback port, and waits
/// until it answers.
async fn start_component(
    spec: ProcessSpec,
    ca: &CertificateAuthority,
    port: u16,
    timeout: Duration,
) -> Result<Process> {
    let mut config = kube::Config::new(
        format!("https://127.0.0.1:{port}")
            .parse()
            .expect("a valid URL"),
    );
    config.root_cert = Some(vec![ca.cert_der().to_vec()]);
    let probe = probe_client(config)?;
    let mut process = spec.spawn()?;
    wait_healthy(&mut process, &probe, "/healthz", timeout).await?;
    Ok(process)
}

/// A poisoned lock only means another test thread panicked; the process handle is still valid.
fn lock(slot: &Mutex<Option<Process>>) -> MutexGuard<'_, Option<Process>> {
    slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
