//! Cookies and browser-facing headers: `__Host-` cookies named per tenant where the issuer is
//! https, and `nosniff` / `no-referrer` on every page, redirect and error.

mod common;

use common::*;
use meridian_auth_server::clock::Clock;
use meridian_contract::Algorithm;
use reqwest::header::HeaderMap;

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect()
}

/// `name=value` of each cookie, as a browser sends them back.
fn cookie_header(set_cookies: &[String]) -> String {
    let pairs: Vec<&str> = set_cookies
        .iter()
        .map(|c| c.split(';').next().unwrap())
        .collect();
    pairs.join("; ")
}

#[tokio::test]
async fn https_issuers_get_host_prefixed_cookies_named_per_tenant() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    // Served here over loopback http, but its issuer (and so its browsers) is https.
    let key = key_for(Algorithm::ES256, server.clock.now());
    write_tenant(
        server.dir.path(),
        "https://auth.example/t/secure",
        "secure",
        vec![key],
    );
    assert!(server.server.config.reload(server.dir.path()));
    let base = format!("{}/t/secure", server.base());
    let url = authorize_url(&base, "web", &[]);
    let page = http().get(url.clone()).send().await.unwrap();
    let csrf = set_cookies(page.headers());
    assert_eq!(csrf.len(), 1);
    let csrf_cookie = &csrf[0];
    assert!(
        csrf_cookie.starts_with("__Host-meridian_csrf_secure="),
        "{csrf_cookie}"
    );
    for attribute in ["; Path=/;", "; Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(
            csrf_cookie.contains(attribute),
            "{csrf_cookie} lacks {attribute}"
        );
    }
    assert!(!csrf_cookie.contains("Domain"), "{csrf_cookie}");
    let html = page.text().await.unwrap();
    let form = [
        ("login_id", hidden_field(&html, "login_id")),
        ("csrf", hidden_field(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    let signed_in = http()
        .post(url.join("login").unwrap())
        .header("cookie", cookie_header(&csrf))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        signed_in.status().is_redirection(),
        "{}",
        signed_in.status()
    );
    let session: Vec<String> = set_cookies(signed_in.headers())
        .into_iter()
        .filter(|c| c.starts_with("__Host-meridian_session_secure="))
        .collect();
    assert_eq!(session.len(), 1, "the session cookie, per tenant");
    assert!(session[0].contains("; Path=/;") && session[0].contains("; Secure"));
    let silent = authorize_url(&base, "web", &[("prompt", "none")]);
    let again = http()
        .get(silent.clone())
        .header("cookie", cookie_header(&session))
        .send()
        .await
        .unwrap();
    assert!(
        query(&location(&again), "code").is_some(),
        "the session is read back"
    );
    // Another tenant on the same host does not read it: its name is acme's own.
    let acme = authorize_url(&server.issuer("acme"), "web", &[("prompt", "none")]);
    let elsewhere = http()
        .get(acme)
        .header("cookie", cookie_header(&session))
        .send()
        .await
        .unwrap();
    assert_eq!(
        query(&location(&elsewhere), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn pages_redirects_and_errors_are_not_sniffed_and_send_no_referrer() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let login_page = http()
        .get(authorize_url(&issuer, "web", &[]))
        .send()
        .await
        .unwrap();
    let redirect = http()
        .get(authorize_url(&issuer, "web", &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let error_page = http()
        .get(authorize_url(&issuer, "nobody", &[]))
        .send()
        .await
        .unwrap();
    let (_, token_error, _) = post_form(&issuer, "/token", None, &[("grant_type", "x")]).await;
    let discovery = http()
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(login_page.status(), 200);
    assert!(redirect.status().is_redirection());
    assert_eq!(error_page.status(), 400);
    for headers in [
        login_page.headers(),
        redirect.headers(),
        error_page.headers(),
        &token_error,
        discovery.headers(),
    ] {
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
}
