//! The sync loop of one region: read the auth-server Deployments and the Secrets and
//! ConfigMaps their volumes and environments name, then converge each Deployment's
//! [`Workload`] (files, replicas, rolls) and restart what died. It must never stop a pod
//! because the region is unreachable: a kubelet keeps running what it runs, with its last
//! files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::{Api, Client};
use meridian_operator::render::managed_by_selector;

use super::projection::Sources;
use super::workload::{PodFactory, Workload};
use super::{KubeletError, KubeletOptions, PodFailure, SHARED_GROUP};

/// The pods of one region, and what the loop last saw there.
pub(super) struct Pods {
    pub region: String,
    pub binary: PathBuf,
    pub dir: PathBuf,
    /// Where the pods' projected volumes live: memory-backed, as kubelet mounts them.
    pub volumes: tempfile::TempDir,
    /// By Deployment name.
    pub workloads: BTreeMap<String, Workload>,
    /// Deployments whose volume or environment cannot be resolved, and why.
    pub waiting: BTreeMap<String, String>,
    /// Why the last read of the region failed, while it fails.
    pub unreachable: Option<String>,
    /// While set the region is not read and pods keep their last files
    /// ([`super::Kubelet::pause_sync`]).
    pub paused: bool,
}

/// The sync loop: read the region, converge the pods, restart what died; until aborted.
pub(super) async fn run(client: Client, options: KubeletOptions, pods: Arc<Mutex<Pods>>) {
    let mut ticker = tokio::time::interval(options.sync_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if lock(&pods).paused {
            lock(&pods).run_pods();
            continue;
        }
        let read = read_region(&client, &options.namespace).await;
        // Converging writes every file of a changed volume (tens of thousands with thousands
        // of tenants): on the blocking pool, so the Service stand-ins and readiness probes on
        // the runtime's workers keep answering meanwhile.
        let (pods, options) = (pods.clone(), options.clone());
        let _ = tokio::task::spawn_blocking(move || sync_once(&pods, read, &options)).await;
    }
}

fn sync_once(
    pods: &Mutex<Pods>,
    read: Result<(Vec<Deployment>, Sources), kube::Error>,
    options: &KubeletOptions,
) {
    let mut pods = lock(pods);
    match read {
        Ok((deployments, objects)) => {
            if pods.unreachable.take().is_some() {
                tracing::info!(region = %pods.region, "kubelet reaches the region again");
            }
            pods.converge(&deployments, &objects, options);
        }
        Err(error) => {
            if pods.unreachable.is_none() {
                tracing::warn!(region = %pods.region, %error, "kubelet cannot read the region; pods keep their last files");
            }
            pods.unreachable = Some(error.to_string());
        }
    }
    pods.run_pods();
}

async fn read_region(
    client: &Client,
    namespace: &str,
) -> Result<(Vec<Deployment>, Sources), kube::Error> {
    let managed = ListParams::default().labels(&managed_by_selector());
    let deployments = Api::<Deployment>::namespaced(client.clone(), namespace)
        .list(&managed)
        .await?;
    let all = ListParams::default();
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .list(&all)
        .await?;
    let secrets = Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&all)
        .await?;
    Ok((
        deployments.items,
        Sources::new(config_maps.items, secrets.items),
    ))
}

impl Pods {
    fn converge(
        &mut self,
        deployments: &[Deployment],
        objects: &Sources,
        options: &KubeletOptions,
    ) {
        let wanted: Vec<&Deployment> = deployments
            .iter()
            .filter(|d| d.spec.as_ref().and_then(|s| s.replicas) != Some(0))
            .collect();
        let names: Vec<String> = wanted
            .iter()
            .map(|d| d.metadata.name.clone().unwrap_or_default())
            .collect();
        self.workloads.retain(|name, _| names.contains(name));
        self.waiting.retain(|name, _| names.contains(name));
        for (deployment, name) in wanted.into_iter().zip(names) {
            if let Err(reason) = self.converge_one(deployment, &name, objects, options) {
                if self.waiting.get(&name) != Some(&reason) {
                    tracing::warn!(region = %self.region, deployment = %name, %reason, "auth-server pod waits");
                }
                self.waiting.insert(name, reason);
            } else {
                self.waiting.remove(&name);
            }
        }
    }

    fn converge_one(
        &mut self,
        deployment: &Deployment,
        name: &str,
        objects: &Sources,
        options: &KubeletOptions,
    ) -> Result<(), String> {
        let factory = PodFactory {
            region: &self.region,
            binary: &self.binary,
            dir: &self.dir,
            volumes: self.volumes.path(),
        };
        if let Some(workload) = self.workloads.get_mut(name) {
            return workload.update(deployment, objects, &factory);
        }
        let address = if name == SHARED_GROUP {
            options.public_address
        } else {
            let port = crate::ports::free_loopback_ports(1).map_err(|e| e.to_string())?[0];
            SocketAddr::from(([127, 0, 0, 1], port))
        };
        let workload = Workload::create(name, deployment, objects, address, &factory)?;
        self.workloads.insert(name.to_owned(), workload);
        Ok(())
    }

    fn run_pods(&mut self) {
        for workload in self.workloads.values_mut() {
            workload.run(&self.region);
        }
    }

    /// A pod that exited since `before` (exits by pod name), as an error with its log tail.
    pub(super) fn new_exit(&self, before: &BTreeMap<String, usize>) -> Option<KubeletError> {
        self.all_pods().find_map(|pod| {
            let seen = before.get(&pod.name).copied().unwrap_or(0);
            let exit = pod.exits.get(seen)?;
            Some(KubeletError::PodFailed(Box::new(PodFailure {
                region: self.region.clone(),
                deployment: pod.deployment.clone(),
                pod: pod.name.clone(),
                listen: pod.listen,
                reason: exit.reason.clone(),
                log: pod.log.clone(),
                log_tail: exit.log_tail.clone(),
            })))
        })
    }

    /// What a reader of a readiness timeout needs: why pods wait, and their logs.
    pub(super) fn describe(&self) -> String {
        let mut lines = Vec::new();
        if let Some(reason) = &self.unreachable {
            lines.push(format!("the region is unreachable: {reason}"));
        }
        if self.workloads.is_empty() && self.waiting.is_empty() {
            lines.push("no auth-server Deployment in the region".to_owned());
        }
        for (name, reason) in &self.waiting {
            lines.push(format!("{name} waits: {reason}"));
        }
        for workload in self.workloads.values() {
            for pod in &workload.pods {
                let ready = workload.service.is_ready(pod.listen);
                lines.push(format!(
                    "{} on {} (ready: {ready}) — last lines of {}:\n{}",
                    pod.name,
                    pod.listen,
                    pod.log.display(),
                    pod.log_tail()
                ));
            }
        }
        lines.join("\n")
    }

    pub(super) fn all_pods(&self) -> impl Iterator<Item = &super::pod::Pod> {
        self.workloads.values().flat_map(|w| &w.pods)
    }
}

pub(super) fn lock(pods: &Mutex<Pods>) -> MutexGuard<'_, Pods> {
    pods.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
