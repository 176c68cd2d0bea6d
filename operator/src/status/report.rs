//! What a region's reconcile reports about itself and each tenant placed there: the facts the
//! status builders read. Problems stay typed until a builder turns them into a condition's
//! reason and message, so reasons come from the error, never from matching its text.

use std::collections::BTreeMap;

use meridian_contract::Revision;
use thiserror::Error;

use crate::edge::hub::InputError;
use crate::edge::region::RegionError;
use crate::render::RenderError;

/// One region's last outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionSync {
    /// Why the region could not be synced, when it could not.
    pub error: Option<RegionError>,
    /// Tenants placed in the region, by name.
    pub tenants: BTreeMap<String, TenantInRegion>,
}

/// A tenant as one region serves it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantInRegion {
    /// The Tenant generation whose files the region holds; `None` when it serves last good
    /// files from an earlier generation.
    pub generation: Option<i64>,
    /// Why the tenant's current files could not be made, when they could not: the region then
    /// serves its last good files (`serving`) or none.
    pub problem: Option<TenantProblem>,
    /// Whether the region holds files of the tenant at all.
    pub serving: bool,
    /// The revision of the tenant's files the region was given (the current ones or the last
    /// good ones it keeps); `None` when it holds none. Its auth-server serves the tenant as
    /// written once it reports this revision.
    pub revision: Option<Revision>,
}

impl TenantInRegion {
    /// The problem as users read it: what the region does about it, then why.
    pub fn problem_message(&self) -> Option<String> {
        let problem = self.problem.as_ref()?;
        Some(if self.serving {
            format!("serving the last good configuration: {problem}")
        } else {
            format!("not served: {problem}")
        })
    }
}

/// One tenant's part of a region's last outcome ([`crate::controller::SyncState::tenant`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantReport {
    pub error: Option<RegionError>,
    pub entry: Option<TenantInRegion>,
}

/// Why a tenant's files cannot be made from the hub's current inputs.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TenantProblem {
    /// A Secret the Tenant references is missing or malformed.
    #[error(transparent)]
    Inputs(#[from] InputError),
    /// The inputs are there but the files would be refused.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl TenantProblem {
    /// Whether the tenant only waits for its first key ring, which the Tenant controller is
    /// creating: part of its first convergence, not a problem.
    pub fn awaits_key_ring(&self) -> bool {
        matches!(self, Self::Inputs(InputError::KeyRingPending { .. }))
    }

    /// Short machine reason, for a region's entry in Tenant status.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Inputs(error) => error.reason(),
            Self::Render(error) => error.reason(),
        }
    }
}
