//! The two controllers and what they share. The AuthRegion controller writes regions; the
//! Tenant controller writes the hub's key rings and Tenant status.

mod conditions;
mod context;
mod publish;
mod region;
mod region_status;
mod rotate;
mod select;
mod serving;
mod sync_state;
mod tenant;
mod tenant_status;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use thiserror::Error;

pub use context::Context;
pub use rotate::ROTATE_ANNOTATION;
pub use sync_state::SyncState;

/// Finalizer on Tenants and AuthRegions: what they created in regions goes before they do.
pub const FINALIZER: &str = "meridian.dev/cleanup";

#[derive(Debug, Error)]
pub enum ReconcileError {
    #[error("hub API: {0}")]
    Hub(#[source] kube::Error),
    #[error(transparent)]
    Finalizer(#[from] Box<kube::runtime::finalizer::Error<ReconcileError>>),
    /// Cleanup is not finished. kube's finalizer helper removes the finalizer whenever cleanup
    /// returns `Ok`, so "not yet" has to travel as an error, retried by the error policy.
    #[error("cleanup pending: {0}")]
    CleanupPending(String),
    #[error("spec cannot be used: {0}")]
    InvalidSpec(String),
    #[error("{0}")]
    KeyRing(String),
}

impl From<kube::runtime::finalizer::Error<ReconcileError>> for ReconcileError {
    fn from(error: kube::runtime::finalizer::Error<ReconcileError>) -> Self {
        Self::Finalizer(Box::new(error))
    }
}

impl ReconcileError {
    /// The error a reconcile itself returned, seen through kube's finalizer wrapper.
    pub fn inner(&self) -> &Self {
        match self {
            Self::Finalizer(error) => match error.as_ref() {
                kube::runtime::finalizer::Error::CleanupFailed(inner)
                | kube::runtime::finalizer::Error::ApplyFailed(inner) => inner.inner(),
                _ => self,
            },
            other => other,
        }
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Self::Hub(_) => "HubApiError",
            Self::Finalizer(_) if !std::ptr::eq(self.inner(), self) => self.inner().reason(),
            Self::Finalizer(_) => "FinalizerError",
            Self::CleanupPending(_) => "CleanupPending",
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::KeyRing(_) => "KeyRingError",
        }
    }
}

pub(crate) fn now() -> Time {
    Time(k8s_openapi::jiff::Timestamp::now())
}

pub(crate) fn unix_now() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_second()
}

pub use region::reconcile as reconcile_region;
pub use tenant::reconcile as reconcile_tenant;
