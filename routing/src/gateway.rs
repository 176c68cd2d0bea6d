//! The API gateway: HAProxy verifying Meridian access tokens on every request and routing each
//! to the API instance in the token's `region` (the subject's home region, where its data is).
//!
//! What a request meets, in order:
//! 1. its route (method and path prefix), which names the tenant and the scope it needs;
//!    no route is 404;
//! 2. no bearer token (RFC 6750 §2.1) is 401 with `WWW-Authenticate: Bearer realm=...`;
//! 3. the signature, by `jwt_verify` with the key of the token's `kid` — which must belong to
//!    the tenant whose issuer (`iss`) and audience (`aud`) the token names, with that key's
//!    own `alg` (RFC 8725 §3.1: the header never picks the algorithm) — and then `typ: at+jwt`
//!    (RFC 9068 §4), `exp`, and `iat` and `nbf` not later than [`CLOCK_SKEW_SECS`] from now
//!    (`iat` is required, as RFC 9068 §2.2 makes it): any failure is 401 `invalid_token`; a kid no tenant has is
//!    sent to the key-refresh endpoint when there is one (the glue refetches, bounded), else 401;
//! 4. a token of another tenant on this tenant's route is 403, whatever it may do elsewhere;
//! 5. a token without the route's scope is 403 `insufficient_scope`;
//! 6. the instance of its `region`, with the verified identity in `x-meridian-*` headers
//!    (removed from every incoming request, so only the gateway can set them).
//!
//! Every check is written as "refuse unless proven", so a claim that is missing or malformed
//! fails closed: HAProxy leaves a variable unset when its fetch fails, and an unset variable
//! never proves anything.

use std::fmt::Write as _;

use crate::haproxy::{RoutingError, Upstream, preamble, word};

/// An API instance: the one serving the users whose home is `region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiInstance {
    pub region: String,
    pub url: String,
}

/// A verification key, as written by the glue from the tenant's JWKS ([`crate::jwk`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantKey {
    pub kid: String,
    pub alg: String,
    pub pem_path: String,
}

/// A tenant whose tokens the gateway accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayTenant {
    pub name: String,
    pub issuer: String,
    /// The audience the tenant's clients get tokens for (`aud`).
    pub audience: String,
    pub keys: Vec<TenantKey>,
}

/// A route of the API: who owns it and what it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRoute {
    pub tenant: String,
    /// An HTTP method, or `None` for any.
    pub method: Option<String>,
    pub path_prefix: String,
    pub scope: String,
}

/// Everything the gateway's config is rendered from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    pub bind: String,
    /// The `realm` of `WWW-Authenticate` (RFC 6750 §3).
    pub realm: String,
    pub tenants: Vec<GatewayTenant>,
    pub routes: Vec<ApiRoute>,
    pub instances: Vec<ApiInstance>,
    /// Where requests with a kid no tenant has go, so the glue refetches the JWKS (bounded)
    /// and answers; `None` refuses them with 401.
    pub key_refresh: Option<String>,
}

/// The verified identity the instances receive, and nobody else can send.
pub const IDENTITY_HEADERS: [(&str, &str); 5] = [
    ("x-meridian-tenant", "signed_by"),
    ("x-meridian-subject", "sub"),
    ("x-meridian-client", "client"),
    ("x-meridian-region", "region"),
    ("x-meridian-scope", "scope"),
];

/// Header parameters read from the token into transaction variables of the same name.
const HEADER: [&str; 3] = ["kid", "alg", "typ"];

/// Claims read from the token into transaction variables: (variable, JSON path, as an
/// integer). Meridian's `aud` is one string (RFC 9068 §3 allows that); an array would fail
/// the audience match, closed.
const CLAIMS: [(&str, &str, bool); 10] = [
    ("iss", "$.iss", false),
    ("aud", "$.aud", false),
    ("exp", "$.exp", true),
    ("iat", "$.iat", true),
    ("nbf", "$.nbf", true),
    ("tenant", "$.tenant_id", false),
    ("region", "$.region", false),
    ("scope", "$.scope", false),
    ("sub", "$.sub", false),
    ("client", "$.client_id", false),
];

/// How far ahead of the gateway's clock a token's `iat` or `nbf` may be: the regions' clocks
/// and the gateway's are never exactly equal, and a token issued a moment ago by a region whose
/// clock runs a few seconds ahead must not be refused. `exp` gets no such grace.
pub const CLOCK_SKEW_SECS: u32 = 60;

