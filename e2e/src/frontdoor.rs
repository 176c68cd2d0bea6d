//! The issuer's front door on this machine: HAProxy listening on the issuer's address, its
//! config rendered by `meridian-routing` from the hub's Tenants and AuthRegions, so discovery,
//! JWKS, token and login pages all answer at the issuer URL, from one region at a time.
//!
//! It reads only what a platform team's pipeline would (the CRs in the hub) and decides
//! residency by the operator's own placement rule, never a copy of it.

use std::path::Path;

use anyhow::Context;
use kube::api::ListParams;
use kube::{Api, Client};
use meridian_operator::api::{AuthRegion, Tenant};
use meridian_operator::render::{Placement, placement};
use meridian_routing::{FrontDoor, FrontDoorRegion, FrontDoorTenant, HealthCheck};

use crate::haproxy::HaProxy;

pub use meridian_routing::frontdoor::SERVED_BY_HEADER;

/// The front door's inputs from the hub: every AuthRegion (in `order`, any other after it by
/// name) and every Tenant with an issuer, routed to the regions it is placed in.
pub async fn front_door_from_hub(
    hub: &Client,
    bind: &str,
    order: &[&str],
) -> anyhow::Result<FrontDoor> {
    let regions = Api::<AuthRegion>::all(hub.clone())
        .list(&ListParams::default())
        .await
        .context("listing AuthRegions")?
        .items;
    let tenants = Api::<Tenant>::all(hub.clone())
        .list(&ListParams::default())
        .await
        .context("listing Tenants")?
        .items;
    let (door, unrouted) = front_door(regions, &tenants, bind, order);
    for tenant in unrouted {
        tracing::warn!(%tenant, "not routed by the front door: placed in no region");
    }
    Ok(door)
}

/// The front door for `regions` and `tenants`, and the tenants left out because no region may
/// serve them (residency excludes every region they list, or none exists yet): one such tenant
/// must not keep the front door from being rendered for all the others.
pub fn front_door(
    mut regions: Vec<AuthRegion>,
    tenants: &[Tenant],
    bind: &str,
    order: &[&str],
) -> (FrontDoor, Vec<String>) {
    let rank = |name: &str| order.iter().position(|r| *r == name).unwrap_or(order.len());
    regions.sort_by_key(|r| {
        let name = r.metadata.name.clone().unwrap_or_default();
        (rank(&name), name)
    });
    let mut routed = Vec::new();
    let mut unrouted = Vec::new();
    for tenant in tenants {
        let Some(issuer) = tenant.status.as_ref().and_then(|s| s.issuer.clone()) else {
            continue;
        };
        let name = tenant.metadata.name.clone().unwrap_or_default();
        let placed: Vec<String> = regions
            .iter()
            .filter(|r| {
                let name = r.metadata.name.as_deref().unwrap_or_default();
                placement(&tenant.spec, name, &r.spec) == Placement::Placed
            })
            .filter_map(|r| r.metadata.name.clone())
            .collect();
        if placed.is_empty() {
            unrouted.push(name);
            continue;
        }
        routed.push(FrontDoorTenant {
            name,
            issuer,
            home_region: tenant.spec.home_region.clone(),
            regions: placed,
        });
    }
    let door = FrontDoor {
        bind: bind.to_owned(),
        tls_certificate: None,
        regions: regions
            .iter()
            .map(|r| FrontDoorRegion {
                name: r.metadata.name.clone().unwrap_or_default(),
                public_url: r.spec.public_url.clone(),
            })
            .collect(),
        tenants: routed,
        check: HealthCheck::default(),
    };
    (door, unrouted)
}

/// HAProxy serving the issuer's host.
pub struct IssuerFrontDoor {
    haproxy: HaProxy,
    url: String,
    door: FrontDoor,
}

impl IssuerFrontDoor {
    /// Starts HAProxy on `url`'s address (`http://127.0.0.1:<port>`) with files in `dir`.
    pub async fn start(dir: &Path, url: &str, door: FrontDoor) -> anyhow::Result<Self> {
        let config = door.render().context("rendering the front door's config")?;
        let haproxy = HaProxy::start("frontdoor", dir, &config, &door.bind).await?;
        Ok(Self {
            haproxy,
            url: url.trim_end_matches('/').to_owned(),
            door,
        })
    }

    /// Loads new inputs (a tenant added, a region moved) into the running HAProxy.
    pub fn update(&mut self, door: FrontDoor) -> anyhow::Result<()> {
        let config = door.render().context("rendering the front door's config")?;
        self.haproxy.reload(&config)?;
        self.door = door;
        Ok(())
    }

    /// The issuer base URL it answers on.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn inputs(&self) -> &FrontDoor {
        &self.door
    }

    pub fn haproxy(&self) -> &HaProxy {
        &self.haproxy
    }
}

/// GETs `url` and returns the status and the region the front door says answered.
pub async fn served_by(url: &str) -> anyhow::Result<(u16, Option<String>)> {
    let response = crate::tokens::http_client()
        .get(url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let region = response
        .headers()
        .get(SERVED_BY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((response.status().as_u16(), region))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(name: &str, jurisdiction: &str) -> AuthRegion {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "meridian.dev/v1alpha1", "kind": "AuthRegion",
            "metadata": {"name": name},
            "spec": {"publicUrl": format!("http://{name}.example"), "jurisdiction": jurisdiction}
        }))
        .unwrap()
    }

    fn tenant(name: &str, regions: &[&str], residency: Option<&[&str]>) -> Tenant {
        let mut spec = serde_json::json!({"regions": regions, "homeRegion": regions[0]});
        if let Some(residency) = residency {
            spec["dataResidency"] = serde_json::json!(residency);
        }
        serde_json::from_value(serde_json::json!({
            "apiVersion": "meridian.dev/v1alpha1", "kind": "Tenant",
            "metadata": {"name": name}, "spec": spec,
            "status": {"issuer": format!("http://127.0.0.1:18440/t/{name}")}
        }))
        .unwrap()
    }

    #[test]
    fn residency_decides_the_regions_and_a_tenant_placed_nowhere_is_left_out_alone() {
        let regions = vec![
            region("us-east", "US"),
            region("eu-west", "EU"),
            region("eu-north", "EU"),
        ];
        let tenants = [
            tenant("acme", &["eu-west", "us-east", "eu-north"], Some(&["EU"])),
            tenant("globex", &["us-east", "eu-west"], None),
            // Listed only in a region its residency excludes: nowhere to route it.
            tenant("initech", &["us-east"], Some(&["EU"])),
        ];
        let (door, unrouted) =
            front_door(regions, &tenants, "127.0.0.1:0", &["eu-west", "us-east"]);
        assert_eq!(unrouted, ["initech"]);
        let order = |name: &str| -> Vec<String> {
            let tenant = door.tenants.iter().find(|t| t.name == name).unwrap();
            door.failover_order(tenant)
                .unwrap()
                .iter()
                .map(|r| r.name.clone())
                .collect()
        };
        assert_eq!(
            order("acme"),
            ["eu-west", "eu-north"],
            "never outside the EU"
        );
        assert_eq!(
            order("globex"),
            ["us-east", "eu-west"],
            "home first, then the order"
        );
        let config = door.render().expect("the others still render");
        assert!(config.contains("globex"));
        assert!(!config.contains("initech"));
    }
}
