//! Where a region's auth-servers keep grant state: codes, refresh-token families, SSO
//! sessions, pending logins, revocations and throttles.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::secret_ref::RegionSecretKeyRef;

/// Where the auth-server keeps grant state. Memory: in the process, lost when a pod restarts,
/// so at most one replica. Postgres: in a PostgreSQL database of the region (for example a
/// CloudNativePG cluster there), so replicas share it and a restart loses nothing.
/// Client credentials, discovery and JWKS never wait on the database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.kind != 'Postgres' || has(self.uriSecretRef)")
        .message("spec.authServer.store.uriSecretRef is required when kind is Postgres")
        .field_path(".uriSecretRef"),
    validation = Rule::new("self.kind == 'Postgres' || !has(self.uriSecretRef)")
        .message("spec.authServer.store.uriSecretRef must not be set when kind is Memory")
        .field_path(".uriSecretRef")
)]
pub struct StoreSpec {
    /// Memory (the default) or Postgres.
    #[serde(default)]
    pub kind: StoreKind,

    /// Postgres only: the Secret, in the region cluster's `spec.namespace`, holding the
    /// database's libpq connection URI (`postgres://user:password@host:5432/db`); key defaults
    /// to `uri`, as CloudNativePG writes it into `<cluster>-app`. The auth-server reads it when
    /// a pod starts; a Secret or key that is missing holds the region at its last applied state
    /// (a condition says so) rather than roll out pods that cannot start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_secret_ref: Option<RegionSecretKeyRef>,
}

/// The key of `uriSecretRef` when it names none: where CloudNativePG puts the URI.
pub const STORE_URI_DEFAULT_KEY: &str = "uri";

impl StoreSpec {
    /// The URI Secret to run with, when the store is Postgres and names one.
    pub fn postgres_uri(&self) -> Option<&RegionSecretKeyRef> {
        match self.kind {
            StoreKind::Memory => None,
            StoreKind::Postgres => self.uri_secret_ref.as_ref(),
        }
    }
}

/// Which store the auth-server uses.
// Variants carry no doc comments: they would turn the schema into a non-structural `oneOf`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum StoreKind {
    // In the auth-server process: one replica, state lost on restart.
    #[default]
    Memory,
    // A PostgreSQL database in the region, shared by every replica.
    Postgres,
}
