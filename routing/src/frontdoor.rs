//! The issuer's front door: one global host in front of every region, routing each tenant's
//! paths to one region at a time.
//!
//! Order, not balance: a tenant's requests go to its home region while that region serves the
//! tenant's discovery document, else to the first healthy one of its other regions in the
//! order the front door lists regions. Round-robin would break every stateful grant, since
//! codes, pending logins, SSO sessions and refresh tokens live in one region's store.
//! HAProxy's `backup` servers give exactly this: the first healthy backup, in declaration
//! order, takes the traffic only while the home region is down.
//!
//! Residency is the caller's input, not a rule applied here: a tenant's `regions` are the ones
//! the operator places it in (listed, and allowed by its data residency), so a region its data
//! may not live in never appears in its backend and can never be failed over to.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::haproxy::{RoutingError, Upstream, preamble, word};

/// A region as the front door reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontDoorRegion {
    pub name: String,
    /// The region's own URL (`AuthRegion.spec.publicUrl`), never the issuer's.
    pub public_url: String,
}

/// A tenant and where it may be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontDoorTenant {
    pub name: String,
    /// The issuer, identical in every region: its host and path select the tenant.
    pub issuer: String,
    pub home_region: String,
    /// The regions that serve the tenant: listed in its spec and allowed by its residency.
    pub regions: Vec<String>,
}

/// Active health checks: how soon a region is taken out, and how soon it is trusted again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthCheck {
    pub interval_ms: u32,
    /// Consecutive good checks before a region takes traffic back.
    pub rise: u8,
    /// Consecutive failed checks before a region is out.
    pub fall: u8,
    /// How long a connection to a region may take. It also bounds the pause a request sees
    /// when its region dies under it: HAProxy waits min(`timeout connect`, 1 s) before the
    /// retry that goes to the next region. Keep it above the front door's round trip to its
    /// farthest region.
    pub connect_timeout_ms: u32,
    /// Up to this many tenants, each tenant's servers are checked by the tenant's own discovery
    /// document. Beyond it, per-tenant checks would cost tenants × regions requests every
    /// interval (10,000 tenants in 3 regions: 60,000 a second), so every tenant's servers
    /// `track` their region's `/readyz` check instead: one check per region, and a region whose
    /// auth-server is up but does not serve one tenant is no longer seen for that tenant.
    pub per_tenant_up_to: usize,
}

impl Default for HealthCheck {
    /// A region is out about a second after it stops answering (sooner when a request's
    /// connection fails: that alone marks it down), and back a second after it answers again.
    fn default() -> Self {
        Self {
            interval_ms: 500,
            rise: 2,
            fall: 2,
            connect_timeout_ms: 250,
            per_tenant_up_to: 100,
        }
    }
}

/// Everything the front door's config is rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontDoor {
    /// The address to listen on, e.g. `127.0.0.1:18440` or `:443`.
    pub bind: String,
    /// A PEM with certificate and key to terminate TLS with; `None` serves plain HTTP.
    pub tls_certificate: Option<String>,
    /// Every region, in the fixed order a tenant fails over in after its home region.
    pub regions: Vec<FrontDoorRegion>,
    pub tenants: Vec<FrontDoorTenant>,
    pub check: HealthCheck,
}

/// The response header naming the region that answered, so clients and tests can see a
/// failover happen.
pub const SERVED_BY_HEADER: &str = "meridian-served-by";

