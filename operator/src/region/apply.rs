//! Reading what Meridian wrote in a region, and converging it on the desired state: apply what
//! differs (server-side apply, one field manager), delete what is no longer desired (a sweep
//! scoped by labels), and write nothing when the region already matches.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::diff::covers;
use super::error::{RegionError, classify};
use crate::render::{DesiredRegion, Labels, TenantFiles};
use crate::settings::FIELD_MANAGER;

/// Remembers, per object, the desired content last applied and the resourceVersion the
/// server answered with, so an object whose only change since is our own write (or a
/// normalization the server made to it) is not written again.
#[derive(Default)]
pub struct ApplyCache(Mutex<HashMap<String, (u64, String)>>);

impl ApplyCache {
    fn unchanged_since_applied(
        &self,
        key: &str,
        content: u64,
        resource_version: Option<&str>,
    ) -> bool {
        let entries = self.0.lock().expect("apply cache lock");
        entries
            .get(key)
            .is_some_and(|(hash, rv)| *hash == content && Some(rv.as_str()) == resource_version)
    }

    fn record(&self, key: String, content: u64, resource_version: Option<String>) {
        if let Some(rv) = resource_version {
            self.0
                .lock()
                .expect("apply cache lock")
                .insert(key, (content, rv));
        }
    }
}

/// What a convergence did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied: usize,
    pub deleted: usize,
}

impl ApplyReport {
    pub fn wrote(&self) -> bool {
        self.applied + self.deleted > 0
    }
}

/// The tenant files currently served in a region's namespace, read back from its objects:
/// the last good state to keep when the hub's inputs for a tenant are broken.
pub async fn observed_tenant_files(
    client: &Client,
    region: &str,
    namespace: &str,
) -> Result<HashMap<String, TenantFiles>, RegionError> {
    let params = ListParams::default().labels(&Labels::managed_selector(region));
    let config_maps = Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .list(&params)
        .await;
    let config_maps = config_maps.map_err(|e| {
        classify(e, |message| RegionError::Read {
            kind: "ConfigMap",
            message,
        })
    })?;
    let secrets = Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&params)
        .await;
    let secrets = secrets.map_err(|e| {
        classify(e, |message| RegionError::Read {
            kind: "Secret",
            message,
        })
    })?;

    let mut files: Vec<(String, String)> = config_maps
        .items
        .into_iter()
        .flat_map(|cm| cm.data.unwrap_or_default())
        .collect();
    for secret in secrets.items {
        for (name, bytes) in secret.data.unwrap_or_default() {
            files.push((name, String::from_utf8_lossy(&bytes.0).into_owned()));
        }
    }
    let mut by_tenant: HashMap<String, TenantFiles> = HashMap::new();
    for (name, content) in &files {
        if let Some((tenant, _)) = meridian_contract::TenantFile::parse(name) {
            let entry = by_tenant.entry(tenant.to_owned()).or_default();
            let single = TenantFiles::from_files(tenant, [(name, content)]);
            entry.public.extend(single.public);
            entry.sensitive.extend(single.sensitive);
        }
    }
    Ok(by_tenant)
}

/// Converges a region cluster on `desired`.
pub async fn apply_region(
    client: &Client,
    region: &str,
    desired: &DesiredRegion,
    cache: &ApplyCache,
) -> Result<ApplyReport, RegionError> {
    let mut report = ApplyReport::default();
    let Some(namespace) = desired.namespace.metadata.name.clone() else {
        return Ok(report);
    };
    sync_namespace(client, region, &desired.namespace, cache, &mut report).await?;
    let sync = Sync {
        client,
        region,
        namespace: &namespace,
        cache,
    };
    // Files before the workloads that mount them; deletions after everything is in place.
    let config_maps = sync.apply(&desired.config_maps, &mut report).await?;
    let secrets = sync.apply(&desired.secrets, &mut report).await?;
    let deployments = sync.apply(&desired.deployments, &mut report).await?;
    let services = sync.apply(&desired.services, &mut report).await?;
    let pdbs = sync
        .apply(&desired.pod_disruption_budgets, &mut report)
        .await?;
    sync.sweep(&deployments, &desired.deployments, &mut report)
        .await?;
    sync.sweep(&services, &desired.services, &mut report)
        .await?;
    sync.sweep(&pdbs, &desired.pod_disruption_budgets, &mut report)
        .await?;
    sync.sweep(&config_maps, &desired.config_maps, &mut report)
        .await?;
    sync.sweep(&secrets, &desired.secrets, &mut report).await?;
    Ok(report)
}

/// Removes everything Meridian wrote for `region` in `namespace`, and the namespace itself
/// when Meridian created it. Returns true once nothing is left.
pub async fn delete_region(
    client: &Client,
    region: &str,
    namespace: &str,
) -> Result<bool, RegionError> {
    let cache = ApplyCache::default();
    let sync = Sync {
        client,
        region,
        namespace,
        cache: &cache,
    };
    let mut report = ApplyReport::default();
    let mut remaining = 0;
    remaining += sync.sweep_all::<Deployment>(&mut report).await?;
    remaining += sync.sweep_all::<Service>(&mut report).await?;
    remaining += sync.sweep_all::<PodDisruptionBudget>(&mut report).await?;
    remaining += sync.sweep_all::<ConfigMap>(&mut report).await?;
    remaining += sync.sweep_all::<Secret>(&mut report).await?;
    let api = Api::<Namespace>::all(client.clone());
    let existing = api.get_opt(namespace).await.map_err(|e| {
        classify(e, |message| RegionError::Read {
            kind: "Namespace",
            message,
        })
    })?;
    if let Some(ns) = existing.filter(|ns| is_ours(ns, region)) {
        if ns.metadata.deletion_timestamp.is_none() {
            delete(&api, namespace, "Namespace").await?;
        }
        remaining += 1;
    }
    Ok(remaining == 0)
}

