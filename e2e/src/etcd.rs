//! The etcd that stores every cluster of one test.
//!
//! One etcd for all clusters, each API server under its own `--etcd-prefix`: the clusters
//! still share no object (every key lives under its cluster's prefix) and a test pays one
//! etcd start instead of N and N-1 fewer processes competing for CPU while API servers boot.
//! Durability is not wanted here, so fsync is off; and a one-member cluster has no peer to
//! wait for, so raft's timers are cut tenfold: with the defaults (100 ms heartbeat, 1 s
//! election) etcd took ~0.9 s to elect itself, now ~0.1 s.

use std::{path::Path, time::Duration};

use crate::{
    error::{Component, Result},
    health::{probe_client, wait_healthy},
    ports::free_loopback_ports,
    process::{Process, ProcessSpec},
};

/// A running etcd. Dropping it kills it.
#[derive(Debug)]
pub(crate) struct Etcd {
    client_url: String,
    _process: Process,
}

impl Etcd {
    pub async fn start(program: &Path, dir: &Path, timeout: Duration) -> Result<Etcd> {
        let ports = free_loopback_ports(2)?;
        let client_url = format!("http://127.0.0.1:{}", ports[0]);
        // The peer port is set explicitly: etcd's default (2380) would collide with any other
        // etcd on this machine.
        let peer_url = format!("http://127.0.0.1:{}", ports[1]);
        let spec = ProcessSpec {
            cluster: "(shared)".into(),
            component: Component::Etcd,
            program: program.to_path_buf(),
            args: vec![
                format!("--data-dir={}", dir.join("etcd-data").display()),
                format!("--listen-client-urls={client_url}"),
                format!("--advertise-client-urls={client_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=default={peer_url}"),
                "--unsafe-no-fsync=true".into(),
                "--heartbeat-interval=10".into(),
                "--election-timeout=100".into(),
                "--log-level=warn".into(),
            ],
            log: dir.join("etcd.log"),
        };
        let mut process = spec.spawn()?;
        let probe = probe_client(kube::Config::new(client_url.parse().expect("a valid URL")))?;
        wait_healthy(&mut process, &probe, "/health", timeout).await?;
        Ok(Etcd {
            client_url,
            _process: process,
        })
    }

    pub fn client_url(&self) -> &str {
        &self.client_url
    }
}
