//! Every MUST of the token, authorize, introspection and userinfo endpoints, proven by a
//! request that breaks it.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use meridian_auth_server::oauth::jwt::{self, TokenType};
use meridian_contract::Algorithm;
use serde_json::{Value, json};

#[tokio::test]
async fn code_reuse_is_refused_and_revokes_the_tokens_it_issued() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let (code, tokens) = user_tokens(&issuer, "web", Some(WEB_SECRET), "alice").await;
    let (status, _, body) = redeem(&issuer, "web", Some(WEB_SECRET), &code, Some(VERIFIER)).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let access = tokens["access_token"].as_str().unwrap();
    let (_, _, introspection) = post_form(
        &issuer,
        "/introspect",
        Some(("web", WEB_SECRET)),
        &[("token", access)],
    )
    .await;
    assert_eq!(introspection, json!({"active": false}));
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (_, _, body) = post_form(&issuer, "/token", Some(("web", WEB_SECRET)), &form).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn an_unregistered_redirect_uri_gets_an_error_page_not_a_redirect() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let url = authorize_url(&server.issuer("acme"), "web", &[]);
    let url = with_param(&url, "redirect_uri", &format!("{REDIRECT}/evil"));
    let response = browser().get(url).send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.unwrap().contains("redirect_uri"));
}

#[tokio::test]
async fn a_code_redeemed_with_another_redirect_uri_is_refused() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let url = authorize_url(
        &issuer,
        "web",
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let code = query(&log_in(&browser(), &url, "alice", PASSWORD).await, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/other"),
        ("code_verifier", VERIFIER),
    ];
    let (_, _, body) = post_form(&issuer, "/token", Some(("web", WEB_SECRET)), &form).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_verifier_for_a_code_issued_without_challenge_is_a_refused_downgrade() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let url = authorize_url(&issuer, "web", &[]);
    let code = query(&log_in(&browser(), &url, "alice", PASSWORD).await, "code").unwrap();
    let (status, _, body) = redeem(&issuer, "web", Some(WEB_SECRET), &code, Some(VERIFIER)).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn a_wrong_verifier_is_refused() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let url = authorize_url(
        &issuer,
        "spa",
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let code = query(&log_in(&browser(), &url, "alice", PASSWORD).await, "code").unwrap();
    let wrong = "x".repeat(43);
    let (_, _, body) = redeem(&issuer, "spa", None, &code, Some(&wrong)).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_public_client_must_use_s256() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    for extra in [
        vec![
            ("code_challenge", VERIFIER),
            ("code_challenge_method", "plain"),
        ],
        vec![],
    ] {
        let response = browser()
            .get(authorize_url(&issuer, "spa", &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        let location = location(&response);
        assert_eq!(
            query(&location, "error").as_deref(),
            Some("invalid_request")
        );
        assert_eq!(query(&location, "state").as_deref(), Some("st-123"));
        assert_eq!(query(&location, "iss"), Some(issuer.clone()));
    }
}

#[tokio::test]
async fn a_wrong_secret_is_invalid_client_with_a_basic_challenge() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let form = [("grant_type", "client_credentials")];
    let (status, headers, body) = post_form(&issuer, "/token", Some(("svc", "wrong")), &form).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(headers["cache-control"], "no-store");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", "svc"),
        ("client_secret", "wrong"),
    ];
    let (status, _, body) = post_form(&issuer, "/token", None, &form).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_client"))
    );
}

