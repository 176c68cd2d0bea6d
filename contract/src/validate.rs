//! What makes one tenant's files servable, checked once by code both sides run: the operator
//! before it renders a tenant for a region, the auth-server before it serves one.
//!
//! Only checks that need no I/O and no cryptography live here; the one check that needs
//! cryptography (every `kid` is its key's RFC 7638 thumbprint) belongs to the keys crate. Each
//! [`Invalid`] names the field it is about and never quotes a secret value.

use std::collections::BTreeSet;
use std::fmt;

use crate::{
    ClientAuthMethod, ClientConfig, ClientKind, ClientSecrets, GrantType, KeyRing, TenantConfig,
    UserDirectory,
};

/// Claim names a tenant's static claims or a user's claims may not set: the registered claims
/// of access and ID tokens and Meridian's own. The Tenant CRD's admission rule is generated
/// from this list.
pub const RESERVED_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "client_id",
    "scope",
    "tenant_id",
    "region",
    "nonce",
    "auth_time",
    "at_hash",
    "azp",
    "typ",
    "sid",
];

/// Upper bounds of token lifetimes, in seconds (the Tenant CRD admits the same).
pub const MAX_ACCESS_TOKEN_SECONDS: u64 = 24 * 3600;
pub const MAX_ID_TOKEN_SECONDS: u64 = 24 * 3600;
pub const MAX_REFRESH_TOKEN_SECONDS: u64 = 90 * 24 * 3600;

/// One tenant's files, borrowed. `users` is `None` where the directory does not travel.
#[derive(Debug, Clone, Copy)]
pub struct TenantFilesRef<'a> {
    pub config: &'a TenantConfig,
    pub keys: &'a KeyRing,
    pub clients: &'a ClientSecrets,
    pub users: Option<&'a UserDirectory>,
}

/// Why a tenant's files cannot be served: the field, in the files' own terms (which mirror the
/// Tenant's spec), and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The issuer is not an absolute http(s) URL with a host and without query or fragment.
    BadIssuer,
    ReservedClaim,
    LifetimeOutOfRange,
    PublicClientCredentials,
    PublicTokenExchange,
    /// A confidential client without a well-formed `sha256:` digest of its secret.
    MissingClientSecret,
    /// A `private_key_jwt` client without exactly one of `jwks` and `jwksUri`, or that is not
    /// confidential; or keys for a client that does not use them.
    ClientKeys,
    /// `tokenEndpointAuthMethod` does not fit the client's kind.
    AuthMethodKind,
    /// A confidential client of a FAPI 2.0 tenant that does not use `private_key_jwt`.
    Fapi2ClientAuth,
    DuplicateClient,
    /// A password hash that is not an argon2id PHC string with sane parameters.
    BadPasswordHash,
    DuplicateUser,
    /// A user named like a client: both would be the same `sub` to every resource server.
    SubjectShared,
    NoSigningKeys,
    DuplicateKid,
    /// Published after it activates, or removed before it is published.
    BadKeySchedule,
}

impl Problem {
    /// A short machine label, for conditions, log fields and metrics.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::BadIssuer => "BadIssuer",
            Self::ReservedClaim => "ReservedClaim",
            Self::LifetimeOutOfRange => "LifetimeOutOfRange",
            Self::PublicClientCredentials => "PublicClientCredentials",
            Self::PublicTokenExchange => "PublicTokenExchange",
            Self::MissingClientSecret => "MissingClientSecret",
            Self::ClientKeys => "ClientKeys",
            Self::AuthMethodKind => "AuthMethodKind",
            Self::Fapi2ClientAuth => "Fapi2ClientAuth",
            Self::DuplicateClient => "DuplicateClient",
            Self::BadPasswordHash => "BadPasswordHash",
            Self::DuplicateUser => "DuplicateUser",
            Self::SubjectShared => "SubjectShared",
            Self::NoSigningKeys => "NoSigningKeys",
            Self::DuplicateKid => "DuplicateKid",
            Self::BadKeySchedule => "BadKeySchedule",
        }
    }

    /// What is wrong, in words that never quote the value.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::BadIssuer => {
                "must be an absolute http(s) URL with a host and without query or fragment"
            }
            Self::ReservedClaim => "is a registered claim and cannot be set statically",
            Self::LifetimeOutOfRange => "must be more than 0 and within the allowed maximum",
            Self::PublicClientCredentials => "a public client may not use client_credentials",
            Self::PublicTokenExchange => "a public client may not use token exchange",
            Self::MissingClientSecret => {
                "a confidential client needs a well-formed sha256 digest of its secret"
            }
            Self::ClientKeys => {
                "a private_key_jwt client needs exactly one of jwks and jwksUri, and only it may have them"
            }
            Self::AuthMethodKind => {
                "none is for public clients only, and every other method for confidential ones"
            }
            Self::Fapi2ClientAuth => {
                "with fapi2, a confidential client must use tokenEndpointAuthMethod private_key_jwt"
            }
            Self::DuplicateClient => "is listed twice",
            Self::BadPasswordHash => {
                "is not an argon2id PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$hash)"
            }
            Self::DuplicateUser => "is listed twice",
            Self::SubjectShared => "is named like a client, so both would be the same `sub`",
            Self::NoSigningKeys => "holds no key",
            Self::DuplicateKid => "appears twice in the key ring",
            Self::BadKeySchedule => {
                "must be published no later than it activates, and removed after it is published"
            }
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.problem.describe())
    }
}

