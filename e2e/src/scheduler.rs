//! How kube-scheduler runs in a cluster with a node: one instance, no leader election, as
//! `system:kube-scheduler`, the user Kubernetes' default RBAC grants exactly what a scheduler
//! needs.

use std::path::Path;

use crate::{error::Component, files::ClusterFiles, process::ProcessSpec};

pub(crate) const USER: &str = "system:kube-scheduler";

pub(crate) fn spec(cluster: &str, program: &Path, files: &ClusterFiles, port: u16) -> ProcessSpec {
    let path = |p: &Path| p.display().to_string();
    let kubeconfig = path(&files.scheduler_kubeconfig);
    let mut args = vec![
        format!("--kubeconfig={kubeconfig}"),
        format!("--authentication-kubeconfig={kubeconfig}"),
        format!("--authorization-kubeconfig={kubeconfig}"),
        "--authorization-always-allow-paths=/healthz,/readyz,/livez".into(),
    ];
    args.extend(crate::controller_manager::component_args(files, port));
    ProcessSpec {
        cluster: cluster.to_string(),
        component: Component::KubeScheduler,
        program: program.to_path_buf(),
        args,
        log: files.scheduler_log.clone(),
    }
}
