//! How kube-controller-manager runs in a test cluster, when a test asks for it.
//!
//! Only the controllers whose effects Meridian's tests observe: garbage collection (owner
//! references), namespace deletion, Deployment → ReplicaSet (and the default ServiceAccount the
//! ReplicaSet's pods need to pass admission). No leader election: one instance per cluster.
//! It authenticates as `system:kube-controller-manager`, so its writes are told apart from the
//! test's own in the audit log.

use std::path::Path;

use crate::{error::Component, files::ClusterFiles, process::ProcessSpec};

pub(crate) const USER: &str = "system:kube-controller-manager";

const CONTROLLERS: &[&str] = &[
    "garbage-collector-controller",
    "namespace-controller",
    "deployment-controller",
    "replicaset-controller",
    "serviceaccount-controller",
];

/// With a node, pods run for real: kube-proxy routes Services by their EndpointSlices, an
/// eviction (`kubectl drain`) is allowed only as far as the PodDisruptionBudget's status says,
/// and a pod with a service-account token mounts the cluster CA from `kube-root-ca.crt`.
const NODE_CONTROLLERS: &[&str] = &[
    "endpointslice-controller",
    "disruption-controller",
    "root-ca-certificate-publisher-controller",
];

/// What kube-controller-manager and kube-scheduler share: one instance (no leader election),
/// health on a loopback TLS port with the cluster's serving certificate, and a higher API rate
/// than the defaults (20 qps slow namespace deletion, garbage collection and scheduling).
pub(crate) fn component_args(files: &ClusterFiles, port: u16) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    vec![
        "--leader-elect=false".into(),
        "--bind-address=127.0.0.1".into(),
        format!("--secure-port={port}"),
        format!("--cert-dir={}", path(&files.dir)),
        format!("--tls-cert-file={}", path(&files.serving_cert)),
        format!("--tls-private-key-file={}", path(&files.serving_key)),
        // /healthz is always allowed; nothing else on this port is for tests.
        "--authentication-skip-lookup=true".into(),
        "--kube-api-qps=200".into(),
        "--kube-api-burst=400".into(),
    ]
}

pub(crate) fn spec(
    cluster: &str,
    program: &Path,
    files: &ClusterFiles,
    port: u16,
    with_node: bool,
) -> ProcessSpec {
    let path = |p: &Path| p.display().to_string();
    let mut controllers = CONTROLLERS.to_vec();
    if with_node {
        controllers.extend_from_slice(NODE_CONTROLLERS);
    }
    let root_ca = format!("--root-ca-file={}", path(&files.ca_cert));
    let mut args = vec![
        format!(
            "--kubeconfig={}",
            path(&files.controller_manager_kubeconfig)
        ),
        format!("--controllers={}", controllers.join(",")),
        format!("--cluster-name={cluster}"),
        root_ca,
    ];
    args.extend(component_args(files, port));
    ProcessSpec {
        cluster: cluster.to_string(),
        component: Component::KubeControllerManager,
        program: program.to_path_buf(),
        args,
        log: files.controller_manager_log.clone(),
    }
}
