//! How kube-apiserver runs in a test cluster.
//!
//! Flags are chosen for a fast start and for what Meridian's tests observe: RBAC on (no Node
//! authorizer: there are no kubelets), client certificates from the cluster's CA,
//! service-account tokens (TokenRequest) signed with the cluster's own key, and the write audit
//! log. Subsystems no test here exercises are off: API priority and fairness, the endpoint
//! reconciler (there are no nodes or other masters), profiling, and admission plugins about
//! nodes, storage, certificates and quotas. Namespace lifecycle, service accounts, pod
//! security and admission webhooks/policies stay on, as in a production cluster.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::{error::Component, files::ClusterFiles, process::ProcessSpec};

/// The Service CIDR of a cluster without nodes; the first address is the `kubernetes` Service
/// and is in the serving cert. A cluster with a node takes its node's range instead, so the
/// host can route each cluster's ClusterIPs to its node.
pub(crate) const SERVICE_CLUSTER_IP_RANGE: &str = "10.0.0.0/24";
pub(crate) const KUBERNETES_SERVICE_IP: &str = "10.0.0.1";

/// Where the API server listens and which Service range it hands out.
pub(crate) struct Network {
    /// 127.0.0.1, or the host's node-network address for a cluster whose node must reach it.
    pub bind: Ipv4Addr,
    pub service_cidr: String,
}

const DISABLED_ADMISSION_PLUGINS: &[&str] = &[
    "TaintNodesByCondition",
    "Priority",
    "DefaultTolerationSeconds",
    "DefaultStorageClass",
    "StorageObjectInUseProtection",
    "PersistentVolumeClaimResize",
    "RuntimeClass",
    "CertificateApproval",
    "CertificateSigning",
    "ClusterTrustBundleAttest",
    "CertificateSubjectRestriction",
    "DefaultIngressClass",
    "PodTopologyLabels",
    "NodeDeclaredFeatureValidator",
    "LimitRanger",
    "ResourceQuota",
];

/// The service-account token issuer of a cluster (`iss` of its TokenRequest tokens).
pub(crate) fn service_account_issuer(cluster: &str) -> String {
    format!("https://{cluster}.clusters.e2e.meridian.test")
}

pub(crate) fn spec(
    cluster: &str,
    program: &Path,
    files: &ClusterFiles,
    port: u16,
    etcd_url: &str,
    network: &Network,
) -> ProcessSpec {
    let path = |p: &Path| p.display().to_string();
    let bind = network.bind;
    let args = vec![
        format!("--etcd-servers={etcd_url}"),
        format!("--etcd-prefix=/clusters/{cluster}"),
        format!("--bind-address={bind}"),
        format!("--advertise-address={bind}"),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", path(&files.dir)),
        format!("--tls-cert-file={}", path(&files.serving_cert)),
        format!("--tls-private-key-file={}", path(&files.serving_key)),
        format!("--client-ca-file={}", path(&files.ca_cert)),
        "--authorization-mode=RBAC".into(),
        format!(
            "--service-account-issuer={}",
            service_account_issuer(cluster)
        ),
        format!(
            "--service-account-key-file={}",
            path(&files.service_account_public_key)
        ),
        format!(
            "--service-account-signing-key-file={}",
            path(&files.service_account_key)
        ),
        format!("--service-cluster-ip-range={}", network.service_cidr),
        "--allow-privileged=true".into(),
        "--endpoint-reconciler-type=none".into(),
        "--enable-priority-and-fairness=false".into(),
        "--profiling=false".into(),
        format!(
            "--disable-admission-plugins={}",
            DISABLED_ADMISSION_PLUGINS.join(",")
        ),
        format!("--audit-policy-file={}", path(&files.audit_policy)),
        format!("--audit-log-path={}", path(&files.audit_log)),
        "--audit-log-format=json".into(),
        // Blocking: the event is written while the request completes, not batched seconds later.
        "--audit-log-mode=blocking".into(),
    ];
    ProcessSpec {
        cluster: cluster.to_string(),
        component: Component::KubeApiserver,
        program: program.to_path_buf(),
        args,
        log: files.apiserver_log.clone(),
    }
}
