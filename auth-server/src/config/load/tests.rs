use std::path::Path;

use meridian_contract::{
    Algorithm, ClientSecrets, KeyRing, RegionConfig, Scope, TenantConfig, TokenLifetimes,
    UserDirectory,
};
use meridian_keys::generate_key;

use super::*;

fn write_region(dir: &Path) {
    let region = RegionConfig {
        name: "eu".into(),
        public_url: "http://127.0.0.1:1".into(),
        jwks_max_age_seconds: 300,
    };
    std::fs::write(dir.join(REGION_FILE), serde_json::to_vec(&region).unwrap()).unwrap();
}

fn config(id: &str) -> TenantConfig {
    TenantConfig {
        fapi2: false,
        id: id.into(),
        display_name: id.into(),
        issuer: format!("https://auth.example/t/{id}"),
        home_region: "eu".into(),
        scopes: vec![],
        clients: vec![],
        tokens: TokenLifetimes {
            access_token_seconds: 60,
            id_token_seconds: 60,
            refresh_token_seconds: 60,
        },
        claims: Default::default(),
    }
}

fn write_tenant(dir: &Path, config: &TenantConfig) {
    let id = config.id.as_str();
    let write = |kind: TenantFile, bytes: Vec<u8>| {
        std::fs::write(dir.join(kind.file_name(id)), bytes).unwrap();
    };
    write(TenantFile::Config, serde_json::to_vec(config).unwrap());
    let ring = KeyRing {
        keys: vec![generate_key(Algorithm::EdDSA, 1, 0)],
    };
    write(TenantFile::Keys, serde_json::to_vec(&ring).unwrap());
    write(
        TenantFile::Clients,
        serde_json::to_vec(&ClientSecrets::default()).unwrap(),
    );
}

fn with_scope(mut config: TenantConfig, scope: &str) -> TenantConfig {
    config.scopes.push(Scope {
        name: scope.into(),
        description: String::new(),
    });
    config
}

fn with_claim(mut config: TenantConfig, name: &str) -> TenantConfig {
    config.claims.insert(name.into(), "evil".into());
    config
}

fn tenant<'a>(loaded: &'a Loaded, id: &str) -> Option<&'a Arc<Tenant>> {
    loaded.snapshot.tenants().iter().find(|t| t.id() == id)
}

