//! The sign-in cookies: their per-tenant names, attributes, and reading them back.
//!
//! Where the issuer is https a cookie is `__Host-` prefixed (RFC 6265bis §4.1.3.2): Secure,
//! Path=/, no Domain, so no sibling subdomain or plain-http page can plant or shadow it. A
//! `__Host-` cookie cannot be scoped to the tenant's path, so tenants sharing a host are kept
//! apart by name instead (`__Host-meridian_session_<tenant>`). Over plain http (development)
//! the prefix is not allowed; the cookie is then scoped to the tenant's path as before. Cookie
//! values are never logged.

use std::borrow::Cow;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use crate::tenant::Tenant;

pub const SESSION: &str = "meridian_session";
pub const CSRF: &str = "meridian_csrf";
/// The logout confirmation's, apart from the login form's so neither clobbers the other.
pub const LOGOUT_CSRF: &str = "meridian_logout_csrf";

fn is_https(tenant: &Tenant) -> bool {
    tenant.issuer().starts_with("https://")
}

/// The cookie's name for this tenant.
fn name<'a>(tenant: &Tenant, base: &'a str) -> Cow<'a, str> {
    if !is_https(tenant) {
        return Cow::Borrowed(base);
    }
    // A cookie name is an RFC 6265 token; anything else in a tenant id becomes `_`.
    let id: String = tenant
        .id()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    Cow::Owned(format!("__Host-{base}_{id}"))
}

/// The value of this tenant's `base` cookie, if the request carries a non-empty one.
pub fn read<'h>(headers: &'h HeaderMap, tenant: &Tenant, base: &str) -> Option<&'h str> {
    let name = name(tenant, base);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Sets (or, with `max_age` 0, clears) this tenant's `base` cookie.
pub fn set(response: &mut Response, tenant: &Tenant, base: &str, value: &str, max_age: i64) {
    let (path, secure) = match (is_https(tenant), tenant.path.as_str()) {
        (true, _) => ("/", "; Secure"),
        (false, "") => ("/", ""),
        (false, path) => (path, ""),
    };
    let name = name(tenant, base);
    let cookie =
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    if let Ok(value) = HeaderValue::try_from(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
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

    fn tenant(id: &str, issuer: &str) -> Tenant {
        let config = TenantConfig {
            fapi2: false,
            id: id.into(),
            display_name: String::new(),
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
            keys: vec![generate_key(Algorithm::ES256, 1, 0)],
        };
        Tenant::build(
            ParsedTenantFiles {
                config,
                keys,
                clients: ClientSecrets::default(),
                users: UserDirectory::default(),
            },
            meridian_contract::Revision::of([]),
        )
        .unwrap()
    }

    #[test]
    fn https_cookies_are_host_prefixed_and_named_for_their_tenant() {
        let acme = tenant("acme", "https://auth.example/t/acme");
        assert_eq!(name(&acme, SESSION), "__Host-meridian_session_acme");
        let odd = tenant("a b;c", "https://auth.example/t/odd");
        assert_eq!(
            name(&odd, CSRF),
            "__Host-meridian_csrf_a_b_c",
            "a cookie-name token"
        );
        let dev = tenant("acme", "http://127.0.0.1:8080/t/acme");
        assert_eq!(
            name(&dev, SESSION),
            "meridian_session",
            "no prefix over http"
        );
    }
}