impl std::error::Error for Invalid {}

fn invalid(field: impl Into<String>, problem: Problem) -> Invalid {
    Invalid {
        field: field.into(),
        problem,
    }
}

/// Checks one tenant's files; the first problem found, in a fixed order.
pub fn validate_tenant(files: TenantFilesRef<'_>) -> Result<(), Invalid> {
    let config = files.config;
    if !is_issuer(&config.issuer) {
        return Err(invalid("issuer", Problem::BadIssuer));
    }
    check_claim_names("claims", config.claims.keys())?;
    check_lifetimes(config)?;
    check_clients(config, files.clients)?;
    if let Some(users) = files.users {
        check_users(config, users)?;
    }
    check_key_ring(files.keys)
}

fn check_claim_names<'a>(
    field: &str,
    mut names: impl Iterator<Item = &'a String>,
) -> Result<(), Invalid> {
    match names.find(|name| RESERVED_CLAIMS.contains(&name.as_str())) {
        Some(name) => Err(invalid(
            format!("{field}[{name:?}]"),
            Problem::ReservedClaim,
        )),
        None => Ok(()),
    }
}

fn check_lifetimes(config: &TenantConfig) -> Result<(), Invalid> {
    let tokens = &config.tokens;
    let lifetimes = [
        (
            "accessTokenSeconds",
            tokens.access_token_seconds,
            MAX_ACCESS_TOKEN_SECONDS,
        ),
        (
            "idTokenSeconds",
            tokens.id_token_seconds,
            MAX_ID_TOKEN_SECONDS,
        ),
        (
            "refreshTokenSeconds",
            tokens.refresh_token_seconds,
            MAX_REFRESH_TOKEN_SECONDS,
        ),
    ];
    for (name, seconds, max) in lifetimes {
        if seconds == 0 || seconds > max {
            return Err(invalid(
                format!("tokens.{name}"),
                Problem::LifetimeOutOfRange,
            ));
        }
    }
    Ok(())
}

fn check_clients(config: &TenantConfig, secrets: &ClientSecrets) -> Result<(), Invalid> {
    let mut seen = BTreeSet::new();
    for client in &config.clients {
        let field = || format!("clients[{:?}]", client.client_id);
        if !seen.insert(client.client_id.as_str()) {
            return Err(invalid(field(), Problem::DuplicateClient));
        }
        check_auth_method(client).map_err(|problem| invalid(field(), problem))?;
        if config.fapi2 && client.kind == ClientKind::Confidential && !client.uses_private_key_jwt()
        {
            return Err(invalid(field(), Problem::Fapi2ClientAuth));
        }
        match client.kind {
            ClientKind::Public if client.grant_types.contains(&GrantType::ClientCredentials) => {
                return Err(invalid(field(), Problem::PublicClientCredentials));
            }
            ClientKind::Public if client.grant_types.contains(&GrantType::TokenExchange) => {
                return Err(invalid(field(), Problem::PublicTokenExchange));
            }
            ClientKind::Public => {}
            // Authenticated by its key: it has no secret.
            ClientKind::Confidential if client.uses_private_key_jwt() => {}
            ClientKind::Confidential => {
                let digest = secrets.secrets.get(&client.client_id);
                if digest.and_then(|d| d.sha256_bytes()).is_none() {
                    return Err(invalid(field(), Problem::MissingClientSecret));
                }
            }
        }
    }
    Ok(())
}

