//! The environment of an auth-server container, resolved the way kubelet resolves it when a
//! container starts: literal `value`s, and `valueFrom` references to keys of the region's
//! Secrets and ConfigMaps (the operator renders `MERIDIAN_STORE` from a `secretKeyRef`).
//!
//! Pure: no I/O, tested from YAML. Values may be credentials (a database URI with its
//! password), so they must never appear in `Debug` output, a log line or an error message:
//! errors name the variable, the object and the key, never what the key holds. A source the
//! stand-in cannot resolve is an error, never a variable silently left out.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::EnvVar;

use super::projection::{Sources, config_map_data, secret_data};

/// Variables in the container's order; a later one of the same name wins, as in kubelet.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(String, String)>,
}

impl Environment {
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.vars.iter().map(|(k, _)| k.as_str())
    }
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values may be credentials.
        f.debug_list().entries(self.names()).finish()
    }
}

/// Why a container's environment cannot be resolved (kubelet: `CreateContainerConfigError`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("env {var}: {kind} {name} does not exist")]
    MissingSource {
        var: String,
        kind: &'static str,
        name: String,
    },
    #[error("env {var}: {kind} {name} has no key {key}")]
    MissingKey {
        var: String,
        kind: &'static str,
        name: String,
        key: String,
    },
    #[error("env {var}: key {key} of {kind} {name} is not UTF-8 text")]
    NotText {
        var: String,
        kind: &'static str,
        name: String,
        key: String,
    },
    #[error("env {var}: {what} is not resolved by the kubelet stand-in")]
    Unsupported { var: String, what: &'static str },
}

/// The environment of the Deployment's first container (the operator renders one).
pub fn container_env(deployment: &Deployment, sources: &Sources) -> Result<Environment, EnvError> {
    let container = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first());
    let Some(container) = container else {
        return Ok(Environment::default());
    };
    if container.env_from.as_ref().is_some_and(|e| !e.is_empty()) {
        return Err(EnvError::Unsupported {
            var: "(all)".into(),
            what: "envFrom",
        });
    }
    let mut vars = Vec::new();
    for var in container.env.iter().flatten() {
        if let Some(value) = resolve(var, sources)? {
            vars.push((var.name.clone(), value));
        }
    }
    Ok(Environment { vars })
}

/// `None` for an optional reference whose object or key is missing: kubelet leaves the
/// variable unset.
fn resolve(var: &EnvVar, sources: &Sources) -> Result<Option<String>, EnvError> {
    let Some(from) = &var.value_from else {
        return Ok(Some(var.value.clone().unwrap_or_default()));
    };
    let unsupported = |what| EnvError::Unsupported {
        var: var.name.clone(),
        what,
    };
    if let Some(selector) = &from.secret_key_ref {
        let data = sources.secrets.get(&selector.name).map(secret_data);
        let reference = Reference::new(var, "Secret", &selector.name, &selector.key);
        reference.pick(data, selector.optional)
    } else if let Some(selector) = &from.config_map_key_ref {
        let data = sources.config_maps.get(&selector.name).map(config_map_data);
        let reference = Reference::new(var, "ConfigMap", &selector.name, &selector.key);
        reference.pick(data, selector.optional)
    } else if from.field_ref.is_some() {
        Err(unsupported("valueFrom.fieldRef"))
    } else if from.resource_field_ref.is_some() {
        Err(unsupported("valueFrom.resourceFieldRef"))
    } else {
        Err(unsupported("this valueFrom"))
    }
}

/// One `valueFrom` key reference, for its lookup and its error messages.
struct Reference<'a> {
    var: &'a str,
    kind: &'static str,
    name: &'a str,
    key: &'a str,
}

impl<'a> Reference<'a> {
    fn new(var: &'a EnvVar, kind: &'static str, name: &'a str, key: &'a str) -> Self {
        Self {
            var: &var.name,
            kind,
            name,
            key,
        }
    }

