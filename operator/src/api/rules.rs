//! CEL building blocks shared by several fields' admission rules.
//!
//! What the OpenAPI schema can say is said there instead: sizes (`minItems`) and uniqueness
//! (`x-kubernetes-list-type` set, or map by key). The API server evaluates every CEL rule of a
//! Tenant again on every write to it, status writes included, and a rule costs it far more than
//! a schema check (each field it reads copies its object's schema): uniqueness by CEL was a
//! fifth of what a Tenant's rules cost per write, and the rules a sixth of the hub's CPU in a
//! cold start of 10,000 Tenants.
//!
//! Regular expressions rather than CEL's `url()` library: they mean exactly the same on the API
//! server (RE2) and in client-side evaluation, and they say precisely which values are allowed.
//! Patterns are written as CEL string literals, so every `\` is doubled once for CEL.

/// A DNS label (RFC 1123), as Kubernetes names namespaces and Meridian names tenants and regions.
const DNS_LABEL: &str = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

/// `scheme://host[:port]`: https, or http on a loopback host (RFC 8252 §7.3, RFC 9700 §2.1).
macro_rules! https_or_loopback_origin {
    () => {
        r"(https://[^/?#\\s@]+|http://(localhost|127\\.0\\.0\\.1|\\[::1\\])(:[0-9]{1,5})?)"
    };
}

/// An absolute https URL, or http on a loopback host.
const HTTPS_OR_LOOPBACK_URL: &str = concat!("^", https_or_loopback_origin!(), r"(/[^\\s]*)?$");

/// A browser origin (WHATWG URL §4.5 serialization): no path, query or fragment.
const ORIGIN: &str = concat!("^", https_or_loopback_origin!(), "$");

/// A DNS subdomain name (RFC 1123), as Kubernetes names Secrets.
const DNS_SUBDOMAIN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

/// A Secret data key, as the API server accepts it.
const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";

/// A Go / Kubernetes duration such as `15m`, `1h30m` or `90s`.
const DURATION: &str = r"^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$";

/// CEL: the string `var` is a DNS label.
pub fn is_dns_label(var: &str) -> String {
    format!("{var}.matches('{DNS_LABEL}')")
}

/// CEL: the string `var` is an https URL, or http on a loopback host.
pub fn is_https_or_loopback_url(var: &str) -> String {
    format!("{var}.matches('{HTTPS_OR_LOOPBACK_URL}')")
}

/// CEL: the string `var` is an origin.
pub fn is_origin(var: &str) -> String {
    format!("{var}.matches('{ORIGIN}')")
}

/// CEL: the string `self` is a Secret name. Shared by every Secret reference type, so a name
/// means the same wherever a Secret is named.
pub fn is_secret_name() -> String {
    format!("self.matches('{DNS_SUBDOMAIN}')")
}

/// CEL: the string `self` is a Secret data key.
pub fn is_secret_key() -> String {
    format!("self.matches('{SECRET_KEY}')")
}

pub const SECRET_NAME_MESSAGE: &str = "secretRef.name must be a DNS subdomain name";
pub const SECRET_KEY_MESSAGE: &str =
    "secretRef.key must be a valid Secret data key: letters, digits, '-', '_' or '.'";

/// CEL: `self` is a duration greater than zero and, when `max` is given, at most `max`.
pub fn is_positive_duration(max: Option<&str>) -> String {
    let bound = max
        .map(|max| format!(" && duration(self) <= duration('{max}')"))
        .unwrap_or_default();
    format!("self.matches('{DURATION}') && duration(self) > duration('0s'){bound}")
}

/// CEL: `self` has neither a query nor a fragment.
pub const NO_QUERY_OR_FRAGMENT: &str = "!self.contains('?') && !self.contains('#')";

/// The message of every object-name rule.
pub const NAME_MESSAGE: &str = "metadata.name must be a DNS label: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit";

/// CEL: no key of the map `self` is a claim the contract reserves. Generated from
/// [`meridian_contract::RESERVED_CLAIMS`], the list the auth-server enforces, so admission and
/// serving can never disagree about a claim.
pub fn no_reserved_claim_keys() -> String {
    let names: Vec<String> = meridian_contract::RESERVED_CLAIMS
        .iter()
        .map(|name| format!("'{name}'"))
        .collect();
    format!("self.all(k, !(k in [{}]))", names.join(", "))
}

/// The message of [`no_reserved_claim_keys`], naming every reserved claim.
pub fn reserved_claims_message() -> String {
    format!(
        "spec.claims must not set a registered claim ({})",
        meridian_contract::RESERVED_CLAIMS.join(", ")
    )
}
