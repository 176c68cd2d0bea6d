//! The grant store of the local Meridian. With [`LocalStore::Postgres`]: one throwaway
//! PostgreSQL server with a database per region, each region's URI in a Secret of that
//! region's cluster, beside its auth-servers (as CloudNativePG writes `<cluster>-app` into
//! the region in production), and each AuthRegion set to the Postgres store with
//! [`REPLICAS`] replicas.
//!
//! Must never put a URI anywhere but the region's own Secret: not in the hub, not in an
//! AuthRegion, not in a log line or the demo's output.

use std::collections::BTreeMap;

use anyhow::Context;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams};
use meridian_operator::api::AuthRegion;

use crate::meridian::ensure_namespace;
use crate::{Clusters, Postgres};

/// The Secret in each region's namespace holding its database URI, under the key the
/// AuthRegion's `uriSecretRef` defaults to.
pub const STORE_SECRET: &str = "meridian-store";
const STORE_SECRET_KEY: &str = "uri";
/// Replicas per region on the Postgres store: two, so one serves while the other restarts.
pub const REPLICAS: i32 = 2;

/// Where the local regions keep grant state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalStore {
    /// The auth-server's default: one replica per region, state in the process.
    Memory,
    /// A database per region on one local PostgreSQL server (or `MERIDIAN_TEST_POSTGRES_URL`),
    /// [`REPLICAS`] replicas per region sharing it.
    Postgres,
}

/// The running store of the local regions.
pub struct RegionStores {
    /// `None` for the memory store.
    postgres: Option<Postgres>,
    /// Region → database name and URI.
    databases: BTreeMap<String, (String, String)>,
}

impl RegionStores {
    pub fn memory() -> Self {
        Self {
            postgres: None,
            databases: BTreeMap::new(),
        }
    }

    /// Starts PostgreSQL, creates one database per region and writes each region's URI
    /// Secret into the namespace its AuthRegion names (read from the hub).
    pub async fn start_postgres(clusters: &Clusters, regions: &[&str]) -> anyhow::Result<Self> {
        // Pods on real nodes reach the host only on the node network.
        let on_nodes = clusters.regions().iter().any(|r| r.node().is_some());
        let postgres = match std::env::var(crate::postgres::URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Postgres::external(url.trim())?,
            _ if on_nodes => Postgres::start_for_nodes().await?,
            _ => Postgres::start().await?,
        };
        let hub_regions = Api::<AuthRegion>::all(clusters.hub().client());
        let mut databases = BTreeMap::new();
        for region in regions {
            let name = format!("meridian_{}", region.replace('-', "_"));
            let uri = postgres.create_database(&name).await?;
            // An external server suffixes the name; the URI says which database it made.
            let database = uri.rsplit('/').next().unwrap_or(&name).to_owned();
            let namespace = hub_regions
                .get(region)
                .await
                .with_context(|| format!("reading AuthRegion {region}"))?
                .spec
                .namespace;
            let client = clusters.get(region)?.client();
            ensure_namespace(&client, &namespace).await?;
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(STORE_SECRET.into()),
                    namespace: Some(namespace.clone()),
                    ..ObjectMeta::default()
                },
                string_data: Some([(STORE_SECRET_KEY.to_owned(), uri.clone())].into()),
                ..Secret::default()
            };
            Api::<Secret>::namespaced(client, &namespace)
                .patch(
                    STORE_SECRET,
                    &PatchParams::apply("meridian-e2e").force(),
                    &Patch::Apply(&secret),
                )
                .await
                .with_context(|| format!("writing the store Secret of {region}"))?;
            databases.insert(region.to_string(), (database, uri));
        }
        Ok(Self {
            postgres: Some(postgres),
            databases,
        })
    }

    /// What each AuthRegion's `spec.authServer` gets merged with.
    pub fn auth_server_patch(&self) -> serde_json::Value {
        if self.postgres.is_none() {
            return serde_json::json!({});
        }
        serde_json::json!({
            "replicas": REPLICAS,
            "store": {"kind": "Postgres", "uriSecretRef": {"name": STORE_SECRET}},
        })
    }

    pub fn postgres(&self) -> Option<&Postgres> {
        self.postgres.as_ref()
    }

    /// The region's database name, on the Postgres store.
    pub fn database(&self, region: &str) -> Option<&str> {
        self.databases.get(region).map(|(name, _)| name.as_str())
    }

    /// Runs `sql` in the region's database (see [`Postgres::psql`]): for tests asserting
    /// what the region's auth-servers wrote.
    pub async fn query(&self, region: &str, sql: &str) -> anyhow::Result<String> {
        let (Some(postgres), Some((_, uri))) = (&self.postgres, self.databases.get(region)) else {
            anyhow::bail!("region {region} has no database (memory store)");
        };
        Ok(postgres.psql(uri, sql).await?)
    }

    /// Replicas each region runs.
    pub fn replicas(&self) -> usize {
        if self.postgres.is_some() {
            REPLICAS as usize
        } else {
            1
        }
    }
}
