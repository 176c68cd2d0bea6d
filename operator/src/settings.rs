//! Operator-wide settings, from flags and environment, shared by every controller.

use std::time::Duration;

/// Settings every reconcile reads; immutable while the operator runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Namespace of the operator in the hub: the only place Secrets are read from and key rings
    /// are kept.
    pub namespace: String,
    /// Base of derived issuers: a Tenant without `spec.issuer` gets `<base>/t/<name>`.
    pub issuer_base_url: String,
    /// How often every region is re-read and repaired even without a change in the hub.
    pub resync: Duration,
    /// `Cache-Control: max-age` of the auth-servers' JWKS.
    pub jwks_max_age: Duration,
    /// How long a region may go without serving a tenant's current files (as read from its
    /// public URL) before the Tenant is Degraded, with a Warning Event naming the region.
    pub served_within: Duration,
    /// The longest a change the operator writes to a region takes to reach its auth-servers:
    /// the kubelet refreshes a mounted Secret on its pod sync, every `syncFrequency` plus up to
    /// half of it again. A staged key's activation is decided at least this long ahead, so a
    /// postponement is in every region before the key would sign.
    pub propagation: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            namespace: "meridian-system".into(),
            issuer_base_url: "https://auth.example.com".into(),
            resync: Duration::from_secs(60),
            jwks_max_age: Duration::from_secs(300),
            served_within: Duration::from_secs(120),
            // The kubelet's default syncFrequency (1 min) and its jitter.
            propagation: Duration::from_secs(90),
        }
    }
}

/// The one field manager of every server-side apply.
pub const FIELD_MANAGER: &str = "meridian-operator";
