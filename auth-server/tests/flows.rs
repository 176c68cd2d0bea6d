//! The happy paths, driven by the `openidconnect` and `oauth2` crates over real HTTP.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use meridian_contract::Algorithm;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IntrospectionUrl, IssuerUrl, JsonWebKey, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenIntrospectionResponse,
};
use serde_json::Value;

async fn discover(issuer: &str) -> CoreProviderMetadata {
    let issuer = IssuerUrl::new(issuer.to_owned()).unwrap();
    CoreProviderMetadata::discover_async(issuer, &http())
        .await
        .unwrap()
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Verifies a JWS against the served JWKS with the client library's own key handling.
async fn verify_with_served_jwks(issuer: &str, token: &str) -> Value {
    let response = http()
        .get(format!("{issuer}/jwks.json"))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age=120")
    );
    let jwks: CoreJsonWebKeySet = response.json().await.unwrap();
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(signed.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    let alg: CoreJwsSigningAlgorithm = serde_json::from_value(header["alg"].clone()).unwrap();
    let key = jwks
        .keys()
        .iter()
        .find(|key| key.key_id().map(|kid| kid.as_str()) == header["kid"].as_str())
        .expect("the token's kid is published");
    key.verify_signature(
        &alg,
        signed.as_bytes(),
        &URL_SAFE_NO_PAD.decode(signature).unwrap(),
    )
    .expect("signature verifies against the served JWKS");
    claims_of(token)
}

#[tokio::test]
async fn discovery_documents_match_the_issuer_exactly() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let metadata = discover(&issuer).await;
    assert_eq!(metadata.issuer().as_str(), issuer);
    assert_eq!(metadata.jwks_uri().as_str(), format!("{issuer}/jwks.json"));
    let rfc8414: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server/t/acme",
            server.base()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rfc8414["issuer"], issuer);
    assert_eq!(
        rfc8414["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        rfc8414["authorization_response_iss_parameter_supported"],
        true
    );
}

async fn client_credentials_token(issuer: &str) -> String {
    let client = oauth2::basic::BasicClient::new(oauth2::ClientId::new("svc".into()))
        .set_client_secret(oauth2::ClientSecret::new(SVC_SECRET.into()))
        .set_token_uri(oauth2::TokenUrl::new(format!("{issuer}/token")).unwrap());
    let token = client
        .exchange_client_credentials()
        .add_scope(oauth2::Scope::new("api".into()))
        .request_async(&http())
        .await
        .unwrap();
    assert_eq!(token.scopes().unwrap()[0].as_str(), "api");
    token.access_token().secret().clone()
}

#[tokio::test]
async fn client_credentials_tokens_verify_against_the_jwks_for_every_algorithm() {
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
        let server = TestServer::start(&[("acme", alg)]).await;
        let issuer = server.issuer("acme");
        let token = client_credentials_token(&issuer).await;
        let claims = verify_with_served_jwks(&issuer, &token).await;
        assert_eq!(claims["iss"], issuer.as_str());
        assert_eq!(claims["client_id"], "svc");
        assert_eq!(claims["sub"], "svc");
        assert_eq!(claims["tenant_id"], "acme");
        assert_eq!(
            claims["region"], "us-east",
            "a client has no home: the tenant's region"
        );
        assert_eq!(claims["org"], "org-acme");
        for claim in ["aud", "exp", "iat", "jti", "scope"] {
            assert!(claims.get(claim).is_some(), "{claim} in {claims}");
        }
    }
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let client = oauth2::basic::BasicClient::new(oauth2::ClientId::new("svc".into()))
        .set_client_secret(oauth2::ClientSecret::new(SVC_SECRET.into()))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(oauth2::TokenUrl::new(format!("{}/token", server.issuer("acme"))).unwrap());
    let token = client
        .exchange_client_credentials()
        .request_async(&http())
        .await
        .unwrap();
    assert!(!token.access_token().secret().is_empty());
}

type ProviderClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

