//! The files of one cluster inside the test's temporary directory: certificates, keys, the
//! audit policy and log, kubeconfigs and component logs.
//!
//! Only paths and writing live here; what goes into the files is decided by `pki`,
//! `kubeconfig` and `audit`. Private keys are written mode 0600.

use std::{
    io::Write,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub(crate) struct ClusterFiles {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub service_account_key: PathBuf,
    pub service_account_public_key: PathBuf,
    pub audit_policy: PathBuf,
    pub audit_log: PathBuf,
    pub admin_kubeconfig: PathBuf,
    pub controller_manager_kubeconfig: PathBuf,
    pub scheduler_kubeconfig: PathBuf,
    pub apiserver_log: PathBuf,
    pub controller_manager_log: PathBuf,
    pub scheduler_log: PathBuf,
}

impl ClusterFiles {
    pub fn create(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(Error::io(format!("create {}", dir.display())))?;
        let at = |name: &str| dir.join(name);
        Ok(Self {
            ca_cert: at("ca.crt"),
            serving_cert: at("serving.crt"),
            serving_key: at("serving.key"),
            service_account_key: at("service-account.key"),
            service_account_public_key: at("service-account.pub"),
            audit_policy: at("audit-policy.yaml"),
            audit_log: at("audit.log"),
            admin_kubeconfig: at("kubeconfig"),
            controller_manager_kubeconfig: at("controller-manager.kubeconfig"),
            scheduler_kubeconfig: at("scheduler.kubeconfig"),
            apiserver_log: at("kube-apiserver.log"),
            controller_manager_log: at("kube-controller-manager.log"),
            scheduler_log: at("kube-scheduler.log"),
            dir,
        })
    }

    /// Writes a file readable by its owner only (keys, kubeconfigs with client keys).
    pub fn write_private(path: &Path, contents: &str) -> Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(Error::io(format!("create {}", path.display())))?;
        file.write_all(contents.as_bytes())
            .map_err(Error::io(format!("write {}", path.display())))
    }

    pub fn write_public(path: &Path, contents: &str) -> Result<()> {
        std::fs::write(path, contents).map_err(Error::io(format!("write {}", path.display())))
    }
}
