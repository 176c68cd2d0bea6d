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
use meridian_contract::TenantFile;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::diff::covers;
use super::error::{RegionError, classify};
use crate::render::{
    DesiredRegion, Labels, MANAGED_BY, MANAGED_BY_LABEL, REGION_LABEL, TenantFiles,
};
use crate::settings::FIELD_MANAGER;

/// Objects read per request when listing a region: a page of shards is a few MiB, where one
/// response holding all of a 10,000-tenant region's was ~15 MiB held at once beside what it
/// decoded to, in each region's pass.
const LIST_PAGE: u32 = 64;

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

/// What Meridian wrote in a region's namespace, read once per reconcile: the base for the
/// diff, the sweep, the last good tenant files and the replica counts.
#[derive(Debug, Clone, Default)]
pub struct ObservedRegion {
    config_maps: Vec<ConfigMap>,
    secrets: Vec<Secret>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    pod_disruption_budgets: Vec<PodDisruptionBudget>,
}

/// Lists every kind Meridian writes in the region's namespace, by its labels.
pub async fn observe_region(
    client: &Client,
    region: &str,
    namespace: &str,
) -> Result<ObservedRegion, RegionError> {
    let cache = ApplyCache::default();
    let sync = RegionNamespace {
        client,
        region,
        namespace,
        cache: &cache,
    };
    Ok(ObservedRegion {
        config_maps: sync.list().await?,
        secrets: sync.list().await?,
        deployments: sync.list().await?,
        services: sync.list().await?,
        pod_disruption_budgets: sync.list().await?,
    })
}

impl ObservedRegion {
    /// The files the region serves now for `tenant` (none when it serves none): the last good
    /// state to keep when the hub's inputs for it are broken. Looked up per tenant, only for
    /// those that need it: a copy of every tenant's was a region's size in memory on every pass.
    pub fn last_good(&self, tenant: &str) -> TenantFiles {
        let mut files = TenantFiles::default();
        for kind in TenantFile::ALL {
            let name = kind.file_name(tenant);
            if kind.is_secret() {
                let found = self
                    .secrets
                    .iter()
                    .find_map(|s| s.data.as_ref()?.get(&name));
                if let Some(bytes) = found {
                    let content = String::from_utf8_lossy(&bytes.0).into_owned();
                    files.sensitive.insert(name, content);
                }
            } else {
                let found = self
                    .config_maps
                    .iter()
                    .find_map(|c| c.data.as_ref()?.get(&name));
                if let Some(content) = found {
                    files.public.insert(name, content.clone());
                }
            }
        }
        files
    }

    /// Ready auth-server pods (as observed) and wanted ones (as `desired` asks).
    pub fn replicas(&self, desired: &DesiredRegion) -> (i32, i32) {
        let ready = |name: &Option<String>| {
            let observed = self.deployments.iter().find(|d| d.metadata.name == *name);
            observed
                .and_then(|d| d.status.as_ref()?.ready_replicas)
                .unwrap_or(0)
        };
        desired
            .deployments
            .iter()
            .fold((0, 0), |(sum_ready, sum_wanted), d| {
                let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                (sum_ready + ready(&d.metadata.name), sum_wanted + wanted)
            })
    }
}

/// Converges a region cluster on `desired`, from what [`observe_region`] found.
pub async fn apply_region(
    client: &Client,
    region: &str,
    desired: &DesiredRegion,
    observed: &ObservedRegion,
    cache: &ApplyCache,
) -> Result<ApplyReport, RegionError> {
    let mut report = ApplyReport::default();
    let Some(namespace) = desired.namespace.metadata.name.clone() else {
        return Ok(report);
    };
    sync_namespace(client, region, &desired.namespace, cache, &mut report).await?;
    let sync = RegionNamespace {
        client,
        region,
        namespace: &namespace,
        cache,
    };
    let r = &mut report;
    // Files before the workloads that mount them; deletions after everything is in place.
    sync.apply(&desired.config_maps, &observed.config_maps, r)
        .await?;
    sync.apply(&desired.secrets, &observed.secrets, r).await?;
    sync.apply(&desired.deployments, &observed.deployments, r)
        .await?;
    sync.apply(&desired.services, &observed.services, r).await?;
    sync.apply(
        &desired.pod_disruption_budgets,
        &observed.pod_disruption_budgets,
        r,
    )
    .await?;
    sync.sweep(&observed.deployments, &desired.deployments, r)
        .await?;
    sync.sweep(&observed.services, &desired.services, r).await?;
    sync.sweep(
        &observed.pod_disruption_budgets,
        &desired.pod_disruption_budgets,
        r,
    )
    .await?;
    sync.sweep(&observed.config_maps, &desired.config_maps, r)
        .await?;
    sync.sweep(&observed.secrets, &desired.secrets, r).await?;
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
    let sync = RegionNamespace {
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
    label(MANAGED_BY_LABEL) == Some(MANAGED_BY) && label(REGION_LABEL) == Some(region)
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

/// The region namespace Meridian writes into, with what it needs to list and write there.
struct RegionNamespace<'a> {
    client: &'a Client,
    region: &'a str,
    namespace: &'a str,
    cache: &'a ApplyCache,
}

impl RegionNamespace<'_> {
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
        let mut params = ListParams::default()
            .labels(&Labels::managed_selector(self.region))
            .limit(LIST_PAGE);
        let mut objects = Vec::new();
        loop {
            let page = self.api::<K>().list(&params).await.map_err(|e| {
                classify(e, |message| RegionError::Read {
                    kind: kind_of::<K>(),
                    message,
                })
            })?;
            // Nothing here reads who manages which field, and a shard's server-side apply
            // entry names every one of its files.
            objects.extend(page.items.into_iter().map(|mut object| {
                object.managed_fields_mut().clear();
                object
            }));
            match page.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return Ok(objects),
            }
        }
    }

    /// Applies each desired object that the region does not already hold.
    async fn apply<K>(
        &self,
        desired: &[K],
        observed: &[K],
        report: &mut ApplyReport,
    ) -> Result<(), RegionError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Serialize
            + DeserializeOwned
            + Debug,
    {
        let api = self.api::<K>();
        for object in desired {
            let existing = observed
                .iter()
                .find(|o| o.meta().name == object.meta().name);
            apply_one(&api, self.region, object, existing, self.cache, report).await?;
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    #[test]
    fn last_good_files_are_those_of_the_tenant_asked_about() {
        let observed = ObservedRegion {
            config_maps: vec![ConfigMap {
                data: Some(BTreeMap::from([
                    ("acme.tenant.json".to_owned(), "acme config".to_owned()),
                    ("globex.tenant.json".to_owned(), "globex config".to_owned()),
                    ("region.json".to_owned(), "{}".to_owned()),
                ])),
                ..ConfigMap::default()
            }],
            secrets: vec![Secret {
                data: Some(BTreeMap::from([
                    (
                        "acme.keys.json".to_owned(),
                        ByteString(b"acme keys".to_vec()),
                    ),
                    (
                        "globex.keys.json".to_owned(),
                        ByteString(b"globex keys".to_vec()),
                    ),
                ])),
                ..Secret::default()
            }],
            ..ObservedRegion::default()
        };
        let files = observed.last_good("globex");
        assert_eq!(
            files.public,
            BTreeMap::from([("globex.tenant.json".to_owned(), "globex config".to_owned())])
        );
        assert_eq!(
            files.sensitive,
            BTreeMap::from([("globex.keys.json".to_owned(), "globex keys".to_owned())])
        );
        assert!(observed.last_good("initech").is_empty());
    }
}