impl FrontDoor {
    /// The regions `tenant` is routed to, preferred first: its home region (if it serves the
    /// tenant), then its other regions in the front door's order.
    pub fn failover_order<'a>(
        &'a self,
        tenant: &FrontDoorTenant,
    ) -> Result<Vec<&'a FrontDoorRegion>, RoutingError> {
        for region in &tenant.regions {
            if !self.regions.iter().any(|r| &r.name == region) {
                return Err(RoutingError::UnknownRegion {
                    tenant: tenant.name.clone(),
                    region: region.clone(),
                });
            }
        }
        let serves = |r: &&FrontDoorRegion| tenant.regions.contains(&r.name);
        let home = self
            .regions
            .iter()
            .filter(serves)
            .filter(|r| r.name == tenant.home_region);
        let others = self
            .regions
            .iter()
            .filter(serves)
            .filter(|r| r.name != tenant.home_region);
        let order: Vec<_> = home.chain(others).collect();
        if order.is_empty() {
            return Err(RoutingError::NoRegion {
                tenant: tenant.name.clone(),
            });
        }
        Ok(order)
    }

    /// The whole HAProxy config.
    pub fn render(&self) -> Result<String, RoutingError> {
        unique("region", self.regions.iter().map(|r| r.name.as_str()))?;
        unique("tenant", self.tenants.iter().map(|t| t.name.as_str()))?;
        let mut out = String::new();
        preamble(&mut out, "front door");
        let tls = match &self.tls_certificate {
            Some(path) => format!(" ssl crt {}", word("TLS certificate", path)?),
            None => String::new(),
        };
        let _ = writeln!(out, "frontend issuer");
        let _ = writeln!(out, "    bind {}{tls}", word("bind address", &self.bind)?);
        // The client's address for the regions' login throttling, which trusts it only from
        // the proxies an AuthRegion lists in authServer.trustedProxies.
        let _ = writeln!(out, "    option forwardfor");
        let _ = writeln!(
            out,
            "    http-response set-header {SERVED_BY_HEADER} %[srv_name]"
        );
        let mut backends = String::new();
        for tenant in &self.tenants {
            self.route_tenant(tenant, &mut out, &mut backends)?;
        }
        let _ = writeln!(out, "    default_backend {REGIONS_BACKEND}\n");
        out.push_str(&backends);
        let all: Vec<_> = self.regions.iter().collect();
        // Paths of no tenant (/healthz, a typo) go to the first ready region.
        let readyz = Health::Check {
            path: "/readyz".into(),
            host: None,
        };
        self.backend(&mut out, REGIONS_BACKEND, &readyz, &all)?;
        Ok(out)
    }

    /// The ACLs and `use_backend` line selecting `tenant`, and its backend.
    fn route_tenant(
        &self,
        tenant: &FrontDoorTenant,
        frontend: &mut String,
        backends: &mut String,
    ) -> Result<(), RoutingError> {
        let name = word("tenant name", &tenant.name)?;
        let issuer = Upstream::parse("issuer", &tenant.issuer)?;
        let path = issuer_path(&tenant.issuer)?;
        let order = self.failover_order(tenant)?;
        let _ = writeln!(
            frontend,
            "    acl host_{name} req.hdr(host),field(1,:) -i {}",
            issuer.host
        );
        if path.is_empty() {
            // An issuer at the root of its own host owns every path there.
            let _ = writeln!(frontend, "    acl path_{name} path_beg /");
        } else {
            let path = word("issuer path", &path)?;
            // The issuer's own paths, and RFC 8414 §3.1's well-known URIs inserted before them.
            let _ = writeln!(
                frontend,
                "    acl path_{name} path {path} /.well-known/oauth-authorization-server{path} /.well-known/openid-configuration{path}"
            );
            let _ = writeln!(frontend, "    acl path_{name} path_beg {path}/");
        }
        let _ = writeln!(
            frontend,
            "    use_backend tenant_{name} if host_{name} path_{name}"
        );
        let health = if self.tenants.len() <= self.check.per_tenant_up_to {
            Health::Check {
                path: format!("{path}/.well-known/openid-configuration"),
                host: Some(issuer.host.clone()),
            }
        } else {
            Health::TrackRegion
        };
        self.backend(backends, &format!("tenant_{name}"), &health, &order)
    }

    /// A backend whose first region serves while it is healthy, the others in order after.
    fn backend(
        &self,
        out: &mut String,
        name: &str,
        health: &Health,
        order: &[&FrontDoorRegion],
    ) -> Result<(), RoutingError> {
        let names: Vec<&str> = order.iter().map(|r| r.name.as_str()).collect();
        let HealthCheck {
            interval_ms,
            rise,
            fall,
            connect_timeout_ms,
            ..
        } = self.check;
        let _ = writeln!(out, "backend {name}");
        let _ = writeln!(out, "    # in this order: {}", names.join(", "));
        let _ = writeln!(out, "    timeout connect {connect_timeout_ms}ms");
        if let Health::Check { path, host } = health {
            let _ = writeln!(out, "    option httpchk");
            let host = host
                .as_ref()
                .map(|h| format!(" hdr Host {h}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    http-check send meth GET uri {path} ver HTTP/1.1{host}"
            );
            let _ = writeln!(out, "    http-check expect status 200");
            // A refused connection on a real request marks the region down at once, and the
            // retry (redispatched) goes to the next region, so clients rarely see the outage.
            let _ = writeln!(
                out,
                "    default-server check inter {interval_ms}ms fastinter {}ms downinter {interval_ms}ms rise {rise} fall {fall} observe layer4 error-limit 1 on-error mark-down",
                (interval_ms / 2).max(100)
            );
        }
        for (i, region) in order.iter().enumerate() {
            let upstream = Upstream::parse("region URL", &region.public_url)?;
            let region_name = word("region name", &region.name)?;
            let backup = if i == 0 { "" } else { " backup" };
            // Tracking the `regions` backend's server of the same region: its `/readyz` check.
            let track = match health {
                Health::Check { .. } => String::new(),
                Health::TrackRegion => format!(" track {REGIONS_BACKEND}/{region_name}"),
            };
            let _ = writeln!(
                out,
                "    server {region_name} {}{}{track}{backup}",
                upstream.address,
                upstream.server_options()
            );
        }
        out.push('\n');
        Ok(())
    }
}

/// The backend of every region, checked by `/readyz`: paths of no tenant go there, and at
/// scale every tenant's servers track its checks.
const REGIONS_BACKEND: &str = "regions";

/// How a backend's servers learn that a region is down.
enum Health {
    /// Checked by their own request (a tenant's discovery document, or `/readyz`).
    Check { path: String, host: Option<String> },
    /// Following the region's `/readyz` check in the `regions` backend.
    TrackRegion,
}

/// The issuer's path without its trailing slash (`https://a.example/t/acme/` → `/t/acme`).
fn issuer_path(issuer: &str) -> Result<String, RoutingError> {
    let url = url::Url::parse(issuer).map_err(|e| RoutingError::BadUrl {
        what: "issuer".into(),
        value: issuer.into(),
        reason: e.to_string(),
    })?;
    Ok(url.path().trim_end_matches('/').to_owned())
}

fn unique<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Result<(), RoutingError> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(RoutingError::Duplicate {
                what: what.into(),
                value: name.into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
