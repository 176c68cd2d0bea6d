//! Reads the contract directory into a [`Snapshot`]: all files or nothing.
//!
//! Loading is all-or-nothing on purpose: a half-applied configuration could publish keys one
//! region lacks. This module must never log file contents, only file names and reasons.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meridian_contract::{REGION_FILE, RegionConfig, TenantFile};
use serde::de::DeserializeOwned;

use super::Snapshot;
use crate::tenant::{Tenant, TenantError, TenantFiles};

/// Why a configuration directory was refused; `reason()` is a short machine label.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("tenant {tenant}: {file} is missing")]
    MissingFile { tenant: String, file: String },
    #[error("tenant {tenant}: {file} declares id {id:?}")]
    IdMismatch {
        tenant: String,
        file: String,
        id: String,
    },
    #[error("tenant {tenant}: {source}")]
    Tenant { tenant: String, source: TenantError },
    #[error("tenants {first} and {second} share the issuer {issuer}")]
    DuplicateIssuer {
        first: String,
        second: String,
        issuer: String,
    },
}

impl LoadError {
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::Read { .. } => "ReadFailed",
            Self::Parse { .. } => "Malformed",
            Self::MissingFile { .. } => "MissingFile",
            Self::IdMismatch { .. } => "IdMismatch",
            Self::Tenant { source, .. } => source.reason(),
            Self::DuplicateIssuer { .. } => "DuplicateIssuer",
        }
    }
}

/// Reads and checks every file in `dir`.
pub fn load_dir(dir: &Path) -> Result<Snapshot, LoadError> {
    let region: RegionConfig = read_json(&dir.join(REGION_FILE))?;
    let mut names: BTreeMap<String, Vec<TenantFile>> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|source| read_error(dir, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| read_error(dir, source))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((tenant, kind)) = TenantFile::parse(&name) {
            names.entry(tenant.to_owned()).or_default().push(kind);
        }
    }
    let mut tenants = Vec::with_capacity(names.len());
    for (id, kinds) in names {
        tenants.push(Arc::new(load_tenant(dir, &id, &kinds)?));
    }
    refuse_duplicate_issuers(&tenants)?;
    Ok(Snapshot::new(region, tenants))
}

fn load_tenant(dir: &Path, id: &str, present: &[TenantFile]) -> Result<Tenant, LoadError> {
    let required = |kind: TenantFile| {
        if present.contains(&kind) {
            Ok(dir.join(kind.file_name(id)))
        } else {
            Err(LoadError::MissingFile {
                tenant: id.to_owned(),
                file: kind.file_name(id),
            })
        }
    };
    let optional = |kind: TenantFile| {
        present
            .contains(&kind)
            .then(|| dir.join(kind.file_name(id)))
    };
    let config: meridian_contract::TenantConfig = read_json(&required(TenantFile::Config)?)?;
    if config.id != id {
        let file = TenantFile::Config.file_name(id);
        return Err(LoadError::IdMismatch {
            tenant: id.to_owned(),
            file,
            id: config.id,
        });
    }
    let files = TenantFiles {
        config,
        keys: read_json(&required(TenantFile::Keys)?)?,
        // A tenant without confidential clients has no secrets; one whose users may not live
        // in this region has no directory here.
        clients: optional(TenantFile::Clients)
            .map(|p| read_json(&p))
            .transpose()?
            .unwrap_or_default(),
        users: optional(TenantFile::Users)
            .map(|p| read_json(&p))
            .transpose()?
            .unwrap_or_default(),
    };
    Tenant::build(files).map_err(|source| LoadError::Tenant {
        tenant: id.to_owned(),
        source,
    })
}

fn refuse_duplicate_issuers(tenants: &[Arc<Tenant>]) -> Result<(), LoadError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for tenant in tenants {
        let issuer = tenant.issuer().trim_end_matches('/');
        if let Some(first) = seen.insert(issuer, tenant.id()) {
            return Err(LoadError::DuplicateIssuer {
                first: first.to_owned(),
                second: tenant.id().to_owned(),
                issuer: issuer.to_owned(),
            });
        }
    }
    Ok(())
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| read_error(path, source))?;
    serde_json::from_slice(&bytes).map_err(|error| LoadError::Parse {
        path: path.to_owned(),
        detail: parse_detail(path, &error),
    })
}

/// serde's messages can quote the offending value; for files that hold secrets only the
/// position is reported so a log line never carries key material or hashes.
fn parse_detail(path: &Path, error: &serde_json::Error) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let secret = TenantFile::parse(&name).is_some_and(|(_, kind)| kind.is_secret());
    if secret {
        format!(
            "{:?} error at line {} column {}",
            error.classify(),
            error.line(),
            error.column()
        )
    } else {
        error.to_string()
    }
}

fn read_error(path: &Path, source: std::io::Error) -> LoadError {
    LoadError::Read {
        path: path.to_owned(),
        source,
    }
}
