//! Where the Kubernetes binaries come from.
//!
//! `KUBEBUILDER_ASSETS`, when it names a directory holding `kube-apiserver` and `etcd` (as
//! `setup-envtest` leaves it), wins; otherwise `e2e/tools/build.sh` builds the pinned versions
//! from the Go module proxy into a cache (a no-op once built) and prints the directory. A binary
//! the chosen directory lacks (setup-envtest ships no controller-manager or helm) is built on
//! first use. Located once per test binary; never builds twice at the same time.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{Mutex, OnceLock},
};

use crate::error::{Error, Result};

const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/build.sh");

/// The directory of control-plane binaries used by this test binary.
#[derive(Debug)]
pub struct Binaries {
    dir: PathBuf,
    /// Serialises on-demand builds of binaries missing from `dir`.
    build_lock: Mutex<()>,
}

impl Binaries {
    /// Finds (or builds, once) the binaries. Blocks while a cold build runs: call it from
    /// `spawn_blocking` in async code, as [`crate::Clusters::start`] does.
    pub fn locate() -> Result<&'static Binaries> {
        static LOCATED: OnceLock<Result<Binaries, String>> = OnceLock::new();
        LOCATED
            .get_or_init(|| {
                let dir = match assets_from_env() {
                    Some(dir) => dir,
                    None => run_build_script(&[]).map_err(|e| e.to_string())?,
                };
                Ok(Binaries {
                    dir,
                    build_lock: Mutex::new(()),
                })
            })
            .as_ref()
            .map_err(|reason| Error::Binaries(reason.clone()))
    }

    /// The directory holding `kube-apiserver` and `etcd` (`KUBEBUILDER_ASSETS` or our cache).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn etcd(&self) -> PathBuf {
        self.dir.join("etcd")
    }

    pub fn kube_apiserver(&self) -> PathBuf {
        self.dir.join("kube-apiserver")
    }

    /// `kube-controller-manager`, built into the cache if the directory lacks it.
    pub fn kube_controller_manager(&self) -> Result<PathBuf> {
        self.optional("kube-controller-manager")
    }

    /// `helm`, built into the cache if the directory lacks it.
    pub fn helm(&self) -> Result<PathBuf> {
        self.optional("helm")
    }

    /// A node binary (`kubelet`, `kube-proxy`, `kube-scheduler`, `pause`), built into the
    /// cache if the directory lacks it.
    pub fn node_binary(&self, name: &str) -> Result<PathBuf> {
        self.optional(name)
    }

    fn optional(&self, name: &str) -> Result<PathBuf> {
        let beside = self.dir.join(name);
        if is_executable(&beside) {
            return Ok(beside);
        }
        let _one_build_at_a_time = self.build_lock.lock().unwrap_or_else(|p| p.into_inner());
        Ok(run_build_script(&[name])?.join(name))
    }
}

fn assets_from_env() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("KUBEBUILDER_ASSETS")?);
    let populated = is_executable(&dir.join("kube-apiserver")) && is_executable(&dir.join("etcd"));
    populated.then_some(dir)
}

/// Runs build.sh; its progress goes to our stderr (a cold build takes minutes), its last
/// stdout line is the directory.
fn run_build_script(names: &[&str]) -> Result<PathBuf> {
    let output = Command::new("bash")
        .arg(BUILD_SCRIPT)
        .args(names)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(Error::io(format!("run {BUILD_SCRIPT}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout.lines().last().unwrap_or("").trim();
    if !output.status.success() || dir.is_empty() {
        return Err(Error::Binaries(format!(
            "{BUILD_SCRIPT} {} exited with {} (its output is above)",
            names.join(" "),
            output.status
        )));
    }
    Ok(PathBuf::from(dir))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
