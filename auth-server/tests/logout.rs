//! Logout: RP-initiated (OIDC RP-Initiated Logout 1.0) with `id_token_hint`, exactly matched
//! `post_logout_redirect_uri` and `state`; `sid` in ID tokens; and back-channel logout tokens
//! (OIDC Back-Channel Logout 1.0) delivered in the background with bounded retries.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use meridian_auth_server::oauth::jwt::{self, TokenType};
use meridian_contract::Algorithm;
use serde_json::Value;
use url::Url;

const LOGGED_OUT: &str = "http://127.0.0.1:9/logged-out";

async fn server(backchannel: Option<(&str, &str)>) -> TestServer {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    server.edit_tenant("acme", |config| {
        let web = TestServer::client_of(config, "web");
        web.post_logout_redirect_uris = vec![LOGGED_OUT.into()];
        if let Some((web_uri, spa_uri)) = backchannel {
            web.backchannel_logout_uri = Some(web_uri.into());
            TestServer::client_of(config, "spa").backchannel_logout_uri = Some(spa_uri.into());
        }
    });
    server
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// alice signs in to web in `browser`; web's ID token.
async fn signed_in_to_web(browser: &reqwest::Client, issuer: &str) -> String {
    let url = authorize_url(issuer, "web", &PKCE);
    let callback = log_in(browser, &url, "alice", PASSWORD).await;
    let code = query(&callback, "code").unwrap();
    let (status, _, body) = redeem(issuer, "web", Some(WEB_SECRET), &code, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{body}");
    body["id_token"].as_str().unwrap().to_owned()
}

/// web's ID token from `browser`'s live session, with no login page.
async fn id_token_from_session(browser: &reqwest::Client, issuer: &str) -> String {
    let url = authorize_url(issuer, "web", &[("prompt", "none")]);
    let response = browser.get(url).send().await.unwrap();
    let code = query(&location(&response), "code").expect("a code from the session");
    let (status, _, body) = redeem(issuer, "web", Some(WEB_SECRET), &code, None).await;
    assert_eq!(status, 200, "{body}");
    body["id_token"].as_str().unwrap().to_owned()
}

/// Whether `browser` still has a session: `prompt=none` answers with a code only then.
async fn has_session(browser: &reqwest::Client, issuer: &str) -> bool {
    let url = authorize_url(issuer, "web", &[("prompt", "none")]);
    let response = browser.get(url).send().await.unwrap();
    query(&location(&response), "code").is_some()
}

async fn logout(
    browser: &reqwest::Client,
    issuer: &str,
    params: &[(&str, &str)],
) -> reqwest::Response {
    let mut url = Url::parse(&format!("{issuer}/logout")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    browser.get(url).send().await.unwrap()
}

#[tokio::test]
async fn discovery_advertises_logout_and_id_tokens_carry_the_sessions_sid() {
    let server = server(None).await;
    let issuer = server.issuer("acme");
    let metadata = discovery(&issuer).await;
    assert_eq!(metadata["end_session_endpoint"], format!("{issuer}/logout"));
    assert_eq!(metadata["backchannel_logout_supported"], true);
    assert_eq!(metadata["backchannel_logout_session_supported"], true);
    assert!(
        metadata.get("frontchannel_logout_supported").is_none(),
        "not supported, not listed"
    );
    let browser = browser();
    let first = payload(&signed_in_to_web(&browser, &issuer).await);
    let second = payload(&id_token_from_session(&browser, &issuer).await);
    let sid = first["sid"].as_str().expect("a sid");
    assert!(sid.len() >= 22);
    assert_eq!(second["sid"], sid, "one session, one sid");
    let other = payload(&signed_in_to_web(&common::browser(), &issuer).await);
    assert_ne!(other["sid"], sid, "another browser, another session");
}

#[tokio::test]
async fn a_hinted_logout_ends_the_session_and_returns_to_the_registered_uri_with_state() {
    let server = server(None).await;
    let issuer = server.issuer("acme");
    let browser = browser();
    let id_token = signed_in_to_web(&browser, &issuer).await;
    assert!(has_session(&browser, &issuer).await);
    let params = [
        ("id_token_hint", id_token.as_str()),
        ("post_logout_redirect_uri", LOGGED_OUT),
        ("state", "bye-123"),
    ];
    let response = logout(&browser, &issuer, &params).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(
        location(&response).as_str(),
        format!("{LOGGED_OUT}?state=bye-123")
    );
    assert!(!has_session(&browser, &issuer).await, "the session is over");
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_is_refused_and_ends_nothing() {
    let server = server(None).await;
    let issuer = server.issuer("acme");
    let browser = browser();
    let id_token = signed_in_to_web(&browser, &issuer).await;
    for (hint, uri) in [
        (
            Some(id_token.as_str()),
            "http://127.0.0.1:9/logged-out/evil",
        ),
        (Some(id_token.as_str()), "https://evil.example/"),
        // REDIRECT is web's redirect URI, not one of its post-logout URIs.
        (Some(id_token.as_str()), REDIRECT),
        // A registered URI with no client named: nothing says whose it would be.
        (None, LOGGED_OUT),
    ] {
        let mut params = vec![("post_logout_redirect_uri", uri)];
        params.extend(hint.map(|hint| ("id_token_hint", hint)));
        let response = logout(&browser, &issuer, &params).await;
        assert_eq!(response.status(), 400, "{uri}");
        assert!(response.headers().get("location").is_none(), "{uri}");
    }
    let forged = format!("{}x", &id_token[..id_token.len() - 1]);
    let response = logout(&browser, &issuer, &[("id_token_hint", &forged)]).await;
    assert_eq!(response.status(), 400, "a hint whose signature fails");
    assert!(
        has_session(&browser, &issuer).await,
        "no refused request ended the session"
    );
}

#[tokio::test]
async fn without_a_hint_the_user_is_asked_and_a_forged_confirmation_ends_nothing() {
    let server = server(None).await;
    let issuer = server.issuer("acme");
    let browser = browser();
    signed_in_to_web(&browser, &issuer).await;
    let page = logout(
        &browser,
        &issuer,
        &[
            ("client_id", "web"),
            ("post_logout_redirect_uri", LOGGED_OUT),
        ],
    )
    .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign out of"), "{html}");
    let csrf = hidden_field(&html, "csrf");
    let confirm = |csrf: String| {
        [
            ("confirm", "yes".to_owned()),
            ("csrf", csrf),
            ("client_id", "web".to_owned()),
            ("post_logout_redirect_uri", LOGGED_OUT.to_owned()),
        ]
    };
    // A third-party page posting the form has neither the token nor the cookie.
    common::browser()
        .post(format!("{issuer}/logout"))
        .form(&confirm(csrf.clone()))
        .send()
        .await
        .unwrap();
    assert!(
        has_session(&browser, &issuer).await,
        "a post from elsewhere ended nothing"
    );
    let wrong = browser
        .post(format!("{issuer}/logout"))
        .form(&confirm("not-the-token".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 200, "asked again, with a fresh token");
    let csrf = hidden_field(&wrong.text().await.unwrap(), "csrf");
    assert!(has_session(&browser, &issuer).await);
    let confirmed = browser
        .post(format!("{issuer}/logout"))
        .form(&confirm(csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&confirmed).as_str(), LOGGED_OUT);
    assert!(!has_session(&browser, &issuer).await);
}

/// A relying party's back-channel logout endpoint: records every logout token it is sent and
/// answers the first `failures` of them with 503.
#[derive(Clone, Default)]
struct Receiver {
    tokens: Arc<Mutex<Vec<(String, Instant)>>>,
    failures: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(failures: usize) -> (Self, String) {
        let receiver = Self::default();
        *receiver.failures.lock().unwrap() = failures;
        let app = Router::new()
            .route("/backchannel", post(Self::receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, uri)
    }

    async fn receive(State(this): State<Self>, body: String) -> StatusCode {
        let token = url::form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        this.tokens.lock().unwrap().push((token, Instant::now()));
        let mut failures = this.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        StatusCode::OK
    }

    fn received(&self) -> Vec<String> {
        self.tokens
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Waits until `count` tokens arrived, or ten seconds passed.
    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..200 {
            if self.received().len() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.received()
    }
}

#[tokio::test]
async fn each_client_of_the_ended_session_gets_a_signed_logout_token_after_bounded_retries() {
    let (web_rp, web_uri) = Receiver::start(1).await;
    let (spa_rp, spa_uri) = Receiver::start(usize::MAX).await;
    let server = server(Some((&web_uri, &spa_uri))).await;
    let issuer = server.issuer("acme");
    let browser = browser();
    let id_token = signed_in_to_web(&browser, &issuer).await;
    // The same session signs alice in to spa too, with no login page.
    let url = authorize_url(&issuer, "spa", &[PKCE[0], PKCE[1], ("prompt", "none")]);
    assert!(query(&location(&browser.get(url).send().await.unwrap()), "code").is_some());

    let started = Instant::now();
    let response = logout(&browser, &issuer, &[("id_token_hint", &id_token)]).await;
    let answered = started.elapsed();
    assert_eq!(response.status(), 200, "signed out, nowhere to return to");
    // Waiting on spa's deliveries (503, then pauses of 0.5 s and 1 s) would take 1.5 s.
    assert!(
        answered < Duration::from_millis(1000),
        "the user's answer does not wait on deliveries: {answered:?}"
    );

    let tokens = web_rp.wait_for(2).await;
    assert_eq!(tokens.len(), 2, "one 503, then delivered on the second try");
    assert_eq!(tokens[0], tokens[1], "the same token retried");
    let signer = server.tenant_signer("acme");
    let claims: Value = jwt::verify(&tokens[1], TokenType::Logout, |_| Some(&signer))
        .expect("signed by the tenant's key, typ logout+jwt");
    assert!(
        jwt::verify::<Value>(&tokens[1], TokenType::Id, |_| Some(&signer)).is_err(),
        "a logout token never passes for an ID token"
    );
    let id_claims = payload(&id_token);
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], "web");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(
        claims.get("nonce").is_none(),
        "§2.4: a logout token has no nonce"
    );
    assert!(claims["jti"].is_string() && claims["iat"].is_i64() && claims["exp"].is_i64());

    // spa's endpoint always fails: tried three times in all, then given up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let spa_tokens = spa_rp.received();
    assert_eq!(spa_tokens.len(), 3, "bounded retries");
    assert_eq!(payload(&spa_tokens[0])["aud"], "spa");
    assert_eq!(web_rp.received().len(), 2, "nothing more once delivered");

    // The session is over: a second logout tells no one again.
    logout(&browser, &issuer, &[("id_token_hint", &id_token)]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(web_rp.received().len(), 2);
}

#[tokio::test]
async fn a_client_the_session_never_signed_in_to_is_not_told() {
    let (web_rp, web_uri) = Receiver::start(0).await;
    let (spa_rp, spa_uri) = Receiver::start(0).await;
    let server = server(Some((&web_uri, &spa_uri))).await;
    let issuer = server.issuer("acme");
    let browser = browser();
    let id_token = signed_in_to_web(&browser, &issuer).await;
    logout(&browser, &issuer, &[("id_token_hint", &id_token)]).await;
    assert_eq!(web_rp.wait_for(1).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        spa_rp.received().is_empty(),
        "spa never took part in the session"
    );
}
