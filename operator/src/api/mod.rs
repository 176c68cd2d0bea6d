//! The `meridian.dev/v1alpha1` API: the custom resources a platform team applies to the hub.
//!
//! Validation that the API server can do lives here, as OpenAPI constraints and CEL rules on
//! the types, so invalid objects are rejected at admission with a message naming the field.
//! This module must never do I/O: it is types, defaults and the rules that go with them.

mod auth_region;
mod client;
mod conditions;
mod policy;
mod rules;
mod secret_ref;
mod store;
mod tenant;

pub use auth_region::{AuthRegion, AuthRegionSpec, AuthRegionStatus, AuthServerSpec, ClusterRef};
pub use client::{
    ClientAuthMethod, ClientJwkSpec, ClientJwksSpec, ClientSpec, ClientType, GrantType,
};
pub use conditions::ConditionType;
pub use policy::{SigningAlgorithm, SigningSpec, TokensSpec};
pub use secret_ref::{RegionSecretKeyRef, SecretKeyRef};
pub use store::{STORE_URI_DEFAULT_KEY, StoreKind, StoreSpec};
pub use tenant::{
    Isolation, ScopeSpec, SigningStatus, Tenant, TenantRegionStatus, TenantSpec, TenantStatus,
    UsersSpec,
};

/// The API group of every Meridian resource.
pub const GROUP: &str = "meridian.dev";

/// Every CRD Meridian defines, in the order `meridian-operator crd` prints them.
pub fn crds()
-> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition>
{
    use kube::CustomResourceExt;
    vec![AuthRegion::crd(), Tenant::crd()]
}

/// Each CRD as a YAML document with its file name in crds/ (`<plural>.<group>.yaml`).
pub fn crd_files() -> Result<Vec<(String, String)>, serde_yaml::Error> {
    crds()
        .iter()
        .map(|crd| {
            Ok((
                format!("{}.yaml", crd.metadata.name.as_deref().unwrap_or_default()),
                yaml_1_1_safe_keys(&serde_yaml::to_string(crd)?),
            ))
        })
        .collect()
}

/// Mapping keys that YAML 1.1 reads as booleans (kubectl's and Helm's YAML parser does) are
/// quoted: unquoted, a JWK's `y` or `n` member would become a property named `true` or
/// `false` in the schema the API server stores. serde_yaml writes YAML 1.2, which needs no
/// quotes for them.
fn yaml_1_1_safe_keys(doc: &str) -> String {
    const BOOLEAN_WORDS: &[&str] = &[
        "y", "Y", "n", "N", "yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off",
        "OFF",
    ];
    let mut out = String::with_capacity(doc.len() + 16);
    for line in doc.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches([' ', '-']).len();
        let (head, rest) = line.split_at(indent);
        match rest.split_once(':') {
            Some((key, after))
                if BOOLEAN_WORDS.contains(&key)
                    && (after.is_empty() || after.starts_with([' ', '\n'])) =>
            {
                out.push_str(&format!("{head}'{key}':{after}"));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The CRDs as one multi-document YAML stream, as `meridian-operator crd` prints them.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    Ok(crd_files()?
        .into_iter()
        .map(|(_, doc)| format!("---\n{doc}"))
        .collect())
}

#[cfg(test)]
mod yaml_tests {
    use super::yaml_1_1_safe_keys;

    #[test]
    fn keys_yaml_1_1_reads_as_booleans_are_quoted_and_nothing_else() {
        let doc = "properties:\n  x:\n    type: string\n  y:\n    type: string\n  n: 1\n- y: no\nrule: self.all(y, y == x)\n";
        assert_eq!(
            yaml_1_1_safe_keys(doc),
            "properties:\n  x:\n    type: string\n  'y':\n    type: string\n  'n': 1\n- 'y': no\nrule: self.all(y, y == x)\n"
        );
    }
}
