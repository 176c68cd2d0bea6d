//! What the scenarios share: starting Meridian locally, the example clients, and checks
//! phrased the way a user observes them.

use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use meridian_e2e::eventually;
use meridian_e2e::local::{LocalMeridian, LocalOptions, REGIONS, Steps, TENANT};
use meridian_e2e::meridian::{OPERATOR_NAMESPACE, init_test_logging, repo_root};
use meridian_e2e::tokens::{VerifiedToken, http_client};
use meridian_operator::api::{AuthRegion, Tenant};

/// examples/'s confidential client, its audience and scopes.
pub const BACKEND: &str = "backend";
pub const AUDIENCE: &str = "https://api.acme.example";
pub const WAIT: Duration = Duration::from_secs(60);

/// Debian's chromium, playwright-core and openid-client, installed by the script e2e/test.sh
/// calls too.
pub fn install_node_clients() -> anyhow::Result<()> {
    let script = repo_root().join("e2e/browser/install.sh");
    let status = std::process::Command::new("bash").arg(&script).status()?;
    anyhow::ensure!(status.success(), "{} failed: {status}", script.display());
    Ok(())
}

/// examples/' public client and its loopback redirect URI.
pub const WEB_CLIENT: &str = "web";
pub const WEB_REDIRECT_URI: &str = "http://127.0.0.1:18080/callback";

/// The public client as the `openidconnect` crate builds it from discovery.
pub type WebClient = openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// A code flow the `web` client starts, configured with only the issuer URL: where to send
/// the browser, and what checks its answer.
pub struct CodeFlow {
    pub client: WebClient,
    pub authorize_url: oauth2::url::Url,
    pub state: openidconnect::CsrfToken,
    pub nonce: openidconnect::Nonce,
    pub verifier: openidconnect::PkceCodeVerifier,
}

