//! Auth-server replicas outside Kubernetes, for the grant-store tests and benchmarks: the real
//! `meridian-auth-server` binary on a loopback port, serving a contract directory, with its
//! store URI in `MERIDIAN_STORE` (never on the command line, where `ps` shows it).
//!
//! Each replica runs in its own process group with its output in a log file; dropping it (or
//! [`Replica::kill`]) sends SIGKILL, as an OOM kill or a node failure would. It must never be
//! used where the operator's rendered pods should run: those run on real nodes
//! ([`crate::region_pods`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Component, Error, Result};
use crate::ports::free_loopback_ports;
use crate::process::{Process, ProcessSpec, log_tail};
use crate::wait::eventually;

/// How long a replica may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One auth-server process and what it takes to start it again on the same port.
#[derive(Debug)]
pub struct Replica {
    pub name: String,
    pub addr: SocketAddr,
    /// Where its metrics are served.
    pub admin_addr: SocketAddr,
    spec: ProcessSpec,
    store: String,
    process: Option<Process>,
}

impl Replica {
    /// Starts a replica serving `config_dir` with `store` (`memory` or a postgres URI) and
    /// waits until it is ready.
    pub async fn start(name: &str, config_dir: &Path, store: &str, log_dir: &Path) -> Result<Self> {
        let replica = Self::spawn(name, config_dir, store, log_dir).await?;
        replica.wait_ready().await?;
        Ok(replica)
    }

    /// Starts a replica without waiting for it.
    pub async fn spawn(name: &str, config_dir: &Path, store: &str, log_dir: &Path) -> Result<Self> {
        Self::spawn_on(name, config_dir, store, log_dir, None).await
    }

    /// As [`Replica::spawn`], with every thread of the server on one CPU (benchmarks: the
    /// server on one core, load and database on the other).
    pub async fn spawn_on(
        name: &str,
        config_dir: &Path,
        store: &str,
        log_dir: &Path,
        cpu: Option<usize>,
    ) -> Result<Self> {
        let ports = free_loopback_ports(2)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], ports[0]));
        let admin_addr = SocketAddr::from(([127, 0, 0, 1], ports[1]));
        let binary = tokio::task::spawn_blocking(crate::auth_server_binary::auth_server_binary)
            .await
            .map_err(|e| Error::Binaries(e.to_string()))??;
        let mut args = vec![
            "--listen".into(),
            addr.to_string(),
            "--config-dir".into(),
            config_dir.display().to_string(),
            "--admin-listen".into(),
            admin_addr.to_string(),
        ];
        let program = match cpu {
            None => binary,
            Some(cpu) => {
                // util-linux's taskset execs the server: same process, same group, one CPU.
                args.splice(
                    0..0,
                    ["-c".into(), cpu.to_string(), binary.display().to_string()],
                );
                PathBuf::from("taskset")
            }
        };
        let spec = ProcessSpec {
            cluster: name.to_owned(),
            component: Component::AuthServer,
            program,
            args,
            log: log_dir.join(format!("{name}.log")),
        };
        let mut replica = Self {
            name: name.to_owned(),
            addr,
            admin_addr,
            spec,
            store: store.to_owned(),
            process: None,
        };
        replica.run()?;
        Ok(replica)
    }

    fn run(&mut self) -> Result<()> {
        let store = self.store.clone();
        let process = self.spec.spawn_with(|command| {
            command.env("MERIDIAN_STORE", store).env("RUST_LOG", "info");
        })?;
        self.process = Some(process);
        Ok(())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until `/readyz` answers 200; fails at once, with the log tail, if it exited.
    pub async fn wait_ready(&self) -> Result<()> {
        let url = format!("{}/readyz", self.base());
        let http = reqwest::Client::new();
        let what = format!("auth-server {} ready", self.name);
        let outcome = eventually(&what, READY_TIMEOUT, async || {
            let answered = http.get(&url).send().await;
            Ok(answered
                .is_ok_and(|r| r.status().is_success())
                .then_some(()))
        })
        .await;
        outcome.map_err(|e| self.spec.failure(format!("{e}")))
    }

    /// Whether the process still runs; `Err` carries its exit and log tail.
    pub fn check_running(&mut self) -> Result<()> {
        match self.process.as_mut() {
            Some(process) => process.check_running(),
            None => Err(self.spec.failure("was killed")),
        }
    }

    /// SIGKILL to its process group, as an OOM kill would; reaped before this returns.
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// Starts it again on the same port and waits until it is ready.
    pub async fn restart(&mut self) -> Result<()> {
        self.kill();
        self.run()?;
        self.wait_ready().await
    }

    pub fn log_path(&self) -> PathBuf {
        self.spec.log.clone()
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.spec.log)
    }
}
