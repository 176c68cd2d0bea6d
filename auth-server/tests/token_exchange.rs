//! Token exchange (RFC 8693) against the real server: an API (svc) exchanges a user's access
//! token that was issued for it for one to another API, within its policy, naming itself as
//! actor; anything outside the policy, beyond the subject token, of another tenant, expired
//! or not meant for the exchanging client is refused, and no exchanged token outlives its
//! subject token.

mod common;

use common::jose::claims;
use common::*;
use meridian_contract::{Algorithm, GrantType, TokenExchangePolicy};
use serde_json::Value;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const ORDERS: &str = "https://orders.example/";

/// acme (and other): web's tokens are for svc, and svc may exchange them for orders with api.
async fn server() -> TestServer {
    let server =
        TestServer::start(&[("acme", Algorithm::ES256), ("other", Algorithm::ES256)]).await;
    server.edit_tenant("acme", |config| {
        TestServer::client_of(config, "web").audience = Some("svc".into());
        let svc = TestServer::client_of(config, "svc");
        svc.grant_types.push(GrantType::TokenExchange);
        svc.token_exchange = Some(TokenExchangePolicy {
            audiences: vec![ORDERS.into(), "https://billing.example/".into()],
            scopes: vec!["api".into(), "profile".into()],
        });
    });
    server
}

/// alice's access token from web's code flow with `scope`.
async fn user_token(server: &TestServer, tenant: &str, client: &str, scope: &str) -> String {
    let issuer = server.issuer(tenant);
    let url = with_param(&authorize_url(&issuer, client, &PKCE), "scope", scope);
    let callback = log_in(&browser(), &url, "alice", PASSWORD).await;
    let code = query(&callback, "code").unwrap();
    let secret = (client == "web").then_some(WEB_SECRET);
    let (status, _, body) = redeem(&issuer, client, secret, &code, Some(VERIFIER)).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn exchange(
    server: &TestServer,
    as_client: (&str, &str),
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![("grant_type", EXCHANGE)];
    form.extend_from_slice(extra);
    let (status, _, body) =
        post_form(&server.issuer("acme"), "/token", Some(as_client), &form).await;
    (status.as_u16(), body)
}

const SVC: (&str, &str) = ("svc", SVC_SECRET);

fn refused(answer: &(u16, Value), code: &str) {
    assert_eq!(answer.0, 400, "{}", answer.1);
    assert_eq!(answer.1["error"], code, "{}", answer.1);
}

#[tokio::test]
async fn a_token_for_the_client_is_exchanged_within_its_policy_with_the_actor_named() {
    let server = server().await;
    let metadata = discovery(&server.issuer("acme")).await;
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == EXCHANGE)
    );
    let subject = user_token(&server, "acme", "web", "openid api").await;
    let (_, _, own) = post_form(
        &server.issuer("acme"),
        "/token",
        Some(SVC),
        &[("grant_type", "client_credentials"), ("scope", "api")],
    )
    .await;
    let actor = own["access_token"].as_str().unwrap();
    let (status, body) = exchange(
        &server,
        SVC,
        &[
            ("subject_token", &subject),
            ("subject_token_type", ACCESS),
            ("actor_token", actor),
            ("actor_token_type", ACCESS),
            ("audience", ORDERS),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["issued_token_type"], ACCESS);
    assert!(body.get("refresh_token").is_none());
    let exchanged = claims(body["access_token"].as_str().unwrap());
    assert_eq!(exchanged["sub"], "alice");
    assert_eq!(exchanged["aud"], ORDERS);
    assert_eq!(exchanged["client_id"], "svc");
    assert_eq!(
        exchanged["scope"], "api",
        "what both the policy and the subject hold"
    );
    assert_eq!(exchanged["act"]["sub"], "svc");
    // Exchanged again, for billing: the first actor is kept, nested.
    let (status, again) = exchange(
        &server,
        SVC,
        &[
            ("subject_token", body["access_token"].as_str().unwrap()),
            ("subject_token_type", ACCESS),
            ("actor_token", actor),
            ("actor_token_type", ACCESS),
            ("resource", "https://billing.example/"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{again}");
    let twice = claims(again["access_token"].as_str().unwrap());
    assert_eq!(twice["act"]["act"]["sub"], "svc");
}

#[tokio::test]
async fn an_audience_or_scope_outside_the_policy_or_the_subject_is_refused() {
    let server = server().await;
    let subject = user_token(&server, "acme", "web", "openid email api").await;
    let with = |extra: &'static [(&'static str, &'static str)]| {
        let mut form = vec![
            ("subject_token", subject.as_str()),
            ("subject_token_type", ACCESS),
        ];
        form.extend_from_slice(extra);
        form
    };
    let outside = exchange(
        &server,
        SVC,
        &with(&[("audience", "https://payroll.example/")]),
    )
    .await;
    refused(&outside, "invalid_target");
    let not_in_policy = with(&[("audience", ORDERS), ("scope", "email")]);
    refused(
        &exchange(&server, SVC, &not_in_policy).await,
        "invalid_scope",
    );
    let not_in_subject = with(&[("audience", ORDERS), ("scope", "profile")]);
    refused(
        &exchange(&server, SVC, &not_in_subject).await,
        "invalid_scope",
    );
    refused(&exchange(&server, SVC, &with(&[])).await, "invalid_request");
    let web = ("web", WEB_SECRET);
    refused(
        &exchange(&server, web, &with(&[("audience", ORDERS)])).await,
        "unauthorized_client",
    );
}

#[tokio::test]
async fn a_subject_token_of_another_tenant_expired_or_not_for_the_client_is_refused() {
    let server = server().await;
    let of_other = user_token(&server, "other", "web", "openid api").await;
    let of_spa = user_token(&server, "acme", "spa", "openid api").await;
    let expiring = user_token(&server, "acme", "web", "openid api").await;
    for subject in [&of_other, &of_spa] {
        let form = [
            ("subject_token", subject.as_str()),
            ("subject_token_type", ACCESS),
            ("audience", ORDERS),
        ];
        refused(&exchange(&server, SVC, &form).await, "invalid_request");
    }
    let form = [
        ("subject_token", expiring.as_str()),
        ("subject_token_type", ACCESS),
        ("audience", ORDERS),
    ];
    server.clock.advance(200);
    let (status, body) = exchange(&server, SVC, &form).await;
    assert_eq!(status, 200, "{body}");
    // Never outliving the subject token (300 s from its issue).
    assert_eq!(body["expires_in"], 100);
    let exchanged = claims(body["access_token"].as_str().unwrap());
    assert_eq!(exchanged["exp"], claims(&expiring)["exp"]);
    server.clock.advance(101);
    refused(&exchange(&server, SVC, &form).await, "invalid_request");
}
