//! A tenant as the server serves it: its configuration, clients with their secret digests,
//! users and keys, checked and indexed once when the configuration is loaded.
//!
//! Building a [`Tenant`] is pure (contract values in, tenant or error out); it must never
//! read files or keep a secret in a form that could be logged.

use std::collections::{BTreeSet, HashMap};

use meridian_contract::{
    ClientConfig, ClientKind, ClientSecrets, GrantType, Invalid, KeyRing, Revision, TenantConfig,
    TenantFilesRef, UnixSeconds, User, UserDirectory, validate_tenant,
};

use crate::client_jwks::RemoteJwks;
use crate::keys::{KeyError, Signer, TenantKeys};

/// A registered client and, for a confidential one, its secret's SHA-256.
pub struct Client {
    pub config: ClientConfig,
    pub secret_digest: Option<[u8; 32]>,
    /// Browser origins that may read this client's answers (CORS), computed once at load.
    pub origins: BTreeSet<String>,
    /// A `private_key_jwt` client's inline public keys, as JWKs.
    pub jwks: Vec<serde_json::Value>,
    /// A `private_key_jwt` client's `jwks_uri` and its cache, which lives as long as this
    /// configuration.
    pub remote_jwks: Option<RemoteJwks>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("secret_digest", &self.secret_digest.map(|_| "<redacted>"))
            .field("origins", &self.origins)
            .field("jwks", &self.jwks.len())
            .field("remote_jwks", &self.remote_jwks.is_some())
            .finish()
    }
}

impl Client {
    pub fn may_use(&self, grant: GrantType) -> bool {
        self.config.grant_types.contains(&grant)
    }

    pub fn is_public(&self) -> bool {
        self.config.kind == ClientKind::Public
    }

    /// Whether a browser page on `origin` may read this client's answers.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins.contains(origin)
    }

    /// `aud` of this client's access tokens.
    pub fn audience<'a>(&'a self, issuer: &'a str) -> &'a str {
        self.config.audience.as_deref().unwrap_or(issuer)
    }
}

/// Why a tenant's files cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// Refused by the validation the operator runs too.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("issuer {0:?} is not an absolute http(s) URL without query or fragment")]
    BadIssuer(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl TenantError {
    /// A short machine label, for log fields and metrics.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(invalid) => invalid.problem.reason(),
            Self::BadIssuer(_) => "BadIssuer",
            Self::Key(error) => error.reason(),
        }
    }
}

/// The contract files of one tenant, parsed (the operator writes them as `TenantFiles`).
#[derive(Debug)]
pub struct ParsedTenantFiles {
    pub config: TenantConfig,
    pub keys: KeyRing,
    pub clients: ClientSecrets,
    pub users: UserDirectory,
}

#[derive(Debug)]
pub struct Tenant {
    pub config: TenantConfig,
    /// The issuer's path without a trailing slash (`/t/acme`, or empty).
    pub path: String,
    /// The issuer's `host[:port]`, used only when two tenants share a path.
    pub authority: String,
    clients: HashMap<String, Client>,
    users: HashMap<String, User>,
    /// Every claim name some user has, gathered once: discovery is unauthenticated and must
    /// not walk the directory per request.
    user_claim_names: BTreeSet<String>,
    /// Every client's origins, for answers that name no client (discovery, JWKS, preflights).
    origins: BTreeSet<String>,
    keys: TenantKeys,
    /// The digest of the files this tenant was built from, served so the operator can see
    /// from outside which configuration a region serves.
    pub revision: Revision,
}

impl Tenant {
    pub fn build(files: ParsedTenantFiles, revision: Revision) -> Result<Self, TenantError> {
        validate_tenant(TenantFilesRef {
            config: &files.config,
            keys: &files.keys,
            clients: &files.clients,
            users: Some(&files.users),
        })?;
        let ParsedTenantFiles {
            config,
            keys,
            clients,
            users,
        } = files;
        let issuer = url::Url::parse(&config.issuer)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .filter(|u| u.query().is_none() && u.fragment().is_none() && u.host().is_some())
            .ok_or_else(|| TenantError::BadIssuer(config.issuer.clone()))?;
        let clients = index_clients(&config.clients, &clients);
        let origins = clients
            .values()
            .flat_map(|client| client.origins.iter().cloned())
            .collect();
        let users: HashMap<String, User> = users
            .users
            .into_iter()
            .map(|user| (user.username.clone(), user))
            .collect();
        let user_claim_names = users
            .values()
            .flat_map(|user| user.claims.keys().cloned())
            .collect();
        let keys = TenantKeys::load(keys)?;
        let authority = match issuer.port() {
            Some(port) => format!("{}:{port}", issuer.host_str().unwrap_or_default()),
            None => issuer.host_str().unwrap_or_default().to_owned(),
        };
        let path = issuer.path().trim_end_matches('/').to_owned();
        Ok(Self {
            config,
            path,
            authority,
            clients,
            users,
            user_claim_names,
            origins,
            keys,
            revision,
        })
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Whether the FAPI 2.0 Security Profile applies to every client.
    pub fn fapi2(&self) -> bool {
        self.config.fapi2
    }

    /// An endpoint URL under the issuer, e.g. `endpoint("/token")`.
    pub fn endpoint(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.config.issuer.trim_end_matches('/'))
    }

