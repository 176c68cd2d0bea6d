//! The desired state of a region from the YAML of examples/ and small fixtures.

use meridian_contract::{Algorithm, ClientSecrets, KeyRing, SecretDigest, UserDirectory};

use super::*;
use crate::api::{AuthRegion, Isolation, Tenant};
use crate::settings::Settings;

fn example<T: serde::de::DeserializeOwned>(file: &str, name: &str) -> T {
    let text =
        std::fs::read_to_string(format!("{}/../examples/{file}", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::Value::deserialize(doc).unwrap())
        .find(|doc| doc["metadata"]["name"].as_str() == Some(name))
        .map(|doc| serde_yaml::from_value(doc).unwrap())
        .unwrap_or_else(|| panic!("{file} has no {name}"))
}
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

/// A real key: the operator checks every kid against its key's thumbprint before rendering.
fn key_ring() -> KeyRing {
    static RING: std::sync::LazyLock<KeyRing> = std::sync::LazyLock::new(|| KeyRing {
        keys: vec![meridian_keys::generate_key(Algorithm::ES256, 1, 0)],
    });
    RING.clone()
}

fn digests() -> ClientSecrets {
    let mut secrets = ClientSecrets::default();
    secrets
        .secrets
        .insert("backend".into(), SecretDigest::from_sha256([7; 32]));
    secrets
}

fn placed(tenant: &Tenant, name: &str) -> PlacedTenant {
    let ring = key_ring();
    let secrets = digests();
    let users = UserDirectory::default();
    let inputs = TenantInputs {
        tenant,
        name,
        key_ring: &ring,
        client_secrets: &secrets,
        users: Some(&users),
    };
    PlacedTenant {
        name: name.into(),
        isolation: tenant.spec.isolation,
        files: tenant_files(inputs, &Settings::default()).unwrap().into(),
    }
}

fn eu_west() -> AuthRegion {
    example("20-authregions.yaml", "eu-west")
}

fn acme() -> Tenant {
    example("30-tenant-acme.yaml", "acme")
}

fn names<T: kube::Resource>(objects: &[T]) -> Vec<String> {
    objects
        .iter()
        .map(|o| o.meta().name.clone().unwrap())
        .collect()
}

#[test]
fn example_tenant_renders_a_shared_auth_server_in_the_region() {
    let region = eu_west();
    let desired = desired_region("eu-west", &region.spec, &[placed(&acme(), "acme")], 300);

    assert_eq!(
        desired.namespace.metadata.name.as_deref(),
        Some("meridian-auth")
    );
    let (config_maps, secrets) = (desired.config_maps.built(), desired.secrets.built());
    assert_eq!(
        names(&config_maps),
        ["meridian-region", "auth-shared-config-0"]
    );
    assert_eq!(names(&secrets), ["auth-shared-files-0"]);
    assert_eq!(names(&desired.deployments), ["auth-shared"]);
    assert_eq!(names(&desired.services), ["auth-shared"]);
    assert_eq!(names(&desired.pod_disruption_budgets), ["auth-shared"]);

    let config = config_maps[1].data.as_ref().unwrap();
    let tenant: meridian_contract::TenantConfig =
        serde_json::from_str(&config["acme.tenant.json"]).unwrap();
    assert_eq!(tenant.issuer, "https://auth.example.com/t/acme");
    assert_eq!(tenant.clients.len(), 2);
    let files: Vec<_> = secrets[0].data.as_ref().unwrap().keys().cloned().collect();
    assert_eq!(
        files,
        ["acme.clients.json", "acme.keys.json", "acme.users.json"]
    );
    // Key material goes to Secrets only.
    assert!(
        !serde_json::to_string(&config_maps)
            .unwrap()
            .contains("PRIVATE KEY")
    );
}

#[test]
fn every_object_carries_the_managed_labels() {
    let desired = desired_region("eu-west", &eu_west().spec, &[placed(&acme(), "acme")], 300);
    let metas = std::iter::once(&desired.namespace.metadata)
        .chain(desired.config_maps.iter().map(|o| o.meta()))
        .chain(desired.secrets.iter().map(|o| o.meta()))
        .chain(desired.deployments.iter().map(|o| &o.metadata))
        .chain(desired.services.iter().map(|o| &o.metadata))
        .chain(desired.pod_disruption_budgets.iter().map(|o| &o.metadata));
    for meta in metas {
        let labels = meta.labels.as_ref().unwrap();
        assert_eq!(
            labels["app.kubernetes.io/managed-by"], "meridian-operator",
            "{:?}",
            meta.name
        );
        assert_eq!(labels["meridian.dev/region"], "eu-west", "{:?}", meta.name);
        assert_eq!(labels["app.kubernetes.io/name"], "meridian-auth-server");
    }
}

#[test]
fn pods_are_locked_down() {
    let desired = desired_region("eu-west", &eu_west().spec, &[placed(&acme(), "acme")], 300);
    let pod = desired.deployments[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let pod_security = pod.security_context.as_ref().unwrap();
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security.seccomp_profile.as_ref().unwrap().type_,
        "RuntimeDefault"
    );
    assert_eq!(pod.automount_service_account_token, Some(false));
    let container = &pod.containers[0];
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(
        security.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_owned()][..])
    );
    assert!(container.readiness_probe.is_some() && container.liveness_probe.is_some());
    assert!(container.resources.as_ref().unwrap().requests.is_some());
    // A terminating pod keeps serving until its Service has stopped routing to it.
    let pre_stop = container
        .lifecycle
        .as_ref()
        .unwrap()
        .pre_stop
        .as_ref()
        .unwrap();
    assert_eq!(pre_stop.sleep.as_ref().unwrap().seconds, 5);
}

