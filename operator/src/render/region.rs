//! Assembles the objects of one region from its placed tenants' files.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use meridian_contract::{REGION_FILE, RegionConfig};
use sha2::{Digest, Sha256};

use crate::api::{AuthRegionSpec, Isolation, STORE_URI_DEFAULT_KEY, StoreSpec};

use super::files::DesiredFiles;
use super::shards::{shard_count, shard_of};
use super::workload::{self, Workload};
use super::{Labels, TenantFiles};

/// A tenant placed in the region, with the files it is served from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedTenant {
    pub name: String,
    pub isolation: Isolation,
    /// Shared with the operator's cache of renders (see the region controller).
    pub files: Arc<TenantFiles>,
}

/// Every object Meridian wants in one region cluster. Those holding files are assembled only
/// when applied (see [`DesiredFiles`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesiredRegion {
    pub namespace: Namespace,
    pub config_maps: DesiredFiles<ConfigMap>,
    pub secrets: DesiredFiles<Secret>,
    pub deployments: Vec<Deployment>,
    pub services: Vec<Service>,
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
}

/// The ConfigMap holding `region.json`, shared by every group in the namespace.
pub const REGION_CONFIG_MAP: &str = "meridian-region";
const SHARED_GROUP: &str = "auth-shared";

pub fn desired_region(
    region_name: &str,
    spec: &AuthRegionSpec,
    tenants: &[PlacedTenant],
    jwks_max_age_seconds: u32,
) -> DesiredRegion {
    desired_region_sized(region_name, spec, tenants, jwks_max_age_seconds, 0)
}

/// [`desired_region`] with the shared group sized for at least `shared_expected` tenants (its
/// shard count and default memory): the tenants it is to serve, of which `tenants` holds those
/// that can be served now.
pub fn desired_region_sized(
    region_name: &str,
    spec: &AuthRegionSpec,
    tenants: &[PlacedTenant],
    jwks_max_age_seconds: u32,
    shared_expected: usize,
) -> DesiredRegion {
    let namespace = spec.namespace.as_str();
    let region_labels = Labels::region(region_name);
    let region_json = serde_json::to_string(&RegionConfig {
        name: region_name.to_owned(),
        public_url: spec.public_url.clone(),
        jwks_max_age_seconds,
    })
    .expect("region config serializes");
    let checksum = start_checksum(&region_json, &spec.auth_server.store);

    let mut desired = DesiredRegion {
        namespace: Namespace {
            metadata: ObjectMeta {
                name: Some(namespace.to_owned()),
                labels: Some(region_labels.to_map()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        },
        ..DesiredRegion::default()
    };
    desired.config_maps.push_files(
        meta(REGION_CONFIG_MAP, namespace, &region_labels),
        BTreeMap::from([(REGION_FILE.to_owned(), region_json)]),
    );
    for (group, members) in groups(tenants) {
        let dedicated = members
            .first()
            .filter(|t| t.isolation == Isolation::Dedicated)
            .map(|t| t.name.as_str());
        let labels = region_labels.clone().instance(&group).tenant(dedicated);
        let sized_for = match dedicated {
            Some(_) => members.len(),
            None => members.len().max(shared_expected),
        };
        add_group(
            &mut desired,
            &group,
            namespace,
            &labels,
            spec,
            (&members, sized_for),
            &checksum,
        );
    }
    desired
}

/// Groups tenants by the auth-server that serves them: one shared, one per dedicated tenant.
fn groups(tenants: &[PlacedTenant]) -> BTreeMap<String, Vec<&PlacedTenant>> {
    let mut groups: BTreeMap<String, Vec<&PlacedTenant>> = BTreeMap::new();
    for tenant in tenants {
        let group = match tenant.isolation {
            Isolation::Shared => SHARED_GROUP.to_owned(),
            Isolation::Dedicated => dedicated_group_name(&tenant.name),
        };
        groups.entry(group).or_default().push(tenant);
    }
    groups
}

/// `auth-t-<tenant>`, shortened with a hash suffix where a Service name (a DNS label) would
/// exceed 63 characters.
fn dedicated_group_name(tenant: &str) -> String {
    let name = format!("auth-t-{tenant}");
    if name.len() <= 63 {
        return name;
    }
    format!(
        "{}-{}",
        name[..54].trim_end_matches('-'),
        &checksum(tenant)[..8]
    )
}

fn add_group(
    desired: &mut DesiredRegion,
    group: &str,
    namespace: &str,
    labels: &Labels,
    spec: &AuthRegionSpec,
    (members, sized_for): (&[&PlacedTenant], usize),
    checksum: &str,
) {
    let count = shard_count(sized_for);
    let mut shards = vec![Vec::new(); count];
    // By name, so a shard's content does not depend on the order the tenants came in.
    let mut members = members.to_vec();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    for tenant in members {
        shards[shard_of(&tenant.name, count)].push(tenant.files.clone());
    }
    let config_map_names: Vec<String> = (0..count).map(|i| format!("{group}-config-{i}")).collect();
    let secret_names: Vec<String> = (0..count).map(|i| format!("{group}-files-{i}")).collect();
    for (name, tenants) in config_map_names.iter().zip(&shards) {
        desired
            .config_maps
            .push_tenants(meta(name, namespace, labels), tenants.clone());
    }
    for (name, tenants) in secret_names.iter().zip(shards) {
        desired
            .secrets
            .push_tenants(meta(name, namespace, labels), tenants);
    }
    let mut volume_config_maps = vec![REGION_CONFIG_MAP.to_owned()];
    volume_config_maps.extend(config_map_names);
    let workload = Workload {
        name: group,
        namespace,
        labels,
        spec: &spec.auth_server,
        config_maps: &volume_config_maps,
        secrets: &secret_names,
        checksum,
        tenants: sized_for,
    };
    desired.deployments.push(workload::deployment(&workload));
    desired.services.push(workload::service(&workload));
    desired
        .pod_disruption_budgets
        .push(workload::pod_disruption_budget(&workload));
}

fn meta(name: &str, namespace: &str, labels: &Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(labels.to_map()),
        ..ObjectMeta::default()
    }
}

/// What the auth-server reads only at start: `region.json` and the store it connects to. The
/// store counts by reference (kind, Secret name and key), never by the URI's value, which the
/// operator does not read. The memory store adds nothing, so upgrading the operator leaves the
/// pods of regions on it alone.
fn start_checksum(region_json: &str, store: &StoreSpec) -> String {
    match store.postgres_uri() {
        None => checksum(region_json),
        Some(uri) => checksum(&format!(
            "{region_json}\nstore=postgres secret={} key={}",
            uri.name,
            uri.key_or(STORE_URI_DEFAULT_KEY)
        )),
    }
}

fn checksum(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
