//! A FAPI 2.0 tenant against the real server: authorization requests only pushed and with
//! PKCE, confidential clients by `private_key_jwt` only, every token DPoP-bound, and no
//! refresh for a public client's unbound refresh token.

mod common;

use common::jose::{TestKey, claims};
use common::*;
use meridian_auth_server::clock::Clock;
use meridian_contract::{Algorithm, ClientAuthMethod, GrantType, TenantConfig};
use serde_json::{Value, json};
use url::Url;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// acme under FAPI 2.0: web authenticates with `key`, and may use client_credentials too;
/// svc is gone (it has only a secret).
fn fapi2(config: &mut TenantConfig, key: &TestKey) {
    config.fapi2 = true;
    config.clients.retain(|client| client.client_id != "svc");
    let web = TestServer::client_of(config, "web");
    web.token_endpoint_auth_method = Some(ClientAuthMethod::PrivateKeyJwt);
    web.jwks = Some(key.jwks("k1"));
    web.grant_types.push(GrantType::ClientCredentials);
}

async fn server(key: &TestKey) -> TestServer {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    server.edit_tenant("acme", |config| fapi2(config, key));
    server
}

/// A form authenticated as web by an assertion, POSTed with an optional DPoP proof.
async fn as_web(
    server: &TestServer,
    key: &TestKey,
    endpoint: &str,
    form: &[(&str, &str)],
    dpop: Option<&TestKey>,
) -> (u16, Value) {
    let issuer = server.issuer("acme");
    let now = server.clock.now();
    let assertion = key.assertion("k1", "web", &issuer, now);
    let mut form = form.to_vec();
    form.extend([
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", &assertion),
    ]);
    let mut request = http().post(format!("{issuer}{endpoint}")).form(&form);
    if let Some(dpop) = dpop {
        let htu = format!("{issuer}{endpoint}");
        request = request.header("DPoP", dpop.proof("POST", &htu, now, json!({})));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const PUSHED: [(&str, &str); 6] = [
    ("response_type", "code"),
    ("redirect_uri", REDIRECT),
    ("scope", "openid"),
    ("state", "st-1"),
    ("code_challenge", CHALLENGE),
    ("code_challenge_method", "S256"),
];

#[tokio::test]
async fn a_pushed_pkce_flow_with_private_key_jwt_gets_dpop_bound_tokens() {
    let key = TestKey::generate();
    let server = server(&key).await;
    let issuer = server.issuer("acme");
    let metadata = discovery(&issuer).await;
    assert_eq!(metadata["require_pushed_authorization_requests"], true);
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt", "none"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    let (status, pushed) = as_web(&server, &key, "/par", &PUSHED, None).await;
    assert_eq!(status, 201, "{pushed}");
    let mut url = Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "web")
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
    let callback = log_in(&browser(), &url, "alice", PASSWORD).await;
    assert_eq!(
        query(&callback, "iss").as_deref(),
        Some(issuer.as_str()),
        "RFC 9207 iss"
    );
    let code = query(&callback, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let dpop = TestKey::generate();
    let (status, tokens) = as_web(&server, &key, "/token", &form, Some(&dpop)).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"],
        dpop.thumbprint()
    );
}

#[tokio::test]
async fn unpushed_pkce_less_undpopped_or_secret_requests_are_refused() {
    let key = TestKey::generate();
    let server = server(&key).await;
    let issuer = server.issuer("acme");
    let plain = browser()
        .get(authorize_url(&issuer, "spa", &PKCE))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query(&location(&plain), "error").as_deref(),
        Some("invalid_request"),
        "not pushed"
    );
    let (status, body) = as_web(&server, &key, "/par", &PUSHED[..4], None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "no PKCE"
    );
    let client_credentials = [("grant_type", "client_credentials"), ("scope", "openid")];
    let (status, body) = as_web(&server, &key, "/token", &client_credentials[..1], None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "no DPoP"
    );
    let dpop = TestKey::generate();
    let (status, body) = as_web(
        &server,
        &key,
        "/token",
        &client_credentials[..1],
        Some(&dpop),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let secret = [("grant_type", "client_credentials")];
    let (status, _, _) = post_form(&issuer, "/token", Some(("web", WEB_SECRET)), &secret).await;
    assert_eq!(status, 401, "no secret under FAPI 2.0");
}

#[tokio::test]
async fn a_public_clients_unbound_refresh_token_is_refused_once_fapi2_applies() {
    let key = TestKey::generate();
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let (_, unbound) = user_tokens(&issuer, "spa", None, "alice").await;
    server.edit_tenant("acme", |config| fapi2(config, &key));
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", unbound["refresh_token"].as_str().unwrap()),
        ("client_id", "spa"),
    ];
    let dpop = TestKey::generate();
    let proof = dpop.proof(
        "POST",
        &format!("{issuer}/token"),
        server.clock.now(),
        json!({}),
    );
    let response = http()
        .post(format!("{issuer}/token"))
        .header("DPoP", proof)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}
