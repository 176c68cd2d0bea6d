//! Reads the contract directory into a [`Snapshot`], one tenant at a time.
//!
//! Each tenant stands alone: a tenant whose files are invalid is refused by itself and keeps
//! serving its last good state (or stays absent if it never had one), while every other
//! tenant's change loads. A tenant is identified by the [`Revision`] of its files, so a reload
//! re-reads every file but parses, validates and builds only tenants whose bytes changed: the
//! cost follows the change, not the region's size. Only `region.json` can refuse the whole
//! directory. This module must never log file contents, only file names and reasons.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meridian_contract::{REGION_FILE, RegionConfig, Revision, TenantFile};
use serde::de::DeserializeOwned;

use super::Snapshot;
use crate::tenant::{ParsedTenantFiles, Tenant, TenantError};

/// Why the directory as a whole, or one tenant in it, was refused; `reason()` is a short
/// machine label.
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
    #[error("tenant {second}: its issuer {issuer} is already tenant {first}'s")]
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

/// A tenant that could not be served at its current revision.
#[derive(Debug)]
pub struct Refusal {
    pub tenant: String,
    pub revision: Revision,
    pub error: LoadError,
    /// Whether an earlier revision of the tenant keeps serving.
    pub serving_previous: bool,
}

/// The outcome of one pass over the directory.
#[derive(Debug)]
pub struct Loaded {
    pub snapshot: Snapshot,
    pub refused: Vec<Refusal>,
    /// Tenants parsed and built this pass (new or changed); the others were reused.
    pub built: usize,
}

/// Reads every file in `dir`; tenants whose revision equals their entry in `previous` are
/// reused as they are. Fails only when `region.json` or the directory itself cannot be read.
pub fn load_dir(dir: &Path, previous: Option<&Snapshot>) -> Result<Loaded, LoadError> {
    let region: RegionConfig = read_json(&dir.join(REGION_FILE))?;
    let previous: HashMap<&str, &Arc<Tenant>> = previous
        .map(|s| s.tenants().iter().map(|t| (t.id(), t)).collect())
        .unwrap_or_default();
    let mut refused = Vec::new();
    let mut reused = Vec::new();
    let mut fresh = Vec::new();
    for (id, kinds) in tenant_files_in(dir)? {
        let old = previous.get(id.as_str()).copied();
        let files = match read_tenant(dir, &id, &kinds) {
            Ok(files) => files,
            Err((revision, error)) => {
                refused.push(refusal(&id, revision, error, old));
                reused.extend(old.cloned());
                continue;
            }
        };
        let revision = Revision::of(files.iter().map(|(kind, bytes)| (*kind, bytes.as_slice())));
        match old {
            Some(old) if old.revision == revision => reused.push(old.clone()),
            _ => match build_tenant(dir, &id, &files, revision.clone()) {
                Ok(tenant) => fresh.push((Arc::new(tenant), old)),
                Err(error) => {
                    refused.push(refusal(&id, revision, error, old));
                    reused.extend(old.cloned());
                }
            },
        }
    }
    let built = fresh.len();
    let tenants = claim_issuers(reused, fresh, &mut refused);
    Ok(Loaded {
        snapshot: Snapshot::new(region, tenants),
        refused,
        built,
    })
}

fn refusal(id: &str, revision: Revision, error: LoadError, old: Option<&Arc<Tenant>>) -> Refusal {
    Refusal {
        tenant: id.to_owned(),
        revision,
        error,
        serving_previous: old.is_some(),
    }
}

/// Every tenant's files present in `dir`, by tenant id.
fn tenant_files_in(dir: &Path) -> Result<BTreeMap<String, Vec<TenantFile>>, LoadError> {
    let mut names: BTreeMap<String, Vec<TenantFile>> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|source| read_error(dir, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| read_error(dir, source))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((tenant, kind)) = TenantFile::parse(&name) {
            names.entry(tenant.to_owned()).or_default().push(kind);
        }
    }
    Ok(names)
}

type TenantBytes = Vec<(TenantFile, Vec<u8>)>;