    pub fn client(&self, client_id: &str) -> Option<&Client> {
        self.clients.get(client_id)
    }

    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.get(username)
    }

    pub fn keys(&self) -> &TenantKeys {
        &self.keys
    }

    pub fn signer(&self, now: UnixSeconds) -> Option<&Signer> {
        self.keys.signer(now)
    }

    /// The `region` claim: the subject's home region, else the tenant's.
    pub fn region_of<'a>(&'a self, user: Option<&'a User>) -> &'a str {
        user.and_then(|u| u.home_region.as_deref())
            .unwrap_or(&self.config.home_region)
    }

    pub fn scope_names(&self) -> impl Iterator<Item = &str> {
        self.config.scopes.iter().map(|scope| scope.name.as_str())
    }

    /// Whether `origin` is an origin of some client of this tenant.
    pub fn knows_origin(&self, origin: &str) -> bool {
        self.origins.contains(origin)
    }

    /// Every claim name some user of this tenant has, for discovery's `claims_supported`.
    pub fn user_claim_names(&self) -> impl Iterator<Item = &str> {
        self.user_claim_names.iter().map(String::as_str)
    }
}

/// Indexes clients already validated: a confidential client's digest is well formed.
fn index_clients(configs: &[ClientConfig], secrets: &ClientSecrets) -> HashMap<String, Client> {
    configs
        .iter()
        .map(|config| {
            let secret_digest = match config.kind {
                ClientKind::Public => None,
                ClientKind::Confidential => secrets
                    .secrets
                    .get(&config.client_id)
                    .and_then(|digest| digest.sha256_bytes()),
            };
            let client = Client {
                config: config.clone(),
                secret_digest,
                origins: crate::oauth::client_origins(config),
                jwks: config
                    .jwks
                    .iter()
                    .flat_map(|jwks| &jwks.keys)
                    .filter_map(|key| serde_json::to_value(key).ok())
                    .collect(),
                remote_jwks: config.jwks_uri.as_deref().map(RemoteJwks::new),
            };
            (config.client_id.clone(), client)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use meridian_contract::{Algorithm, ClientConfig, Problem, TokenLifetimes};
    use meridian_keys::generate_key;

    use super::*;

    fn build(files: ParsedTenantFiles) -> Result<Tenant, TenantError> {
        Tenant::build(files, Revision::of([]))
    }

    fn is_invalid(error: &TenantError, problem: Problem) -> bool {
        matches!(error, TenantError::Invalid(invalid) if invalid.problem == problem)
    }

    fn files(clients: Vec<ClientConfig>) -> ParsedTenantFiles {
        let config = TenantConfig {
            fapi2: false,
            id: "acme".into(),
            display_name: "Acme".into(),
            issuer: "https://auth.example/t/acme".into(),
            home_region: "eu".into(),
            scopes: vec![],
            clients,
            tokens: TokenLifetimes {
                access_token_seconds: 60,
                id_token_seconds: 60,
                refresh_token_seconds: 60,
            },
            claims: Default::default(),
        };
        ParsedTenantFiles {
            config,
            keys: KeyRing {
                keys: vec![generate_key(Algorithm::ES256, 1, 0)],
            },
            clients: ClientSecrets::default(),
            users: UserDirectory::default(),
        }
    }

    fn client(kind: ClientKind, grants: Vec<GrantType>) -> ClientConfig {
        ClientConfig {
            client_id: "c".into(),
            display_name: String::new(),
            kind,
            grant_types: grants,
            redirect_uris: vec![],
            scopes: vec![],
            audience: None,
            resources: vec![],
            allowed_origins: None,
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            require_dpop_nonce: false,
            token_endpoint_auth_method: None,
            jwks: None,
            jwks_uri: None,
            token_exchange: None,
        }
    }

    #[test]
    fn a_public_client_cannot_hold_client_credentials() {
        let public = client(ClientKind::Public, vec![GrantType::ClientCredentials]);
        let error = build(files(vec![public])).unwrap_err();
        assert!(
            is_invalid(&error, Problem::PublicClientCredentials),
            "{error}"
        );
    }

    #[test]
    fn a_confidential_client_needs_a_secret_digest() {
        let confidential = client(ClientKind::Confidential, vec![GrantType::ClientCredentials]);
        let error = build(files(vec![confidential])).unwrap_err();
        assert!(is_invalid(&error, Problem::MissingClientSecret), "{error}");
    }

    #[test]
    fn a_user_named_like_a_client_is_refused() {
        let public = client(ClientKind::Public, vec![GrantType::AuthorizationCode]);
        let mut files = files(vec![public]);
        files.users.users.push(User {
            username: "c".into(),
            password_hash: crate::dev::hash_password("pw"),
            claims: Default::default(),
            home_region: None,
        });
        let error = build(files).unwrap_err();
        assert!(is_invalid(&error, Problem::SubjectShared), "{error}");
    }

    #[test]
    fn static_claims_cannot_shadow_registered_ones() {
        let mut files = files(vec![]);
        files.config.claims.insert("sub".into(), "root".into());
        let error = build(files).unwrap_err();
        assert!(is_invalid(&error, Problem::ReservedClaim), "{error}");
    }

    #[test]
    fn a_key_whose_kid_is_not_its_thumbprint_is_refused() {
        let mut files = files(vec![]);
        files.keys.keys[0].kid = "chosen-by-hand".into();
        let error = build(files).unwrap_err();
        assert!(
            matches!(error, TenantError::Key(KeyError::KidMismatch { .. })),
            "{error}"
        );
    }

    #[test]
    fn the_region_claim_prefers_the_users_home() {
        let tenant = build(files(vec![])).unwrap();
        let user = User {
            username: "alice".into(),
            password_hash: String::new(),
            claims: Default::default(),
            home_region: Some("ap".into()),
        };
        assert_eq!(tenant.region_of(Some(&user)), "ap");
        assert_eq!(tenant.region_of(None), "eu", "the tenant's home otherwise");
    }
}