impl Gateway {
    pub fn render(&self) -> Result<String, RoutingError> {
        let realm = word("realm", &self.realm)?;
        let mut out = String::new();
        preamble(&mut out, "API gateway");
        let _ = writeln!(out, "frontend api");
        let _ = writeln!(out, "    bind {}", word("bind address", &self.bind)?);
        for (header, _) in IDENTITY_HEADERS {
            let _ = writeln!(out, "    http-request del-header {header}");
        }
        self.render_routes(&mut out)?;
        let challenge = format!("Bearer realm=\"{realm}\"");
        let _ = writeln!(out, "    http-request set-var(txn.bearer) http_auth_bearer");
        let _ = writeln!(
            out,
            "    http-request return status 401 content-type application/json string '{{\"error\":\"unauthorized\"}}' hdr WWW-Authenticate '{challenge}' unless {{ var(txn.bearer) -m found }}"
        );
        for var in HEADER {
            let _ = writeln!(
                out,
                "    http-request set-var(txn.{var}) var(txn.bearer),jwt_header_query('$.{var}')"
            );
        }
        for (var, path, integer) in CLAIMS {
            let kind = if integer { ",'int'" } else { "" };
            let _ = writeln!(
                out,
                "    http-request set-var(txn.{var}) var(txn.bearer),jwt_payload_query('{path}'{kind})"
            );
        }
        self.render_signature(&mut out)?;
        let invalid = |description: &str| {
            format!(
                "http-request return status 401 content-type application/json string '{{\"error\":\"invalid_token\",\"error_description\":\"{description}\"}}' hdr WWW-Authenticate '{challenge}, error=\"invalid_token\", error_description=\"{description}\"'"
            )
        };
        let _ = writeln!(
            out,
            "    {} if known_kid !signed",
            invalid("signature, issuer or audience not valid")
        );
        if self.key_refresh.is_none() {
            let _ = writeln!(out, "    {} if !known_kid", invalid("unknown key"));
        }
        let _ = writeln!(
            out,
            "    {} if known_kid !{{ var(txn.typ) -m reg -i '^(application/)?at[+]jwt$' }}",
            invalid("not an access token")
        );
        let _ = writeln!(out, "    http-request set-var(txn.now) date");
        let _ = writeln!(
            out,
            "    http-request set-var(txn.ttl) var(txn.exp),sub(txn.now)"
        );
        let _ = writeln!(
            out,
            "    {} if known_kid !{{ var(txn.ttl) -m int gt 0 }}",
            invalid("expired")
        );
        let _ = writeln!(
            out,
            "    {} if known_kid !{{ var(txn.iat),sub(txn.now) -m int le {CLOCK_SKEW_SECS} }}",
            invalid("issued in the future or without iat")
        );
        let _ = writeln!(
            out,
            "    {} if known_kid {{ var(txn.nbf) -m found }} !{{ var(txn.nbf),sub(txn.now) -m int le {CLOCK_SKEW_SECS} }}",
            invalid("not valid yet")
        );
        self.render_permissions(&mut out, &challenge)?;
        for (header, var) in IDENTITY_HEADERS {
            let _ = writeln!(
                out,
                "    http-request set-header {header} %[var(txn.{var})]"
            );
        }
        self.render_backends(&mut out)?;
        Ok(out)
    }

    /// First matching route wins; none is 404 before anything is asked of the token.
    fn render_routes(&self, out: &mut String) -> Result<(), RoutingError> {
        for (i, route) in self.routes.iter().enumerate() {
            let method = match &route.method {
                Some(m) => format!(" {{ method {} }}", word("method", m)?),
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "    http-request set-var(txn.route) str(r{i}) if !{{ var(txn.route) -m found }}{method} {{ path_beg {} }}",
                word("path prefix", &route.path_prefix)?
            );
        }
        let _ = writeln!(
            out,
            "    http-request return status 404 content-type application/json string '{{\"error\":\"not_found\"}}' unless {{ var(txn.route) -m found }}"
        );
        Ok(())
    }

