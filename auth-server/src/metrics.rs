//! Prometheus metrics: tokens issued by tenant and grant, errors by RFC code, request latency
//! by endpoint, and whether the grant store answers. Labels are bounded (tenant ids, fixed names); never a client-supplied
//! value, never a token.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct IssuedLabels {
    tenant: String,
    grant: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ErrorLabels {
    code: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

pub struct Metrics {
    registry: Registry,
    issued: Family<IssuedLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    latency: Family<EndpointLabels, Histogram>,
    store_up: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("meridian_auth");
        let issued = Family::<IssuedLabels, Counter>::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to ~400 ms.
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.00005, 2.0, 14,
            ))
        });
        registry.register(
            "tokens_issued",
            "Tokens issued, by tenant and grant",
            issued.clone(),
        );
        registry.register(
            "oauth_errors",
            "OAuth error responses, by RFC error code",
            errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Request latency, by endpoint",
            latency.clone(),
        );
        let store_up = Gauge::default();
        registry.register(
            "store_up",
            "1 while the grant store answers, 0 while it does not (client_credentials is served either way)",
            store_up.clone(),
        );
        Self {
            registry,
            issued,
            errors,
            latency,
            store_up,
        }
    }
}

impl Metrics {
    pub fn token_issued(&self, tenant: &str, grant: &'static str) {
        self.issued
            .get_or_create(&IssuedLabels {
                tenant: tenant.to_owned(),
                grant,
            })
            .inc();
    }

    pub fn error(&self, code: &'static str) {
        self.errors.get_or_create(&ErrorLabels { code }).inc();
    }

    pub fn observe(&self, endpoint: &'static str, elapsed: Duration) {
        self.latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(elapsed.as_secs_f64());
    }

    pub fn store_up(&self, up: bool) {
        self.store_up.set(i64::from(up));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}
