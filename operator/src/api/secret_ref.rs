//! A reference to one key of a Secret in the operator's namespace.

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
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')")
        .message("secretRef.name must be a DNS subdomain name"))]
    pub name: String,
    /// Key within the Secret's data. Each field that uses this reference documents its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self.matches('^[-._a-zA-Z0-9]+$')")
        .message("secretRef.key must be a valid Secret data key: letters, digits, '-', '_' or '.'"))]
    pub key: Option<String>,
}

impl SecretKeyRef {
    /// The key to read, falling back to the field's documented default.
    pub fn key_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.key.as_deref().unwrap_or(default)
    }
}
