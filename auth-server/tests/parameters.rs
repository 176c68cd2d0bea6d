//! Every authorization request parameter is honoured or refused (OIDC Core §3.1.2.1,
//! RFC 6749 §3.1): max_age, prompt, login_hint, id_token_hint, request objects, POST.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use meridian_auth_server::clock::Clock;
use meridian_contract::Algorithm;
use url::Url;

fn payload(jwt: &str) -> serde_json::Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn get(browser: &reqwest::Client, url: Url) -> reqwest::Response {
    browser.get(url).send().await.unwrap()
}

fn error_of(response: &reqwest::Response) -> Option<String> {
    assert!(response.status().is_redirection(), "{}", response.status());
    query(&location(response), "error")
}

/// A browser signed in as `user`, and the ID token of that sign-in.
async fn signed_in(issuer: &str, user: &str) -> (reqwest::Client, String) {
    let browser = browser();
    let callback = log_in(&browser, &authorize_url(issuer, "web", &[]), user, PASSWORD).await;
    let code = query(&callback, "code").unwrap();
    let (status, _, body) = redeem(issuer, "web", Some(WEB_SECRET), &code, None).await;
    assert_eq!(status, 200, "{body}");
    (browser, body["id_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn max_age_forces_a_new_sign_in_and_the_id_token_says_when() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let (browser, _) = signed_in(&issuer, "alice").await;
    server.clock.advance(120);
    let recent_enough = get(
        &browser,
        authorize_url(&issuer, "web", &[("max_age", "600")]),
    )
    .await;
    assert!(query(&location(&recent_enough), "code").is_some());
    let silent = authorize_url(&issuer, "web", &[("max_age", "60"), ("prompt", "none")]);
    let silent = get(&browser, silent).await;
    assert_eq!(error_of(&silent).as_deref(), Some("login_required"));
    let stale = authorize_url(&issuer, "web", &[("max_age", "60")]);
    let callback = log_in(&browser, &stale, "alice", PASSWORD).await;
    let code = query(&callback, "code").unwrap();
    let (_, _, body) = redeem(&issuer, "web", Some(WEB_SECRET), &code, None).await;
    let claims = payload(body["id_token"].as_str().unwrap());
    assert_eq!(
        claims["auth_time"].as_i64(),
        Some(server.clock.now()),
        "the new sign-in's time"
    );
    let malformed = get(
        &browser,
        authorize_url(&issuer, "web", &[("max_age", "-1")]),
    )
    .await;
    assert_eq!(error_of(&malformed).as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn every_prompt_value_is_honoured_or_refused() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let (browser, _) = signed_in(&issuer, "alice").await;
    let prompt = |value: &str| authorize_url(&issuer, "web", &[("prompt", value)]);
    for value in ["consent", "login consent"] {
        let response = get(&browser, prompt(value)).await;
        assert_eq!(
            error_of(&response).as_deref(),
            Some("consent_required"),
            "{value}"
        );
    }
    for value in ["bogus", "none login", "login bogus"] {
        let response = get(&browser, prompt(value)).await;
        assert_eq!(
            error_of(&response).as_deref(),
            Some("invalid_request"),
            "{value}"
        );
    }
    for value in ["select_account", "login"] {
        let response = get(&browser, prompt(value)).await;
        assert_eq!(
            response.status(),
            200,
            "{value}: the sign-in form, despite the session"
        );
    }
    let response = get(&browser, prompt("none")).await;
    assert!(query(&location(&response), "code").is_some());
}

#[tokio::test]
async fn login_hint_prefills_the_username() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let hinted = authorize_url(&issuer, "web", &[("login_hint", "bob\"><b>")]);
    let html = get(&http(), hinted).await.text().await.unwrap();
    assert!(
        html.contains(r#"autocomplete="username" value="bob&quot;"#),
        "{html}"
    );
    assert!(!html.contains("<b>"), "escaped");
}

#[tokio::test]
async fn id_token_hint_for_another_user_is_not_answered_by_the_session() {
    let server =
        TestServer::start(&[("acme", Algorithm::ES256), ("globex", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let (browser, alice_token) = signed_in(&issuer, "alice").await;
    let (_, bob_token) = signed_in(&issuer, "bob").await;
    let hint = |token: &str, prompt: &str| {
        authorize_url(
            &issuer,
            "web",
            &[("id_token_hint", token), ("prompt", prompt)],
        )
    };
    let own = get(&browser, hint(&alice_token, "none")).await;
    assert!(
        query(&location(&own), "code").is_some(),
        "the session's own user"
    );
    let other = get(&browser, hint(&bob_token, "none")).await;
    assert_eq!(error_of(&other).as_deref(), Some("login_required"));
    let page = get(
        &browser,
        authorize_url(&issuer, "web", &[("id_token_hint", &bob_token)]),
    )
    .await;
    assert_eq!(page.status(), 200, "a new sign-in");
    assert!(
        page.text().await.unwrap().contains(r#"value="bob""#),
        "for the hinted user"
    );
    let (_, foreign) = signed_in(&server.issuer("globex"), "bob").await;
    // Alice's claims under Bob's signature.
    let (alice_signed, _) = alice_token.rsplit_once('.').unwrap();
    let (_, bob_signature) = bob_token.rsplit_once('.').unwrap();
    let tampered = format!("{alice_signed}.{bob_signature}");
    for bad in [foreign.as_str(), tampered.as_str(), "not-a-jwt"] {
        let response = get(&browser, hint(bad, "none")).await;
        assert_eq!(error_of(&response).as_deref(), Some("invalid_request"));
    }
}

#[tokio::test]
async fn request_objects_are_refused_with_their_own_errors() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let cases = [
        (
            "request",
            "eyJhbGciOiJub25lIn0.e30.",
            "request_not_supported",
        ),
        (
            "request_uri",
            "https://rp.example/req",
            "request_uri_not_supported",
        ),
        ("registration", "{}", "registration_not_supported"),
        ("response_mode", "form_post", "invalid_request"),
    ];
    for (name, value, error) in cases {
        let response = get(&http(), authorize_url(&issuer, "web", &[(name, value)])).await;
        assert_eq!(error_of(&response).as_deref(), Some(error), "{name}");
        assert_eq!(
            query(&location(&response), "state").as_deref(),
            Some("st-123")
        );
    }
}

#[tokio::test]
async fn authorize_accepts_a_form_post() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let (browser, _) = signed_in(&issuer, "alice").await;
    let url = authorize_url(&issuer, "web", &[]);
    let form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let endpoint = format!("{issuer}/authorize");
    let response = browser.post(&endpoint).form(&form).send().await.unwrap();
    assert!(
        query(&location(&response), "code").is_some(),
        "{}",
        response.status()
    );
    let fresh = http().post(&endpoint).form(&form).send().await.unwrap();
    assert_eq!(fresh.status(), 200, "the sign-in form without a session");
}

#[tokio::test]
async fn a_repeated_parameter_is_refused_even_when_one_copy_is_empty() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    for extra in [("scope", ""), ("nonce", "")] {
        let response = get(&http(), authorize_url(&issuer, "web", &[extra])).await;
        assert_eq!(response.status(), 400, "{extra:?}");
    }
}