/// The raw bytes of one tenant's files; on failure, the revision of what could be read (so a
/// broken tenant is reported once per change, not once per pass) and why.
fn read_tenant(
    dir: &Path,
    id: &str,
    kinds: &[TenantFile],
) -> Result<TenantBytes, (Revision, LoadError)> {
    let mut files = Vec::with_capacity(kinds.len());
    for kind in kinds {
        let path = dir.join(kind.file_name(id));
        match std::fs::read(&path) {
            Ok(bytes) => files.push((*kind, bytes)),
            // Kubernetes removed it between listing and reading: the next pass sees the swap.
            Err(source) => {
                let revision = Revision::of(files.iter().map(|(k, b)| (*k, b.as_slice())));
                return Err((revision, read_error(&path, source)));
            }
        }
    }
    Ok(files)
}

fn build_tenant(
    dir: &Path,
    id: &str,
    files: &TenantBytes,
    revision: Revision,
) -> Result<Tenant, LoadError> {
    let bytes = |kind: TenantFile| {
        files
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, b)| b.as_slice())
    };
    let required = |kind: TenantFile| {
        bytes(kind).ok_or_else(|| LoadError::MissingFile {
            tenant: id.to_owned(),
            file: kind.file_name(id),
        })
    };
    let path = |kind: TenantFile| dir.join(kind.file_name(id));
    let config: meridian_contract::TenantConfig =
        parse_json(&path(TenantFile::Config), required(TenantFile::Config)?)?;
    if config.id != id {
        let file = TenantFile::Config.file_name(id);
        return Err(LoadError::IdMismatch {
            tenant: id.to_owned(),
            file,
            id: config.id,
        });
    }
    let keys = parse_json(&path(TenantFile::Keys), required(TenantFile::Keys)?)?;
    // A tenant without confidential clients has no secrets; one whose users may not live in
    // this region has no directory here.
    let clients = match bytes(TenantFile::Clients) {
        Some(b) => parse_json(&path(TenantFile::Clients), b)?,
        None => Default::default(),
    };
    let users = match bytes(TenantFile::Users) {
        Some(b) => parse_json(&path(TenantFile::Users), b)?,
        None => Default::default(),
    };
    let files = ParsedTenantFiles {
        config,
        keys,
        clients,
        users,
    };
    Tenant::build(files, revision).map_err(|source| LoadError::Tenant {
        tenant: id.to_owned(),
        source,
    })
}

/// Gives each issuer to one tenant. Reused tenants (unchanged, or kept at their last good
/// revision) already owned theirs in the previous snapshot, so they claim first; a new or
/// changed tenant that takes an issuer already claimed is refused and keeps its own last good
/// state when that does not collide too.
fn claim_issuers(
    reused: Vec<Arc<Tenant>>,
    fresh: Vec<(Arc<Tenant>, Option<&Arc<Tenant>>)>,
    refused: &mut Vec<Refusal>,
) -> Vec<Arc<Tenant>> {
    let mut owners: HashMap<String, String> = HashMap::new();
    let mut tenants = Vec::with_capacity(reused.len() + fresh.len());
    let claim = |tenant: &Arc<Tenant>, owners: &mut HashMap<String, String>| {
        let issuer = tenant.issuer().trim_end_matches('/').to_owned();
        match owners.get(&issuer) {
            Some(first) => Err(LoadError::DuplicateIssuer {
                first: first.clone(),
                second: tenant.id().to_owned(),
                issuer,
            }),
            None => {
                owners.insert(issuer, tenant.id().to_owned());
                Ok(())
            }
        }
    };
    for tenant in reused {
        if claim(&tenant, &mut owners).is_ok() {
            tenants.push(tenant);
        }
    }
    for (tenant, old) in fresh {
        match claim(&tenant, &mut owners) {
            Ok(()) => tenants.push(tenant),
            Err(error) => {
                let old = old.filter(|old| claim(old, &mut owners).is_ok());
                refused.push(refusal(tenant.id(), tenant.revision.clone(), error, old));
                if let Some(old) = old {
                    tenants.push(old.clone());
                }
            }
        }
    }
    tenants
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| read_error(path, source))?;
    parse_json(path, &bytes)
}

fn parse_json<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, LoadError> {
    serde_json::from_slice(bytes).map_err(|error| LoadError::Parse {
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

#[cfg(test)]
mod tests;
