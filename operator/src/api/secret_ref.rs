//! References to one key of a Secret: in the operator's namespace of the hub
//! ([`SecretKeyRef`]), or in a region cluster's target namespace ([`RegionSecretKeyRef`]).
//! Both validate names and keys by the same rules (see `rules.rs`); they differ in where the
//! Secret lives and who reads it, which is what their documentation (`kubectl explain`) says.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Names one key of a Secret in the operator's namespace (`meridian-system` unless the operator
/// is configured otherwise). Secrets elsewhere are never read, so a Tenant cannot reach into
/// another team's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new(super::rules::is_secret_name()).message(super::rules::SECRET_NAME_MESSAGE))]
    pub name: String,
    /// Key within the Secret's data. Each field that uses this reference documents its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new(super::rules::is_secret_key()).message(super::rules::SECRET_KEY_MESSAGE))]
    pub key: Option<String>,
}

impl SecretKeyRef {
    /// The key to read, falling back to the field's documented default.
    pub fn key_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.key.as_deref().unwrap_or(default)
    }
}

/// Names one key of a Secret in the region cluster, in the AuthRegion's `spec.namespace` (next
/// to the auth-servers). The value never leaves the region: the auth-server pods read it
/// through their environment, and the operator only checks that the Secret and key exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegionSecretKeyRef {
    /// Name of the Secret in the region's `spec.namespace`.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new(super::rules::is_secret_name()).message(super::rules::SECRET_NAME_MESSAGE))]
    pub name: String,
    /// Key within the Secret's data. Each field that uses this reference documents its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new(super::rules::is_secret_key()).message(super::rules::SECRET_KEY_MESSAGE))]
    pub key: Option<String>,
}

impl RegionSecretKeyRef {
    /// The key to read, falling back to the field's documented default.
    pub fn key_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.key.as_deref().unwrap_or(default)
    }
}
