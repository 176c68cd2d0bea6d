//! The two controllers and what they share. The AuthRegion controller writes regions; the
//! Tenant controller writes the hub's key rings and Tenant status.

mod context;
mod publish;
mod region;
mod renders;
mod retry;
mod select;
mod sync_state;
mod tenant;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use thiserror::Error;

use crate::duration::InvalidDuration;
use crate::edge::hub::KeyRingError;
use crate::edge::region::RegionError;

pub use crate::rotation::ROTATE_ANNOTATION;
pub use context::Context;
pub use retry::error_policy;
pub use sync_state::SyncState;

/// Finalizer on Tenants and AuthRegions: what they created in regions goes before they do.
pub const FINALIZER: &str = "meridian.dev/cleanup";

/// `object` as it is once kube's finalizer helper has added [`FINALIZER`], when it is live and
/// lacks it. The helper only adds it, and applies when the change comes back; a finalizer
/// change triggers neither controller (see the runtime), so the caller applies this at once.
/// Waiting cost a fresh AuthRegion its first pass for a whole trigger window (15 s at 10,000
/// Tenants), and each new Tenant a second reconcile.
fn finalizer_to_add<K: kube::Resource + Clone>(object: &K) -> Option<K> {
    let meta = object.meta();
    let has = meta.finalizers.iter().flatten().any(|f| f == FINALIZER);
    (meta.deletion_timestamp.is_none() && !has).then(|| {
        let mut object = object.clone();
        object
            .meta_mut()
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(FINALIZER.to_owned());
        object
    })
}

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
    /// The region could not be converged; its status says why and it keeps what it had.
    #[error(transparent)]
    Region(#[from] RegionError),
    #[error("spec cannot be used: {0}")]
    InvalidSpec(#[from] InvalidDuration),
    #[error(transparent)]
    KeyRing(#[from] KeyRingError),
    /// Someone else wrote the key ring since it was read: the next attempt plans from theirs.
    #[error("key ring Secret {0} changed while planning; planning again")]
    KeyRingChanged(String),
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
            Self::Region(error) => error.reason(),
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::KeyRing(error) => error.reason(),
            Self::KeyRingChanged(_) => "KeyRingChanged",
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
pub use tenant::{provision_key_rings, reconcile as reconcile_tenant};

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::ObjectMeta;

    use super::*;

    fn object(finalizers: &[&str], deleting: bool) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                finalizers: Some(finalizers.iter().map(|f| (*f).to_owned()).collect()),
                deletion_timestamp: deleting.then(now),
                ..ObjectMeta::default()
            },
            ..ConfigMap::default()
        }
    }

    #[test]
    fn a_live_object_without_the_finalizer_is_applied_as_it_is_once_added() {
        let added = finalizer_to_add(&object(&["other"], false)).expect("to add");
        assert_eq!(
            added.metadata.finalizers,
            Some(vec!["other".to_owned(), FINALIZER.to_owned()])
        );
        assert!(finalizer_to_add(&ConfigMap::default()).is_some());
        assert!(finalizer_to_add(&object(&[FINALIZER], false)).is_none());
        assert!(
            finalizer_to_add(&object(&[], true)).is_none(),
            "being deleted: kube's helper cleans up, adds nothing"
        );
    }
}