#[test]
fn a_dedicated_tenant_gets_an_auth_server_holding_only_itself() {
    let mut dedicated = acme();
    dedicated.spec.isolation = Isolation::Dedicated;
    let tenants = [placed(&acme(), "acme"), placed(&dedicated, "globex")];
    let desired = desired_region("eu-west", &eu_west().spec, &tenants, 300);

    assert_eq!(
        names(&desired.deployments),
        ["auth-shared", "auth-t-globex"]
    );
    let secrets = desired.secrets.built();
    let globex_files = secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("auth-t-globex-files-0"))
        .unwrap();
    let files: Vec<_> = globex_files
        .data
        .as_ref()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert!(files.iter().all(|f| f.starts_with("globex.")), "{files:?}");
    assert_eq!(
        globex_files.metadata.labels.as_ref().unwrap()["meridian.dev/tenant"],
        "globex"
    );
}

#[test]
fn many_tenants_are_sharded_within_object_limits() {
    let tenant = acme();
    let tenants: Vec<_> = (0..500)
        .map(|i| placed(&tenant, &format!("tenant-{i}")))
        .collect();
    let desired = desired_region("eu-west", &eu_west().spec, &tenants, 300);
    assert_eq!(desired.secrets.len(), 8);
    for secret in &desired.secrets.built() {
        let size: usize = secret
            .data
            .as_ref()
            .unwrap()
            .values()
            .map(|v| v.0.len())
            .sum();
        assert!(
            size < 256 * 1024,
            "{:?} holds {size} bytes",
            secret.metadata.name
        );
    }
    let volume = &desired.deployments[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .as_ref()
        .unwrap()[0];
    assert_eq!(
        volume
            .projected
            .as_ref()
            .unwrap()
            .sources
            .as_ref()
            .unwrap()
            .len(),
        1 + 8 + 8
    );
}

#[test]
fn checksum_rolls_pods_for_region_settings_but_not_for_tenant_changes() {
    let checksum = |desired: &DesiredRegion| {
        desired.deployments[0]
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()["meridian.dev/config-checksum"]
            .clone()
    };
    let region = eu_west();
    let base = checksum(&desired_region(
        "eu-west",
        &region.spec,
        &[placed(&acme(), "acme")],
        300,
    ));
    let mut changed_tenant = acme();
    changed_tenant.spec.scopes.pop();
    assert_eq!(
        base,
        checksum(&desired_region(
            "eu-west",
            &region.spec,
            &[placed(&changed_tenant, "acme")],
            300
        ))
    );
    let mut moved = region.clone();
    moved.spec.public_url = "https://eu.auth.example.com".into();
    assert_ne!(
        base,
        checksum(&desired_region(
            "eu-west",
            &moved.spec,
            &[placed(&acme(), "acme")],
            300
        ))
    );
}

fn with_store(store_yaml: &str, replicas: Option<i32>) -> AuthRegion {
    let mut region = eu_west();
    region.spec.auth_server.store = serde_yaml::from_str(store_yaml).unwrap();
    region.spec.auth_server.replicas = replicas;
    region
}

fn postgres() -> AuthRegion {
    with_store("{kind: Postgres, uriSecretRef: {name: eu-db-app}}", None)
}

fn render(region: &AuthRegion) -> DesiredRegion {
    desired_region("eu-west", &region.spec, &[placed(&acme(), "acme")], 300)
}

fn deployment_spec(desired: &DesiredRegion) -> &k8s_openapi::api::apps::v1::DeploymentSpec {
    desired.deployments[0].spec.as_ref().unwrap()
}

fn auth_server(desired: &DesiredRegion) -> &k8s_openapi::api::core::v1::Container {
    &deployment_spec(desired)
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
}

fn pdb(desired: &DesiredRegion) -> &k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec {
    desired.pod_disruption_budgets[0].spec.as_ref().unwrap()
}

/// How many pods the PodDisruptionBudget keeps serving through a drain, as the eviction API
/// computes it from the Deployment's replicas.
fn kept_serving_through_a_drain(desired: &DesiredRegion) -> i32 {
    let replicas = deployment_spec(desired).replicas.unwrap();
    let pdb = pdb(desired);
    match (&pdb.min_available, &pdb.max_unavailable) {
        (Some(IntOrString::Int(min)), None) => *min,
        (None, Some(IntOrString::Int(max))) => (replicas - max).max(0),
        other => panic!("unexpected budget {other:?}"),
    }
}

fn checksum_of(desired: &DesiredRegion) -> String {
    deployment_spec(desired)
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap()["meridian.dev/config-checksum"]
        .clone()
}

#[test]
fn a_postgres_store_reaches_the_pod_by_secret_reference_only() {
    let desired = render(&postgres());
    let env = auth_server(&desired).env.as_ref().unwrap();
    assert_eq!(env.len(), 1);
    assert_eq!(env[0].name, "MERIDIAN_STORE");
    assert_eq!(env[0].value, None);
    let selector = env[0]
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (selector.name.as_str(), selector.key.as_str()),
        ("eu-db-app", "uri")
    );

    let named = with_store("{kind: Postgres, uriSecretRef: {name: db, key: dsn}}", None);
    let desired = render(&named);
    let env = auth_server(&desired).env.as_ref().unwrap();
    let selector = env[0]
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (selector.name.as_str(), selector.key.as_str()),
        ("db", "dsn")
    );
}

