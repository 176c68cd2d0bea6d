//! `--dev`: writes a demo tenant (generated ES256 key, a confidential client, a user) into a
//! directory in the contract's format, so a newcomer sees the real server work with one
//! command. The demo secrets are printed once, on purpose; nothing here is for production.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use meridian_contract::{
    Algorithm, ClientConfig, ClientKind, ClientSecrets, GrantType, KeyRing, REGION_FILE,
    RegionConfig, Scope, SecretDigest, TenantConfig, TenantFile, TokenLifetimes, User,
    UserDirectory,
};
use meridian_keys::generate_key;
use ring::rand::{SecureRandom, SystemRandom};

use crate::clock::{Clock, SystemClock};
use crate::issue::random_token;

pub const TENANT: &str = "demo";
pub const CLIENT_ID: &str = "demo-client";
pub const USERNAME: &str = "demo";

/// What `--dev` created, for the instructions it prints.
pub struct DevSetup {
    pub dir: PathBuf,
    pub issuer: String,
    pub client_secret: String,
    pub password: String,
}

impl DevSetup {
    pub fn instructions(&self) -> String {
        format!(
            "Meridian auth-server (dev mode), configuration in {dir}\n\
             issuer:        {issuer}\n\
             discovery:     {issuer}/.well-known/openid-configuration\n\
             client:        {CLIENT_ID} / {secret}\n\
             user:          {USERNAME} / {password}\n\n\
             Get a token:\n  curl -s -u {CLIENT_ID}:{secret} -d grant_type=client_credentials -d scope=api {issuer}/token\n",
            dir = self.dir.display(),
            issuer = self.issuer,
            secret = self.client_secret,
            password = self.password,
        )
    }
}

/// What `--dev` found in its directory.
pub enum DevConfig {
    /// A new demo tenant, with the secrets to print once.
    Written(DevSetup),
    /// The demo tenant of an earlier start, kept so that several `--dev` processes (and
    /// restarts) share one tenant, one signing key and, with a database, one grant store.
    Reused,
}

/// Writes the demo configuration into `dir`, with the issuer at `listen`, unless `dir` already
/// holds the demo tenant.
pub fn write_dev_config(dir: &Path, listen: SocketAddr) -> std::io::Result<DevConfig> {
    if dir.join(TenantFile::Config.file_name(TENANT)).is_file() {
        return Ok(DevConfig::Reused);
    }
    std::fs::create_dir_all(dir)?;
    let base = format!("http://{listen}");
    let issuer = format!("{base}/t/{TENANT}");
    let client_secret = random_token();
    let password = random_token()[..16].to_owned();
    let region = RegionConfig {
        name: "dev".into(),
        public_url: base,
        jwks_max_age_seconds: 300,
    };
    write(dir, REGION_FILE, &region)?;
    let keys = KeyRing {
        keys: vec![generate_key(Algorithm::ES256, 1, SystemClock.now())],
    };
    write(dir, &TenantFile::Keys.file_name(TENANT), &keys)?;
    let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, client_secret.as_bytes())
        .as_ref()
        .try_into()
        .expect("SHA-256 is 32 bytes");
    let mut secrets = ClientSecrets::default();
    secrets
        .secrets
        .insert(CLIENT_ID.into(), SecretDigest::from_sha256(digest));
    write(dir, &TenantFile::Clients.file_name(TENANT), &secrets)?;
    let user = User {
        username: USERNAME.into(),
        password_hash: hash_password(&password),
        claims: [
            ("name".to_owned(), "Demo User".into()),
            ("email".to_owned(), "demo@example.com".into()),
        ]
        .into(),
        home_region: None,
    };
    write(
        dir,
        &TenantFile::Users.file_name(TENANT),
        &UserDirectory { users: vec![user] },
    )?;
    // Last: its presence is what a later start takes for a complete demo tenant.
    write(
        dir,
        &TenantFile::Config.file_name(TENANT),
        &demo_tenant(&issuer),
    )?;
    Ok(DevConfig::Written(DevSetup {
        dir: dir.to_owned(),
        issuer,
        client_secret,
        password,
    }))
}

/// An argon2id PHC string with the crate's recommended parameters.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .expect("system random number generator");
    let salt = SaltString::encode_b64(&salt).expect("16-byte salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing")
        .to_string()
}

fn demo_tenant(issuer: &str) -> TenantConfig {
    let scope = |name: &str| Scope {
        name: name.into(),
        description: String::new(),
    };
    TenantConfig {
        fapi2: false,
        id: TENANT.into(),
        display_name: "Demo".into(),
        issuer: issuer.into(),
        home_region: "dev".into(),
        scopes: vec![
            scope("openid"),
            scope("profile"),
            scope("email"),
            scope("api"),
        ],
        clients: vec![ClientConfig {
            client_id: CLIENT_ID.into(),
            display_name: "Demo client".into(),
            kind: ClientKind::Confidential,
            grant_types: vec![
                GrantType::ClientCredentials,
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
            ],
            redirect_uris: vec!["http://127.0.0.1:9999/callback".into()],
            scopes: vec![
                "openid".into(),
                "profile".into(),
                "email".into(),
                "api".into(),
            ],
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
        }],
        tokens: TokenLifetimes {
            access_token_seconds: 300,
            id_token_seconds: 300,
            refresh_token_seconds: 86_400,
        },
        claims: Default::default(),
    }
}

fn write(dir: &Path, name: &str, value: &impl serde::Serialize) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(name), json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_start_reuses_the_demo_tenant_it_finds() {
        let dir = tempfile::tempdir().unwrap();
        let listen = SocketAddr::from(([127, 0, 0, 1], 8443));
        assert!(matches!(
            write_dev_config(dir.path(), listen).unwrap(),
            DevConfig::Written(_)
        ));
        let keys = dir.path().join(TenantFile::Keys.file_name(TENANT));
        let before = std::fs::read(&keys).unwrap();
        assert!(matches!(
            write_dev_config(dir.path(), listen).unwrap(),
            DevConfig::Reused
        ));
        assert_eq!(std::fs::read(&keys).unwrap(), before, "same signing key");
    }
}
