use std::collections::BTreeMap;

use super::*;
use crate::{
    Algorithm, ClientAuthMethod, ClientConfig, SecretDigest, SigningKey, TokenLifetimes, User,
};

const HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzYWx0$RdescudvJCsgt3ub+b+dWRWJTmaaJObGy6hQ4K5o2b0";

fn config() -> TenantConfig {
    TenantConfig {
        fapi2: false,
        id: "acme".into(),
        display_name: "Acme".into(),
        issuer: "https://auth.example/t/acme".into(),
        home_region: "eu".into(),
        scopes: vec![],
        clients: vec![],
        tokens: TokenLifetimes {
            access_token_seconds: 900,
            id_token_seconds: 3600,
            refresh_token_seconds: 86400,
        },
        claims: BTreeMap::new(),
    }
}

fn client(id: &str, kind: ClientKind, grants: &[GrantType]) -> ClientConfig {
    ClientConfig {
        client_id: id.into(),
        display_name: String::new(),
        kind,
        grant_types: grants.to_vec(),
        redirect_uris: vec![],
        scopes: vec![],
        audience: None,
        resources: vec![],
        allowed_origins: None,
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: None,
        require_pushed_authorization_requests: false,
        dpop_bound_access_tokens: false,
        require_dpop_nonce: false,
        token_endpoint_auth_method: None,
        jwks: None,
        jwks_uri: None,
        token_exchange: None,
    }
}

fn user(name: &str, hash: &str) -> User {
    User {
        username: name.into(),
        password_hash: hash.into(),
        claims: BTreeMap::new(),
        home_region: None,
    }
}

fn ring() -> KeyRing {
    KeyRing {
        keys: vec![SigningKey {
            kid: "k1".into(),
            alg: Algorithm::ES256,
            generation: 1,
            private_key_pem: String::new(),
            publish_at: 0,
            activate_at: 0,
            retire_at: None,
            remove_at: None,
        }],
    }
}

fn check(
    config: &TenantConfig,
    keys: &KeyRing,
    clients: &ClientSecrets,
    users: Option<&UserDirectory>,
) -> Result<(), Invalid> {
    validate_tenant(TenantFilesRef {
        config,
        keys,
        clients,
        users,
    })
}

fn problem_of(config: &TenantConfig, users: Option<&UserDirectory>) -> (String, Problem) {
    let error = check(config, &ring(), &ClientSecrets::default(), users).unwrap_err();
    (error.field, error.problem)
}

#[test]
fn a_plain_tenant_is_valid() {
    let users = UserDirectory {
        users: vec![user("alice", HASH)],
    };
    check(&config(), &ring(), &ClientSecrets::default(), Some(&users)).unwrap();
}

#[test]
fn every_reserved_claim_is_refused_by_name() {
    for name in RESERVED_CLAIMS {
        let mut config = config();
        config.claims.insert((*name).into(), "x".into());
        let (field, problem) = problem_of(&config, None);
        assert_eq!(problem, Problem::ReservedClaim);
        assert_eq!(field, format!("claims[{name:?}]"));
    }
}