#[test]
fn a_postgres_store_runs_two_pods_rolled_and_drained_one_at_a_time() {
    let desired = render(&postgres());
    let spec = deployment_spec(&desired);
    assert_eq!(spec.replicas, Some(2));
    let strategy = spec.strategy.as_ref().unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.as_ref().unwrap();
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    assert_eq!(kept_serving_through_a_drain(&desired), 1);

    let scaled = render(&with_store(
        "{kind: Postgres, uriSecretRef: {name: eu-db-app}}",
        Some(5),
    ));
    assert_eq!(deployment_spec(&scaled).replicas, Some(5));
    assert_eq!(kept_serving_through_a_drain(&scaled), 4);
    // One pod cannot stay up through its own eviction: the budget lets its node drain.
    let single = render(&with_store(
        "{kind: Postgres, uriSecretRef: {name: eu-db-app}}",
        Some(1),
    ));
    assert_eq!(kept_serving_through_a_drain(&single), 0);
}

#[test]
fn the_memory_store_renders_one_pod_with_the_default_rollout_and_no_store_setting() {
    let mut region = eu_west();
    region.spec.auth_server.replicas = None;
    let desired = render(&region);
    let spec = deployment_spec(&desired);
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.strategy, None);
    assert_eq!(auth_server(&desired).env, None);
    assert_eq!(pdb(&desired).max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(pdb(&desired).min_available, None);
    assert_eq!(kept_serving_through_a_drain(&desired), 0);
}

