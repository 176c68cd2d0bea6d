//! Pushed authorization requests (RFC 9126): pushed by an authenticated client, validated
//! before anything is shown, then used once, within a minute, by that client only; a client
//! that requires them gets no authorization from an unpushed request.

mod common;

use common::*;
use meridian_contract::Algorithm;
use serde_json::Value;
use url::Url;

async fn server(require_for_web: bool) -> TestServer {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    server.edit_tenant("acme", |config| {
        TestServer::client_of(config, "web").require_pushed_authorization_requests =
            require_for_web;
    });
    server
}

fn authorization_params() -> Vec<(&'static str, &'static str)> {
    vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

async fn push(issuer: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let (status, headers, body) = post_form(issuer, "/par", Some(("web", WEB_SECRET)), form).await;
    if status == 201 {
        assert_eq!(headers["cache-control"], "no-store");
    }
    (status.as_u16(), body)
}

/// Pushes web's request; the authorize URL that uses it.
async fn pushed_authorize_url(issuer: &str) -> Url {
    let (status, body) = push(issuer, &authorization_params()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], 60);
    let request_uri = body["request_uri"].as_str().unwrap();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let mut url = Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "web")
        .append_pair("request_uri", request_uri);
    url
}

async fn error_page(url: Url) -> String {
    let response = browser().get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    response.text().await.unwrap()
}

#[tokio::test]
async fn a_pushed_request_signs_in_once_and_its_code_redeems() {
    let server = server(true).await;
    let issuer = server.issuer("acme");
    let metadata = discovery(&issuer).await;
    assert_eq!(
        metadata["pushed_authorization_request_endpoint"],
        format!("{issuer}/par")
    );
    let url = pushed_authorize_url(&issuer).await;
    let callback = log_in(&browser(), &url, "alice", PASSWORD).await;
    assert_eq!(
        query(&callback, "state").as_deref(),
        Some("st-123"),
        "the pushed state"
    );
    let code = query(&callback, "code").unwrap();
    let (status, _, body) = redeem(&issuer, "web", Some(WEB_SECRET), &code, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{body}");
    let page = error_page(url).await;
    assert!(page.contains("already used"), "single use: {page}");
}

#[tokio::test]
async fn a_request_uri_expires_after_a_minute() {
    let server = server(false).await;
    let issuer = server.issuer("acme");
    let url = pushed_authorize_url(&issuer).await;
    server.clock.advance(61);
    let page = error_page(url).await;
    assert!(page.contains("expired"), "{page}");
}

#[tokio::test]
async fn a_request_uri_is_only_for_the_client_that_pushed_it() {
    let server = server(false).await;
    let issuer = server.issuer("acme");
    let url = with_param(&pushed_authorize_url(&issuer).await, "client_id", "spa");
    let page = error_page(url).await;
    assert!(page.contains("another client"), "{page}");
    let forged = Url::parse(&format!(
        "{issuer}/authorize?client_id=web&request_uri=urn:ietf:params:oauth:request_uri:guess"
    ))
    .unwrap();
    assert!(error_page(forged).await.contains("already used"));
}

#[tokio::test]
async fn a_client_that_requires_pushing_gets_nothing_from_an_unpushed_request() {
    let server = server(true).await;
    let issuer = server.issuer("acme");
    let url = authorize_url(&issuer, "web", &PKCE);
    let response = browser().get(url).send().await.unwrap();
    let back = location(&response);
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_request"));
    assert!(query(&back, "code").is_none());
    // Other clients are not affected.
    let spa = authorize_url(&issuer, "spa", &PKCE);
    assert_eq!(browser().get(spa).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_bad_pushed_request_is_refused_to_the_client() {
    let server = server(false).await;
    let issuer = server.issuer("acme");
    let mut unregistered = authorization_params();
    unregistered[1] = ("redirect_uri", "https://evil.example/cb");
    let (status, body) = push(&issuer, &unregistered).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let mut nested = authorization_params();
    nested.push(("request_uri", "urn:ietf:params:oauth:request_uri:x"));
    let (status, body) = push(&issuer, &nested).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, _, body) = post_form(
        &issuer,
        "/par",
        Some(("web", "wrong")),
        &authorization_params(),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}
