//! Writes a contract directory with many tenants for the token-endpoint benchmark:
//! `bench_config <dir> <base-url> <tenants> <ES256|EdDSA>`. Every tenant `tNNN` has one key of
//! the given algorithm and a confidential client `bench` whose secret is `bench-secret`.

use std::path::Path;

use meridian_auth_server::clock::{Clock, SystemClock};
use meridian_contract::{
    Algorithm, ClientConfig, ClientKind, ClientSecrets, GrantType, KeyRing, REGION_FILE,
    RegionConfig, Scope, SecretDigest, TenantConfig, TenantFile, TokenLifetimes,
};
use meridian_keys::generate_key;

fn write(dir: &Path, name: &str, value: &impl serde::Serialize) {
    std::fs::write(dir.join(name), serde_json::to_vec(value).unwrap()).unwrap();
}

fn tenant(id: &str, base: &str) -> TenantConfig {
    TenantConfig {
        fapi2: false,
        id: id.into(),
        display_name: id.into(),
        issuer: format!("{base}/t/{id}"),
        home_region: "bench".into(),
        scopes: vec![Scope {
            name: "api".into(),
            description: String::new(),
        }],
        clients: vec![ClientConfig {
            client_id: "bench".into(),
            display_name: String::new(),
            kind: ClientKind::Confidential,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            scopes: vec!["api".into()],
            audience: Some("https://api.example.com".into()),
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
        }],
        tokens: TokenLifetimes {
            access_token_seconds: 300,
            id_token_seconds: 300,
            refresh_token_seconds: 3600,
        },
        claims: Default::default(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, base, count, alg] = args.as_slice() else {
        eprintln!("usage: bench_config <dir> <base-url> <tenants> <ES256|EdDSA>");
        std::process::exit(2);
    };
    let alg = match alg.as_str() {
        "ES256" => Algorithm::ES256,
        "EdDSA" => Algorithm::EdDSA,
        other => panic!("unsupported algorithm {other}"),
    };
    let dir = Path::new(dir);
    std::fs::create_dir_all(dir).unwrap();
    let region = RegionConfig {
        name: "bench".into(),
        public_url: base.clone(),
        jwks_max_age_seconds: 300,
    };
    write(dir, REGION_FILE, &region);
    let digest = ring::digest::digest(&ring::digest::SHA256, b"bench-secret");
    let mut secrets = ClientSecrets::default();
    secrets.secrets.insert(
        "bench".into(),
        SecretDigest::from_sha256(digest.as_ref().try_into().unwrap()),
    );
    for n in 0..count.parse::<usize>().unwrap() {
        let id = format!("t{n:03}");
        write(dir, &TenantFile::Config.file_name(&id), &tenant(&id, base));
        let keys = KeyRing {
            keys: vec![generate_key(alg, 1, SystemClock.now() - 60)],
        };
        write(dir, &TenantFile::Keys.file_name(&id), &keys);
        write(dir, &TenantFile::Clients.file_name(&id), &secrets);
    }
}
