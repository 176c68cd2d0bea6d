//! Converging a region on the desired state: apply what differs (server-side apply, one field
//! manager), delete what is no longer desired (a sweep scoped by labels), and write nothing
//! when the region already matches.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::diff::covers;
use super::error::{RegionError, classify};
use super::observe::{Listing, ObservedRegion, kind_of, read_error};
use crate::render::{
    DesiredFiles, DesiredRegion, FilesObject, MANAGED_BY, MANAGED_BY_LABEL, REGION_LABEL,
};
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
    sync.apply_files(&desired.config_maps, &observed.config_maps, r)
        .await?;
    sync.apply_files(&desired.secrets, &observed.secrets, r)
        .await?;
    sync.apply(&desired.deployments, &observed.deployments, r)
        .await?;
    sync.apply(&desired.services, &observed.services, r).await?;
    sync.apply(
        &desired.pod_disruption_budgets,
        &observed.pod_disruption_budgets,
        r,
    )
    .await?;
    sync.sweep::<Deployment>(
        observed.deployments.iter().map(Resource::meta),
        &names(&desired.deployments),
        r,
    )
    .await?;
    sync.sweep::<Service>(
        observed.services.iter().map(Resource::meta),
        &names(&desired.services),
        r,
    )
    .await?;
    sync.sweep::<PodDisruptionBudget>(
        observed.pod_disruption_budgets.iter().map(Resource::meta),
        &names(&desired.pod_disruption_budgets),
        r,
    )
    .await?;
    let config_maps: Vec<&str> = desired.config_maps.names().collect();
    sync.sweep::<ConfigMap>(&observed.config_maps, &config_maps, r)
        .await?;
    let secrets: Vec<&str> = desired.secrets.names().collect();
    sync.sweep::<Secret>(&observed.secrets, &secrets, r).await?;
    Ok(report)
}

fn names<K: Resource>(objects: &[K]) -> Vec<&str> {
    objects
        .iter()
        .filter_map(|o| o.meta().name.as_deref())
        .collect()
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
    let existing = api
        .get_opt(namespace)
        .await
        .map_err(read_error::<Namespace>)?;
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
    let observed = api.get_opt(&name).await.map_err(read_error::<Namespace>)?;
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

    /// Applies each desired object holding files that the region does not already hold,
    /// building it only then: one shard at a time, never the region's files all at once. An
    /// object this operator cannot vouch for (it did not write this resourceVersion of it) is
    /// read whole, alone, to compare.
    async fn apply_files<K>(
        &self,
        desired: &DesiredFiles<K>,
        observed: &[ObjectMeta],
        report: &mut ApplyReport,
    ) -> Result<(), RegionError>
    where
        K: FilesObject
            + Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Serialize
            + DeserializeOwned
            + Debug,
    {
        let api = self.api::<K>();
        for file in desired.iter() {
            let existing = observed
                .iter()
                .find(|o| o.name.as_deref() == Some(file.name()));
            let content = file.content_key();
            let key = cache_key::<K>(self.region, file.meta());
            let current = match existing {
                Some(meta) => {
                    let version = meta.resource_version.as_deref();
                    if self.cache.unchanged_since_applied(&key, content, version) {
                        continue;
                    }
                    api.get_opt(file.name()).await.map_err(read_error::<K>)?
                }
                None => None,
            };
            let current = current.map(|mut object| {
                object.managed_fields_mut().clear();
                object
            });
            let built = file.build();
            converge_one(
                &api,
                self.region,
                (&built, content),
                current.as_ref(),
                self.cache,
                report,
            )
            .await?;
        }
        Ok(())
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

    /// Deletes each observed object whose name is not `wanted`.
    async fn sweep<'a, K>(
        &self,
        observed: impl IntoIterator<Item = &'a ObjectMeta>,
        wanted: &[&str],
        report: &mut ApplyReport,
    ) -> Result<(), RegionError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let api = self.api::<K>();
        for meta in observed {
            let name = meta.name.as_deref().unwrap_or_default();
            if !wanted.contains(&name) && meta.deletion_timestamp.is_none() {
                delete(&api, name, kind_of::<K>()).await?;
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
        let listing = Listing {
            client: self.client,
            region: self.region,
            namespace: self.namespace,
        };
        let observed = listing.metadata::<K>().await?;
        self.sweep::<K>(&observed, &[], report).await?;
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
    let content =
        content_hash(&serde_json::to_value(desired).expect("Kubernetes objects serialize"));
    converge_one(api, region, (desired, content), observed, cache, report).await
}

/// Applies `desired` unless the region holds it already: as this operator last applied it
/// (same `content` key, same resourceVersion), or with every field it sets.
async fn converge_one<K>(
    api: &Api<K>,
    region: &str,
    (desired, content): (&K, u64),
    observed: Option<&K>,
    cache: &ApplyCache,
    report: &mut ApplyReport,
) -> Result<(), RegionError>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = desired.meta().name.clone().unwrap_or_default();
    let key = cache_key::<K>(region, desired.meta());
    if let Some(observed) = observed {
        let resource_version = observed.meta().resource_version.as_deref();
        if cache.unchanged_since_applied(&key, content, resource_version) {
            return Ok(());
        }
        let desired_json = serde_json::to_value(desired).expect("Kubernetes objects serialize");
        let observed_json = serde_json::to_value(observed).expect("Kubernetes objects serialize");
        if observed.meta().deletion_timestamp.is_none() && covers(&observed_json, &desired_json) {
            // Vouched for from now on: a later pass need not read it again to compare.
            cache.record(key, content, observed.meta().resource_version.clone());
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

/// Where [`ApplyCache`] keeps an object: region, kind, namespace and name.
fn cache_key<K: Resource<DynamicType = ()>>(region: &str, meta: &ObjectMeta) -> String {
    format!(
        "{region}/{}/{}/{}",
        kind_of::<K>(),
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

fn content_hash(value: &serde_json::Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}
