//! The token endpoint checks before it consumes: a request that fails its checks (another
//! client, another redirect URI, a wrong verifier, a wider scope) burns neither the code nor
//! the refresh token, so the honest request after it still succeeds. A refresh keeps the
//! grant's scope (RFC 6749 §6), and introspection without client authentication is a 401.

mod common;

use common::*;
use meridian_contract::Algorithm;
use url::Url;

/// A code for `web` with PKCE and the scope `openid api`.
async fn code_for_web(issuer: &str) -> String {
    let mut url = Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "web")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid api")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    query(&log_in(&browser(), &url, "alice", PASSWORD).await, "code").unwrap()
}

async fn redeem_as_web(
    issuer: &str,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> serde_json::Value {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect),
        ("code_verifier", verifier),
    ];
    post_form(issuer, "/token", Some(("web", WEB_SECRET)), &form)
        .await
        .2
}

#[tokio::test]
async fn a_code_survives_requests_that_fail_their_checks() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let code = code_for_web(&issuer).await;

    let other_uri = redeem_as_web(&issuer, &code, "http://127.0.0.1:9/other", VERIFIER).await;
    assert_eq!(other_uri["error"], "invalid_grant");
    let wrong_verifier = redeem_as_web(&issuer, &code, REDIRECT, &"x".repeat(43)).await;
    assert_eq!(wrong_verifier["error"], "invalid_grant");
    // Anyone may claim a public client's id: holding a code must not be enough to burn it.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", "spa"),
    ];
    let (_, _, stranger) = post_form(&issuer, "/token", None, &form).await;
    assert_eq!(stranger["error"], "invalid_grant");

    let honest = redeem_as_web(&issuer, &code, REDIRECT, VERIFIER).await;
    assert!(honest["access_token"].is_string(), "{honest}");
}

#[tokio::test]
async fn a_refresh_refused_for_its_scope_leaves_the_token_usable_and_scope_is_kept() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let code = code_for_web(&issuer).await;
    let tokens = redeem_as_web(&issuer, &code, REDIRECT, VERIFIER).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh_with = |token: String, scope: Option<&'static str>| {
        let issuer = issuer.clone();
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
            ];
            form.extend(scope.map(|s| ("scope", s)));
            post_form(&issuer, "/token", Some(("web", WEB_SECRET)), &form).await
        }
    };

    let (status, _, wider) = refresh_with(refresh.clone(), Some("openid api email")).await;
    assert_eq!(
        (status.as_u16(), wider["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    let (status, _, narrowed) = refresh_with(refresh, Some("api")).await;
    assert_eq!(status, 200, "the honest retry is not reuse: {narrowed}");
    assert_eq!(narrowed["scope"], "api");
    let next = narrowed["refresh_token"].as_str().unwrap().to_owned();
    let (status, _, again) = refresh_with(next, None).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["scope"], "openid api",
        "narrowing one access token never narrows the grant"
    );
}

#[tokio::test]
async fn introspection_without_client_authentication_is_a_401_with_a_challenge() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    for credentials in [None, Some(("svc", "wrong")), Some(("nobody", "x"))] {
        let (status, headers, body) =
            post_form(&issuer, "/introspect", credentials, &[("token", "t")]).await;
        assert_eq!(status, 401, "{credentials:?}");
        assert!(headers.contains_key("www-authenticate"));
        assert_eq!(body["error"], "invalid_client");
    }
}
