//! Reading what Meridian wrote in a region's namespace, by its labels.
//!
//! A region's shards hold every file it serves: about 40 MiB at 10,000 tenants. A pass reads
//! only their metadata (names, resourceVersions); the apply step fetches a shard's content
//! only when it cannot vouch for it, and the files themselves are read only when some tenant
//! has to fall back on its last good state. Listed whole on every pass, three regions' shards
//! were over 100 MiB of the operator's memory each resync, and as much for the regions' API
//! servers to send.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, ObjectList, PartialObjectMeta};
use kube::{Api, Client, Resource, ResourceExt};
use meridian_contract::TenantFile;
use serde::de::DeserializeOwned;

use super::error::{RegionError, classify};
use crate::render::{DesiredRegion, Labels, TenantFiles};

/// Objects read per request when listing a region: a page of shards is a few MiB, where one
/// response holding all of a 10,000-tenant region's was ~15 MiB held at once beside what it
/// decoded to.
const LIST_PAGE: u32 = 64;

/// What Meridian wrote in a region's namespace, read once per reconcile: the base for the
/// diff, the sweep and the replica counts. Objects holding files are known by their metadata.
#[derive(Debug, Clone, Default)]
pub struct ObservedRegion {
    pub(super) config_maps: Vec<ObjectMeta>,
    pub(super) secrets: Vec<ObjectMeta>,
    pub(super) deployments: Vec<Deployment>,
    pub(super) services: Vec<Service>,
    pub(super) pod_disruption_budgets: Vec<PodDisruptionBudget>,
}

/// Lists every kind Meridian writes in the region's namespace; ConfigMaps and Secrets by their
/// metadata only.
pub async fn observe_region(
    client: &Client,
    region: &str,
    namespace: &str,
) -> Result<ObservedRegion, RegionError> {
    let at = Listing {
        client,
        region,
        namespace,
    };
    Ok(ObservedRegion {
        config_maps: at.metadata::<ConfigMap>().await?,
        secrets: at.metadata::<Secret>().await?,
        deployments: at.objects().await?,
        services: at.objects().await?,
        pod_disruption_budgets: at.objects().await?,
    })
}

impl ObservedRegion {
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

/// The files a region serves now, read whole: only for tenants that must keep their last good
/// state because the hub's inputs for them are broken.
#[derive(Debug, Clone, Default)]
pub struct RegionFiles {
    config_maps: Vec<ConfigMap>,
    secrets: Vec<Secret>,
}

/// Reads every ConfigMap and Secret Meridian wrote in the region's namespace, with its files.
pub async fn observe_region_files(
    client: &Client,
    region: &str,
    namespace: &str,
) -> Result<RegionFiles, RegionError> {
    let at = Listing {
        client,
        region,
        namespace,
    };
    Ok(RegionFiles {
        config_maps: at.objects().await?,
        secrets: at.objects().await?,
    })
}

impl RegionFiles {
    /// The files the region serves now for `tenant` (none when it serves none), looked up per
    /// tenant: a copy of every tenant's was a region's size in memory.
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
}

/// Lists Meridian's objects of one region's namespace, page by page.
pub(super) struct Listing<'a> {
    pub client: &'a Client,
    pub region: &'a str,
    pub namespace: &'a str,
}

impl Listing<'_> {
    fn params(&self) -> ListParams {
        ListParams::default()
            .labels(&Labels::managed_selector(self.region))
            .limit(LIST_PAGE)
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    /// Every object, whole but for who manages which field: nothing here reads that, and a
    /// shard's server-side apply entry names every one of its files.
    pub async fn objects<K>(&self) -> Result<Vec<K>, RegionError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let api = &self.api::<K>();
        self.pages(
            |params| async move { api.list(&params).await },
            |mut object: K| {
                object.managed_fields_mut().clear();
                object
            },
        )
        .await
        .map_err(read_error::<K>)
    }

    /// Every object's metadata.
    pub async fn metadata<K>(&self) -> Result<Vec<ObjectMeta>, RegionError>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let api = &self.api::<K>();
        self.pages(
            |params| async move { api.list_metadata(&params).await },
            |object: PartialObjectMeta<K>| ObjectMeta {
                managed_fields: None,
                ..object.metadata
            },
        )
        .await
        .map_err(read_error::<K>)
    }

    /// Every item of a list read page by page, each kept as `keep` makes it as its page
    /// arrives.
    async fn pages<T, U, F>(
        &self,
        page: impl Fn(ListParams) -> F,
        keep: impl Fn(T) -> U,
    ) -> Result<Vec<U>, kube::Error>
    where
        T: Clone,
        F: Future<Output = Result<ObjectList<T>, kube::Error>>,
    {
        let mut params = self.params();
        let mut items = Vec::new();
        loop {
            let list = page(params.clone()).await?;
            items.extend(list.items.into_iter().map(&keep));
            match list.metadata.continue_ {
                Some(token) if !token.is_empty() => params = params.continue_token(&token),
                _ => return Ok(items),
            }
        }
    }
}

pub(super) fn read_error<K: Resource<DynamicType = ()>>(error: kube::Error) -> RegionError {
    classify(error, |message| RegionError::Read {
        kind: kind_of::<K>(),
        message,
    })
}

pub(super) fn kind_of<K: Resource<DynamicType = ()>>() -> &'static str {
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
        let observed = RegionFiles {
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
