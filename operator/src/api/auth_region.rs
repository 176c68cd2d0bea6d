//! `AuthRegion`: a place that serves tokens.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::secret_ref::SecretKeyRef;
use super::store::{StoreKind, StoreSpec};

/// An AuthRegion is a place that serves tokens: a cluster (the hub itself, or one reached
/// through a kubeconfig Secret), a namespace there, its public URL and jurisdiction, and how the
/// auth-server runs. Tenants name the AuthRegions they are served from.
#[derive(CustomResource, KubeSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "meridian.dev",
    version = "v1alpha1",
    kind = "AuthRegion",
    shortname = "ar",
    status = "AuthRegionStatus",
    cel,
    validation = Rule::new(super::rules::is_dns_label("self.metadata.name"))
        .message(super::rules::NAME_MESSAGE),
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.cluster.kubeconfigSecretRef.name"),
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.publicUrl"),
    printcolumn(name = "Tenants", type_ = "integer", json_path = ".status.tenants"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct AuthRegionSpec {
    /// The cluster the region's auth-servers run in. Absent: the hub cluster itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterRef>,

    /// Namespace in the region cluster that holds the auth-servers; created when missing.
    /// Immutable: what Meridian wrote in one namespace is never moved, so create a new
    /// AuthRegion to serve from another.
    #[serde(default = "AuthRegionSpec::default_namespace")]
    #[schemars(length(max = 63))]
    #[x_kube(
        validation = Rule::new(super::rules::is_dns_label("self")).message("spec.namespace must be a DNS label"),
        validation = Rule::new("self == oldSelf").message("spec.namespace is immutable; create a new AuthRegion to serve from another namespace")
    )]
    pub namespace: String,

    /// This region's public base URL, as resource servers reach it (its JWKS is fetched there to
    /// confirm key publication): https without query or fragment (http only for localhost,
    /// 127.0.0.1 and [::1]), not ending in '/'.
    #[schemars(length(max = 512))]
    #[x_kube(
        validation = Rule::new(super::rules::is_https_or_loopback_url("self"))
            .message("spec.publicUrl must be an https URL (http only for localhost, 127.0.0.1 or [::1])"),
        validation = Rule::new(super::rules::NO_QUERY_OR_FRAGMENT)
            .message("spec.publicUrl must not contain a query or a fragment"),
        validation = Rule::new("!self.endsWith('/')").message("spec.publicUrl must not end with '/'")
    )]
    pub public_url: String,

    /// Jurisdiction for data residency, a free label such as `EU` or `US`; Tenants list the
    /// jurisdictions they may be placed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 32))]
    pub jurisdiction: Option<String>,

    /// How the auth-server runs in this region.
    #[serde(default)]
    pub auth_server: AuthServerSpec,

    /// While true, the operator changes nothing in this region (status is still reported).
    #[serde(default)]
    pub paused: bool,
}

impl AuthRegionSpec {
    pub const DEFAULT_NAMESPACE: &'static str = "meridian-auth";

    fn default_namespace() -> String {
        Self::DEFAULT_NAMESPACE.into()
    }
}

/// How to reach a region's cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRef {
    /// Secret in the operator's namespace holding a kubeconfig for the region cluster; key
    /// defaults to `value`, as Cluster API writes it.
    pub kubeconfig_secret_ref: SecretKeyRef,
}

/// How the auth-server Deployment runs in a region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(
        "!has(self.replicas) || self.replicas <= 1 || (has(self.store) && self.store.kind == 'Postgres')"
    )
        .message("spec.authServer.replicas must be at most 1 with the memory store (codes and sessions live in one process); use store kind Postgres to run more")
        .field_path(".replicas")
)]
pub struct AuthServerSpec {
    /// Container image of the auth-server.
    #[serde(default = "AuthServerSpec::default_image")]
    #[schemars(length(min = 1, max = 512))]
    pub image: String,