fn scopes(loaded: &Loaded, id: &str) -> Vec<String> {
    tenant(loaded, id)
        .map(|t| t.scope_names().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn refused(loaded: &Loaded) -> Vec<(&str, &'static str, bool)> {
    loaded
        .refused
        .iter()
        .map(|r| (r.tenant.as_str(), r.error.reason(), r.serving_previous))
        .collect()
}

fn two_tenants() -> (tempfile::TempDir, Loaded) {
    let dir = tempfile::tempdir().unwrap();
    write_region(dir.path());
    write_tenant(dir.path(), &config("acme"));
    write_tenant(dir.path(), &config("globex"));
    let loaded = load_dir(dir.path(), None).unwrap();
    assert_eq!(loaded.built, 2);
    assert!(loaded.refused.is_empty());
    (dir, loaded)
}

#[test]
fn unchanged_tenants_are_reused_not_rebuilt() {
    let (dir, first) = two_tenants();
    let again = load_dir(dir.path(), Some(&first.snapshot)).unwrap();
    assert_eq!(again.built, 0);
    for id in ["acme", "globex"] {
        assert!(Arc::ptr_eq(
            tenant(&first, id).unwrap(),
            tenant(&again, id).unwrap()
        ));
    }
    write_tenant(dir.path(), &with_scope(config("acme"), "orders"));
    let changed = load_dir(dir.path(), Some(&again.snapshot)).unwrap();
    assert_eq!(changed.built, 1, "only the tenant whose files changed");
    assert!(Arc::ptr_eq(
        tenant(&again, "globex").unwrap(),
        tenant(&changed, "globex").unwrap()
    ));
    assert_eq!(scopes(&changed, "acme"), ["orders"]);
}

#[test]
fn a_broken_tenant_keeps_its_last_good_state_and_never_blocks_another() {
    let (dir, first) = two_tenants();
    write_tenant(dir.path(), &with_claim(config("globex"), "typ"));
    write_tenant(dir.path(), &with_scope(config("acme"), "orders"));
    let loaded = load_dir(dir.path(), Some(&first.snapshot)).unwrap();
    assert_eq!(refused(&loaded), [("globex", "ReservedClaim", true)]);
    assert_eq!(
        scopes(&loaded, "acme"),
        ["orders"],
        "acme's change is served"
    );
    let globex = tenant(&loaded, "globex").expect("globex keeps serving");
    assert!(Arc::ptr_eq(globex, tenant(&first, "globex").unwrap()));
    assert!(globex.config.claims.is_empty(), "its last good state");
    let message = loaded.refused[0].error.to_string();
    assert!(message.contains(r#"claims["typ"]"#), "{message}");
}

#[test]
fn a_tenant_never_good_is_absent_while_the_others_serve() {
    let (dir, first) = two_tenants();
    let mut initech = config("initech");
    initech.tokens.access_token_seconds = 0;
    write_tenant(dir.path(), &initech);
    let loaded = load_dir(dir.path(), Some(&first.snapshot)).unwrap();
    assert_eq!(refused(&loaded), [("initech", "LifetimeOutOfRange", false)]);
    assert!(tenant(&loaded, "initech").is_none());
    assert_eq!(loaded.snapshot.tenants().len(), 2);
}

#[test]
fn a_missing_or_malformed_file_refuses_only_its_tenant() {
    let (dir, first) = two_tenants();
    std::fs::remove_file(dir.path().join(TenantFile::Keys.file_name("globex"))).unwrap();
    std::fs::write(dir.path().join(TenantFile::Config.file_name("acme")), b"{").unwrap();
    let loaded = load_dir(dir.path(), Some(&first.snapshot)).unwrap();
    let mut reasons = refused(&loaded);
    reasons.sort();
    assert_eq!(
        reasons,
        [("acme", "Malformed", true), ("globex", "MissingFile", true)]
    );
    assert_eq!(
        loaded.snapshot.tenants().len(),
        2,
        "both keep their last good state"
    );
}

#[test]
fn a_changed_tenant_cannot_take_another_tenants_issuer() {
    let (dir, first) = two_tenants();
    let mut thief = with_scope(config("globex"), "x");
    thief.issuer = config("acme").issuer;
    write_tenant(dir.path(), &thief);
    let loaded = load_dir(dir.path(), Some(&first.snapshot)).unwrap();
    assert_eq!(refused(&loaded), [("globex", "DuplicateIssuer", true)]);
    assert!(
        scopes(&loaded, "globex").is_empty(),
        "globex keeps its own issuer"
    );
    assert_eq!(
        tenant(&loaded, "acme").unwrap().issuer(),
        "https://auth.example/t/acme"
    );
}

#[test]
fn only_an_unreadable_region_file_refuses_the_directory() {
    let (dir, _) = two_tenants();
    std::fs::write(dir.path().join(REGION_FILE), b"not json").unwrap();
    let error = load_dir(dir.path(), None).unwrap_err();
    assert_eq!(error.reason(), "Malformed");
}

#[test]
fn the_revision_is_the_contract_digest_of_the_files_as_written() {
    let (dir, loaded) = two_tenants();
    let read = |kind: TenantFile| std::fs::read(dir.path().join(kind.file_name("acme"))).unwrap();
    let files = [TenantFile::Config, TenantFile::Keys, TenantFile::Clients].map(|k| (k, read(k)));
    let expected = Revision::of(files.iter().map(|(k, b)| (*k, b.as_slice())));
    assert_eq!(tenant(&loaded, "acme").unwrap().revision, expected);
    assert_ne!(
        tenant(&loaded, "acme").unwrap().revision,
        tenant(&loaded, "globex").unwrap().revision
    );
}

#[test]
fn users_without_argon2id_hashes_refuse_their_tenant() {
    let (dir, first) = two_tenants();
    let users: UserDirectory = serde_json::from_value(serde_json::json!({
        "users": [{"username": "alice", "passwordHash": "$2b$12$abcdefghijklmnopqrstuv"}]
    }))
    .unwrap();
    std::fs::write(
        dir.path().join(TenantFile::Users.file_name("acme")),
        serde_json::to_vec(&users).unwrap(),
    )
    .unwrap();
    let loaded = load_dir(dir.path(), Some(&first.snapshot)).unwrap();
    assert_eq!(refused(&loaded), [("acme", "BadPasswordHash", true)]);
    let message = loaded.refused[0].error.to_string();
    assert!(
        message.contains(r#"users["alice"].passwordHash"#),
        "{message}"
    );
    assert!(!message.contains("abcdefgh"), "never the hash: {message}");
}
