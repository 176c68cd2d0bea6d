//! One `kube::Client` per region, built from the region's kubeconfig Secret and rebuilt when
//! that Secret changes. No kubeconfig reference means the hub's own client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Config};

use super::RegionError;
use crate::api::AuthRegion;

/// The key Cluster API writes kubeconfigs under.
pub const KUBECONFIG_DEFAULT_KEY: &str = "value";
/// An unreachable region must fail fast so it never holds a reconcile worker for long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(20);

pub struct RegionClients {
    hub: Client,
    namespace: String,
    /// Region name → (identity of the Secret version it was built from, client).
    cache: Mutex<HashMap<String, (String, Client)>>,
}

impl RegionClients {
    pub fn new(hub: Client, operator_namespace: &str) -> Self {
        Self {
            hub,
            namespace: operator_namespace.to_owned(),
            cache: Mutex::default(),
        }
    }

    /// The client for `region`, from the cache unless its kubeconfig Secret changed.
    pub async fn client(
        &self,
        region: &AuthRegion,
        secrets: &Store<Secret>,
    ) -> Result<Client, RegionError> {
        let Some(cluster) = &region.spec.cluster else {
            return Ok(self.hub.clone());
        };
        let reference = &cluster.kubeconfig_secret_ref;
        let key = reference.key_or(KUBECONFIG_DEFAULT_KEY).to_owned();
        let secret = secrets
            .get(&ObjectRef::new(&reference.name).within(&self.namespace))
            .ok_or_else(|| RegionError::KubeconfigSecretMissing {
                namespace: self.namespace.clone(),
                name: reference.name.clone(),
            })?;
        let version = format!(
            "{}/{}",
            secret.metadata.uid.as_deref().unwrap_or_default(),
            secret
                .metadata
                .resource_version
                .as_deref()
                .unwrap_or_default()
        );
        let region_name = region.metadata.name.clone().unwrap_or_default();
        if let Some((cached_version, client)) =
            self.cache.lock().expect("cache lock").get(&region_name)
            && *cached_version == version
        {
            return Ok(client.clone());
        }
        let bytes = secret
            .data
            .as_ref()
            .and_then(|data| data.get(&key))
            .ok_or_else(|| RegionError::KubeconfigKeyMissing {
                namespace: self.namespace.clone(),
                name: reference.name.clone(),
                key: key.clone(),
            })?;
        let invalid = || RegionError::KubeconfigInvalid {
            namespace: self.namespace.clone(),
            name: reference.name.clone(),
            key: key.clone(),
        };
        let client = build_client(&bytes.0).await.ok_or_else(invalid)?;
        tracing::info!(region = %region_name, "built region client from kubeconfig Secret");
        self.cache
            .lock()
            .expect("cache lock")
            .insert(region_name, (version, client.clone()));
        Ok(client)
    }

    /// Forgets a region's client (the region was deleted).
    pub fn forget(&self, region: &str) {
        self.cache.lock().expect("cache lock").remove(region);
    }
}

/// Parses a kubeconfig and builds a client; `None` for anything unusable. The parse error is
/// dropped on purpose: it may quote the Secret's content.
async fn build_client(kubeconfig: &[u8]) -> Option<Client> {
    let text = std::str::from_utf8(kubeconfig).ok()?;
    let kubeconfig = Kubeconfig::from_yaml(text).ok()?;
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .ok()?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    Client::try_from(config).ok()
}

/// A cheap call that proves the region's API server answers.
pub async fn probe(client: &Client) -> Result<(), RegionError> {
    match tokio::time::timeout(CONNECT_TIMEOUT * 2, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(RegionError::Unreachable(error.to_string())),
        Err(_) => Err(RegionError::Unreachable("no answer within 10s".into())),
    }
}
