//! Claims by scope (OIDC Core §5.4) in the ID token and at userinfo.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use meridian_auth_server::dev::hash_password;
use meridian_contract::{Algorithm, TenantFile, User, UserDirectory};
use serde_json::{Value, json};

/// Carol has a claim of every kind: profile, email, phone, address, and one of the tenant's own.
fn carol(server: &TestServer) {
    let claims = json!({
        "name": "Carol Example",
        "given_name": "Carol",
        "family_name": "Example",
        "email": "carol@example.com",
        "email_verified": true,
        "phone_number": "+1 555 0100",
        "address": {"country": "NZ"},
        "department": "research",
    });
    let user = User {
        username: "carol".into(),
        password_hash: hash_password(PASSWORD),
        claims: serde_json::from_value(claims).unwrap(),
        home_region: None,
    };
    let users = UserDirectory { users: vec![user] };
    write_json(
        server.dir.path(),
        &TenantFile::Users.file_name("acme"),
        &users,
    );
    assert!(server.server.config.reload(server.dir.path()));
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The ID token's and userinfo's claims for carol after a sign-in with `scope`.
async fn claims_for(issuer: &str, scope: &str) -> (Value, Value) {
    let url = authorize_url(issuer, "web", &[]);
    let url = url::Url::parse(
        &url.as_str()
            .replace("scope=openid", &format!("scope={scope}")),
    )
    .unwrap();
    let callback = log_in(&browser(), &url, "carol", PASSWORD).await;
    let code = query(&callback, "code").unwrap();
    let (status, _, body) = redeem(issuer, "web", Some(WEB_SECRET), &code, None).await;
    assert_eq!(status, 200, "{body}");
    let userinfo: Value = http()
        .get(format!("{issuer}/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (payload(body["id_token"].as_str().unwrap()), userinfo)
}

const PERSONAL: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "phone_number",
    "address",
    "department",
];

#[tokio::test]
async fn without_profile_or_email_no_personal_claim_leaves() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    carol(&server);
    let (id_token, userinfo) = claims_for(&server.issuer("acme"), "openid").await;
    for claims in [&id_token, &userinfo] {
        for name in PERSONAL {
            assert!(claims.get(name).is_none(), "{name} in {claims}");
        }
        assert_eq!(claims["sub"], "carol");
        assert_eq!(claims["tenant_id"], "acme", "Meridian's own claims stay");
        assert_eq!(claims["org"], "org-acme", "and the tenant's static ones");
    }
}

#[tokio::test]
async fn each_scope_releases_its_own_claims() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    carol(&server);
    let issuer = server.issuer("acme");
    let (id_token, userinfo) = claims_for(&issuer, "openid%20email").await;
    for claims in [&id_token, &userinfo] {
        assert_eq!(claims["email"], "carol@example.com");
        assert_eq!(claims["email_verified"], true);
        assert!(claims.get("name").is_none(), "{claims}");
        assert!(claims.get("phone_number").is_none(), "{claims}");
    }
    let (id_token, userinfo) = claims_for(&issuer, "openid%20profile").await;
    for claims in [&id_token, &userinfo] {
        assert_eq!(claims["name"], "Carol Example");
        assert_eq!(claims["given_name"], "Carol");
        assert_eq!(
            claims["department"], "research",
            "a tenant's own attribute is profile"
        );
        assert!(claims.get("email").is_none(), "{claims}");
        assert!(claims.get("address").is_none(), "{claims}");
    }
}
