//! Test support: writes contract files for a few tenants, starts the real server on a loopback
//! port with a manual clock, and drives the login form like a browser without JavaScript.
#![allow(dead_code)]

pub mod jose;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use meridian_auth_server::clock::{Clock, ManualClock, SystemClock};
use meridian_auth_server::dev::hash_password;
use meridian_auth_server::server::{RunningServer, ServerOptions, start};
use meridian_contract::{
    Algorithm, ClientConfig, ClientKind, ClientSecrets, GrantType, KeyRing, REGION_FILE,
    RegionConfig, Scope, SecretDigest, SigningKey, TenantConfig, TenantFile, TokenLifetimes, User,
    UserDirectory,
};
use url::Url;

pub const PASSWORD: &str = "correct horse battery staple";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const SVC_SECRET: &str = "svc-secret-with-plenty-of-entropy";
pub const WEB_SECRET: &str = "web-secret-with-plenty-of-entropy";

pub struct TestServer {
    pub server: RunningServer,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// A server whose directory holds one tenant per `(id, alg)`.
    pub async fn start(tenants: &[(&str, Algorithm)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(SystemClock.now());
        let server = start_on(dir.path(), Arc::new(clock.clone())).await;
        // The port is known only now, and the issuer names it: write the files, then load.
        assert!(!server.config.is_ready());
        let this = Self { server, clock, dir };
        let base = format!("http://{}", this.server.addr);
        write_region(this.dir.path(), &base);
        for (id, alg) in tenants {
            let key = key_for(*alg, this.clock.now());
            write_tenant(this.dir.path(), &issuer(&base, id), id, vec![key]);
        }
        assert!(
            this.server.config.reload(this.dir.path()),
            "fixture configuration loads"
        );
        this
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    pub fn issuer(&self, tenant: &str) -> String {
        issuer(&self.base(), tenant)
    }

    /// Rewrites tenant `id`'s configuration with `edit` applied and loads it.
    pub fn edit_tenant(&self, id: &str, edit: impl FnOnce(&mut TenantConfig)) {
        let mut config = tenant_config(id, &self.issuer(id));
        edit(&mut config);
        write_json(self.dir.path(), &TenantFile::Config.file_name(id), &config);
        assert!(
            self.server.config.reload(self.dir.path()),
            "edited configuration loads"
        );
    }

    /// The key that signs tenant `id`'s tokens, read from its key ring file.
    pub fn tenant_signer(&self, id: &str) -> meridian_auth_server::keys::Signer {
        let path = self.dir.path().join(TenantFile::Keys.file_name(id));
        let ring: KeyRing = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        meridian_auth_server::keys::Signer::from_contract(&ring.keys[0]).unwrap()
    }

    /// The registered client `client_id` of `config`, to edit.
    pub fn client_of<'c>(config: &'c mut TenantConfig, client_id: &str) -> &'c mut ClientConfig {
        config
            .clients
            .iter_mut()
            .find(|c| c.client_id == client_id)
            .unwrap_or_else(|| panic!("no client {client_id}"))
    }
}

pub async fn start_on(dir: &Path, clock: Arc<dyn Clock>) -> RunningServer {
    let mut options = ServerOptions::new(dir, SocketAddr::from(([127, 0, 0, 1], 0)));
    options.clock = clock;
    options.admin_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    start(options).await.unwrap()
}

pub fn issuer(base: &str, tenant: &str) -> String {
    format!("{base}/t/{tenant}")
}

pub fn key_for(alg: Algorithm, now: i64) -> SigningKey {
    meridian_keys::generate_key(alg, 1, now)
}

pub fn write_json(dir: &Path, name: &str, value: &impl serde::Serialize) {
    std::fs::write(dir.join(name), serde_json::to_vec_pretty(value).unwrap()).unwrap();
}

pub fn write_region(dir: &Path, base: &str) {
    let region = RegionConfig {
        name: "eu-west".into(),
        public_url: base.into(),
        jwks_max_age_seconds: 120,
    };
    write_json(dir, REGION_FILE, &region);
}

fn digest(secret: &str) -> SecretDigest {
    let bytes = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    SecretDigest::from_sha256(bytes.as_ref().try_into().unwrap())
}

