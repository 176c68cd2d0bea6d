//! A Service stand-in for one Deployment, since region clusters here have no kube-proxy: a
//! TCP forwarder on the Deployment's address that spreads connections round-robin over the
//! replicas answering `GET /readyz` with 200, as a Service spreads them over the endpoints of
//! its ready pods.
//!
//! Like kube-proxy it forwards whole connections (a keep-alive connection stays on one
//! replica and breaks when that replica dies) and never reads or alters the bytes. It must
//! never send a connection to a replica that has not answered its readiness probe since it
//! last (re)started. Dropping it closes the address and every connection it forwards.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Faster than a pod's `periodSeconds` so tests see failover in well under a second.
const PROBE_INTERVAL: Duration = Duration::from_millis(200);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct Service {
    address: SocketAddr,
    endpoints: Arc<Mutex<Endpoints>>,
    tasks: [JoinHandle<()>; 2],
}

#[derive(Default)]
struct Endpoints {
    backends: Vec<Backend>,
    /// Where the next connection's round starts.
    next: usize,
}

struct Backend {
    address: SocketAddr,
    /// Bumped at every (re)start: a probe answer from before it is stale.
    epoch: u64,
    ready: bool,
    connections: u64,
}

impl Service {
    /// Listens on `address` at once (so a taken address fails here) and starts forwarding.
    pub fn start(region: &str, deployment: &str, address: SocketAddr) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let endpoints = Arc::new(Mutex::new(Endpoints::default()));
        let name = format!("{region}/{deployment}");
        let accept = tokio::spawn(accept(listener, endpoints.clone()));
        let probe = tokio::spawn(probe(name, endpoints.clone()));
        Ok(Self {
            address,
            endpoints,
            tasks: [accept, probe],
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The replicas behind the Service; one not seen before starts unready.
    pub fn set_backends(&self, addresses: &[SocketAddr]) {
        let mut endpoints = lock(&self.endpoints);
        endpoints
            .backends
            .retain(|b| addresses.contains(&b.address));
        for &address in addresses {
            if !endpoints.backends.iter().any(|b| b.address == address) {
                endpoints.backends.push(Backend {
                    address,
                    epoch: 0,
                    ready: false,
                    connections: 0,
                });
            }
        }
    }

    /// The replica at `address` died or was started again: no connections until it answers
    /// its probe anew.
    pub fn restarted(&self, address: SocketAddr) {
        if let Some(backend) = lock(&self.endpoints).find(address) {
            backend.epoch += 1;
            backend.ready = false;
        }
    }

    pub fn is_ready(&self, address: SocketAddr) -> bool {
        lock(&self.endpoints).find(address).is_some_and(|b| b.ready)
    }

    /// Connections forwarded to the replica at `address`.
    pub fn connections(&self, address: SocketAddr) -> u64 {
        lock(&self.endpoints)
            .find(address)
            .map_or(0, |b| b.connections)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // The accept task owns the listener and the forwarded connections.
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Endpoints {
    fn find(&mut self, address: SocketAddr) -> Option<&mut Backend> {
        self.backends.iter_mut().find(|b| b.address == address)
    }

    /// The ready replicas, starting one further along at each call.
    fn round(&mut self) -> Vec<SocketAddr> {
        let ready: Vec<SocketAddr> = self
            .backends
            .iter()
            .filter(|b| b.ready)
            .map(|b| b.address)
            .collect();
        if ready.is_empty() {
            return ready;
        }
        let start = self.next % ready.len();
        self.next = self.next.wrapping_add(1);
        ready[start..]
            .iter()
            .chain(&ready[..start])
            .copied()
            .collect()
    }
}

async fn accept(listener: TcpListener, endpoints: Arc<Mutex<Endpoints>>) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((client, _)) => {
                let candidates = lock(&endpoints).round();
                connections.spawn(forward(client, candidates, endpoints.clone()));
            }
            Err(error) => {
                // Out of file descriptors, typically: give the connections in flight a moment
                // to end rather than spin on the error.
                tracing::debug!(%error, "service stand-in cannot accept");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// To the first candidate that takes the connection: a replica killed since its last probe
/// refuses at connect, before any byte is sent, so trying the next one is safe. No candidate
/// closes the connection, as a Service without ready endpoints rejects it.
async fn forward(
    mut client: TcpStream,
    candidates: Vec<SocketAddr>,
    endpoints: Arc<Mutex<Endpoints>>,
) {
    for address in candidates {
        let connected = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await;
        let Ok(Ok(mut upstream)) = connected else {
            continue;
        };
        if let Some(backend) = lock(&endpoints).find(address) {
            backend.connections += 1;
        }
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        // Either side closing or failing ends the connection, as a dead pod's would.
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
}

/// Probes every replica each interval and records the answers that are still current.
async fn probe(name: String, endpoints: Arc<Mutex<Endpoints>>) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(PROBE_TIMEOUT)
        .build()
        .expect("an HTTP client builds");
    let mut ticker = tokio::time::interval(PROBE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let targets: Vec<(SocketAddr, u64)> = lock(&endpoints)
            .backends
            .iter()
            .map(|b| (b.address, b.epoch))
            .collect();
        let answers = futures::future::join_all(targets.into_iter().map(|(address, epoch)| {
            let http = &http;
            async move {
                let url = format!("http://{address}/readyz");
                let ready = matches!(http.get(url).send().await, Ok(r) if r.status().is_success());
                (address, epoch, ready)
            }
        }))
        .await;
        let mut endpoints = lock(&endpoints);
        for (address, epoch, ready) in answers {
            let Some(backend) = endpoints.find(address).filter(|b| b.epoch == epoch) else {
                continue;
            };
            if backend.ready != ready {
                tracing::debug!(service = %name, %address, ready, "endpoint readiness changed");
            }
            backend.ready = ready;
        }
    }
}

fn lock(endpoints: &Mutex<Endpoints>) -> MutexGuard<'_, Endpoints> {
    endpoints.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(ready: &[bool]) -> Endpoints {
        Endpoints {
            backends: ready
                .iter()
                .enumerate()
                .map(|(i, &ready)| Backend {
                    address: SocketAddr::from(([127, 0, 0, 1], 1000 + i as u16)),
                    epoch: 0,
                    ready,
                    connections: 0,
                })
                .collect(),
            next: 0,
        }
    }

    fn ports(round: Vec<SocketAddr>) -> Vec<u16> {
        round.into_iter().map(|a| a.port()).collect()
    }

    #[test]
    fn rounds_rotate_over_ready_replicas_only() {
        let mut endpoints = endpoints(&[true, false, true]);
        assert_eq!(ports(endpoints.round()), [1000, 1002]);
        assert_eq!(ports(endpoints.round()), [1002, 1000]);
        assert_eq!(ports(endpoints.round()), [1000, 1002]);
    }

    #[test]
    fn no_ready_replica_means_no_candidate() {
        assert!(endpoints(&[false, false]).round().is_empty());
        assert!(endpoints(&[]).round().is_empty());
    }
}
