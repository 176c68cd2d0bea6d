//! What both configs share: how an upstream URL becomes a `server` line, the config's opening
//! sections, and the one check that keeps inputs from becoming directives.

use std::fmt::Write as _;

use url::Url;

/// Why a config could not be rendered, in the words of whoever wrote the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("{what} {value:?} is not a plain URL word (letters, digits, `-._~:/%`)")]
    UnsafeValue { what: String, value: String },
    #[error("{what} {value:?} is not an absolute http(s) URL: {reason}")]
    BadUrl {
        what: String,
        value: String,
        reason: String,
    },
    #[error("tenant {tenant} is served by no region the front door knows")]
    NoRegion { tenant: String },
    #[error("tenant {tenant} names region {region}, which the front door does not know")]
    UnknownRegion { tenant: String, region: String },
    #[error("key {kid}: {reason}")]
    UnusableKey { kid: String, reason: String },
    #[error("{what} {value:?} appears twice")]
    Duplicate { what: String, value: String },
}

impl RoutingError {
    /// A short machine reason, for logs and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::UnsafeValue { .. } => "UnsafeValue",
            Self::BadUrl { .. } => "BadUrl",
            Self::NoRegion { .. } => "NoRegion",
            Self::UnknownRegion { .. } => "UnknownRegion",
            Self::UnusableKey { .. } => "UnusableKey",
            Self::Duplicate { .. } => "Duplicate",
        }
    }
}

/// `value` if it can stand in a config line as one word: no space, quote, `#` or backslash
/// (HAProxy's separators, quoting and comment), nothing outside URL characters.
pub(crate) fn word<'a>(what: &str, value: &'a str) -> Result<&'a str, RoutingError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-._~:/%".contains(c);
    if value.is_empty() || !value.chars().all(plain) {
        return Err(RoutingError::UnsafeValue {
            what: what.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(value)
}

/// An upstream HAProxy connects to, from its public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upstream {
    /// `host:port` for the `server` line.
    pub address: String,
    /// The host name as clients write it (SNI and the check's `Host`).
    pub host: String,
    pub tls: bool,
    /// A name to resolve, not an IP literal.
    pub named: bool,
}

impl Upstream {
    pub fn parse(what: &str, value: &str) -> Result<Self, RoutingError> {
        let bad = |reason: &str| RoutingError::BadUrl {
            what: what.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(value).map_err(|e| bad(&e.to_string()))?;
        let tls = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(bad("the scheme is neither http nor https")),
        };
        let named = matches!(url.host(), Some(url::Host::Domain(_)));
        let host = url.host_str().ok_or_else(|| bad("no host"))?.to_owned();
        let port = url.port_or_known_default().ok_or_else(|| bad("no port"))?;
        word(what, &host)?;
        Ok(Self {
            address: format!("{host}:{port}"),
            host,
            tls,
            named,
        })
    }

    /// Options for a `server` line. TLS is verified against the system's CAs with SNI set to
    /// the upstream's name (a region behind its own load balancer serves several names). A
    /// name is resolved at run time by [`RESOLVERS`], so a region's load balancer may change
    /// addresses, and HAProxy starts even while a name does not resolve (that server is down
    /// until it does).
    pub fn server_options(&self) -> String {
        let mut options = String::new();
        if self.tls {
            options.push_str(&format!(
                " ssl verify required ca-file @system-ca sni str({})",
                self.host
            ));
        }
        if self.named {
            options.push_str(" resolvers system init-addr last,libc,none");
        }
        options
    }
}

/// The `resolvers` section [`Upstream::server_options`] refers to: the host's own DNS servers.
pub(crate) const RESOLVERS: &str =
    "resolvers system\n    parse-resolv-conf\n    hold valid 10s\n\n";

/// `global` and `defaults`: HTTP mode, short connect and check timeouts so a dead upstream
/// is noticed in a second, and retries only where the request was never sent (`conn-failure`
/// is HAProxy's default and the only safe one for a token endpoint: a replayed code
/// redemption would revoke what the first one issued).
///
/// Reloads (a key rotation reloads the gateway, a region change the front door) drop nothing:
/// by default a worker told to stop closes its idle client connections at once, and a client
/// that sends its next request on one as it closes gets no answer (HTTP libraries retry only
/// a request they know was never written). `idle-close-on-response` has the old worker answer
/// that request and close after it. `hard-stop-after` bounds how long old workers drain: a
/// little over the longest a request may take (`timeout server`), so reloads never pile them up.
pub(crate) fn preamble(out: &mut String, name: &str) {
    preamble_sections(out, name);
    out.push_str(RESOLVERS);
}

fn preamble_sections(out: &mut String, name: &str) {
    let _ = write!(
        out,
        "# Rendered by meridian-routing ({name}); edit the inputs, not this file.\n\
         global\n\
         \x20   maxconn 4096\n\
         \x20   log stderr format short local0 notice\n\
         \x20   hard-stop-after 35s\n\
         \n\
         defaults\n\
         \x20   mode http\n\
         \x20   log global\n\
         \x20   option httplog\n\
         \x20   option dontlognull\n\
         \x20   timeout connect 1s\n\
         \x20   timeout check 1s\n\
         \x20   timeout client 30s\n\
         \x20   timeout server 30s\n\
         \x20   timeout http-request 10s\n\
         \x20   retries 3\n\
         \x20   option redispatch 1\n\
         \x20   option idle-close-on-response\n\
         \n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_refuse_what_would_end_or_quote_a_directive() {
        assert_eq!(word("path", "/t/acme").unwrap(), "/t/acme");
        for bad in ["/t/a b", "/t/\"x", "/t/#", "a\\b", "", "a\nb", "é"] {
            assert!(word("path", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn upstreams_carry_the_known_default_port_and_tls() {
        let named = Upstream::parse("region", "http://eu-west.internal:8080").unwrap();
        assert!(
            named
                .server_options()
                .contains("resolvers system init-addr last,libc,none")
        );
        let plain = Upstream::parse("region", "http://127.0.0.1:18441").unwrap();
        assert_eq!(plain.address, "127.0.0.1:18441");
        assert_eq!(plain.server_options(), "");
        let tls = Upstream::parse("region", "https://eu-west.auth.example.com").unwrap();
        assert_eq!(tls.address, "eu-west.auth.example.com:443");
        assert!(tls.server_options().contains("verify required"));
        assert!(
            tls.server_options()
                .contains("sni str(eu-west.auth.example.com)")
        );
        assert!(Upstream::parse("region", "ftp://x").is_err());
    }
}