/// A client of the fixture's shape (redirecting to [`REDIRECT`]), with everything else off.
pub fn client(id: &str, kind: ClientKind, grants: &[GrantType], scopes: &[&str]) -> ClientConfig {
    ClientConfig {
        client_id: id.into(),
        display_name: String::new(),
        kind,
        grant_types: grants.to_vec(),
        redirect_uris: vec![REDIRECT.into()],
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
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

pub fn tenant_config(id: &str, issuer: &str) -> TenantConfig {
    use GrantType::*;
    let scope = |name: &str| Scope {
        name: name.into(),
        description: String::new(),
    };
    TenantConfig {
        fapi2: false,
        id: id.into(),
        display_name: format!("Tenant {id}"),
        issuer: issuer.into(),
        home_region: "us-east".into(),
        scopes: ["openid", "profile", "email", "api"].map(scope).to_vec(),
        clients: vec![
            client(
                "svc",
                ClientKind::Confidential,
                &[ClientCredentials],
                &["api"],
            ),
            client(
                "web",
                ClientKind::Confidential,
                &[AuthorizationCode, RefreshToken],
                &["openid", "profile", "email", "api"],
            ),
            client(
                "spa",
                ClientKind::Public,
                &[AuthorizationCode, RefreshToken],
                &["openid", "api"],
            ),
        ],
        tokens: TokenLifetimes {
            access_token_seconds: 300,
            id_token_seconds: 300,
            refresh_token_seconds: 3600,
        },
        claims: [("org".to_owned(), format!("org-{id}"))].into(),
    }
}

/// Writes all four files of a tenant: alice lives in eu-west, bob has no home region.
pub fn write_tenant(dir: &Path, issuer: &str, id: &str, keys: Vec<SigningKey>) {
    write_json(
        dir,
        &TenantFile::Config.file_name(id),
        &tenant_config(id, issuer),
    );
    write_json(dir, &TenantFile::Keys.file_name(id), &KeyRing { keys });
    let mut secrets = ClientSecrets::default();
    secrets.secrets.insert("svc".into(), digest(SVC_SECRET));
    secrets.secrets.insert("web".into(), digest(WEB_SECRET));
    write_json(dir, &TenantFile::Clients.file_name(id), &secrets);
    let hash = hash_password(PASSWORD);
    let user = |name: &str, home: Option<&str>| User {
        username: name.into(),
        password_hash: hash.clone(),
        claims: [("email".to_owned(), format!("{name}@example.com").into())].into(),
        home_region: home.map(str::to_owned),
    };
    let users = UserDirectory {
        users: vec![user("alice", Some("eu-west")), user("bob", None)],
    };
    write_json(dir, &TenantFile::Users.file_name(id), &users);
}

/// A browser: keeps cookies, never follows redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Plain HTTP for the OAuth client libraries (which must not follow redirects either).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Opens the authorize URL, submits the login form, and returns where the server redirects.
pub async fn log_in(
    browser: &reqwest::Client,
    authorize: &Url,
    username: &str,
    password: &str,
) -> Url {
    let page = browser.get(authorize.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200, "login page is shown");
    let html = page.text().await.unwrap();
    let action = authorize.join("login").unwrap();
    let form = [
        ("login_id", hidden_field(&html, "login_id")),
        ("csrf", hidden_field(&html, "csrf")),
        ("username", username.to_owned()),
        ("password", password.to_owned()),
    ];
    let response = browser.post(action).form(&form).send().await.unwrap();
    assert!(
        response.status().is_redirection(),
        "login redirects, got {}",
        response.status()
    );
    location(&response)
}

pub fn location(response: &reqwest::Response) -> Url {
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

pub fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// RFC 7636 Appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The PKCE parameters of [`CHALLENGE`], for `authorize_url`'s extras.
pub const PKCE: [(&str, &str); 2] = [
    ("code_challenge", CHALLENGE),
    ("code_challenge_method", "S256"),
];

/// `url` with its query parameter `name` set to `value` (others kept, in order).
pub fn with_param(url: &Url, name: &str, value: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| match &*k == name {
            true => (k.into_owned(), value.to_owned()),
            false => (k.into_owned(), v.into_owned()),
        })
        .collect();
    let mut url = url.clone();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

/// An authorize URL for `client` with the given extra parameters.
pub fn authorize_url(issuer: &str, client: &str, extra: &[(&str, &str)]) -> Url {
    let mut url = Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid")
        .append_pair("state", "st-123")
        .append_pair("nonce", "n-456")
        .extend_pairs(extra);
    url
}

/// POSTs a form to an endpoint under `issuer`, optionally with HTTP Basic client auth.
pub async fn post_form(
    issuer: &str,
    endpoint: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> (
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    serde_json::Value,
) {
    let mut request = http().post(format!("{issuer}{endpoint}")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, headers, body)
}

/// A full code flow with PKCE for a user; returns the code and the token response.
pub async fn user_tokens(
    issuer: &str,
    client: &str,
    secret: Option<&str>,
    user: &str,
) -> (String, serde_json::Value) {
    let url = authorize_url(
        issuer,
        client,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let callback = log_in(&browser(), &url, user, PASSWORD).await;
    let code = query(&callback, "code").expect("a code");
    let (status, _, body) = redeem(issuer, client, secret, &code, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{body}");
    (code, body)
}

pub async fn redeem(
    issuer: &str,
    client: &str,
    secret: Option<&str>,
    code: &str,
    verifier: Option<&str>,
) -> (
    reqwest::StatusCode,
    reqwest::header::HeaderMap,
    serde_json::Value,
) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    match secret {
        Some(secret) => post_form(issuer, "/token", Some((client, secret)), &form).await,
        None => {
            form.push(("client_id", client));
            post_form(issuer, "/token", None, &form).await
        }
    }
}

pub async fn userinfo_status(issuer: &str, token: &str) -> reqwest::StatusCode {
    let response = http()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    if response.status() == 401 {
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    response.status()
}

/// The tenant's OIDC discovery document.
pub async fn discovery(issuer: &str) -> serde_json::Value {
    get_json(&format!("{issuer}/.well-known/openid-configuration")).await
}

/// An unauthenticated GET whose body is JSON.
pub async fn get_json(url: &str) -> serde_json::Value {
    http().get(url).send().await.unwrap().json().await.unwrap()
}