/// Discovers the provider at `issuer` (through the front door) and builds an authorization
/// request with PKCE S256, `openid` and `scope`.
pub async fn code_flow(issuer: &str, scope: &str) -> anyhow::Result<CodeFlow> {
    use openidconnect::core::{CoreAuthenticationFlow, CoreProviderMetadata};
    use openidconnect::{ClientId, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, RedirectUrl};
    let issuer = IssuerUrl::new(issuer.to_owned())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client())
        .await
        .map_err(|e| anyhow::anyhow!("discovery at the issuer URL: {e:?}"))?;
    let client =
        WebClient::from_provider_metadata(metadata, ClientId::new(WEB_CLIENT.into()), None)
            .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT_URI.into())?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize_url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(openidconnect::Scope::new(scope.into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok(CodeFlow {
        client,
        authorize_url,
        state,
        nonce,
        verifier,
    })
}

/// How a sign-in went: the login form was shown and filled, or the browser's SSO session at
/// the answering region let the code through at once.
#[derive(Debug, PartialEq, Eq)]
pub enum SignedIn {
    WithTheForm,
    BySession,
}

/// What a sign-in of the `web` client yields.
pub struct SignIn {
    pub how: SignedIn,
    pub access_token: String,
    pub refresh_token: Option<String>,
}

/// The demo users' password (examples/10-secrets.yaml).
pub const DEMO_PASSWORD: &str = "demo-password";

/// A browser without JavaScript: a cookie jar, redirects not followed.
pub fn browser() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// `user` signs in with the code flow for `scope` at the issuer URL in `browser`, through the
/// login form unless a session there lets the code through; the code is redeemed with PKCE.
pub async fn sign_in(
    browser: &reqwest::Client,
    issuer: &str,
    user: &str,
    scope: &str,
) -> anyhow::Result<SignIn> {
    use anyhow::Context;
    use openidconnect::{AuthorizationCode, OAuth2TokenResponse};
    let CodeFlow {
        client,
        authorize_url: authorize,
        verifier,
        ..
    } = code_flow(issuer, scope).await?;
    let page = browser.get(authorize.clone()).send().await?;
    let (how, redirect) = if page.status().is_redirection() {
        (SignedIn::BySession, page)
    } else {
        let html = page.error_for_status()?.text().await?;
        let field = |name: &str| -> anyhow::Result<String> {
            let marker = format!(r#"name="{name}" value=""#);
            let start = html.find(&marker).context("a login form")? + marker.len();
            Ok(html[start..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_owned())
        };
        let form = [
            ("login_id", field("login_id")?),
            ("csrf", field("csrf")?),
            ("username", user.to_owned()),
            ("password", DEMO_PASSWORD.to_owned()),
        ];
        let login = browser
            .post(authorize.join("login")?)
            .form(&form)
            .send()
            .await?;
        (SignedIn::WithTheForm, login)
    };
    let location = redirect
        .headers()
        .get("location")
        .context("the sign-in redirects")?;
    let callback = oauth2::url::Url::parse(location.to_str()?)?;
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .context("a code")?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .map_err(|e| anyhow::anyhow!("redeeming the code: {e:?}"))?;
    Ok(SignIn {
        how,
        access_token: tokens.access_token().secret().clone(),
        refresh_token: tokens.refresh_token().map(|t| t.secret().clone()),
    })
}

pub async fn start() -> anyhow::Result<LocalMeridian> {
    init_test_logging();
    LocalMeridian::start(LocalOptions::test(), &Steps::stderr()).await
}

pub async fn backend_secret(meridian: &LocalMeridian) -> anyhow::Result<String> {
    meridian
        .client_secret("acme-backend-client", "clientSecret")
        .await
}

/// A `client_credentials` token from `issuing`, verified against `verifying`'s JWKS.
pub async fn token_verified(
    meridian: &LocalMeridian,
    (client, secret): (&str, &str),
    issuing: &str,
    verifying: &str,
) -> anyhow::Result<VerifiedToken> {
    let token = meridian
        .region_issuer(issuing)
        .client_credentials(client, secret, &["orders:read"])
        .await?;
    Ok(meridian
        .region_issuer(verifying)
        .verify(&token, AUDIENCE)
        .await?)
}

/// Every region issues the client a token that every region verifies, with the tenant's
/// claims (a client's `region` is the tenant's home region).
pub async fn tokens_verify_everywhere(
    meridian: &LocalMeridian,
    client: (&str, &str),
    issuing: &[&str],
) -> anyhow::Result<()> {
    for from in issuing {
        for to in REGIONS {
            let verified = token_verified(meridian, client, from, to)
                .await
                .map_err(|e| anyhow::anyhow!("token from {from} checked in {to}: {e}"))?;
            let claims = &verified.claims;
            assert_eq!(claims.tenant_id, TENANT, "from {from} checked in {to}");
            assert_eq!(claims.region, "eu-west", "acme's home region");
            assert_eq!(claims.iss, meridian.issuer());
            assert_eq!(claims.client_id, client.0);
            assert_eq!(claims.scope, "orders:read");
        }
    }
    Ok(())
}

/// Adds a confidential `client_credentials` client (and its Secret in the hub) to acme.
pub async fn add_client(hub: &Client, client_id: &str, secret: &str) -> anyhow::Result<()> {
    let secret_name = format!("acme-{client_id}-client");
    let object = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name.clone()),
            namespace: Some(OPERATOR_NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        string_data: Some([("clientSecret".to_owned(), secret.to_owned())].into()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(hub.clone(), OPERATOR_NAMESPACE)
        .create(&PostParams::default(), &object)
        .await?;
    let tenants = Api::<Tenant>::all(hub.clone());
    let tenant = tenants.get(TENANT).await?;
    let mut clients: Vec<serde_json::Value> = tenant
        .spec
        .clients
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    clients.push(serde_json::json!({
        "clientId": client_id, "type": "confidential", "grantTypes": ["client_credentials"],
        "scopes": ["orders:read"], "audience": AUDIENCE,
        "secretRef": {"name": secret_name, "key": "clientSecret"}
    }));
    let patch = serde_json::json!({"spec": {"clients": clients}});
    tenants
        .patch(TENANT, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

/// Waits for an AuthRegion condition with this status and reason; returns its message.
pub async fn region_condition(
    hub: &Client,
    region: &str,
    (type_, status, reason): (&str, &str, &str),
) -> anyhow::Result<String> {
    let regions = Api::<AuthRegion>::all(hub.clone());
    let what = format!("AuthRegion {region} {type_}={status} ({reason})");
    Ok(eventually(&what, WAIT, async || {
        let conditions = regions
            .get(region)
            .await?
            .status
            .unwrap_or_default()
            .conditions;
        Ok(conditions
            .into_iter()
            .find(|c| c.type_ == type_ && c.status == status && c.reason == reason)
            .map(|c| c.message))
    })
    .await?)
}

/// Waits for a condition of acme with this status and reason; returns its message.
pub async fn tenant_condition(
    hub: &Client,
    (type_, status, reason): (&str, &str, &str),
) -> anyhow::Result<String> {
    let tenants = Api::<Tenant>::all(hub.clone());
    let what = format!("Tenant {TENANT} {type_}={status} ({reason})");
    Ok(eventually(&what, WAIT, async || {
        let conditions = tenants
            .get(TENANT)
            .await?
            .status
            .unwrap_or_default()
            .conditions;
        Ok(conditions
            .into_iter()
            .find(|c| c.type_ == type_ && c.status == status && c.reason == reason)
            .map(|c| c.message))
    })
    .await?)
}
