//! The files of an auth-server Deployment's projected volume, computed the way kubelet does
//! from the ConfigMaps and Secrets the volume names.
//!
//! Pure: no I/O, so what a region's pod would see is decided here and tested from YAML. It
//! must never invent a file the operator did not write.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, KeyToPath, Secret};

/// kubelet's default for projected volumes without `defaultMode`.
const DEFAULT_MODE: u32 = 0o644;

/// One file of the volume: its bytes and mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectedFile {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// Relative path → file.
pub type ProjectedFiles = BTreeMap<String, ProjectedFile>;

/// Why a volume cannot be projected (kubelet would keep the pod waiting, or keep the files it
/// last projected).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    #[error("Deployment {0} has no projected volume")]
    NoProjectedVolume(String),
    #[error("{kind} {name} named by the volume does not exist")]
    MissingSource { kind: &'static str, name: String },
    #[error("{kind} {name} has no key {key}")]
    MissingKey {
        kind: &'static str,
        name: String,
        key: String,
    },
    #[error("two sources project the path {0}")]
    DuplicatePath(String),
}

/// The objects of the region's namespace, by name.
#[derive(Default)]
pub struct Sources {
    pub config_maps: BTreeMap<String, ConfigMap>,
    pub secrets: BTreeMap<String, Secret>,
}

impl Sources {
    pub fn new(config_maps: Vec<ConfigMap>, secrets: Vec<Secret>) -> Self {
        let named = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            meta.name.clone().unwrap_or_default()
        };
        Self {
            config_maps: config_maps
                .into_iter()
                .map(|c| (named(&c.metadata), c))
                .collect(),
            secrets: secrets
                .into_iter()
                .map(|s| (named(&s.metadata), s))
                .collect(),
        }
    }
}

/// The files of the Deployment's first projected volume.
pub fn projected_files(
    deployment: &Deployment,
    sources: &Sources,
) -> Result<ProjectedFiles, ProjectionError> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let volume = deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.volumes.as_ref())
        .and_then(|vs| vs.iter().find_map(|v| v.projected.as_ref()))
        .ok_or(ProjectionError::NoProjectedVolume(name))?;
    let default_mode = volume.default_mode.map_or(DEFAULT_MODE, |m| m as u32);
    let mut files = ProjectedFiles::new();
    for source in volume.sources.iter().flatten() {
        let entries = if let Some(cm) = &source.config_map {
            match sources.config_maps.get(&cm.name) {
                Some(object) => select("ConfigMap", &cm.name, config_map_data(object), &cm.items)?,
                None if cm.optional == Some(true) => Vec::new(),
                None => return Err(missing("ConfigMap", &cm.name)),
            }
        } else if let Some(secret) = &source.secret {
            match sources.secrets.get(&secret.name) {
                Some(object) => select("Secret", &secret.name, secret_data(object), &secret.items)?,
                None if secret.optional == Some(true) => Vec::new(),
                None => return Err(missing("Secret", &secret.name)),
            }
        } else {
            // downwardAPI, serviceAccountToken, clusterTrustBundle: the operator uses none.
            Vec::new()
        };
        for (path, bytes, mode) in entries {
            let file = ProjectedFile {
                bytes,
                mode: mode.unwrap_or(default_mode),
            };
            if files.insert(path.clone(), file).is_some() {
                return Err(ProjectionError::DuplicatePath(path));
            }
        }
    }
    Ok(files)
}

fn missing(kind: &'static str, name: &str) -> ProjectionError {
    ProjectionError::MissingSource {
        kind,
        name: name.to_owned(),
    }
}

pub(super) fn config_map_data(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let text = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()));
    let binary = cm
        .binary_data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()));
    text.chain(binary).collect()
}

pub(super) fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut data: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    // stringData is write-only in a real API server; honoured for objects built in tests.
    for (k, v) in secret.string_data.iter().flatten() {
        data.insert(k.clone(), v.clone().into_bytes());
    }
    data
}

/// A file to project: path, bytes, and its own mode if the item sets one.
type Entry = (String, Vec<u8>, Option<u32>);

/// Every key as a file of its own name, or only the listed items at their paths.
fn select(
    kind: &'static str,
    name: &str,
    data: BTreeMap<String, Vec<u8>>,
    items: &Option<Vec<KeyToPath>>,
) -> Result<Vec<Entry>, ProjectionError> {
    let Some(items) = items else {
        return Ok(data.into_iter().map(|(k, v)| (k, v, None)).collect());
    };
    items
        .iter()
        .map(|item| {
            let bytes = data
                .get(&item.key)
                .ok_or_else(|| ProjectionError::MissingKey {
                    kind,
                    name: name.to_owned(),
                    key: item.key.clone(),
                })?;
            Ok((
                item.path.clone(),
                bytes.clone(),
                item.mode.map(|m| m as u32),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(volume_yaml: &str) -> Deployment {
        let yaml = format!(
            "metadata: {{name: auth-shared}}\nspec:\n  selector: {{}}\n  template:\n    spec:\n      containers: []\n      volumes:\n{volume_yaml}"
        );
        serde_yaml::from_str(&yaml).unwrap()
    }

    fn sources() -> Sources {
        let cm: ConfigMap = serde_yaml::from_str(
            "metadata: {name: cfg}\ndata: {region.json: '{}', acme.tenant.json: '{\"id\":\"acme\"}'}",
        )
        .unwrap();
        let secret: Secret =
            serde_yaml::from_str("metadata: {name: keys}\ndata: {acme.keys.json: e30=}").unwrap();
        Sources::new(vec![cm], vec![secret])
    }

    const BOTH: &str = "        - name: config\n          projected:\n            defaultMode: 288\n            sources:\n              - configMap: {name: cfg}\n              - secret: {name: keys}\n";

    #[test]
    fn every_key_of_every_source_becomes_a_file_with_the_default_mode() {
        let files = projected_files(&deployment(BOTH), &sources()).unwrap();
        let names: Vec<_> = files.keys().map(String::as_str).collect();
        assert_eq!(names, ["acme.keys.json", "acme.tenant.json", "region.json"]);
        assert_eq!(files["acme.keys.json"].bytes, b"{}");
        assert!(files.values().all(|f| f.mode == 0o440));
    }

    #[test]
    fn a_missing_source_is_named_unless_optional() {
        let mut only_cm = sources();
        only_cm.secrets.clear();
        assert_eq!(
            projected_files(&deployment(BOTH), &only_cm),
            Err(ProjectionError::MissingSource {
                kind: "Secret",
                name: "keys".into()
            })
        );
        let optional = BOTH.replace("{name: keys}", "{name: keys, optional: true}");
        let files = projected_files(&deployment(&optional), &only_cm).unwrap();
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn items_select_keys_and_place_them_at_their_paths() {
        let volume = "        - name: config\n          projected:\n            sources:\n              - configMap: {name: cfg, items: [{key: region.json, path: r.json, mode: 256}]}\n";
        let files = projected_files(&deployment(volume), &sources()).unwrap();
        assert_eq!(files.keys().collect::<Vec<_>>(), ["r.json"]);
        assert_eq!(files["r.json"].mode, 0o400);
    }
}
