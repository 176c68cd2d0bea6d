//! The sync loop of one region: read the auth-server Deployments and the objects their
//! volumes name, publish each volume's files, start, roll, restart and remove processes. It
//! must never stop a pod because the region is unreachable: a kubelet keeps running what it
//! runs, with its last files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::{Api, Client};

use super::pod::Pod;
use super::projection::{Sources, projected_files};
use super::{KubeletError, KubeletOptions, PodFailure, SHARED_GROUP};

/// The operator's label on everything it writes.
const MANAGED: &str = "app.kubernetes.io/managed-by=meridian-operator";

/// The pods of one region, and what the loop last saw there.
pub(super) struct Pods {
    pub region: String,
    pub binary: PathBuf,
    pub dir: PathBuf,
    pub pods: BTreeMap<String, Pod>,
    /// Deployments whose volume cannot be projected yet, and why.
    pub waiting: BTreeMap<String, String>,
    /// Why the last read of the region failed, while it fails.
    pub unreachable: Option<String>,
}

/// The sync loop: read the region, converge the pods, restart what died; until aborted.
pub(super) async fn run(client: Client, options: KubeletOptions, pods: Arc<Mutex<Pods>>) {
    let mut ticker = tokio::time::interval(options.sync_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let read = read_region(&client, &options.namespace).await;
        let mut pods = lock(&pods);
        match read {
            Ok((deployments, objects)) => {
                if pods.unreachable.take().is_some() {
                    tracing::info!(region = %pods.region, "kubelet reaches the region again");
                }
                pods.converge(&deployments, &objects, &options);
            }
            Err(error) => {
                if pods.unreachable.is_none() {
                    tracing::warn!(region = %pods.region, %error, "kubelet cannot read the region; pods keep their last files");
                }
                pods.unreachable = Some(error.to_string());
            }
        }
        pods.restart_exited();
    }
}

async fn read_region(
    client: &Client,
    namespace: &str,
) -> Result<(Vec<Deployment>, Sources), kube::Error> {
    let managed = ListParams::default().labels(MANAGED);
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
        self.pods.retain(|name, _| names.contains(name));
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
        // A volume that cannot be projected keeps the pod waiting, or keeps its last files.
        let files = projected_files(deployment, objects).map_err(|e| e.to_string())?;
        if !self.pods.contains_key(name) {
            let listen = if name == SHARED_GROUP {
                options.public_address
            } else {
                let port = crate::ports::free_loopback_ports(1).map_err(|e| e.to_string())?[0];
                SocketAddr::from(([127, 0, 0, 1], port))
            };
            let pod = Pod::new(&self.region, name, listen, &self.binary, &self.dir)
                .map_err(|e| format!("cannot prepare the pod: {e}"))?;
            self.pods.insert(name.to_owned(), pod);
        }
        let region = self.region.clone();
        let pod = self.pods.get_mut(name).expect("inserted above");
        if pod
            .volume
            .publish(&files)
            .map_err(|e| format!("cannot write the volume: {e}"))?
        {
            tracing::info!(%region, deployment = %name, files = files.len(), "volume updated");
        }
        let template = serde_json::to_string(&deployment.spec.as_ref().map(|s| &s.template))
            .expect("a pod template serializes");
        if pod.template != template {
            if pod.is_running() {
                tracing::info!(%region, deployment = %name, "pod template changed; rolling");
                pod.kill();
            }
            pod.template = template;
        }
        Ok(())
    }

    fn restart_exited(&mut self) {
        for pod in self.pods.values_mut() {
            match pod.ensure_running() {
                Ok(true) => tracing::info!(
                    region = %self.region, deployment = %pod.deployment, listen = %pod.listen,
                    start = pod.starts, "auth-server started"
                ),
                Ok(false) => {}
                Err(error) => {
                    tracing::error!(region = %self.region, deployment = %pod.deployment, %error, "auth-server cannot start")
                }
            }
        }
    }

    /// A pod that exited since `before`, as an error with its log tail.
    pub(super) fn new_exit(&self, before: &BTreeMap<String, usize>) -> Option<KubeletError> {
        self.pods.values().find_map(|pod| {
            let seen = before.get(&pod.deployment).copied().unwrap_or(0);
            let exit = pod.exits.get(seen)?;
            Some(KubeletError::PodFailed(Box::new(PodFailure {
                region: self.region.clone(),
                deployment: pod.deployment.clone(),
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
        if self.pods.is_empty() && self.waiting.is_empty() {
            lines.push("no auth-server Deployment in the region".to_owned());
        }
        for (name, reason) in &self.waiting {
            lines.push(format!("{name} waits: {reason}"));
        }
        for pod in self.pods.values() {
            lines.push(format!(
                "{} on {} — last lines of {}:\n{}",
                pod.deployment,
                pod.listen,
                pod.log.display(),
                pod.log_tail()
            ));
        }
        lines.join("\n")
    }
}

pub(super) fn lock(pods: &Mutex<Pods>) -> MutexGuard<'_, Pods> {
    pods.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
