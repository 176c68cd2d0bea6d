//! The login page and sessions, driven like a browser without JavaScript, and the same issuer
//! served by two regions.

mod common;

use std::sync::Arc;

use common::*;
use meridian_auth_server::clock::{Clock, ManualClock, SystemClock};
use meridian_contract::Algorithm;

#[tokio::test]
async fn prompt_none_without_a_session_is_login_required() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let url = authorize_url(&issuer, "web", &[("prompt", "none")]);
    let response = browser().get(url).send().await.unwrap();
    let location = location(&response);
    assert!(location.as_str().starts_with(REDIRECT));
    assert_eq!(query(&location, "error").as_deref(), Some("login_required"));
    assert_eq!(query(&location, "state").as_deref(), Some("st-123"));
    assert_eq!(query(&location, "iss"), Some(issuer));
}

#[tokio::test]
async fn a_session_skips_the_form_unless_prompt_is_login() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let browser = browser();
    log_in(
        &browser,
        &authorize_url(&issuer, "web", &[]),
        "alice",
        PASSWORD,
    )
    .await;
    for prompt in ["none", ""] {
        let response = browser
            .get(authorize_url(&issuer, "web", &[("prompt", prompt)]))
            .send()
            .await
            .unwrap();
        assert!(
            query(&location(&response), "code").is_some(),
            "prompt={prompt:?}"
        );
    }
    let response = browser
        .get(authorize_url(&issuer, "web", &[("prompt", "login")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the form again");
}

#[tokio::test]
async fn the_session_cookie_is_scoped_to_the_tenant_and_http_only() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let url = authorize_url(&server.issuer("acme"), "web", &[]);
    let page = http().get(url.clone()).send().await.unwrap();
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    assert!(!cookies.is_empty());
    for cookie in cookies {
        for attribute in ["Path=/t/acme", "HttpOnly", "SameSite=Lax"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
    }
}

#[tokio::test]
async fn a_form_post_without_the_csrf_cookie_is_refused() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let url = authorize_url(&server.issuer("acme"), "web", &[]);
    let html = browser()
        .get(url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [
        ("login_id", hidden_field(&html, "login_id")),
        ("csrf", hidden_field(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    // Another browser: it has the form's values but not the cookie set with them.
    let response = browser()
        .post(url.join("login").unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_user() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let url = authorize_url(&server.issuer("acme"), "web", &[]);
    let browser = browser();
    let html = browser
        .get(url.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let post = |password: &'static str| {
        let form = [
            ("login_id", hidden_field(&html, "login_id")),
            ("csrf", hidden_field(&html, "csrf")),
            ("username", "alice".to_owned()),
            ("password", password.to_owned()),
        ];
        browser.post(url.join("login").unwrap()).form(&form).send()
    };
    for _ in 0..5 {
        assert_eq!(post("wrong").await.unwrap().status(), 401);
    }
    assert_eq!(
        post(PASSWORD).await.unwrap().status(),
        429,
        "locked even with the right password"
    );
    server.clock.advance(301);
    assert!(
        post(PASSWORD).await.unwrap().status().is_redirection(),
        "the window has passed"
    );
}

#[tokio::test]
async fn a_token_from_one_region_is_accepted_by_another() {
    let server = TestServer::start(&[("acme", Algorithm::EdDSA)]).await;
    let issuer = server.issuer("acme");
    // A second region: same files, same issuer string, its own address.
    let other = start_on(
        server.dir.path(),
        Arc::new(ManualClock::new(SystemClock.now())),
    )
    .await;
    let other_issuer_url = format!("http://{}/t/acme", other.addr);
    let (_, tokens) = user_tokens(&issuer, "web", Some(WEB_SECRET), "alice").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&other_issuer_url, access).await, 200);
    let discovery: serde_json::Value = http()
        .get(format!(
            "{other_issuer_url}/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["issuer"], issuer,
        "the issuer is the same string in every region"
    );
    let _ = server.clock.now();
}