    fn pick(
        &self,
        data: Option<BTreeMap<String, Vec<u8>>>,
        optional: Option<bool>,
    ) -> Result<Option<String>, EnvError> {
        let optional = optional == Some(true);
        let Some(mut data) = data else {
            return if optional {
                Ok(None)
            } else {
                Err(EnvError::MissingSource {
                    var: self.var.to_owned(),
                    kind: self.kind,
                    name: self.name.to_owned(),
                })
            };
        };
        let Some(bytes) = data.remove(self.key) else {
            return if optional {
                Ok(None)
            } else {
                Err(EnvError::MissingKey {
                    var: self.var.to_owned(),
                    kind: self.kind,
                    name: self.name.to_owned(),
                    key: self.key.to_owned(),
                })
            };
        };
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| EnvError::NotText {
                var: self.var.to_owned(),
                kind: self.kind,
                name: self.name.to_owned(),
                key: self.key.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};

    use super::*;

    fn deployment(env_yaml: &str) -> Deployment {
        let yaml = format!(
            "metadata: {{name: auth-shared}}\nspec:\n  selector: {{}}\n  template:\n    spec:\n      containers:\n        - name: auth-server\n          env:\n{env_yaml}"
        );
        serde_yaml::from_str(&yaml).unwrap()
    }

    fn sources() -> Sources {
        // "postgres://meridian:s3cret@db:5432/eu" in base64.
        let secret: Secret = serde_yaml::from_str(
            "metadata: {name: store}\ndata: {uri: cG9zdGdyZXM6Ly9tZXJpZGlhbjpzM2NyZXRAZGI6NTQzMi9ldQ==}",
        )
        .unwrap();
        let cm: ConfigMap =
            serde_yaml::from_str("metadata: {name: settings}\ndata: {level: debug}").unwrap();
        Sources::new(vec![cm], vec![secret])
    }

    const STORE: &str = "            - name: MERIDIAN_STORE\n              valueFrom: {secretKeyRef: {name: store, key: uri}}\n";

    #[test]
    fn values_and_references_resolve_in_the_containers_order() {
        let env = format!(
            "            - {{name: RUST_LOG, value: info}}\n{STORE}            - name: LEVEL\n              valueFrom: {{configMapKeyRef: {{name: settings, key: level}}}}\n"
        );
        let resolved = container_env(&deployment(&env), &sources()).unwrap();
        let vars: Vec<(&str, &str)> = resolved.iter().collect();
        assert_eq!(
            vars,
            [
                ("RUST_LOG", "info"),
                ("MERIDIAN_STORE", "postgres://meridian:s3cret@db:5432/eu"),
                ("LEVEL", "debug"),
            ]
        );
        assert!(!format!("{resolved:?}").contains("s3cret"));
    }

    #[test]
    fn a_missing_secret_or_key_is_named_without_its_value() {
        let mut without = sources();
        without.secrets.clear();
        let error = container_env(&deployment(STORE), &without).unwrap_err();
        assert_eq!(
            error.to_string(),
            "env MERIDIAN_STORE: Secret store does not exist"
        );
        let other_key = STORE.replace("key: uri", "key: url");
        let error = container_env(&deployment(&other_key), &sources()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "env MERIDIAN_STORE: Secret store has no key url"
        );
    }

    #[test]
    fn an_optional_reference_to_nothing_leaves_the_variable_unset() {
        let optional = STORE.replace("key: uri}", "key: uri, optional: true}");
        let resolved = container_env(&deployment(&optional), &Sources::default()).unwrap();
        assert_eq!(resolved.names().count(), 0);
    }

    #[test]
    fn a_source_the_stand_in_cannot_resolve_is_refused() {
        let env = "            - name: POD\n              valueFrom: {fieldRef: {fieldPath: metadata.name}}\n";
        let error = container_env(&deployment(env), &sources()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "env POD: valueFrom.fieldRef is not resolved by the kubelet stand-in"
        );
    }
}