#[test]
fn changing_the_store_rolls_the_pods_and_the_memory_store_leaves_the_checksum_as_it_was() {
    let memory = render(&eu_west());
    // As before the store existed: the checksum of region.json alone, so an operator upgrade
    // does not restart the auth-servers of regions on the memory store.
    let config_maps = memory.config_maps.built();
    let region_json = &config_maps[0].data.as_ref().unwrap()["region.json"];
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(region_json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(checksum_of(&memory), digest);

    let on_postgres = checksum_of(&render(&postgres()));
    assert_ne!(checksum_of(&memory), on_postgres);
    let other_secret = with_store("{kind: Postgres, uriSecretRef: {name: other-app}}", None);
    assert_ne!(checksum_of(&render(&other_secret)), on_postgres);
    let other_key = with_store(
        "{kind: Postgres, uriSecretRef: {name: eu-db-app, key: dsn}}",
        None,
    );
    assert_ne!(checksum_of(&render(&other_key)), on_postgres);
}

#[test]
fn a_confidential_client_without_a_digest_is_an_error_naming_it() {
    let tenant = acme();
    let ring = key_ring();
    let inputs = TenantInputs {
        tenant: &tenant,
        name: "acme",
        key_ring: &ring,
        client_secrets: &ClientSecrets::default(),
        users: None,
    };
    let err = tenant_files(inputs, &Settings::default()).unwrap_err();
    assert_eq!(
        err,
        RenderError::MissingClientSecret {
            client_id: "backend".into()
        }
    );
}

/// Renders acme with a directory of one user; the refusal it must produce.
fn render_with_user(username: &str, password_hash: &str) -> RenderError {
    let tenant = acme();
    let ring = key_ring();
    let user = meridian_contract::User {
        username: username.into(),
        password_hash: password_hash.into(),
        claims: Default::default(),
        home_region: None,
    };
    let users = UserDirectory { users: vec![user] };
    let inputs = TenantInputs {
        tenant: &tenant,
        name: "acme",
        key_ring: &ring,
        client_secrets: &digests(),
        users: Some(&users),
    };
    tenant_files(inputs, &Settings::default()).unwrap_err()
}

#[test]
fn a_user_named_like_a_client_is_an_error_naming_the_user() {
    let err = render_with_user(
        "backend",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    );
    assert_eq!(
        err,
        RenderError::Invalid {
            field: r#"Secret acme-users key "users.json": users["backend"]"#.into(),
            problem: meridian_contract::Problem::SubjectShared,
        }
    );
    assert_eq!(err.reason(), "SubjectShared");
}

#[test]
fn loose_files_read_back_from_a_region_group_by_tenant() {
    let files = [
        ("acme.tenant.json", "{}".to_owned()),
        ("acme.keys.json", "ring".to_owned()),
        ("globex.users.json", "users".to_owned()),
        ("region.json", "{}".to_owned()),
        ("..data", String::new()),
    ];
    let tenants = TenantFiles::by_tenant(files);
    assert_eq!(tenants.len(), 2);
    let acme = &tenants["acme"];
    assert_eq!(acme.public.keys().collect::<Vec<_>>(), ["acme.tenant.json"]);
    assert_eq!(
        acme.sensitive.keys().collect::<Vec<_>>(),
        ["acme.keys.json"]
    );
    assert_eq!(tenants["globex"].sensitive["globex.users.json"], "users");
}

#[test]
fn metrics_are_served_on_an_admin_port_the_service_never_exposes() {
    let desired = render(&eu_west());
    let container = auth_server(&desired);
    let args = container.args.as_deref().unwrap_or_default();
    assert!(
        args.contains(&"--admin-listen=0.0.0.0:9090".to_owned()),
        "{args:?}"
    );
    let ports: Vec<_> = container
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.as_deref(), p.container_port))
        .collect();
    assert_eq!(ports, [(Some("http"), 8080), (Some("admin"), 9090)]);
    for service in &desired.services {
        let exposed: Vec<_> = service
            .spec
            .iter()
            .flat_map(|s| s.ports.iter().flatten())
            .map(|p| p.target_port.clone())
            .collect();
        assert_eq!(exposed, [Some(IntOrString::String("http".into()))]);
    }
}