fn is_ours<K: Resource>(object: &K, region: &str) -> bool {
    let labels = object.meta().labels.as_ref();
    let label = |key: &str| labels.and_then(|l| l.get(key)).map(String::as_str);
    label("app.kubernetes.io/managed-by") == Some(crate::render::MANAGED_BY)
        && label(crate::render::REGION_LABEL) == Some(region)
}

/// A namespace that exists without Meridian's labels belongs to someone else: Meridian uses it
/// but never changes or deletes it.
async fn sync_namespace(
    client: &Client,
    region: &str,
    desired: &Namespace,
    cache: &ApplyCache,
    report: &mut ApplyReport,
) -> Result<(), RegionError> {
    let api = Api::<Namespace>::all(client.clone());
    let name = desired.metadata.name.clone().unwrap_or_default();
    let observed = api.get_opt(&name).await.map_err(|e| {
        classify(e, |message| RegionError::Read {
            kind: "Namespace",
            message,
        })
    })?;
    match observed {
        Some(ns) if !is_ours(&ns, region) => Ok(()),
        observed => apply_one(&api, region, desired, observed.as_ref(), cache, report).await,
    }
}

struct Sync<'a> {
    client: &'a Client,
    region: &'a str,
    namespace: &'a str,
    cache: &'a ApplyCache,
}

impl Sync<'_> {
    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    async fn list<K>(&self) -> Result<Vec<K>, RegionError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let params = ListParams::default().labels(&Labels::managed_selector(self.region));
        let list = self.api::<K>().list(&params).await;
        Ok(list
            .map_err(|e| {
                classify(e, |message| RegionError::Read {
                    kind: kind_of::<K>(),
                    message,
                })
            })?
            .items)
    }

    /// Applies each desired object that the region does not already hold; returns what was
    /// observed before, for the sweep.
    async fn apply<K>(&self, desired: &[K], report: &mut ApplyReport) -> Result<Vec<K>, RegionError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Serialize
            + DeserializeOwned
            + Debug,
    {
        let observed = self.list::<K>().await?;
        let api = self.api::<K>();
        for object in desired {
            let existing = observed
                .iter()
                .find(|o| o.meta().name == object.meta().name);
            apply_one(&api, self.region, object, existing, self.cache, report).await?;
        }
        Ok(observed)
    }

    async fn sweep<K>(
        &self,
        observed: &[K],
        desired: &[K],
        report: &mut ApplyReport,
    ) -> Result<(), RegionError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let api = self.api::<K>();
        for object in observed {
            let wanted = desired.iter().any(|d| d.meta().name == object.meta().name);
            if !wanted && object.meta().deletion_timestamp.is_none() {
                delete(&api, &object.name_any(), kind_of::<K>()).await?;
                report.deleted += 1;
            }
        }
        Ok(())
    }

    /// Deletes every object of kind `K` Meridian wrote for the region; returns how many were
    /// still there.
    async fn sweep_all<K>(&self, report: &mut ApplyReport) -> Result<usize, RegionError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let observed = self.list::<K>().await?;
        self.sweep(&observed, &[], report).await?;
        Ok(observed.len())
    }
}

async fn apply_one<K>(
    api: &Api<K>,
    region: &str,
    desired: &K,
    observed: Option<&K>,
    cache: &ApplyCache,
    report: &mut ApplyReport,
) -> Result<(), RegionError>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = desired.meta().name.clone().unwrap_or_default();
    let desired_json = serde_json::to_value(desired).expect("Kubernetes objects serialize");
    let content = content_hash(&desired_json);
    let key = format!(
        "{region}/{}/{}/{name}",
        kind_of::<K>(),
        desired.meta().namespace.as_deref().unwrap_or_default()
    );
    if let Some(observed) = observed {
        let resource_version = observed.meta().resource_version.as_deref();
        if cache.unchanged_since_applied(&key, content, resource_version) {
            return Ok(());
        }
        let observed_json = serde_json::to_value(observed).expect("Kubernetes objects serialize");
        if observed.meta().deletion_timestamp.is_none() && covers(&observed_json, &desired_json) {
            return Ok(());
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api
        .patch(&name, &params, &Patch::Apply(desired))
        .await
        .map_err(|e| {
            classify(e, |message| RegionError::Write {
                verb: "apply",
                kind: kind_of::<K>(),
                name: name.clone(),
                message,
            })
        })?;
    tracing::info!(region, kind = kind_of::<K>(), name, "applied");
    cache.record(key, content, applied.meta().resource_version.clone());
    report.applied += 1;
    Ok(())
}

async fn delete<K>(api: &Api<K>, name: &str, kind: &'static str) -> Result<(), RegionError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => {
            tracing::info!(kind, name, "deleted");
            Ok(())
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(classify(error, |message| RegionError::Write {
            verb: "delete",
            kind,
            name: name.to_owned(),
            message,
        })),
    }
}

fn content_hash(value: &serde_json::Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

fn kind_of<K: Resource<DynamicType = ()>>() -> &'static str {
    // Error variants and log fields want a 'static str; the kinds Meridian writes are few and
    // fixed, so they are spelled out rather than allocated per call.
    match K::kind(&()).as_ref() {
        "ConfigMap" => "ConfigMap",
        "Secret" => "Secret",
        "Deployment" => "Deployment",
        "Service" => "Service",
        "PodDisruptionBudget" => "PodDisruptionBudget",
        "Namespace" => "Namespace",
        _ => "object",
    }
}
