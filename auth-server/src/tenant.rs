//! A tenant as the server serves it: its configuration, clients with their secret digests,
//! users and keys, checked and indexed once when the configuration is loaded.
//!
//! Building a [`Tenant`] is pure (contract values in, tenant or error out); it must never
//! read files or keep a secret in a form that could be logged.

use std::collections::{BTreeSet, HashMap};

use argon2::PasswordHash;
use meridian_contract::{
    ClientConfig, ClientKind, ClientSecrets, GrantType, KeyRing, TenantConfig, UnixSeconds, User,
    UserDirectory,
};

use crate::keys::{KeyError, Signer, TenantKeys};
use crate::oauth::RESERVED_CLAIMS;

/// A registered client and, for a confidential one, its secret's SHA-256.
pub struct Client {
    pub config: ClientConfig,
    pub secret_digest: Option<[u8; 32]>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("secret_digest", &self.secret_digest.map(|_| "<redacted>"))
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

    /// `aud` of this client's access tokens.
    pub fn audience<'a>(&'a self, issuer: &'a str) -> &'a str {
        self.config.audience.as_deref().unwrap_or(issuer)
    }
}

/// Why a tenant's files cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error("issuer {0:?} is not an absolute http(s) URL without query or fragment")]
    BadIssuer(String),
    #[error("client {0}: a public client may not use client_credentials")]
    PublicClientCredentials(String),
    #[error("client {0}: confidential client without a well-formed sha256 secret digest")]
    MissingSecret(String),
    #[error("client {0}: listed twice")]
    DuplicateClient(String),
    #[error("user {0}: password hash is not an argon2id PHC string")]
    BadPasswordHash(String),
    #[error("user {0}: named like a client, so both would be the same `sub`")]
    SubjectShared(String),
    #[error("claim {0:?} is reserved and cannot be set statically")]
    ReservedClaim(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl TenantError {
    /// A short machine label, for log fields and metrics.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::BadIssuer(_) => "BadIssuer",
            Self::PublicClientCredentials(_) => "PublicClientCredentials",
            Self::MissingSecret(_) => "MissingClientSecret",
            Self::DuplicateClient(_) => "DuplicateClient",
            Self::BadPasswordHash(_) => "BadPasswordHash",
            Self::SubjectShared(_) => "SubjectShared",
            Self::ReservedClaim(_) => "ReservedClaim",
            Self::Key(error) => error.reason(),
        }
    }
}

/// The contract files of one tenant.
#[derive(Debug)]
pub struct TenantFiles {
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
    keys: TenantKeys,
}

impl Tenant {
    pub fn build(files: TenantFiles) -> Result<Self, TenantError> {
        let TenantFiles {
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
        check_claim_names(config.claims.keys())?;
        let clients = index_clients(&config.clients, &clients)?;
        if let Some(name) = users.user_named_like_a_client(&config) {
            return Err(TenantError::SubjectShared(name.to_owned()));
        }
        let users = index_users(users)?;
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
            keys,
        })
    }

    pub fn id(&self) -> &str {
        &self.config.id
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
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

    /// Every claim name some user of this tenant has, for discovery's `claims_supported`.
    pub fn user_claim_names(&self) -> impl Iterator<Item = &str> {
        self.user_claim_names.iter().map(String::as_str)
    }
}

fn check_claim_names<'a>(names: impl Iterator<Item = &'a String>) -> Result<(), TenantError> {
    for name in names {
        if RESERVED_CLAIMS.contains(&name.as_str()) {
            return Err(TenantError::ReservedClaim(name.clone()));
        }
    }
    Ok(())
}

fn index_clients(
    configs: &[ClientConfig],
    secrets: &ClientSecrets,
) -> Result<HashMap<String, Client>, TenantError> {
    let mut clients = HashMap::with_capacity(configs.len());
    for config in configs {
        let id = config.client_id.clone();
        let secret_digest = match config.kind {
            ClientKind::Public if config.grant_types.contains(&GrantType::ClientCredentials) => {
                return Err(TenantError::PublicClientCredentials(id));
            }
            ClientKind::Public => None,
            ClientKind::Confidential => Some(
                secrets
                    .secrets
                    .get(&id)
                    .and_then(|digest| digest.sha256_bytes())
                    .ok_or_else(|| TenantError::MissingSecret(id.clone()))?,
            ),
        };
        let client = Client {
            config: config.clone(),
            secret_digest,
        };
        if clients.insert(id.clone(), client).is_some() {
            return Err(TenantError::DuplicateClient(id));
        }
    }
    Ok(clients)
}

fn index_users(directory: UserDirectory) -> Result<HashMap<String, User>, TenantError> {
    let mut users = HashMap::with_capacity(directory.users.len());
    for user in directory.users {
        let is_argon2id = PasswordHash::new(&user.password_hash)
            .is_ok_and(|hash| hash.algorithm.as_str() == "argon2id");
        if !is_argon2id {
            return Err(TenantError::BadPasswordHash(user.username));
        }
        check_claim_names(user.claims.keys())?;
        users.insert(user.username.clone(), user);
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use meridian_contract::{Algorithm, ClientConfig, TokenLifetimes};

    use super::*;
    use crate::keys::generate_key;

    fn files(clients: Vec<ClientConfig>) -> TenantFiles {
        let config = TenantConfig {
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
        TenantFiles {
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
        }
    }

    #[test]
    fn a_public_client_cannot_hold_client_credentials() {
        let public = client(ClientKind::Public, vec![GrantType::ClientCredentials]);
        let error = Tenant::build(files(vec![public])).unwrap_err();
        assert!(
            matches!(error, TenantError::PublicClientCredentials(_)),
            "{error}"
        );
    }

    #[test]
    fn a_confidential_client_needs_a_secret_digest() {
        let confidential = client(ClientKind::Confidential, vec![GrantType::ClientCredentials]);
        let error = Tenant::build(files(vec![confidential])).unwrap_err();
        assert!(matches!(error, TenantError::MissingSecret(_)), "{error}");
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
        let error = Tenant::build(files).unwrap_err();
        assert!(matches!(error, TenantError::SubjectShared(_)), "{error}");
    }

    #[test]
    fn static_claims_cannot_shadow_registered_ones() {
        let mut files = files(vec![]);
        files.config.claims.insert("sub".into(), "root".into());
        let error = Tenant::build(files).unwrap_err();
        assert!(matches!(error, TenantError::ReservedClaim(_)), "{error}");
    }

    #[test]
    fn a_key_whose_kid_is_not_its_thumbprint_is_refused() {
        let mut files = files(vec![]);
        files.keys.keys[0].kid = "chosen-by-hand".into();
        let error = Tenant::build(files).unwrap_err();
        assert!(
            matches!(error, TenantError::Key(KeyError::KidMismatch { .. })),
            "{error}"
        );
    }

    #[test]
    fn the_region_claim_prefers_the_users_home() {
        let tenant = Tenant::build(files(vec![])).unwrap();
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