#[test]
fn trusted_proxies_reach_the_pod_and_an_unset_list_sets_nothing() {
    let mut region = eu_west();
    assert!(auth_server(&render(&region)).env.is_none());
    region.spec.auth_server.trusted_proxies = vec!["10.0.0.0/8".into(), "fd00::/8".into()];
    let env = auth_server(&render(&region))
        .env
        .clone()
        .unwrap_or_default();
    let proxies = env.iter().find(|e| e.name == "MERIDIAN_TRUSTED_PROXIES");
    assert_eq!(
        proxies.and_then(|e| e.value.as_deref()),
        Some("10.0.0.0/8,fd00::/8")
    );
}

#[test]
fn the_revision_of_rendered_files_is_the_revision_of_the_objects_holding_them() {
    let tenant = acme();
    let placed = placed(&tenant, "acme");
    let desired = desired_region(
        "eu-west",
        &eu_west().spec,
        std::slice::from_ref(&placed),
        300,
    );
    let (config_maps, secrets) = (desired.config_maps.built(), desired.secrets.built());
    let public = config_maps
        .iter()
        .flat_map(|cm| cm.data.iter().flatten())
        .map(|(name, content)| (name.as_str(), content.clone()));
    let sensitive = secrets
        .iter()
        .flat_map(|s| s.data.iter().flatten())
        .map(|(name, bytes)| (name.as_str(), String::from_utf8(bytes.0.clone()).unwrap()));
    let read_back = TenantFiles::by_tenant(public.chain(sensitive));
    assert_eq!(read_back["acme"].revision(), placed.files.revision());

    let mut edited = (*placed.files).clone();
    edited
        .sensitive
        .insert("acme.users.json".into(), r#"{"users":[]} "#.into());
    assert_ne!(edited.revision(), placed.files.revision());
}

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// The memory `requests` and `limits` of each Deployment's auth-server, by Deployment.
fn memory_by_deployment(desired: &DesiredRegion) -> Vec<(String, String, String)> {
    desired
        .deployments
        .iter()
        .map(|deployment| {
            let pod = deployment.spec.as_ref().unwrap().template.spec.as_ref();
            let resources = pod.unwrap().containers[0].resources.clone().unwrap();
            let memory = |side: Option<std::collections::BTreeMap<String, Quantity>>| {
                side.unwrap()["memory"].0.clone()
            };
            (
                deployment.metadata.name.clone().unwrap(),
                memory(resources.requests),
                memory(resources.limits),
            )
        })
        .collect()
}

fn region_with_default_resources() -> AuthRegion {
    let mut region = eu_west();
    region.spec.auth_server.resources = None;
    region
}

fn shared_tenants(count: usize) -> Vec<PlacedTenant> {
    let tenant = acme();
    (0..count)
        .map(|i| placed(&tenant, &format!("t{i}")))
        .collect()
}

#[test]
fn the_default_memory_follows_the_tenants_each_deployment_serves() {
    let mut dedicated = acme();
    dedicated.spec.isolation = Isolation::Dedicated;
    let mut tenants = shared_tenants(1_200);
    tenants.push(placed(&dedicated, "globex"));
    let region = region_with_default_resources();
    let desired = desired_region("eu-west", &region.spec, &tenants, 300);
    // Requests 32Mi + 10Ki per tenant, limits 128Mi + 16Ki, for as many tenants as the
    // group's shards hold (64 each, a power of two of shards): 2,048 here, and 64.
    assert_eq!(
        memory_by_deployment(&desired),
        [
            ("auth-shared".into(), "52Mi".into(), "160Mi".into()),
            ("auth-t-globex".into(), "33Mi".into(), "129Mi".into()),
        ]
    );
    let args = auth_server(&desired).args.clone().unwrap_or_default();
    assert!(
        args.contains(&"--login-memory=128Mi".to_owned()),
        "password checks are sized from the base, not the tenants' part: {args:?}"
    );

    let ten_thousand = shared_tenants(10_000);
    let desired = desired_region("eu-west", &region.spec, &ten_thousand, 300);
    assert_eq!(
        memory_by_deployment(&desired),
        [("auth-shared".into(), "192Mi".into(), "384Mi".into())]
    );
}

#[test]
fn the_default_memory_changes_only_with_the_shard_count() {
    let region = region_with_default_resources();
    let tenants = shared_tenants(1_025);
    let rendered = |count: usize| {
        let desired = desired_region("eu-west", &region.spec, &tenants[..count], 300);
        (memory_by_deployment(&desired), desired.config_maps.len())
    };
    // One more tenant within the same 16 shards leaves the pod template's memory as it was;
    // crossing to 32 shards (or down to 8) changes both, in one roll.
    let (memory, shards) = rendered(1_001);
    assert_eq!(rendered(1_024), (memory.clone(), shards));
    for other in [499, 1_025] {
        let (other_memory, other_shards) = rendered(other);
        assert_ne!(other_memory, memory, "{other} tenants");
        assert_ne!(other_shards, shards, "{other} tenants");
    }
}

#[test]
fn the_shared_group_keeps_the_shape_of_every_tenant_it_is_to_serve_while_few_are_ready() {
    // A cold start of 1,025 tenants whose key rings arrive one by one: sized for all of them
    // from the first pass, the group's shards, memory and so its pod template never change.
    let region = region_with_default_resources();
    let tenants = shared_tenants(1_025);
    let rendered = |ready: usize| {
        let desired = desired_region_sized("eu-west", &region.spec, &tenants[..ready], 300, 1_025);
        let pods = desired.deployments[0].spec.clone().unwrap().template;
        (desired.config_maps.len(), pods)
    };
    let (shards, pods) = rendered(1_025);
    assert_eq!(shards, 1 + 32, "region.json and 32 shards");
    for ready in [1, 63, 64, 500, 1_000] {
        assert_eq!(rendered(ready), (shards, pods.clone()), "{ready} ready");
    }
    // More served than expected (a stale count) sizes for what is served.
    let desired = desired_region_sized("eu-west", &region.spec, &tenants, 300, 10);
    assert_eq!(desired.config_maps.len(), 1 + 32);
}

#[test]
fn resources_the_user_sets_are_rendered_as_set_whatever_the_tenants() {
    let region = eu_west();
    let desired = desired_region("eu-west", &region.spec, &shared_tenants(2_000), 300);
    assert_eq!(
        memory_by_deployment(&desired),
        [("auth-shared".into(), "32Mi".into(), "128Mi".into())]
    );
    let args = auth_server(&desired).args.clone().unwrap_or_default();
    assert!(
        !args.iter().any(|arg| arg.starts_with("--login-memory")),
        "a limit the user sets sizes the password checks itself: {args:?}"
    );
}

#[test]
fn a_user_hash_the_auth_server_would_refuse_is_an_error_naming_the_field_never_the_hash() {
    let err = render_with_user(
        "carol",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    );
    assert_eq!(err.reason(), "BadPasswordHash");
    let message = err.to_string();
    assert!(
        message.starts_with(r#"Secret acme-users key "users.json": users["carol"].passwordHash: "#),
        "{message}"
    );
    assert!(!message.contains("R9h/"), "{message}");
}

#[test]
fn contract_fields_are_named_as_the_tenant_spells_them() {
    let tenant = acme();
    let invalid = |field: &str| meridian_contract::Invalid {
        field: field.into(),
        problem: meridian_contract::Problem::LifetimeOutOfRange,
    };
    let field = |e: RenderError| match e {
        RenderError::Invalid { field, .. } => field,
        other => panic!("{other}"),
    };
    let named = |f: &str| field(RenderError::invalid(invalid(f), &tenant));
    assert_eq!(
        named("tokens.accessTokenSeconds"),
        "spec.tokens.accessTokenTtl"
    );
    assert_eq!(named(r#"claims["typ"]"#), r#"spec.claims["typ"]"#);
    assert_eq!(named(r#"clients["web"]"#), r#"spec.clients["web"]"#);
    assert_eq!(named(r#"keys["k1"]"#), r#"the key ring Secret: keys["k1"]"#);
}

#[test]
fn a_key_whose_kid_is_not_its_thumbprint_is_refused_before_rendering() {
    let tenant = acme();
    let mut ring = key_ring();
    ring.keys[0].kid = "chosen-by-hand".into();
    let inputs = TenantInputs {
        tenant: &tenant,
        name: "acme",
        key_ring: &ring,
        client_secrets: &digests(),
        users: None,
    };
    let err = tenant_files(inputs, &Settings::default()).unwrap_err();
    assert_eq!(err.reason(), "KidMismatch");
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");
}