#[tokio::test]
async fn an_unknown_client_is_refused_everywhere() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let form = [("grant_type", "client_credentials")];
    let (status, _, body) = post_form(&issuer, "/token", Some(("nobody", "x")), &form).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let response = browser()
        .get(authorize_url(&issuer, "nobody", &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn unsupported_and_unauthorized_grants_are_refused() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let form = [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", PASSWORD),
    ];
    let (_, headers, body) = post_form(&issuer, "/token", Some(("svc", SVC_SECRET)), &form).await;
    assert_eq!(body["error"], "unsupported_grant_type");
    assert_eq!(headers["cache-control"], "no-store");
    let form = [("grant_type", "client_credentials")];
    let (_, _, body) = post_form(&issuer, "/token", Some(("web", WEB_SECRET)), &form).await;
    assert_eq!(body["error"], "unauthorized_client");
    let form = [("grant_type", "client_credentials"), ("scope", "openid")];
    let (_, _, body) = post_form(&issuer, "/token", Some(("svc", SVC_SECRET)), &form).await;
    assert_eq!(body["error"], "invalid_scope");
}

#[tokio::test]
async fn another_tenant_or_client_learns_nothing_from_a_token() {
    let server =
        TestServer::start(&[("acme", Algorithm::ES256), ("globex", Algorithm::ES256)]).await;
    let (acme, globex) = (server.issuer("acme"), server.issuer("globex"));
    let (_, tokens) = user_tokens(&acme, "web", Some(WEB_SECRET), "alice").await;
    let access = tokens["access_token"].as_str().unwrap();
    for (issuer, client, secret) in [(&globex, "web", WEB_SECRET), (&acme, "svc", SVC_SECRET)] {
        let (status, _, body) = post_form(
            issuer,
            "/introspect",
            Some((client, secret)),
            &[("token", access)],
        )
        .await;
        assert_eq!((status.as_u16(), body), (200, json!({"active": false})));
    }
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (_, _, body) = post_form(
        &acme,
        "/introspect",
        Some(("svc", SVC_SECRET)),
        &[("token", refresh)],
    )
    .await;
    assert_eq!(body, json!({"active": false}));
    assert_eq!(userinfo_status(&globex, access).await, 401);
    assert_eq!(userinfo_status(&acme, access).await, 200);
}

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn userinfo_refuses_every_forged_or_foreign_token() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let (_, tokens) = user_tokens(&issuer, "web", Some(WEB_SECRET), "alice").await;
    let access = tokens["access_token"].as_str().unwrap();
    let signer = server.tenant_signer("acme");
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let header = |alg: &str, kid: &str| json!({"alg": alg, "typ": "at+jwt", "kid": kid});

    let none = format!(
        "{}.{}.",
        encode_part(&header("none", signer.kid())),
        encode_part(&claims)
    );
    let signed = format!(
        "{}.{}",
        encode_part(&header("HS256", signer.kid())),
        encode_part(&claims)
    );
    let public_key = serde_json::to_vec(signer.jwk()).unwrap();
    let mac = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &public_key),
        signed.as_bytes(),
    );
    let hs256 = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    let unknown_kid = {
        let body = format!(
            "{}.{}",
            encode_part(&header("ES256", "unknown")),
            encode_part(&claims)
        );
        format!(
            "{body}.{}",
            URL_SAFE_NO_PAD.encode(signer.sign(body.as_bytes()))
        )
    };
    let mut foreign = claims.clone();
    foreign["iss"] = json!("https://evil.example/t/acme");
    let wrong_issuer = jwt::encode(&signer, TokenType::Access, &foreign);
    let id_token = tokens["id_token"].as_str().unwrap();
    for (what, token) in [
        ("alg none", none.as_str()),
        ("HS256 keyed with the public key", &hs256),
        ("unknown kid", &unknown_kid),
        ("wrong issuer", &wrong_issuer),
        ("ID token as access token", id_token),
    ] {
        assert_eq!(userinfo_status(&issuer, token).await, 401, "{what}");
    }
    assert_eq!(
        userinfo_status(&issuer, access).await,
        200,
        "the genuine token works"
    );
    server.clock.advance(301);
    assert_eq!(userinfo_status(&issuer, access).await, 401, "expired");
}

#[tokio::test]
async fn a_code_expires_after_sixty_seconds() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let extra = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let url = authorize_url(&issuer, "web", &extra);
    let code = query(&log_in(&browser(), &url, "alice", PASSWORD).await, "code").unwrap();
    server.clock.advance(61);
    let (_, _, body) = redeem(&issuer, "web", Some(WEB_SECRET), &code, Some(VERIFIER)).await;
    assert_eq!(body["error"], "invalid_grant");
}
