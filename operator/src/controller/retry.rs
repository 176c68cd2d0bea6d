//! The one retry policy of both controllers, applied by their error policy: a failing object
//! is retried after 2 s, doubling to 30 s while it keeps failing, so a region or Secret that
//! comes back is picked up within half a minute. Cleanup waiting on deletions polls every 2 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use super::{Context, ReconcileError};

const FIRST_RETRY: Duration = Duration::from_secs(2);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// Consecutive failures per object, keyed by kind and name.
#[derive(Debug, Default)]
pub struct Retries(Mutex<HashMap<String, u32>>);

impl Retries {
    /// The delay before the next attempt at `key`, after one more failure.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.0.lock().expect("retries lock");
        let count = failures.entry(key.to_owned()).or_insert(0);
        *count = (*count + 1).min(5);
        (FIRST_RETRY * 2u32.pow(*count - 1)).min(LONGEST_RETRY)
    }

    pub fn succeeded(&self, key: &str) {
        self.0.lock().expect("retries lock").remove(key);
    }
}

/// The key an object's failures are counted under.
pub fn retry_key<K: Resource<DynamicType = ()>>(object: &K) -> String {
    format!("{}/{}", K::kind(&()), object.name_any())
}

/// The controllers' error policy. Every failure was already recorded where users look (status,
/// Events) and in `meridian_operator_reconcile_errors_total`; this only decides when to retry.
pub fn error_policy<K: Resource<DynamicType = ()>>(
    object: Arc<K>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let key = retry_key(object.as_ref());
    match error.inner() {
        ReconcileError::CleanupPending(why) => {
            tracing::info!(object = %key, %why, "cleanup pending");
            Action::requeue(FIRST_RETRY)
        }
        error => {
            let retry_in = ctx.retries.failed(&key);
            tracing::warn!(object = %key, reason = error.reason(), %error, ?retry_in, "reconcile failed; retrying");
            Action::requeue(retry_in)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_from_two_seconds_to_thirty_and_start_over_after_a_success() {
        let retries = Retries::default();
        let delays: Vec<u64> = (0..7)
            .map(|_| retries.failed("AuthRegion/eu").as_secs())
            .collect();
        assert_eq!(delays, [2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(
            retries.failed("Tenant/eu").as_secs(),
            2,
            "counted per object"
        );
        retries.succeeded("AuthRegion/eu");
        assert_eq!(retries.failed("AuthRegion/eu").as_secs(), 2);
    }
}
