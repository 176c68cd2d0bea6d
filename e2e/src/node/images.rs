//! The images a node runs, built here with no registry: `containers/build-local.sh` puts the
//! auth-server binary this checkout builds (and the pause program) into `FROM scratch` images
//! written as OCI archives under the cache, once per test process and only when a binary
//! changed; each node imports them into its own containerd. The tags are the ones AuthRegion
//! and the chart default to, so the operator's Deployments run them unchanged.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::binaries::Binaries;
use crate::error::{Error, Result};

const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../containers/build-local.sh");

/// The archives to import, in order (the sandbox image first).
#[derive(Clone, Debug)]
pub struct LocalImages {
    pub archives: Vec<PathBuf>,
}

/// Builds (or finds) the images; blocks while buildah runs (call from `spawn_blocking`).
pub fn local_images(binaries: &Binaries) -> Result<LocalImages> {
    static BUILT: OnceLock<std::result::Result<LocalImages, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build(binaries).map_err(|e| e.to_string()))
        .clone()
        .map_err(Error::Binaries)
}

fn build(binaries: &Binaries) -> Result<LocalImages> {
    let auth_server = crate::auth_server_binary::auth_server_binary()?;
    let pause = binaries.node_binary("pause")?;
    let out = cache_dir().join("images");
    let output = Command::new("bash")
        .arg(BUILD_SCRIPT)
        .arg(&out)
        .arg(format!("pause={}", pause.display()))
        .arg(format!("auth-server={}", auth_server.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(Error::io(format!("run {BUILD_SCRIPT}")))?;
    if !output.status.success() {
        return Err(Error::Binaries(format!(
            "{BUILD_SCRIPT} exited with {} (its output is above)",
            output.status
        )));
    }
    Ok(LocalImages {
        archives: vec![out.join("pause.tar"), out.join("auth-server.tar")],
    })
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MERIDIAN_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("meridian")
}

/// `ctr images import` into the node's containerd, in the namespace the CRI plugin uses.
pub(crate) fn import(node: &str, socket: &Path, images: &LocalImages) -> Result<()> {
    for archive in &images.archives {
        let output = Command::new("ctr")
            .arg("--address")
            .arg(socket)
            .args(["--namespace", "k8s.io", "images", "import"])
            .arg(archive)
            .output()
            .map_err(Error::io("run ctr"))?;
        if !output.status.success() {
            return Err(Error::Node {
                node: node.to_owned(),
                step: format!("ctr images import {}", archive.display()),
                reason: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
    }
    Ok(())
}
