//! The desired state of a region, computed without I/O.
//!
//! Two pure stages: each Tenant becomes its contract files ([`tenant_files`]), then a region's
//! placed tenants' files become the Kubernetes objects of that region ([`desired_region`]).
//! The split lets the reconciler substitute a tenant's last good files, read back from the
//! region, when the hub's inputs for it are broken. Nothing here may touch the network, the
//! clock or the filesystem: it is unit-tested from YAML.

mod error;
mod files;
mod labels;
mod placement;
mod region;
mod shards;
mod tenant_config;
mod tenant_files;
mod workload;

pub use error::RenderError;
pub use files::{DesiredFile, DesiredFiles, FilesObject};
pub use labels::{
    Labels, MANAGED_BY, MANAGED_BY_LABEL, REGION_LABEL, TENANT_LABEL, managed_by_selector,
};
pub use placement::{Placement, placement};
pub use region::{
    DesiredRegion, PlacedTenant, REGION_CONFIG_MAP, desired_region, desired_region_sized,
};
pub use tenant_config::{issuer, tenant_config, token_lifetimes};
pub use tenant_files::{TenantFiles, TenantInputs, tenant_files};

#[cfg(test)]
mod tests;
