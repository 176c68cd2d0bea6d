//! The repository's Helm charts as the tests see them: where they are, the built helm run
//! against them without a cluster, and rendered manifests read back as JSON values.
//! Never edits a chart.

// Each test file uses its own part of this module.
#![allow(dead_code)]

pub mod install;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use meridian_e2e::Binaries;
use meridian_e2e::meridian::repo_root;
use serde::Deserialize;

/// The operator chart, installed into the hub.
pub fn operator_chart() -> PathBuf {
    repo_root().join("charts/meridian")
}

/// The chart installed into every region cluster.
pub fn region_chart() -> PathBuf {
    repo_root().join("charts/meridian-region")
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("the repository path is UTF-8")
}

/// The built helm with its cache, config and data in `home`, for commands that need no cluster.
pub fn offline_helm(home: &Path) -> anyhow::Result<Command> {
    let mut command = Command::new(Binaries::locate()?.helm()?);
    command
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"));
    Ok(command)
}

/// Runs `command`, returning its stdout, or failing with its stderr.
pub fn succeed(mut command: Command) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `command` expecting it to fail; returns its stderr.
pub fn fail(mut command: Command) -> anyhow::Result<String> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if output.status.success() {
        bail!("{command:?} succeeded but should have failed");
    }
    Ok(String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Every non-empty document of a multi-document YAML stream.
pub fn documents(yaml: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_json::Value::deserialize(doc).context("parsing rendered YAML")?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// `kind/namespace/name` of a manifest.
pub fn object_id(object: &serde_json::Value) -> (String, Option<String>, String) {
    let text = |pointer: &str| object.pointer(pointer).and_then(|v| v.as_str());
    (
        text("/kind").unwrap_or_default().to_owned(),
        text("/metadata/namespace").map(str::to_owned),
        text("/metadata/name").unwrap_or_default().to_owned(),
    )
}