async fn web_client(issuer: &str) -> ProviderClient {
    CoreClient::from_provider_metadata(
        discover(issuer).await,
        ClientId::new("web".into()),
        Some(ClientSecret::new(WEB_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap())
}

/// The browser part of the code flow: returns the callback URL, the state and the nonce.
async fn authorize_with_pkce(
    client: &ProviderClient,
    user: &str,
) -> (url::Url, CsrfToken, Nonce, openidconnect::PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let callback = log_in(&browser(), &url, user, PASSWORD).await;
    (callback, state, nonce, verifier)
}

#[tokio::test]
async fn code_flow_with_pkce_and_nonce_for_every_algorithm() {
    let algs = [
        (Algorithm::ES256, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        (Algorithm::EdDSA, CoreJwsSigningAlgorithm::EdDsa),
        (
            Algorithm::RS256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        ),
    ];
    for (alg, jws_alg) in algs {
        let server = TestServer::start(&[("acme", alg)]).await;
        let issuer = server.issuer("acme");
        let client = web_client(&issuer).await;
        let (callback, state, nonce, verifier) = authorize_with_pkce(&client, "alice").await;
        assert_eq!(
            query(&callback, "state").as_deref(),
            Some(state.secret().as_str())
        );
        assert_eq!(
            query(&callback, "iss"),
            Some(issuer.clone()),
            "RFC 9207 iss"
        );
        let code = AuthorizationCode::new(query(&callback, "code").unwrap());
        let exchange = client
            .exchange_code(code)
            .unwrap()
            .set_pkce_verifier(verifier);
        let tokens = exchange.request_async(&http()).await.unwrap();
        let id_verifier = client
            .id_token_verifier()
            .set_allowed_algs([jws_alg.clone()]);
        let id_token = tokens
            .extra_fields()
            .id_token()
            .expect("an ID token for scope openid");
        let claims = id_token
            .claims(&id_verifier, &nonce)
            .expect("ID token verifies");
        assert_eq!(claims.subject().as_str(), "alice");
        assert!(claims.auth_time().is_some());
        let expected_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&id_verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims.access_token_hash(),
            Some(&expected_hash),
            "at_hash for {alg}"
        );
        assert_eq!(
            claims_of(&id_token.to_string())["region"],
            "eu-west",
            "alice's home"
        );
        let access = verify_with_served_jwks(&issuer, tokens.access_token().secret()).await;
        assert_eq!(
            (&access["sub"], &access["region"]),
            (&"alice".into(), &"eu-west".into())
        );
        assert!(tokens.refresh_token().is_some());
    }
}

/// Logs in through the public client and returns (client, access, refresh).
async fn spa_tokens(
    server: &TestServer,
) -> (
    ProviderClient,
    openidconnect::AccessToken,
    openidconnect::RefreshToken,
) {
    let issuer = server.issuer("acme");
    let metadata = discover(&issuer).await;
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new("spa".into()), None)
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .url();
    let callback = log_in(&browser(), &url, "bob", PASSWORD).await;
    let code = AuthorizationCode::new(query(&callback, "code").unwrap());
    let tokens = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();
    let (access, refresh) = (
        tokens.access_token().clone(),
        tokens.refresh_token().unwrap().clone(),
    );
    (client, access, refresh)
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let (client, _, first) = spa_tokens(&server).await;
    let rotated = client
        .exchange_refresh_token(&first)
        .unwrap()
        .request_async(&http())
        .await
        .unwrap();
    let second = rotated
        .refresh_token()
        .expect("a new refresh token")
        .clone();
    assert_ne!(second.secret(), first.secret());
    let userinfo = client
        .user_info(rotated.access_token().clone(), None)
        .unwrap();
    let info: openidconnect::core::CoreUserInfoClaims =
        userinfo.request_async(&http()).await.unwrap();
    assert_eq!(info.subject().as_str(), "bob");

    let reuse = client
        .exchange_refresh_token(&first)
        .unwrap()
        .request_async(&http())
        .await;
    assert!(reuse.is_err(), "the rotated-away token is refused");
    let after = client
        .exchange_refresh_token(&second)
        .unwrap()
        .request_async(&http())
        .await;
    assert!(after.is_err(), "the whole family is revoked");
    let userinfo = client
        .user_info(rotated.access_token().clone(), None)
        .unwrap();
    let revoked: Result<openidconnect::core::CoreUserInfoClaims, _> =
        userinfo.request_async(&http()).await;
    assert!(
        revoked.is_err(),
        "access tokens of the family are revoked too"
    );
}

#[tokio::test]
async fn introspection_and_revocation() {
    let server = TestServer::start(&[("acme", Algorithm::EdDSA)]).await;
    let issuer = server.issuer("acme");
    let introspect = IntrospectionUrl::new(format!("{issuer}/introspect")).unwrap();
    let client = web_client(&issuer).await.set_introspection_url(introspect);
    let (callback, _, _, verifier) = authorize_with_pkce(&web_client(&issuer).await, "alice").await;
    let code = AuthorizationCode::new(query(&callback, "code").unwrap());
    let tokens = client
        .exchange_code(code)
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .unwrap();

    let active = client
        .introspect(tokens.access_token())
        .request_async(&http())
        .await
        .unwrap();
    assert!(active.active());
    assert_eq!(active.sub(), Some("alice"));
    assert_eq!(active.client_id().map(|c| c.as_str()), Some("web"));

    // oauth2 refuses to revoke over plain HTTP, so the RFC 7009 request is posted by hand.
    revoke(&issuer, tokens.access_token().secret()).await;
    let inactive = client
        .introspect(tokens.access_token())
        .request_async(&http())
        .await
        .unwrap();
    assert!(!inactive.active(), "revoked access token");

    let refresh = tokens.refresh_token().unwrap().clone();
    revoke(&issuer, refresh.secret()).await;
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http())
        .await;
    assert!(refreshed.is_err(), "revoked refresh token");
}

async fn revoke(issuer: &str, token: &str) {
    let response = http()
        .post(format!("{issuer}/revoke"))
        .basic_auth("web", Some(WEB_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
