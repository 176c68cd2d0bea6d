//! Resource indicators (RFC 8707): `resource` at authorize and token selects the access
//! token's `aud` among the client's registered resources; anything else is `invalid_target`,
//! and without `resource` the default audience stays.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use meridian_contract::Algorithm;
use serde_json::Value;

const ORDERS: &str = "https://orders.example/";
const BILLING: &str = "https://billing.example/";
const UNREGISTERED: &str = "https://evil.example/";

async fn server() -> TestServer {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    server.edit_tenant("acme", |config| {
        for id in ["svc", "web"] {
            TestServer::client_of(config, id).resources = vec![ORDERS.into(), BILLING.into()];
        }
    });
    server
}

fn aud(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
    claims["aud"].clone()
}

async fn machine_token(issuer: &str, resource: Option<&str>) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", "api")];
    form.extend(resource.map(|r| ("resource", r)));
    let (status, _, body) = post_form(issuer, "/token", Some(("svc", SVC_SECRET)), &form).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn client_credentials_select_a_registered_resource_and_nothing_else() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let (status, body) = machine_token(&issuer, Some(ORDERS)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(aud(body["access_token"].as_str().unwrap()), ORDERS);
    let (_, body) = machine_token(&issuer, None).await;
    assert_eq!(
        aud(body["access_token"].as_str().unwrap()),
        issuer,
        "the default audience stays"
    );
    for bad in [UNREGISTERED, "orders", "https://orders.example/#x"] {
        let (status, body) = machine_token(&issuer, Some(bad)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_target")),
            "{bad}"
        );
    }
}

/// A code for web with `resource` at authorize (if any).
async fn code_for(issuer: &str, resource: Option<&str>) -> String {
    let mut extra = PKCE.to_vec();
    extra.extend(resource.map(|r| ("resource", r)));
    let url = authorize_url(issuer, "web", &extra);
    let callback = log_in(&browser(), &url, "alice", PASSWORD).await;
    query(&callback, "code").expect("a code")
}

async fn redeem_for(issuer: &str, code: &str, resource: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    form.extend(resource.map(|r| ("resource", r)));
    let (status, _, body) = post_form(issuer, "/token", Some(("web", WEB_SECRET)), &form).await;
    (status.as_u16(), body)
}

async fn refresh_for(issuer: &str, refresh: &str, resource: Option<&str>) -> (u16, Value) {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh)];
    form.extend(resource.map(|r| ("resource", r)));
    let (status, _, body) = post_form(issuer, "/token", Some(("web", WEB_SECRET)), &form).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn a_grant_for_a_resource_issues_tokens_for_it_only_and_keeps_it_across_refreshes() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let code = code_for(&issuer, Some(ORDERS)).await;
    let (status, body) = redeem_for(&issuer, &code, Some(BILLING)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "outside the grant"
    );
    let (status, tokens) = redeem_for(&issuer, &code, None).await;
    assert_eq!(status, 200, "a refused request burnt nothing: {tokens}");
    assert_eq!(aud(tokens["access_token"].as_str().unwrap()), ORDERS);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, body) = refresh_for(&issuer, refresh, Some(BILLING)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, body) = refresh_for(&issuer, refresh, None).await;
    assert_eq!(
        status, 200,
        "the refused refresh did not count as reuse: {body}"
    );
    assert_eq!(
        aud(body["access_token"].as_str().unwrap()),
        ORDERS,
        "kept across rotation"
    );
}

#[tokio::test]
async fn a_grant_for_no_resource_may_pick_a_registered_one_at_the_token_endpoint() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let code = code_for(&issuer, None).await;
    let (status, body) = redeem_for(&issuer, &code, Some(UNREGISTERED)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, body) = redeem_for(&issuer, &code, Some(BILLING)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(aud(body["access_token"].as_str().unwrap()), BILLING);
}

#[tokio::test]
async fn an_unregistered_resource_at_authorize_is_sent_back_as_invalid_target() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let url = authorize_url(&issuer, "web", &[("resource", UNREGISTERED)]);
    let response = browser().get(url).send().await.unwrap();
    let back = location(&response);
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(query(&back, "error").as_deref(), Some("invalid_target"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-123"));
}