    /// `signed_by` is set to the tenant whose key, issuer and audience the token matches.
    /// Every pattern taken from data follows `--`: a kid is an RFC 7638 thumbprint in base64url,
    /// one in 64 starts with `-`, and HAProxy would read it as an unknown flag and refuse the
    /// whole config.
    fn render_signature(&self, out: &mut String) -> Result<(), RoutingError> {
        let kids: Vec<&str> = self
            .tenants
            .iter()
            .flat_map(|t| t.keys.iter().map(|k| k.kid.as_str()))
            .collect();
        if kids.is_empty() {
            let _ = writeln!(out, "    acl known_kid always_false");
        } else {
            for kid in &kids {
                word("kid", kid)?;
            }
            let _ = writeln!(
                out,
                "    acl known_kid var(txn.kid) -m str -- {}",
                kids.join(" ")
            );
        }
        let _ = writeln!(out, "    acl signed var(txn.signed_by) -m found");
        for tenant in &self.tenants {
            let name = word("tenant name", &tenant.name)?;
            let issuer = word("issuer", &tenant.issuer)?;
            let audience = word("audience", &tenant.audience)?;
            for key in &tenant.keys {
                let (kid, alg) = (word("kid", &key.kid)?, word("alg", &key.alg)?);
                let _ = writeln!(
                    out,
                    "    http-request set-var(txn.signed_by) str({name}) if !signed {{ var(txn.kid) -m str -- {kid} }} {{ var(txn.alg) -m str -- {alg} }} {{ var(txn.iss) -m str -- {issuer} }} {{ var(txn.aud) -m str -- {audience} }} {{ var(txn.bearer),jwt_verify({alg},\"{}\") -m int 1 }}",
                    word("key path", &key.pem_path)?
                );
            }
        }
        Ok(())
    }

    /// The route's tenant (403), then its scope (403 `insufficient_scope`, RFC 6750 §3.1).
    fn render_permissions(&self, out: &mut String, challenge: &str) -> Result<(), RoutingError> {
        for (i, route) in self.routes.iter().enumerate() {
            let tenant = word("tenant name", &route.tenant)?;
            let _ = writeln!(
                out,
                "    http-request return status 403 content-type application/json string '{{\"error\":\"forbidden\",\"error_description\":\"this route belongs to another tenant\"}}' if known_kid {{ var(txn.route) -m str r{i} }} !{{ var(txn.signed_by) -m str -- {tenant} }}"
            );
            let _ = writeln!(
                out,
                "    http-request return status 403 content-type application/json string '{{\"error\":\"forbidden\",\"error_description\":\"this route belongs to another tenant\"}}' if known_kid {{ var(txn.route) -m str r{i} }} !{{ var(txn.tenant) -m str -- {tenant} }}"
            );
        }
        for (i, route) in self.routes.iter().enumerate() {
            let scope = word("scope", &route.scope)?;
            let _ = writeln!(
                out,
                "    http-request return status 403 content-type application/json string '{{\"error\":\"insufficient_scope\",\"scope\":\"{scope}\"}}' hdr WWW-Authenticate '{challenge}, error=\"insufficient_scope\", scope=\"{scope}\"' if known_kid {{ var(txn.route) -m str r{i} }} !{{ var(txn.scope) -m reg '(^| ){}( |$)' }}",
                regex_escape(scope)
            );
        }
        Ok(())
    }

    fn render_backends(&self, out: &mut String) -> Result<(), RoutingError> {
        if self.key_refresh.is_some() {
            let _ = writeln!(out, "    use_backend key_refresh if !known_kid");
        }
        for instance in &self.instances {
            let region = word("region", &instance.region)?;
            let _ = writeln!(
                out,
                "    use_backend instance_{region} if {{ var(txn.region) -m str -- {region} }}"
            );
        }
        let _ = writeln!(out, "    default_backend no_instance\n");
        for instance in &self.instances {
            let upstream = Upstream::parse("instance URL", &instance.url)?;
            let _ = writeln!(out, "backend instance_{}", instance.region);
            let _ = writeln!(
                out,
                "    server {} {}{}\n",
                instance.region,
                upstream.address,
                upstream.server_options()
            );
        }
        if let Some(url) = &self.key_refresh {
            let upstream = Upstream::parse("key refresh URL", url)?;
            let _ = writeln!(out, "backend key_refresh");
            let _ = writeln!(
                out,
                "    server glue {}{}\n",
                upstream.address,
                upstream.server_options()
            );
        }
        let _ = writeln!(out, "backend no_instance");
        let _ = writeln!(
            out,
            "    http-request return status 503 content-type application/json string '{{\"error\":\"no_instance\",\"error_description\":\"no instance serves the token region\"}}'"
        );
        Ok(())
    }
}

/// `scope` (a [`word`]) as a literal inside a regex: of its characters only `.` is special,
/// and a character class says so without a backslash HAProxy's parser would take first.
fn regex_escape(scope: &str) -> String {
    scope.replace('.', "[.]")
}

#[cfg(test)]
mod tests;
