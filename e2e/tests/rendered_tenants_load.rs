//! Whatever the operator renders, the auth-server loads: Tenants the API server would admit
//! (the CRD's own CEL rules, evaluated client-side), with key rings, client secrets and user
//! directories good and bad, go through the operator's `tenant_files`; every set of files it
//! produces is written to a directory and must load in the auth-server with no refusal.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use meridian_auth_server::config::load_dir;
use meridian_contract::{
    Algorithm, ClientSecrets, KeyRing, REGION_FILE, RegionConfig, SecretDigest, SigningKey,
    UserDirectory,
};
use meridian_operator::api::Tenant;
use meridian_operator::render::{TenantInputs, tenant_files};
use meridian_operator::settings::Settings;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Value, json};

/// One key per algorithm, generated once: RSA generation is slow.
static KEYS: LazyLock<Vec<SigningKey>> = LazyLock::new(|| {
    [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256]
        .into_iter()
        .map(|alg| meridian_keys::generate_key(alg, 1, 0))
        .collect()
});

static ARGON2ID: LazyLock<String> =
    LazyLock::new(|| meridian_auth_server::dev::hash_password("a password"));

const NAMES: &[&str] = &["alice", "bob", "svc", "web", "typ", "sub", "plan", "org"];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES).prop_map(str::to_owned)
}

fn client() -> impl Strategy<Value = Value> {
    let grants = prop::sample::subsequence(
        vec!["client_credentials", "authorization_code", "refresh_token"],
        1..=3,
    );
    (name(), prop::bool::ANY, grants).prop_map(|(id, public, grants)| {
        let mut client = json!({
            "clientId": id, "type": if public { "public" } else { "confidential" },
            "grantTypes": grants, "redirectUris": ["https://app.example/cb"], "scopes": ["openid"],
        });
        if !public {
            client["secretRef"] = json!({"name": format!("{id}-secret")});
        }
        client
    })
}

fn ttl() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("15m".to_owned()),
        Just("24h".to_owned()),
        Just("1s".to_owned()),
        Just("2160h".to_owned()),
        Just("90s".to_owned()),
    ]
}

fn tenant() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(client(), 0..4),
        prop::collection::btree_map(name(), "[a-z]{0,6}", 0..3),
        (ttl(), ttl(), ttl()),
        prop::option::of(Just("https://id.acme.example/tenant")),
    )
        .prop_map(|(clients, claims, (access, id, refresh), issuer)| {
            let mut spec = json!({
                "regions": ["eu-west"], "homeRegion": "eu-west",
                "clients": clients, "claims": claims,
                "tokens": {"accessTokenTtl": access, "idTokenTtl": id, "refreshTokenTtl": refresh},
            });
            if let Some(issuer) = issuer {
                spec["issuer"] = json!(issuer);
            }
            json!({"apiVersion": "meridian.dev/v1alpha1", "kind": "Tenant",
                   "metadata": {"name": "acme", "generation": 1}, "spec": spec})
        })
}

fn user() -> impl Strategy<Value = meridian_contract::User> {
    let hash = prop_oneof![
        3 => Just(ARGON2ID.clone()),
        1 => Just("$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned()),
        1 => "[ -~]{0,40}",
    ];
    (
        name(),
        hash,
        prop::collection::btree_map(name(), "[a-z]{1,4}", 0..2),
    )
        .prop_map(
            |(username, password_hash, claims)| meridian_contract::User {
                username,
                password_hash,
                claims: claims
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
                home_region: None,
            },
        )
}

fn inputs() -> impl Strategy<Value = (Value, KeyRing, bool, Option<UserDirectory>)> {
    let ring = prop::sample::subsequence((0..3).collect::<Vec<usize>>(), 0..=2).prop_map(|keys| {
        let mut ring = KeyRing::default();
        for (generation, index) in keys.into_iter().enumerate() {
            let mut key = KEYS[index].clone();
            key.generation = generation as u64 + 1;
            ring.keys.push(key);
        }
        ring
    });
    let users = prop::option::of(
        prop::collection::vec(user(), 0..3).prop_map(|users| UserDirectory { users }),
    );
    (tenant(), ring, prop::bool::weighted(0.8), users)
}

fn region_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let region = RegionConfig {
        name: "eu-west".into(),
        public_url: "https://eu.example".into(),
        jwks_max_age_seconds: 300,
    };
    std::fs::write(
        dir.path().join(REGION_FILE),
        serde_json::to_vec(&region).unwrap(),
    )
    .unwrap();
    dir
}

/// Renders one generated input; `Ok(true)` when the operator produced files and the
/// auth-server loaded them all, `Ok(false)` when the operator refused it.
fn render_and_load(
    (object, key_ring, with_digests, users): (Value, KeyRing, bool, Option<UserDirectory>),
) -> Result<bool, TestCaseError> {
    let tenant: Tenant = serde_json::from_value(object).unwrap();
    // Only what the API server admits reaches the operator.
    prop_assume!(tenant.validate_cel().is_ok());
    let mut secrets = ClientSecrets::default();
    if with_digests {
        for client in &tenant.spec.clients {
            secrets
                .secrets
                .insert(client.client_id.clone(), SecretDigest::from_sha256([7; 32]));
        }
    }
    let inputs = TenantInputs {
        tenant: &tenant,
        name: "acme",
        key_ring: &key_ring,
        client_secrets: &secrets,
        users: users.as_ref(),
    };
    let Ok(files) = tenant_files(inputs, &Settings::default()) else {
        // Refused by the operator: the last good files keep serving; nothing reaches the
        // auth-server, so there is nothing to load.
        return Ok(false);
    };
    let dir = region_dir();
    for (name, content) in files.public.iter().chain(&files.sensitive) {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let loaded = load_dir(dir.path(), None).unwrap();
    let refused: Vec<String> = loaded.refused.iter().map(|r| r.error.to_string()).collect();
    prop_assert!(refused.is_empty(), "rendered but refused: {refused:?}");
    prop_assert_eq!(loaded.snapshot.tenants().len(), 1);
    Ok(true)
}

#[test]
fn whatever_the_operator_renders_the_auth_server_loads() {
    let mut runner = TestRunner::new(ProptestConfig::with_cases(256));
    let (rendered, refused) = (AtomicUsize::new(0), AtomicUsize::new(0));
    runner
        .run(&inputs(), |input| {
            let counter = if render_and_load(input)? {
                &rendered
            } else {
                &refused
            };
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    let (rendered, refused) = (rendered.into_inner(), refused.into_inner());
    // Both sides of the property are exercised, not only the operator's refusals.
    assert!(
        rendered >= 32 && refused >= 32,
        "{rendered} rendered, {refused} refused"
    );
}
