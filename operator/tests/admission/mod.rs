//! Loads the admission cases of `cases.yaml`: the examples/ objects with a JSON merge patch
//! applied, and the message part expected when the API server must reject them.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct Case {
    pub name: String,
    pub kind: String,
    patch: Value,
    /// A part of the rejection message, or `None` when the object must be accepted.
    #[serde(default)]
    pub rejected: Option<String>,
    /// Rejected by the OpenAPI schema, not by a CEL rule: only an API server says so.
    #[serde(default)]
    pub schema: bool,
}

impl Case {
    /// The example object of this case's kind with the case's patch applied.
    pub fn object(&self) -> Value {
        let mut object = example(&self.kind);
        json_patch::merge(&mut object, &self.patch);
        object
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate inside the workspace")
        .to_path_buf()
}

pub fn cases() -> Vec<Case> {
    let path = repo_root().join("operator/tests/admission/cases.yaml");
    let text = std::fs::read_to_string(&path).expect("cases.yaml readable");
    serde_yaml::from_str(&text).expect("cases.yaml well-formed")
}

/// Every object in examples/, in file order.
pub fn examples() -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples/ readable")
        .map(|entry| entry.expect("examples/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).expect("example readable");
            serde_yaml::Deserializer::from_str(&text)
                .map(|doc| Value::deserialize(doc).expect("example is YAML"))
                .filter(|doc| !doc.is_null())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The first example object of `kind`.
pub fn example(kind: &str) -> Value {
    examples()
        .into_iter()
        .find(|object| object["kind"] == kind)
        .unwrap_or_else(|| panic!("examples/ holds no {kind}"))
}