fn check_auth_method(client: &ClientConfig) -> Result<(), Problem> {
    let public = client.kind == ClientKind::Public;
    match client.token_endpoint_auth_method {
        Some(ClientAuthMethod::None) if !public => return Err(Problem::AuthMethodKind),
        Some(method) if public && method != ClientAuthMethod::None => {
            return Err(Problem::AuthMethodKind);
        }
        _ => {}
    }
    let keys = usize::from(client.jwks.is_some()) + usize::from(client.jwks_uri.is_some());
    match (client.uses_private_key_jwt(), keys) {
        (true, 1) | (false, 0) => Ok(()),
        _ => Err(Problem::ClientKeys),
    }
}

fn check_users(config: &TenantConfig, directory: &UserDirectory) -> Result<(), Invalid> {
    if let Some(name) = directory.user_named_like_a_client(config) {
        return Err(invalid(format!("users[{name:?}]"), Problem::SubjectShared));
    }
    let mut seen = BTreeSet::new();
    for user in &directory.users {
        let field = format!("users[{:?}]", user.username);
        if !seen.insert(user.username.as_str()) {
            return Err(invalid(field, Problem::DuplicateUser));
        }
        if !is_argon2id_phc(&user.password_hash) {
            return Err(invalid(
                format!("{field}.passwordHash"),
                Problem::BadPasswordHash,
            ));
        }
        check_claim_names(&format!("{field}.claims"), user.claims.keys())?;
    }
    Ok(())
}

fn check_key_ring(ring: &KeyRing) -> Result<(), Invalid> {
    if ring.keys.is_empty() {
        return Err(invalid("keys", Problem::NoSigningKeys));
    }
    let mut seen = BTreeSet::new();
    for key in &ring.keys {
        let field = || format!("keys[{:?}]", key.kid);
        if !seen.insert(key.kid.as_str()) {
            return Err(invalid(field(), Problem::DuplicateKid));
        }
        let in_order = key.publish_at <= key.activate_at
            && key.remove_at.is_none_or(|remove| remove > key.publish_at);
        if !in_order {
            return Err(invalid(field(), Problem::BadKeySchedule));
        }
    }
    Ok(())
}

/// `http(s)://host[:port][/path]` with no query, fragment, userinfo or whitespace.
fn is_issuer(issuer: &str) -> bool {
    let Some(rest) = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(host, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() && !host.ends_with(':')
            {
                host
            } else {
                authority
            }
        });
    !host.is_empty()
        && !authority.contains('@')
        && !issuer.contains(['?', '#'])
        && !issuer.chars().any(char::is_whitespace)
}

/// The PHC string format of an argon2id hash, with parameters the argon2 crate accepts:
/// `$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>` (B64 without padding; the
/// version may be left out).
fn is_argon2id_phc(hash: &str) -> bool {
    let mut parts = hash.split('$');
    if parts.next() != Some("") || parts.next() != Some("argon2id") {
        return false;
    }
    let mut fields: Vec<&str> = parts.collect();
    // The version is optional in the PHC format (absent means 0x10).
    if fields.first().is_some_and(|f| f.starts_with("v="))
        && !matches!(fields.remove(0), "v=19" | "v=16")
    {
        return false;
    }
    let [params, salt, output] = fields[..] else {
        return false;
    };
    let params_ok = parse_params(params).is_some_and(|(m, t, p)| {
        (1..=0x00ff_ffff).contains(&p) && t >= 1 && m >= 8 * p && m <= 4 * 1024 * 1024
    });
    params_ok && is_b64(salt, 11..=86) && is_b64(output, 6..=86)
}

fn parse_params(params: &str) -> Option<(u64, u64, u64)> {
    let mut values = [None; 3];
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=')?;
        let slot = match name {
            "m" => 0,
            "t" => 1,
            "p" => 2,
            _ => return None,
        };
        let digits =
            !value.is_empty() && value.len() <= 10 && value.bytes().all(|b| b.is_ascii_digit());
        if !digits || values[slot].is_some() {
            return None;
        }
        values[slot] = value.parse::<u64>().ok();
    }
    Some((values[0]?, values[1]?, values[2]?))
}

fn is_b64(value: &str, length: std::ops::RangeInclusive<usize>) -> bool {
    length.contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests;
