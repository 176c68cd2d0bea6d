//! What operators and resource servers observe: metrics, and a JWKS with public members only.

mod common;

use common::*;
use meridian_contract::Algorithm;
use serde_json::Value;

#[tokio::test]
async fn metrics_count_tokens_by_tenant_and_grant_and_errors_by_code() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let form = [("grant_type", "client_credentials")];
    post_form(&issuer, "/token", Some(("svc", SVC_SECRET)), &form).await;
    post_form(&issuer, "/token", Some(("svc", "wrong")), &form).await;
    let public = http()
        .get(format!("{}/metrics", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        public.status(),
        404,
        "tenant ids are not for the public listener"
    );
    let admin = server.server.admin_addr.expect("an admin listener");
    let metrics = http()
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .unwrap();
    let text = metrics.text().await.unwrap();
    for line in [
        r#"meridian_auth_tokens_issued_total{tenant="acme",grant="client_credentials"} 1"#,
        r#"meridian_auth_oauth_errors_total{code="invalid_client"} 1"#,
        r#"meridian_auth_request_duration_seconds_count{endpoint="token"} 2"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[tokio::test]
async fn the_jwks_holds_public_members_only() {
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
        let server = TestServer::start(&[("acme", alg)]).await;
        let url = format!("{}/jwks.json", server.issuer("acme"));
        let jwks: Value = http().get(url).send().await.unwrap().json().await.unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                keys[0].get(private).is_none(),
                "{alg}: {private} in {}",
                keys[0]
            );
        }
        assert_eq!(keys[0]["alg"], alg.as_str());
        assert_eq!(keys[0]["use"], "sig");
    }
}
