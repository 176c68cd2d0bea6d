//! The part a cloud load balancer plays in front of a region: a TCP listener on the host at the
//! region's public address forwarding every connection to a Service's ClusterIP, which the host
//! routes to the cluster's node, where kube-proxy picks one of the Service's ready pods. So
//! what answers at a region's public URL is decided by the Service, its EndpointSlices and the
//! pods' readiness probes, as in production.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Service;
use kube::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::error::{Error, Result};

/// How often the Service's ClusterIP is looked up (it is assigned when the operator creates
/// the Service, and again if it is deleted and recreated).
const LOOKUP_INTERVAL: Duration = Duration::from_millis(500);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Forwards `listen` to a Service's port until dropped.
#[derive(Debug)]
pub struct ServiceBalancer {
    listen: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl ServiceBalancer {
    /// Listens on `listen` for Service `namespace/name` port `port`. Connections before the
    /// Service exists are closed at once, as a load balancer with no backend would.
    pub async fn start(
        client: kube::Client,
        namespace: &str,
        name: &str,
        port: u16,
        listen: SocketAddr,
    ) -> Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(Error::io(format!("listen on {listen}")))?;
        let target: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let services = Api::<Service>::namespaced(client, namespace);
        let lookup = tokio::spawn({
            let target = target.clone();
            let name = name.to_owned();
            async move {
                loop {
                    let found = services.get_opt(&name).await.ok().flatten().and_then(|s| {
                        let ip = s.spec?.cluster_ip?;
                        ip.parse().ok().map(|ip| SocketAddr::new(ip, port))
                    });
                    if let Some(found) = found {
                        *target.lock().unwrap_or_else(|e| e.into_inner()) = Some(found);
                    }
                    tokio::time::sleep(LOOKUP_INTERVAL).await;
                }
            }
        });
        // The connections live in the accept task's set: dropping the balancer closes them
        // too, as a region whose load balancer is gone.
        let accept = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let Some(backend) = *target.lock().unwrap_or_else(|e| e.into_inner()) else {
                    continue;
                };
                connections.spawn(async move {
                    // A ClusterIP kube-proxy has no rules for yet routes nowhere: give up as a
                    // load balancer's connect timeout would, instead of every SYN retry.
                    let connect =
                        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend));
                    if let Ok(Ok(mut outbound)) = connect.await {
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(Self {
            listen,
            tasks: vec![lookup, accept],
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.listen
    }
}

impl Drop for ServiceBalancer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
