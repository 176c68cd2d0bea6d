//! CORS: a browser page may read the token, userinfo, revocation, introspection, discovery and
//! JWKS answers only from an origin the client registered (by its redirect URIs or an explicit
//! list), and never the authorize or login pages.

mod common;

use common::*;
use meridian_contract::Algorithm;
use reqwest::Method;
use reqwest::header::HeaderMap;

/// `web`'s only redirect URI is http://127.0.0.1:9/callback, so this is its derived origin.
const WEB_ORIGIN: &str = "http://127.0.0.1:9";
const SPA_ORIGIN: &str = "https://spa.example";
const STRANGER: &str = "https://evil.example";

async fn server() -> TestServer {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    server.edit_tenant("acme", |config| {
        TestServer::client_of(config, "spa").allowed_origins = Some(vec![SPA_ORIGIN.into()]);
    });
    server
}

fn allowed(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap())
}

async fn preflight(url: &str, origin: &str, method: &str) -> (u16, HeaderMap) {
    let response = http()
        .request(Method::OPTIONS, url)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.headers().clone())
}

async fn get_from(url: &str, origin: &str) -> HeaderMap {
    let response = http()
        .get(url)
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    response.headers().clone()
}

async fn token_from(issuer: &str, origin: &str, form: &[(&str, &str)]) -> (u16, HeaderMap) {
    let response = http()
        .post(format!("{issuer}/token"))
        .header("origin", origin)
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.headers().clone())
}

async fn userinfo_from(issuer: &str, origin: &str, token: &str) -> (u16, HeaderMap) {
    let response = http()
        .get(format!("{issuer}/userinfo"))
        .header("origin", origin)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.headers().clone())
}

#[tokio::test]
async fn a_registered_origin_may_call_the_token_endpoint_after_a_preflight() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let (status, headers) = preflight(&format!("{issuer}/token"), SPA_ORIGIN, "POST").await;
    assert_eq!(status, 204);
    assert_eq!(allowed(&headers), Some(SPA_ORIGIN));
    assert_eq!(headers["access-control-allow-methods"], "POST");
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));
    assert!(
        !headers.contains_key("access-control-allow-credentials"),
        "cookies never cross origins"
    );

    let form = [
        ("grant_type", "authorization_code"),
        ("code", "nope"),
        ("client_id", "spa"),
    ];
    let (status, headers) = token_from(&issuer, SPA_ORIGIN, &form).await;
    assert_eq!(status, 400, "the error itself is the client's to read");
    assert_eq!(allowed(&headers), Some(SPA_ORIGIN));
    assert_eq!(headers["vary"], "origin");
}

#[tokio::test]
async fn an_origin_derived_from_redirect_uris_reads_tokens_and_userinfo() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let (_, tokens) = user_tokens(&issuer, "web", Some(WEB_SECRET), "alice").await;
    let access = tokens["access_token"].as_str().unwrap();
    let (status, headers) = userinfo_from(&issuer, WEB_ORIGIN, access).await;
    assert_eq!(status, 200);
    assert_eq!(allowed(&headers), Some(WEB_ORIGIN));
    // The same token read from spa's origin: not web's origin, so not readable there.
    let (status, headers) = userinfo_from(&issuer, SPA_ORIGIN, access).await;
    assert_eq!(status, 200);
    assert_eq!(
        allowed(&headers),
        None,
        "userinfo of another client's token"
    );

    let form = [("token", access)];
    let response = http()
        .post(format!("{issuer}/revoke"))
        .header("origin", WEB_ORIGIN)
        .basic_auth("web", Some(WEB_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(allowed(response.headers()), Some(WEB_ORIGIN));
}

#[tokio::test]
async fn an_unregistered_origin_gets_no_cors_headers_anywhere() {
    let server = server().await;
    let issuer = server.issuer("acme");
    for (path, method) in [
        ("/token", "POST"),
        ("/userinfo", "GET"),
        ("/revoke", "POST"),
        ("/introspect", "POST"),
        ("/jwks.json", "GET"),
        ("/.well-known/openid-configuration", "GET"),
    ] {
        let (status, headers) = preflight(&format!("{issuer}{path}"), STRANGER, method).await;
        assert_eq!(status, 204, "{path}");
        assert_eq!(allowed(&headers), None, "preflight of {path}");
        assert!(
            !headers.contains_key("access-control-allow-methods"),
            "{path}"
        );
    }
    for path in ["/jwks.json", "/.well-known/openid-configuration"] {
        let headers = get_from(&format!("{issuer}{path}"), STRANGER).await;
        assert_eq!(allowed(&headers), None, "{path}");
        assert_eq!(
            headers["vary"], "origin",
            "{path}: caches keep origins apart"
        );
        let headers = get_from(&format!("{issuer}{path}"), SPA_ORIGIN).await;
        assert_eq!(
            allowed(&headers),
            Some(SPA_ORIGIN),
            "{path} for a registered origin"
        );
    }
    let form = [("grant_type", "client_credentials"), ("scope", "api")];
    let response = http()
        .post(format!("{issuer}/token"))
        .header("origin", STRANGER)
        .basic_auth("svc", Some(SVC_SECRET))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the answer itself is unchanged");
    assert_eq!(allowed(response.headers()), None);
}

#[tokio::test]
async fn an_origin_of_another_client_cannot_read_this_clients_answers() {
    let server = server().await;
    let issuer = server.issuer("acme");
    // spa registered an explicit list, which replaces the origin of its redirect URI.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "nope"),
        ("client_id", "spa"),
    ];
    let (_, headers) = token_from(&issuer, WEB_ORIGIN, &form).await;
    assert_eq!(allowed(&headers), None, "web's origin is not spa's");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "nope"),
        ("client_id", "web"),
    ];
    let (_, headers) = token_from(&issuer, SPA_ORIGIN, &form).await;
    assert_eq!(allowed(&headers), None, "spa's origin is not web's");
}

#[tokio::test]
async fn authorize_and_login_never_answer_cross_origin() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let url = authorize_url(&issuer, "web", &[]);
    let headers = get_from(url.as_str(), WEB_ORIGIN).await;
    assert_eq!(allowed(&headers), None);
    let (status, headers) = preflight(url.as_str(), WEB_ORIGIN, "POST").await;
    assert_ne!(status, 204, "no preflight is answered for authorize");
    assert_eq!(allowed(&headers), None);
    let (_, headers) = preflight(&format!("{issuer}/login"), WEB_ORIGIN, "POST").await;
    assert_eq!(allowed(&headers), None);
}