    /// Replicas per auth-server Deployment. Absent: 1 with the memory store, 2 with Postgres
    /// (one keeps serving while the other restarts). More than 1 needs the Postgres store: with
    /// the memory store, codes and sessions live in one process and another replica would not
    /// know them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: Option<i32>,

    /// Where grant state (codes, refresh tokens, sessions) is kept. Absent: in memory.
    #[serde(default)]
    pub store: StoreSpec,

    /// Addresses or CIDR blocks (`10.0.0.0/8`, `fd00::/8`) of the proxies in front of the
    /// auth-server: an ingress controller, a gateway, a load balancer that appends to
    /// `X-Forwarded-For` / `Forwarded`. Only a request arriving from one of them has its client
    /// address taken from those headers, for login throttling; anyone else's headers are
    /// ignored. Empty: the TCP peer is the client, so behind a proxy every user shares its
    /// address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32), inner(length(max = 43)))]
    #[x_kube(validation = Rule::new(TRUSTED_PROXIES_RULE)
        .message("spec.authServer.trustedProxies must hold IPv4 or IPv6 addresses or CIDR blocks"))]
    pub trusted_proxies: Vec<String>,

    /// Resource requests and limits of the auth-server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Node selector of the auth-server pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Tolerations of the auth-server pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Topology spread constraints of the auth-server pods; the operator fills in the label
    /// selector when it is left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,

    /// Extra annotations on the auth-server pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,
}

impl AuthServerSpec {
    pub const DEFAULT_IMAGE: &'static str = concat!(
        "ghcr.io/meridian-dev/meridian-auth-server:",
        env!("CARGO_PKG_VERSION")
    );

    fn default_image() -> String {
        Self::DEFAULT_IMAGE.into()
    }

    /// The replicas each Deployment runs: as given, or the store's default. Every reader of
    /// the replica count goes through here, so "unset" means one thing everywhere.
    pub fn effective_replicas(&self) -> i32 {
        self.replicas.unwrap_or(match self.store.kind {
            StoreKind::Memory => 1,
            StoreKind::Postgres => 2,
        })
    }
}

impl Default for AuthServerSpec {
    fn default() -> Self {
        Self {
            image: Self::default_image(),
            replicas: None,
            store: StoreSpec::default(),
            trusted_proxies: Vec::new(),
            resources: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            topology_spread_constraints: Vec::new(),
            pod_annotations: BTreeMap::new(),
        }
    }
}

/// An address or CIDR block, IPv4 exactly, IPv6 by its alphabet; the auth-server parses them
/// strictly at start.
const TRUSTED_PROXIES_RULE: &str = concat!(
    "self.all(p, (",
    r"p.matches('^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])[.]){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(/(3[0-2]|[12]?[0-9]))?$')",
    " || ",
    r"p.matches('^[0-9a-fA-F:]*:[0-9a-fA-F:]*(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?$')",
    "))"
);

/// What the operator observed of an AuthRegion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthRegionStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reachable, Progressing and Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Number of Tenants placed in this region.
    #[serde(default)]
    pub tenants: i32,
    /// Ready auth-server pods across the region's Deployments.
    #[serde(default)]
    pub ready_replicas: i32,
    /// When the region last changed to match the desired state (RFC 3339); not a heartbeat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth_server(yaml: &str) -> AuthServerSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn unset_replicas_follow_the_store_and_set_ones_are_kept() {
        assert_eq!(auth_server("{}").effective_replicas(), 1);
        let postgres = "{store: {kind: Postgres, uriSecretRef: {name: db-app}}}";
        assert_eq!(auth_server(postgres).effective_replicas(), 2);
        let scaled = "{replicas: 4, store: {kind: Postgres, uriSecretRef: {name: db-app}}}";
        assert_eq!(auth_server(scaled).effective_replicas(), 4);
        assert_eq!(auth_server("{replicas: 0}").effective_replicas(), 0);
    }
}
