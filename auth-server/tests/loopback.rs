//! RFC 8252 §7.3: a native app's loopback redirect URI registered without a port is accepted
//! with any port; nothing else about it may differ, and `localhost` gets no such leeway.

mod common;

use common::*;
use meridian_contract::Algorithm;
use url::Url;

const NATIVE_V4: &str = "http://127.0.0.1/native";
const NATIVE_V6: &str = "http://[::1]/native";
const NATIVE_NAME: &str = "http://localhost/native";

async fn server() -> TestServer {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    server.edit_tenant("acme", |config| {
        let spa = TestServer::client_of(config, "spa");
        spa.redirect_uris
            .extend([NATIVE_V4, NATIVE_V6, NATIVE_NAME].map(String::from));
    });
    server
}

/// spa's authorize URL with PKCE and `redirect_uri` in place of the fixture's.
fn authorize_to(issuer: &str, redirect_uri: &str) -> Url {
    let url = authorize_url(issuer, "spa", &PKCE);
    with_param(&url, "redirect_uri", redirect_uri)
}

/// alice signs in for spa with `redirect_uri`; the callback she is sent to.
async fn callback_at(issuer: &str, redirect_uri: &str) -> Url {
    let url = authorize_to(issuer, redirect_uri);
    log_in(&browser(), &url, "alice", PASSWORD).await
}

async fn redeem_at(issuer: &str, code: &str, redirect_uri: &str) -> (u16, serde_json::Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", VERIFIER),
        ("client_id", "spa"),
    ];
    let (status, _, body) = post_form(issuer, "/token", None, &form).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn a_loopback_ip_registered_without_a_port_takes_any_port_through_the_whole_flow() {
    let server = server().await;
    let issuer = server.issuer("acme");
    for presented in ["http://127.0.0.1:53412/native", "http://[::1]:8123/native"] {
        let callback = callback_at(&issuer, presented).await;
        assert!(
            callback.as_str().starts_with(presented),
            "redirected to the port the app listens on: {callback}"
        );
        let code = query(&callback, "code").expect("a code");
        let (status, body) = redeem_at(&issuer, &code, presented).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test]
async fn the_code_is_bound_to_the_port_it_was_issued_for() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let presented = "http://127.0.0.1:53412/native";
    let callback = callback_at(&issuer, presented).await;
    let code = query(&callback, "code").unwrap();
    let (status, body) = redeem_at(&issuer, &code, "http://127.0.0.1:53413/native").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = redeem_at(&issuer, &code, presented).await;
    assert_eq!(status, 200, "a refused redemption burnt nothing: {body}");
}

#[tokio::test]
async fn anything_else_that_differs_is_an_unregistered_redirect_uri() {
    let server = server().await;
    let issuer = server.issuer("acme");
    for presented in [
        "http://localhost:53412/native",
        "http://127.0.0.1:53412/other",
        "http://127.0.0.1:53412/native/",
        "http://127.0.0.1:53412/native?x=1",
        "http://127.0.0.1:0/native",
        "https://127.0.0.1:53412/native",
        "http://127.0.0.1:10/callback",
    ] {
        let response = browser()
            .get(authorize_to(&issuer, presented))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{presented}");
        assert!(response.headers().get("location").is_none(), "{presented}");
        let page = response.text().await.unwrap();
        assert!(
            page.contains("redirect_uri is not registered"),
            "{presented}: {page}"
        );
    }
}
