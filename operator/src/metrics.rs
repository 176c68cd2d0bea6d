//! Prometheus metrics of the operator: reconciles, errors and durations per controller and
//! region (the region label is empty for the tenant controller, so cardinality stays bounded
//! by the number of regions, not tenants).

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Target {
    controller: &'static str,
    region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Failure {
    controller: &'static str,
    region: String,
    reason: &'static str,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    reconciles: Family<Target, Counter>,
    errors: Family<Failure, Counter>,
    durations: Family<Target, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let reconciles = Family::<Target, Counter>::default();
        let errors = Family::<Failure, Counter>::default();
        let durations = Family::<Target, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        let mut registry = Registry::with_prefix("meridian_operator");
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Reconciles that failed, by reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time per reconcile",
            durations.clone(),
        );
        Self {
            registry: Arc::new(registry),
            reconciles,
            errors,
            durations,
        }
    }
}

impl Metrics {
    /// Starts timing a reconcile; the measurement is recorded by [`ReconcileTimer::finish`].
    pub fn start(&self, controller: &'static str, region: &str) -> ReconcileTimer {
        ReconcileTimer {
            metrics: self.clone(),
            target: Target {
                controller,
                region: region.to_owned(),
            },
            started: Instant::now(),
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

pub struct ReconcileTimer {
    metrics: Metrics,
    target: Target,
    started: Instant,
}

impl ReconcileTimer {
    /// Records the reconcile, and its failure reason when it failed.
    pub fn finish(self, failure: Option<&'static str>) {
        self.metrics.reconciles.get_or_create(&self.target).inc();
        self.metrics
            .durations
            .get_or_create(&self.target)
            .observe(self.started.elapsed().as_secs_f64());
        if let Some(reason) = failure {
            let failure = Failure {
                controller: self.target.controller,
                region: self.target.region.clone(),
                reason,
            };
            self.metrics.errors.get_or_create(&failure).inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_and_errors_are_exported_per_controller_and_region() {
        let metrics = Metrics::default();
        metrics.start("region", "eu-west").finish(None);
        metrics
            .start("region", "us-east")
            .finish(Some("Unreachable"));
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"meridian_operator_reconciles_total{controller="region",region="eu-west"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"meridian_operator_reconcile_errors_total{controller="region",region="us-east",reason="Unreachable"} 1"#), "{text}");
        assert!(text.contains("meridian_operator_reconcile_duration_seconds_bucket"));
    }
}
