//! The one contract between the Meridian operator and the auth-server.
//!
//! The operator renders these types into ConfigMaps and Secrets of a region cluster; the
//! auth-server reads them back from one mounted directory. Both sides import this crate, so the
//! schema exists exactly once. This crate depends on nothing beyond serde and a SHA-256 (for the
//! [`Revision`] digest): it is the seam, and a place for pure checks, never for I/O.
//!
//! # Files
//!
//! Everything lives flat in one directory (a projected volume, so Kubernetes swaps all files at
//! once through its `..data` symlink):
//!
//! | file                         | type             | carried by |
//! |------------------------------|------------------|------------|
//! | `region.json`                | [`RegionConfig`] | ConfigMap  |
//! | `<tenant>.tenant.json`       | [`TenantConfig`] | ConfigMap  |
//! | `<tenant>.keys.json`         | [`KeyRing`]      | Secret     |
//! | `<tenant>.clients.json`      | [`ClientSecrets`]| Secret     |
//! | `<tenant>.users.json`        | [`UserDirectory`]| Secret, only where residency allows |
//!
//! Per-tenant files (rather than one document for the region) keep every Kubernetes object far
//! below its 1 MiB limit however many tenants a region serves, and let the operator shard them
//! across as many ConfigMaps and Secrets as it needs without changing this contract.

mod files;
mod keyring;
mod region;
mod revision;
mod secrets;
mod tenant;
mod users;
mod validate;

pub use files::{REGION_FILE, TenantFile};
pub use keyring::{Algorithm, KeyRing, SigningKey, UnixSeconds};
pub use region::RegionConfig;
pub use revision::{REVISION_HEADER, Revision};
pub use secrets::{ClientSecrets, SecretDigest};
pub use tenant::{
    ClientAuthMethod, ClientConfig, ClientJwk, ClientJwks, ClientKind, GrantType, Scope,
    TenantConfig, TokenExchangePolicy, TokenLifetimes,
};
pub use users::{User, UserDirectory};
pub use validate::{
    Invalid, MAX_ACCESS_TOKEN_SECONDS, MAX_ID_TOKEN_SECONDS, MAX_REFRESH_TOKEN_SECONDS, Problem,
    RESERVED_CLAIMS, TenantFilesRef, validate_tenant,
};