#[test]
fn a_users_reserved_claim_is_refused_with_the_user_named() {
    let mut alice = user("alice", HASH);
    alice.claims.insert("typ".into(), "x".into());
    let users = UserDirectory { users: vec![alice] };
    let (field, problem) = problem_of(&config(), Some(&users));
    assert_eq!(problem, Problem::ReservedClaim);
    assert_eq!(field, r#"users["alice"].claims["typ"]"#);
}

#[test]
fn password_hashes_must_be_argon2id_phc_strings() {
    let bcrypt = "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234";
    let argon2i = HASH.replace("argon2id", "argon2i");
    let no_salt = "$argon2id$v=19$m=19456,t=2,p=1$$RdescudvJCsgt3ub";
    let odd_param = HASH.replace("p=1", "q=1");
    let tiny_memory = HASH.replace("m=19456", "m=7");
    let no_passes = HASH.replace("t=2", "t=0");
    let padded = format!("{HASH}=");
    let future_version = HASH.replace("v=19", "v=20");
    for bad in [
        "",
        "plaintext",
        bcrypt,
        &argon2i,
        no_salt,
        &odd_param,
        &tiny_memory,
        &no_passes,
        &padded,
        &future_version,
    ] {
        let users = UserDirectory {
            users: vec![user("alice", bad)],
        };
        let (field, problem) = problem_of(&config(), Some(&users));
        assert_eq!(problem, Problem::BadPasswordHash, "{bad}");
        assert_eq!(field, r#"users["alice"].passwordHash"#);
    }
}

#[test]
fn the_version_may_be_left_out() {
    let users = UserDirectory {
        users: vec![user("alice", &HASH.replace("v=19$", ""))],
    };
    check(&config(), &ring(), &ClientSecrets::default(), Some(&users)).unwrap();
}

#[test]
fn messages_never_quote_the_hash() {
    let users = UserDirectory {
        users: vec![user("alice", "$2b$12$secretsecretsecret")],
    };
    let error = check(&config(), &ring(), &ClientSecrets::default(), Some(&users)).unwrap_err();
    assert!(!error.to_string().contains("secretsecret"), "{error}");
}

#[test]
fn clients_are_consistent_with_their_secrets() {
    let mut config = config();
    config.clients = vec![client(
        "cli",
        ClientKind::Public,
        &[GrantType::ClientCredentials],
    )];
    assert_eq!(
        problem_of(&config, None).1,
        Problem::PublicClientCredentials
    );

    config.clients = vec![client(
        "svc",
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
    )];
    assert_eq!(
        problem_of(&config, None),
        (r#"clients["svc"]"#.into(), Problem::MissingClientSecret)
    );
    let mut secrets = ClientSecrets::default();
    secrets
        .secrets
        .insert("svc".into(), SecretDigest::from_sha256([7; 32]));
    check(&config, &ring(), &secrets, None).unwrap();

    config.clients.push(config.clients[0].clone());
    let error = check(&config, &ring(), &secrets, None).unwrap_err();
    assert_eq!(error.problem, Problem::DuplicateClient);
}

#[test]
fn users_are_unique_and_never_named_like_a_client() {
    let mut config = config();
    config.clients = vec![client(
        "web",
        ClientKind::Public,
        &[GrantType::AuthorizationCode],
    )];
    let twins = UserDirectory {
        users: vec![user("alice", HASH), user("alice", HASH)],
    };
    assert_eq!(problem_of(&config, Some(&twins)).1, Problem::DuplicateUser);
    let shared = UserDirectory {
        users: vec![user("web", HASH)],
    };
    assert_eq!(
        problem_of(&config, Some(&shared)),
        (r#"users["web"]"#.into(), Problem::SubjectShared)
    );
}

#[test]
fn lifetimes_are_bounded() {
    for (access, id, refresh, field) in [
        (0, 60, 60, "tokens.accessTokenSeconds"),
        (60, MAX_ID_TOKEN_SECONDS + 1, 60, "tokens.idTokenSeconds"),
        (
            60,
            60,
            MAX_REFRESH_TOKEN_SECONDS + 1,
            "tokens.refreshTokenSeconds",
        ),
    ] {
        let mut config = config();
        config.tokens = TokenLifetimes {
            access_token_seconds: access,
            id_token_seconds: id,
            refresh_token_seconds: refresh,
        };
        assert_eq!(
            problem_of(&config, None),
            (field.into(), Problem::LifetimeOutOfRange)
        );
    }
}

#[test]
fn issuers_are_absolute_urls_without_query_or_fragment() {
    for good in [
        "https://auth.example/t/acme",
        "http://127.0.0.1:18440/t/acme",
        "https://id.acme.example",
        "http://[::1]:8080",
    ] {
        let mut config = config();
        config.issuer = good.into();
        check(&config, &ring(), &ClientSecrets::default(), None).unwrap();
    }
    for bad in [
        "",
        "auth.example",
        "ftp://auth.example",
        "https://",
        "https:///t/acme",
        "https://auth.example/t?x=1",
        "https://auth.example/t#f",
        "https://user@auth.example",
        "https://auth example",
    ] {
        let mut config = config();
        config.issuer = bad.into();
        assert_eq!(problem_of(&config, None).1, Problem::BadIssuer, "{bad}");
    }
}

#[test]
fn key_rings_need_a_key_unique_kids_and_an_ordered_schedule() {
    let config = config();
    let secrets = ClientSecrets::default();
    let empty = check(&config, &KeyRing::default(), &secrets, None).unwrap_err();
    assert_eq!(
        (empty.field.as_str(), empty.problem),
        ("keys", Problem::NoSigningKeys)
    );

    let mut twice = ring();
    twice.keys.push(twice.keys[0].clone());
    let error = check(&config, &twice, &secrets, None).unwrap_err();
    assert_eq!(error.problem, Problem::DuplicateKid);

    let mut late = ring();
    late.keys[0].publish_at = 10;
    let error = check(&config, &late, &secrets, None).unwrap_err();
    assert_eq!(
        (error.field.as_str(), error.problem),
        (r#"keys["k1"]"#, Problem::BadKeySchedule)
    );
}

#[test]
fn a_private_key_jwt_client_needs_one_source_of_keys_and_no_secret() {
    let mut config = config();
    let mut keyed = client(
        "svc",
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
    );
    keyed.token_endpoint_auth_method = Some(ClientAuthMethod::PrivateKeyJwt);
    config.clients = vec![keyed.clone()];
    assert_eq!(problem_of(&config, None).1, Problem::ClientKeys, "no keys");
    config.clients[0].jwks_uri = Some("https://svc.example/jwks".into());
    check(&config, &ring(), &ClientSecrets::default(), None).unwrap();
    config.clients[0].jwks = Some(crate::ClientJwks::default());
    assert_eq!(problem_of(&config, None).1, Problem::ClientKeys, "both");

    let mut secret_keyed = client(
        "web",
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
    );
    secret_keyed.jwks_uri = Some("https://web.example/jwks".into());
    config.clients = vec![secret_keyed];
    assert_eq!(
        problem_of(&config, None).1,
        Problem::ClientKeys,
        "keys unused"
    );

    let mut public = client("app", ClientKind::Public, &[GrantType::AuthorizationCode]);
    public.token_endpoint_auth_method = Some(ClientAuthMethod::ClientSecretBasic);
    config.clients = vec![public];
    assert_eq!(problem_of(&config, None).1, Problem::AuthMethodKind);
    keyed.token_endpoint_auth_method = Some(ClientAuthMethod::None);
    config.clients = vec![keyed];
    assert_eq!(problem_of(&config, None).1, Problem::AuthMethodKind);
}

#[test]
fn a_fapi2_tenant_has_only_private_key_jwt_confidential_clients() {
    let mut config = config();
    config.fapi2 = true;
    config.clients = vec![client(
        "svc",
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
    )];
    let mut secrets = ClientSecrets::default();
    secrets
        .secrets
        .insert("svc".into(), SecretDigest::from_sha256([7; 32]));
    let error = check(&config, &ring(), &secrets, None).unwrap_err();
    assert_eq!(error.problem, Problem::Fapi2ClientAuth);
    config.clients[0].token_endpoint_auth_method = Some(ClientAuthMethod::PrivateKeyJwt);
    config.clients[0].jwks_uri = Some("https://svc.example/jwks".into());
    check(&config, &ring(), &ClientSecrets::default(), None).unwrap();
}
