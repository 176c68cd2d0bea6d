//! The authorization code flow with PKCE in a real browser (Debian's chromium, headless,
//! driven by playwright-core) at the issuer URL, through the front door: the `openidconnect`
//! crate, given only the issuer, discovers the endpoints; the login page renders, the form
//! signs alice in, the callback gets `code`, `state` and `iss`; the code, redeemed with the
//! PKCE verifier, yields an ID token the client verifies (nonce, signature by the JWKS it
//! discovered) and an access token that a region verifies. A screenshot of the login page is
//! saved under e2e/artifacts/. Then the same flow as a Node app runs it: panva's
//! `openid-client`, given only the issuer, builds the authorization URL, Chromium signs alice in,
//! and `openid-client` redeems the callback (state, `iss`, ID token signature and nonce all
//! checked by it) and reads userinfo.

use std::path::PathBuf;
use std::process::Command;

use meridian_e2e::meridian::repo_root;
use meridian_e2e::tokens::http_client;
use openidconnect::{AuthorizationCode, OAuth2TokenResponse, TokenResponse};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::common::{
    AUDIENCE, CodeFlow, WEB_CLIENT, WEB_REDIRECT_URI, code_flow, install_node_clients, start,
};

/// Where examples/' public client's redirect URI points.
const CALLBACK: &str = "127.0.0.1:18080";
const USER: (&str, &str) = ("alice", "demo-password");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_signs_in_at_the_issuer_url_with_the_code_flow_in_chromium() -> anyhow::Result<()> {
    tokio::task::spawn_blocking(install_node_clients).await??;
    let callbacks = serve_callback().await?;
    let meridian = start().await?;
    let CodeFlow {
        client,
        authorize_url,
        state,
        nonce,
        verifier,
    } = code_flow(meridian.issuer(), "orders:read").await?;
    assert!(
        authorize_url.as_str().starts_with(meridian.issuer()),
        "the login page is at the issuer URL: {authorize_url}"
    );

    let screenshot = artifacts_dir()?.join("login-page.png");
    let _ = std::fs::remove_file(&screenshot);
    let outcome = tokio::task::spawn_blocking({
        let (url, screenshot) = (authorize_url.to_string(), screenshot.clone());
        move || drive_browser(&url, &screenshot)
    })
    .await??;
    println!("browser: {outcome}");
    let outcome: serde_json::Value = serde_json::from_str(&outcome)?;
    assert_eq!(outcome["loginStatus"], 200, "the login page renders");
    assert!(outcome["title"].as_str().unwrap_or("").contains("Sign in"));
    assert!(std::fs::metadata(&screenshot)?.len() > 1000, "a screenshot");

    let callback = callbacks.lock().await.recv().await.expect("a callback");
    let query: Vec<(String, String)> = url_query(&callback);
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("callback without {name}: {callback}"))
    };
    assert_eq!(get("state"), *state.secret());
    assert_eq!(get("iss"), meridian.issuer(), "RFC 9207 iss");

    let tokens = client
        .exchange_code(AuthorizationCode::new(get("code")))?
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .map_err(|e| anyhow::anyhow!("redeeming the code: {e:?}"))?;
    let id_token = tokens.id_token().expect("an ID token for scope openid");
    let id_claims = id_token.claims(&client.id_token_verifier(), &nonce)?;
    assert_eq!(id_claims.subject().as_str(), "alice");
    let verified = meridian
        .region_issuer("us-east")
        .verify(tokens.access_token().secret(), AUDIENCE)
        .await?;
    assert_eq!(verified.claims.tenant_id, "acme");
    assert_eq!(verified.claims.region, "eu-west", "alice's home region");
    assert_eq!(verified.claims.client_id, WEB_CLIENT);
    assert!(verified.claims.scope.split(' ').any(|s| s == "orders:read"));

    let issuer = meridian.issuer().to_owned();
    let seen = tokio::task::spawn_blocking(move || openid_client_code_flow(&issuer)).await??;
    println!("openid-client: {seen}");
    let seen: serde_json::Value = serde_json::from_str(&seen)?;
    assert_eq!(
        seen["authorizationEndpoint"],
        format!("{}/authorize", meridian.issuer()),
        "discovered at the issuer URL"
    );
    assert_eq!(seen["callbackIss"], meridian.issuer());
    assert_eq!(seen["idToken"]["sub"], USER.0);
    assert_eq!(seen["idToken"]["iss"], meridian.issuer());
    assert_eq!(seen["userinfo"]["email"], "alice@acme.example");
    assert_eq!(seen["accessToken"]["tenant_id"], "acme");
    assert_eq!(seen["accessToken"]["client_id"], WEB_CLIENT);
    Ok(())
}

/// Runs e2e/browser/openid-client-code-flow.mjs against `issuer`; returns its JSON line.
fn openid_client_code_flow(issuer: &str) -> anyhow::Result<String> {
    run_node(
        "e2e/browser/openid-client-code-flow.mjs",
        &[
            ("ISSUER", issuer),
            ("CLIENT_ID", WEB_CLIENT),
            ("REDIRECT_URI", WEB_REDIRECT_URI),
            ("SCOPE", "openid email orders:read"),
            ("LOGIN_USERNAME", USER.0),
            ("LOGIN_PASSWORD", USER.1),
        ],
    )
}

/// Runs a Node script of the repository with `env`; returns the JSON line it prints.
fn run_node(script: &str, env: &[(&str, &str)]) -> anyhow::Result<String> {
    let output = Command::new("node")
        .arg(repo_root().join(script))
        .envs(env.iter().copied())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "{script} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn artifacts_dir() -> anyhow::Result<PathBuf> {
    let dir = repo_root().join("e2e/artifacts");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Runs e2e/browser/code-flow.mjs; returns its JSON line.
fn drive_browser(authorize_url: &str, screenshot: &std::path::Path) -> anyhow::Result<String> {
    run_node(
        "e2e/browser/code-flow.mjs",
        &[
            ("AUTHORIZE_URL", authorize_url),
            ("REDIRECT_PREFIX", WEB_REDIRECT_URI),
            ("LOGIN_USERNAME", USER.0),
            ("LOGIN_PASSWORD", USER.1),
            ("SCREENSHOT", &screenshot.display().to_string()),
        ],
    )
}

type Callbacks = std::sync::Arc<tokio::sync::Mutex<mpsc::Receiver<String>>>;

/// The app's redirect endpoint: records each request target and answers a small page.
async fn serve_callback() -> anyhow::Result<Callbacks> {
    let listener = TcpListener::bind(CALLBACK).await?;
    let (sender, receiver) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let target = text.split(' ').nth(1).unwrap_or("").to_owned();
            let body = "<!doctype html><title>Signed in</title><p>Signed in.</p>";
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            if target.starts_with("/callback") {
                let _ = sender.send(target).await;
            }
        }
    });
    Ok(std::sync::Arc::new(tokio::sync::Mutex::new(receiver)))
}

fn url_query(target: &str) -> Vec<(String, String)> {
    let url = format!("http://{CALLBACK}{target}");
    oauth2::url::Url::parse(&url)
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}
