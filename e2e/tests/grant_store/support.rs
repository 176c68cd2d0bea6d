//! A region of auth-server replicas on one database, and the HTTP a browser and an OAuth
//! client send them. Each test gets its own database (and its own PostgreSQL when it needs
//! to stop it), its own demo tenant and its own loopback ports.

use meridian_auth_server::dev::{CLIENT_ID, DevConfig, DevSetup, USERNAME, write_dev_config};
use meridian_e2e::Postgres;
use meridian_e2e::auth_server::Replica;
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tempfile::TempDir;

pub const REDIRECT_URI: &str = "http://127.0.0.1:9999/callback";

/// Replicas of one region on one database.
pub struct Region {
    pub db: Postgres,
    /// The replicas' database.
    pub uri: String,
    /// The demo tenant's files, and the replicas' logs.
    _dir: TempDir,
    pub setup: DevSetup,
    pub replicas: Vec<Replica>,
}

impl Region {
    /// `count` replicas on a fresh database (of `MERIDIAN_TEST_POSTGRES_URL`'s server if set).
    pub async fn start(count: usize) -> Region {
        let db = Postgres::from_env_or_start().await.expect("postgres");
        Self::start_on(db, count).await
    }

    /// As [`Region::start`], on a PostgreSQL of its own that the test may stop.
    pub async fn with_own_database_server(count: usize) -> Region {
        let db = Postgres::start().await.expect("postgres starts");
        Self::start_on(db, count).await
    }

    /// As [`Region::start`], with the demo tenant's configuration edited first.
    pub async fn start_with_tenant(count: usize, edit: impl FnOnce(&mut Value)) -> Region {
        let db = Postgres::from_env_or_start().await.expect("postgres");
        Self::start_on_edited(db, count, edit).await
    }

    async fn start_on(db: Postgres, count: usize) -> Region {
        Self::start_on_edited(db, count, |_| {}).await
    }

    async fn start_on_edited(db: Postgres, count: usize, edit: impl FnOnce(&mut Value)) -> Region {
        let uri = db
            .create_database("grants")
            .await
            .expect("database created");
        let (dir, setup) = demo_tenant();
        let file = dir.path().join("demo.tenant.json");
        let mut tenant: Value = serde_json::from_slice(&std::fs::read(&file).expect("tenant file"))
            .expect("tenant JSON");
        edit(&mut tenant);
        std::fs::write(&file, serde_json::to_vec(&tenant).expect("JSON")).expect("tenant written");
        let mut replicas = Vec::new();
        for n in 0..count {
            let name = format!("replica-{n}");
            let replica = Replica::start(&name, dir.path(), &uri, dir.path()).await;
            replicas.push(replica.expect("replica ready"));
        }
        Region {
            db,
            uri,
            _dir: dir,
            setup,
            replicas,
        }
    }

    pub fn base(&self, replica: usize) -> String {
        self.replicas[replica].base()
    }
}

/// The `--dev` demo tenant in a directory of its own, its issuer on a port nobody serves:
/// replicas route by the issuer's path, so every one serves it on its own port.
pub fn demo_tenant() -> (TempDir, DevSetup) {
    let dir = tempfile::tempdir().expect("temp dir");
    let issuer_address = "127.0.0.1:1".parse().expect("address");
    match write_dev_config(dir.path(), issuer_address).expect("demo tenant written") {
        DevConfig::Written(setup) => (dir, setup),
        DevConfig::Reused => unreachable!("a fresh directory holds no tenant"),
    }
}

/// A browser: keeps cookies (they are per host, not per port, so both replicas see them),
/// never follows redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

pub fn tenant_url(base: &str, path: &str) -> String {
    format!("{base}/t/demo{path}")
}

pub fn authorize_url(base: &str) -> String {
    let params = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid api"),
        ("state", "s-123"),
    ];
    reqwest::Url::parse_with_params(&tenant_url(base, "/authorize"), params)
        .expect("authorize URL")
        .to_string()
}

fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The login form's ids, from the page `/authorize` shows at `base`.
pub async fn login_form(browser: &reqwest::Client, base: &str) -> (String, String) {
    let page = browser
        .get(authorize_url(base))
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), StatusCode::OK, "the login page is shown");
    let html = page.text().await.expect("page");
    (hidden_field(&html, "login_id"), hidden_field(&html, "csrf"))
}

pub async fn submit_login(
    browser: &reqwest::Client,
    base: &str,
    (login_id, csrf): &(String, String),
    password: &str,
) -> Response {
    let form = [
        ("login_id", login_id.as_str()),
        ("csrf", csrf.as_str()),
        ("username", USERNAME),
        ("password", password),
    ];
    let url = tenant_url(base, "/login");
    browser.post(url).form(&form).send().await.expect("login")
}

/// The code in a redirect to the client.
pub fn code_of(response: &Response) -> String {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "redirected to the client"
    );
    let location = response.headers()["location"].to_str().expect("location");
    let url = reqwest::Url::parse(location).expect("a URL");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code")
}

/// Signs in at `base` and returns a code; the browser keeps the session cookie.
pub async fn sign_in(browser: &reqwest::Client, base: &str, setup: &DevSetup) -> String {
    let form = login_form(browser, base).await;
    code_of(&submit_login(browser, base, &form, &setup.password).await)
}

/// A code from a live session, with no login page.
pub async fn code_from_session(browser: &reqwest::Client, base: &str) -> String {
    code_of(
        &browser
            .get(authorize_url(base))
            .send()
            .await
            .expect("authorize"),
    )
}

async fn token_request(base: &str, setup: &DevSetup, form: &[(&str, &str)]) -> Response {
    http()
        .post(tenant_url(base, "/token"))
        .basic_auth(CLIENT_ID, Some(&setup.client_secret))
        .form(form)
        .send()
        .await
        .expect("token request")
}

pub async fn redeem(base: &str, setup: &DevSetup, code: &str) -> Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
    ];
    token_request(base, setup, &form).await
}

pub async fn refresh(base: &str, setup: &DevSetup, token: &str) -> Response {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
    token_request(base, setup, &form).await
}

pub async fn client_credentials(base: &str, setup: &DevSetup) -> Response {
    let form = [("grant_type", "client_credentials"), ("scope", "api")];
    token_request(base, setup, &form).await
}

/// The JSON of a 200 token response.
pub async fn tokens(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK, "tokens issued");
    response.json().await.expect("token JSON")
}

pub fn field(json: &Value, name: &str) -> String {
    json[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in the response"))
        .to_owned()
}

pub async fn introspect(base: &str, setup: &DevSetup, token: &str) -> Value {
    let response = http()
        .post(tenant_url(base, "/introspect"))
        .basic_auth(CLIENT_ID, Some(&setup.client_secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("introspection");
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("introspection JSON")
}

pub async fn revoke(base: &str, setup: &DevSetup, token: &str) {
    let response = http()
        .post(tenant_url(base, "/revoke"))
        .basic_auth(CLIENT_ID, Some(&setup.client_secret))
        .form(&[("token", token)])
        .send()
        .await
        .expect("revocation");
    assert_eq!(response.status(), StatusCode::OK);
}

pub async fn status_of(url: &str) -> StatusCode {
    http().get(url).send().await.expect("request").status()
}
