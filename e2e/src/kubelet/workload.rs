//! One auth-server Deployment as the stand-in runs it: the projected volume, the container's
//! environment, `spec.replicas` pods each on its own loopback port, and the [`Service`]
//! stand-in in front of them on the Deployment's address.
//!
//! A changed pod template rolls the pods one at a time, replacing one (SIGTERM, so requests in
//! flight finish) only while every other is ready (`maxUnavailable: 1`, no surge), so two
//! replicas keep serving through a roll.
//! It must never start a pod before both the volume and the environment resolve; after that,
//! an object that goes missing keeps the last files and environment, as kubelet keeps a
//! running pod's.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;

use super::env::{Environment, container_env};
use super::pod::{Lifecycle, Pod};
use super::projection::{ProjectedFiles, Sources, projected_files};
use super::service::Service;
use super::volume::ProjectedDir;

/// What a pod needs to be created: where the binary and the pods' files are.
pub(super) struct PodFactory<'a> {
    pub region: &'a str,
    pub binary: &'a Path,
    pub dir: &'a Path,
    pub volumes: &'a Path,
}

/// A Deployment's pods and Service. Field order is drop order: pods die before the Service
/// closes, so no connection is sent to a pod being killed.
pub(super) struct Workload {
    pub deployment: String,
    pub pods: Vec<Pod>,
    pub service: Service,
    pub volume: ProjectedDir,
    replicas: usize,
    template: String,
    env: Environment,
    next_ordinal: usize,
}

/// What the Deployment asks for, read from the region.
struct Desired {
    files: ProjectedFiles,
    env: Environment,
    template: String,
    replicas: usize,
}

impl Desired {
    fn read(deployment: &Deployment, sources: &Sources) -> Result<Self, String> {
        let files = projected_files(deployment, sources).map_err(|e| e.to_string())?;
        let env = container_env(deployment, sources).map_err(|e| e.to_string())?;
        let spec = deployment.spec.as_ref();
        let template =
            serde_json::to_string(&spec.map(|s| &s.template)).expect("a pod template serializes");
        // A Deployment without `replicas` runs one, as the API server defaults it.
        let replicas = spec.and_then(|s| s.replicas).unwrap_or(1).max(0) as usize;
        Ok(Self {
            files,
            env,
            template,
            replicas,
        })
    }
}

impl Workload {
    /// A Deployment seen for the first time: created only once its files and environment
    /// resolve, with its Service listening on `address`.
    pub fn create(
        name: &str,
        deployment: &Deployment,
        sources: &Sources,
        address: SocketAddr,
        factory: &PodFactory<'_>,
    ) -> Result<Self, String> {
        let desired = Desired::read(deployment, sources)?;
        let service = Service::start(factory.region, name, address)
            .map_err(|e| format!("cannot serve {address}: {e}"))?;
        let volume = ProjectedDir::create(factory.volumes.join(name))
            .map_err(|e| format!("cannot prepare the volume: {e}"))?;
        let mut workload = Self {
            deployment: name.to_owned(),
            pods: Vec::new(),
            service,
            volume,
            replicas: 0,
            template: String::new(),
            env: Environment::default(),
            next_ordinal: 0,
        };
        workload.apply(desired, factory)?;
        Ok(workload)
    }

    /// Takes the Deployment as it now is; `Err` (keeping everything as it was) while its
    /// files or environment do not resolve.
    pub fn update(
        &mut self,
        deployment: &Deployment,
        sources: &Sources,
        factory: &PodFactory<'_>,
    ) -> Result<(), String> {
        let desired = Desired::read(deployment, sources)?;
        self.apply(desired, factory)
    }

    fn apply(&mut self, desired: Desired, factory: &PodFactory<'_>) -> Result<(), String> {
        if self
            .volume
            .publish(&desired.files)
            .map_err(|e| format!("cannot write the volume: {e}"))?
        {
            tracing::info!(region = %factory.region, deployment = %self.deployment, files = desired.files.len(), "volume updated");
        }
        // A running pod keeps the environment it started with; the next start takes this.
        self.env = desired.env;
        self.template = desired.template;
        self.replicas = desired.replicas;
        self.scale(factory)
    }

    fn scale(&mut self, factory: &PodFactory<'_>) -> Result<(), String> {
        if self.pods.len() > self.replicas {
            // The newest go first, as a ReplicaSet scaling down prefers the youngest pods.
            self.pods.truncate(self.replicas);
            tracing::info!(region = %factory.region, deployment = %self.deployment, replicas = self.replicas, "scaled down");
        }
        let missing = self.replicas - self.pods.len();
        if missing > 0 {
            let ports = crate::ports::free_loopback_ports(missing).map_err(|e| e.to_string())?;
            for port in ports {
                let listen = SocketAddr::from(([127, 0, 0, 1], port));
                self.pods.push(Pod::new(
                    factory.region,
                    &self.deployment,
                    self.next_ordinal,
                    listen,
                    factory.binary,
                    self.volume.path(),
                    factory.dir,
                ));
                self.next_ordinal += 1;
            }
        }
        let backends: Vec<SocketAddr> = self.pods.iter().map(|p| p.listen).collect();
        self.service.set_backends(&backends);
        Ok(())
    }

    /// One turn of the pods' lives: roll one outdated pod if the others serve, then start
    /// what is not running.
    pub fn run(&mut self, region: &str) {
        self.roll_one(region);
        for pod in &mut self.pods {
            match pod.ensure_running(&self.template, &self.env) {
                Ok(Lifecycle::Started) => {
                    self.service.restarted(pod.listen);
                    tracing::info!(
                        %region, deployment = %pod.deployment, pod = %pod.name, listen = %pod.listen,
                        start = pod.starts, "auth-server started"
                    );
                }
                Ok(Lifecycle::Exited) => self.service.restarted(pod.listen),
                Ok(Lifecycle::Running | Lifecycle::BackingOff | Lifecycle::Terminating) => {}
                Err(error) => {
                    tracing::error!(%region, deployment = %pod.deployment, pod = %pod.name, %error, "auth-server cannot start")
                }
            }
        }
    }

    fn roll_one(&mut self, region: &str) {
        let Some(outdated) = self
            .pods
            .iter()
            .position(|p| p.is_running() && p.template != self.template)
        else {
            return;
        };
        let others_ready = self
            .pods
            .iter()
            .enumerate()
            .all(|(i, p)| i == outdated || self.service.is_ready(p.listen));
        if others_ready {
            let pod = &mut self.pods[outdated];
            tracing::info!(%region, deployment = %pod.deployment, pod = %pod.name, "pod template changed; rolling");
            // Out of the endpoints first, so no new connection reaches a draining pod.
            self.service.restarted(pod.listen);
            pod.terminate();
        }
    }

    /// SIGKILL to one pod (by name) or, with `None`, to every pod of the Deployment.
    /// `false` if there is no such pod.
    pub fn kill(&mut self, pod: Option<&str>) -> bool {
        let mut killed = false;
        for p in &mut self.pods {
            if pod.is_none_or(|name| p.name == name) {
                p.kill();
                self.service.restarted(p.listen);
                killed = true;
            }
        }
        killed
    }

    /// Every pod the Deployment asks for exists and is among the Service's ready endpoints.
    pub fn ready(&self) -> bool {
        self.pods.len() == self.replicas
            && self.pods.iter().all(|p| self.service.is_ready(p.listen))
    }

    pub fn volume_dir(&self) -> PathBuf {
        self.volume.path().to_owned()
    }
}
