//! Whether a Tenant is served from a region: it must list the region, and the region's
//! jurisdiction must be one the tenant's data may live in.

use crate::api::{AuthRegionSpec, TenantSpec};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    Placed,
    /// The tenant does not list this region.
    NotListed,
    /// Listed, but the region's jurisdiction (if any) is not among the tenant's dataResidency.
    ResidencyExcluded {
        jurisdiction: Option<String>,
    },
}

pub fn placement(tenant: &TenantSpec, region_name: &str, region: &AuthRegionSpec) -> Placement {
    if !tenant.regions.iter().any(|r| r == region_name) {
        return Placement::NotListed;
    }
    match (&tenant.data_residency, &region.jurisdiction) {
        (None, _) => Placement::Placed,
        (Some(allowed), Some(jurisdiction)) if allowed.contains(jurisdiction) => Placement::Placed,
        // A region that declares no jurisdiction cannot prove it satisfies a restriction.
        (Some(_), jurisdiction) => Placement::ResidencyExcluded {
            jurisdiction: jurisdiction.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(yaml: &str) -> TenantSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn region(jurisdiction: Option<&str>) -> AuthRegionSpec {
        let mut spec: AuthRegionSpec =
            serde_yaml::from_str("publicUrl: https://r.example").unwrap();
        spec.jurisdiction = jurisdiction.map(str::to_owned);
        spec
    }

    #[test]
    fn a_listed_region_without_restriction_is_placed() {
        let t = tenant("{regions: [eu], homeRegion: eu}");
        assert_eq!(placement(&t, "eu", &region(None)), Placement::Placed);
        assert_eq!(placement(&t, "us", &region(None)), Placement::NotListed);
    }

    #[test]
    fn residency_excludes_other_and_unknown_jurisdictions() {
        let t = tenant("{regions: [eu, us, xx], homeRegion: eu, dataResidency: [EU]}");
        assert_eq!(placement(&t, "eu", &region(Some("EU"))), Placement::Placed);
        assert_eq!(
            placement(&t, "us", &region(Some("US"))),
            Placement::ResidencyExcluded {
                jurisdiction: Some("US".into())
            }
        );
        assert_eq!(
            placement(&t, "xx", &region(None)),
            Placement::ResidencyExcluded { jurisdiction: None }
        );
    }
}
