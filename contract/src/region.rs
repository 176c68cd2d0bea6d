//! The region an auth-server runs in.

use serde::{Deserialize, Serialize};

/// `region.json`: who this auth-server is and how it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegionConfig {
    /// The AuthRegion's name, e.g. `eu-west`; the `region` claim of users without a home region
    /// elsewhere comes from the tenant, never from here.
    pub name: String,
    /// This region's public base URL, as resource servers reach it.
    pub public_url: String,
    /// `Cache-Control: max-age` of JWKS responses. The operator's rotation schedule relies on
    /// it: a key is published at least this long (plus propagation) before it signs.
    #[serde(default = "RegionConfig::default_jwks_max_age")]
    pub jwks_max_age_seconds: u32,
}

impl RegionConfig {
    pub const DEFAULT_JWKS_MAX_AGE_SECONDS: u32 = 300;

    fn default_jwks_max_age() -> u32 {
        Self::DEFAULT_JWKS_MAX_AGE_SECONDS
    }
}
