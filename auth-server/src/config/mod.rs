//! The configuration the server runs on: a [`Snapshot`] of every tenant, loaded from the
//! contract directory, routed by issuer, and swapped atomically when the files change.
//!
//! A snapshot is immutable once built; nothing may mutate it in place.

mod load;
mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use meridian_contract::RegionConfig;

pub use load::{LoadError, Loaded, Refusal, load_dir};
pub use watch::{ConfigHandle, DirWatch};

use crate::tenant::Tenant;

/// One consistent view of the region and all its tenants.
#[derive(Debug)]
pub struct Snapshot {
    pub region: RegionConfig,
    tenants: Vec<Arc<Tenant>>,
    /// Issuer path → tenants with that path (more than one only when hosts differ).
    by_path: HashMap<String, Vec<usize>>,
}

/// Where a request path lands within a tenant.
pub enum Route<'a> {
    /// `<issuer path><rest>`.
    Tenant(&'a Arc<Tenant>, &'a str),
    /// RFC 8414 §3: `/.well-known/oauth-authorization-server<issuer path>`.
    Metadata(&'a Arc<Tenant>),
}

const RFC8414_PREFIX: &str = "/.well-known/oauth-authorization-server";

impl Snapshot {
    pub fn new(region: RegionConfig, tenants: Vec<Arc<Tenant>>) -> Self {
        let mut by_path: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, tenant) in tenants.iter().enumerate() {
            by_path.entry(tenant.path.clone()).or_default().push(index);
        }
        Self {
            region,
            tenants,
            by_path,
        }
    }

    pub fn tenants(&self) -> &[Arc<Tenant>] {
        &self.tenants
    }

    /// Finds the tenant by the longest issuer path that prefixes `path` at a segment
    /// boundary, with one map lookup per segment. The issuer is the same string in every
    /// region while each region has its own address, so the host decides only between
    /// tenants that share a path.
    pub fn route<'a>(&'a self, host: Option<&str>, path: &'a str) -> Option<Route<'a>> {
        if let Some(issuer_path) = path.strip_prefix(RFC8414_PREFIX) {
            let tenant = self.pick(host, issuer_path.trim_end_matches('/'))?;
            return Some(Route::Metadata(tenant));
        }
        let mut prefix = path;
        loop {
            if self.by_path.contains_key(prefix) {
                let tenant = self.pick(host, prefix)?;
                return Some(Route::Tenant(tenant, &path[prefix.len()..]));
            }
            prefix = &prefix[..prefix.rfind('/')?];
        }
    }

    fn pick(&self, host: Option<&str>, issuer_path: &str) -> Option<&Arc<Tenant>> {
        match self.by_path.get(issuer_path)?.as_slice() {
            [only] => Some(&self.tenants[*only]),
            several => {
                let host = host?;
                let mut candidates = several.iter().map(|index| &self.tenants[*index]);
                candidates.find(|tenant| tenant.authority.eq_ignore_ascii_case(host))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use meridian_contract::{
        Algorithm, ClientSecrets, KeyRing, TenantConfig, TokenLifetimes, UserDirectory,
    };
    use meridian_keys::generate_key;

    use super::*;
    use crate::tenant::ParsedTenantFiles;

    fn tenant(id: &str, issuer: &str) -> Arc<Tenant> {
        let config = TenantConfig {
            fapi2: false,
            id: id.into(),
            display_name: id.into(),
            issuer: issuer.into(),
            home_region: "eu".into(),
            scopes: vec![],
            clients: vec![],
            tokens: TokenLifetimes {
                access_token_seconds: 60,
                id_token_seconds: 60,
                refresh_token_seconds: 60,
            },
            claims: Default::default(),
        };
        let keys = KeyRing {
            keys: vec![generate_key(Algorithm::EdDSA, 1, 0)],
        };
        let files = ParsedTenantFiles {
            config,
            keys,
            clients: ClientSecrets::default(),
            users: UserDirectory::default(),
        };
        Arc::new(Tenant::build(files, meridian_contract::Revision::of([])).unwrap())
    }

    fn snapshot(tenants: Vec<Arc<Tenant>>) -> Snapshot {
        let region = RegionConfig {
            name: "eu".into(),
            public_url: "https://eu.example".into(),
            jwks_max_age_seconds: 300,
        };
        Snapshot::new(region, tenants)
    }

    fn routed<'a>(snapshot: &'a Snapshot, host: &str, path: &'a str) -> Option<(&'a str, &'a str)> {
        match snapshot.route(Some(host), path)? {
            Route::Tenant(tenant, rest) => Some((tenant.id(), rest)),
            Route::Metadata(tenant) => Some((tenant.id(), "<metadata>")),
        }
    }

    #[test]
    fn tenants_are_routed_by_issuer_path_whatever_the_host() {
        let s = snapshot(vec![
            tenant("acme", "https://auth.example/t/acme"),
            tenant("acme-eu", "https://auth.example/t/acme-eu"),
        ]);
        assert_eq!(
            routed(&s, "127.0.0.1:9", "/t/acme/token"),
            Some(("acme", "/token"))
        );
        assert_eq!(
            routed(&s, "x", "/t/acme-eu/jwks.json"),
            Some(("acme-eu", "/jwks.json"))
        );
        assert_eq!(routed(&s, "x", "/t/acmex/token"), None, "segment boundary");
        let metadata = "/.well-known/oauth-authorization-server/t/acme";
        assert_eq!(routed(&s, "x", metadata), Some(("acme", "<metadata>")));
    }

    #[test]
    fn the_host_decides_between_tenants_sharing_a_path() {
        let s = snapshot(vec![
            tenant("a", "https://login.a.example"),
            tenant("b", "https://login.b.example"),
        ]);
        assert_eq!(
            routed(&s, "login.b.example", "/token"),
            Some(("b", "/token"))
        );
        assert_eq!(
            routed(&s, "login.a.example", "/token"),
            Some(("a", "/token"))
        );
        assert_eq!(routed(&s, "elsewhere", "/token"), None, "never a guess");
    }
}
