use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::*;
use crate::api::AuthRegion;
use crate::edge::hub::InputError;

fn tenant(name: &str, regions: &[&str], residency: Option<&[&str]>) -> Tenant {
    let mut spec = serde_json::json!({"regions": regions, "homeRegion": regions[0]});
    if let Some(residency) = residency {
        spec["dataResidency"] = serde_json::json!(residency);
    }
    let mut tenant: Tenant = serde_json::from_value(serde_json::json!({
        "apiVersion": "meridian.dev/v1alpha1", "kind": "Tenant",
        "metadata": {"name": name}, "spec": spec
    }))
    .unwrap();
    tenant.metadata.generation = Some(3);
    tenant
}

fn eu_west() -> AuthRegionSpec {
    let region: AuthRegion = serde_json::from_value(serde_json::json!({
        "apiVersion": "meridian.dev/v1alpha1", "kind": "AuthRegion",
        "metadata": {"name": "eu-west"},
        "spec": {"publicUrl": "https://eu.example", "jurisdiction": "EU"}
    }))
    .unwrap();
    region.spec
}

fn files(tenant: &str, content: &str) -> TenantFiles {
    TenantFiles {
        public: BTreeMap::from([(format!("{tenant}.tenant.json"), content.to_owned())]),
        sensitive: BTreeMap::new(),
    }
}

/// What a region holds, by tenant, as `select` asks for it.
fn holding(held: HashMap<String, TenantFiles>) -> impl Fn(&str) -> TenantFiles {
    move |tenant| held.get(tenant).cloned().unwrap_or_default()
}

fn render_good(_: &Tenant, name: &str) -> Result<Arc<TenantFiles>, TenantProblem> {
    Ok(Arc::new(files(name, "current")))
}

fn render_broken(_: &Tenant, _: &str) -> Result<Arc<TenantFiles>, TenantProblem> {
    Err(InputError::SecretMissing {
        name: "acme-users".into(),
    }
    .into())
}

fn names(selection: &Selection) -> Vec<&str> {
    selection.placed.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn good_inputs_are_served_at_the_current_generation() {
    let acme = tenant("acme", &["eu-west"], None);
    let selection = select(
        "eu-west",
        &eu_west(),
        [&acme],
        holding(HashMap::new()),
        render_good,
    );
    assert_eq!(names(&selection), ["acme"]);
    assert_eq!(*selection.placed[0].files, files("acme", "current"));
    let entry = &selection.sync.tenants["acme"];
    assert_eq!(entry.generation, Some(3));
    assert_eq!(entry.problem, None);
    assert!(entry.serving);
    assert_eq!(entry.revision, Some(files("acme", "current").revision()));
}

#[test]
fn broken_inputs_with_a_last_good_state_keep_serving_it() {
    let acme = tenant("acme", &["eu-west"], None);
    let last_good = HashMap::from([("acme".to_owned(), files("acme", "last good"))]);
    let selection = select(
        "eu-west",
        &eu_west(),
        [&acme],
        holding(last_good),
        render_broken,
    );
    assert_eq!(*selection.placed[0].files, files("acme", "last good"));
    let entry = &selection.sync.tenants["acme"];
    assert_eq!(entry.generation, None, "not the current generation");
    assert!(entry.serving);
    assert_eq!(entry.revision, Some(files("acme", "last good").revision()));
    assert_eq!(
        entry.problem.as_ref().map(TenantProblem::reason),
        Some("SecretMissing")
    );
    let problem = entry.problem_message().unwrap();
    assert!(problem.starts_with("serving the last good configuration: Secret acme-users"));
}

#[test]
fn broken_inputs_without_a_last_good_state_are_not_served() {
    let acme = tenant("acme", &["eu-west"], None);
    let empty = HashMap::from([("acme".to_owned(), TenantFiles::default())]);
    let selection = select(
        "eu-west",
        &eu_west(),
        [&acme],
        holding(empty),
        render_broken,
    );
    assert!(selection.placed.is_empty());
    let entry = &selection.sync.tenants["acme"];
    assert!(!entry.serving);
    assert_eq!(entry.revision, None);
    assert!(entry.problem_message().unwrap().starts_with("not served: "));
}

#[test]
fn a_new_tenant_waiting_for_its_key_ring_is_not_reported_until_it_has_one() {
    let acme = tenant("acme", &["eu-west"], None);
    let pending = |_: &Tenant, _: &str| -> Result<Arc<TenantFiles>, TenantProblem> {
        Err(InputError::KeyRingPending {
            name: "meridian-keys-acme".into(),
        }
        .into())
    };
    let selection = select(
        "eu-west",
        &eu_west(),
        [&acme],
        holding(HashMap::new()),
        pending,
    );
    assert!(selection.placed.is_empty());
    assert!(selection.sync.tenants.is_empty(), "pending, not failing");
    assert_eq!(selection.shared_expected, 1, "still sized for");

    // One that was served keeps its last good files and says why.
    let served = HashMap::from([("acme".to_owned(), files("acme", "before"))]);
    let selection = select("eu-west", &eu_west(), [&acme], holding(served), pending);
    assert_eq!(names(&selection), ["acme"]);
    assert!(selection.sync.tenants["acme"].problem.is_some());
}

#[test]
fn only_tenants_placed_here_and_alive_are_selected() {
    let elsewhere = tenant("globex", &["us-east"], None);
    let excluded = tenant("initech", &["eu-west"], Some(&["US"]));
    let mut leaving = tenant("umbrella", &["eu-west"], None);
    leaving.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
    let acme = tenant("acme", &["eu-west"], None);
    let tenants = [&elsewhere, &excluded, &leaving, &acme];
    let mut rendered = Vec::new();
    let selection = select(
        "eu-west",
        &eu_west(),
        tenants,
        holding(HashMap::new()),
        |_, name| {
            rendered.push(name.to_owned());
            render_good(&acme, name)
        },
    );
    assert_eq!(names(&selection), ["acme"]);
    assert_eq!(rendered, ["acme"], "nothing else is even rendered");
    assert_eq!(selection.sync.tenants.len(), 1);
    assert_eq!(selection.shared_expected, 1);
}
