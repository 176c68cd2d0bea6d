//! One tenant's bad configuration never freezes another's: in the shared group of both
//! regions, a Tenant whose users carry a hash the auth-server cannot verify is refused alone,
//! with the field named on its status, while acme's change is served within seconds and acme
//! stays Ready. A reserved claim never gets that far: the real API server refuses it.

use std::time::{Duration, Instant};

use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use meridian_e2e::eventually;
use meridian_e2e::local::{REGIONS, TENANT};
use meridian_e2e::meridian::put_secret;
use meridian_operator::api::Tenant;
use serde_json::{Value, json};

use crate::common::{WAIT, start, tenant_condition};

/// A bcrypt hash, as a users Secret exported from another system might hold.
const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

fn globex(claims: Value) -> anyhow::Result<Tenant> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "meridian.dev/v1alpha1", "kind": "Tenant",
        "metadata": {"name": "globex"},
        "spec": {
            "regions": REGIONS, "homeRegion": "eu-west", "isolation": "Shared",
            "claims": claims,
            "users": {"secretRef": {"name": "globex-users"}}
        }
    }))?)
}

async fn discovery_scopes(url: &str) -> anyhow::Result<Vec<String>> {
    let document: Value = reqwest::get(url).await?.error_for_status()?.json().await?;
    Ok(document["scopes_supported"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_tenant_is_refused_alone_and_its_neighbour_keeps_changing() -> anyhow::Result<()> {
    let meridian = start().await?;
    let hub = meridian.hub();
    let tenants = Api::<Tenant>::all(hub.clone());

    let refused = tenants
        .create(&PostParams::default(), &globex(json!({"typ": "evil"}))?)
        .await
        .expect_err("a reserved claim is refused at admission");
    assert!(
        refused
            .to_string()
            .contains("spec.claims must not set a registered claim"),
        "{refused}"
    );

    let users = json!({"users": [{"username": "carol", "passwordHash": BCRYPT}]});
    put_secret(&hub, "globex-users", "users.json", &users.to_string()).await?;
    tenants
        .create(&PostParams::default(), &globex(json!({"plan": "gold"}))?)
        .await?;
    let what = "globex Ready=False naming the password hash";
    let message = eventually(what, WAIT, async || {
        let status = tenants.get("globex").await?.status.unwrap_or_default();
        Ok(status
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Ready" && c.status == "False")
            .map(|c| c.message)
            .filter(|m| m.contains(r#"users["carol"].passwordHash"#)))
    })
    .await?;
    assert!(
        message.contains("globex-users"),
        "names the Secret: {message}"
    );
    assert!(!message.contains("R9h/cIPz"), "never the hash: {message}");

    // acme, in the same auth-servers, still changes: a new scope is served within seconds.
    let applied = Instant::now();
    let scopes = json!({"spec": {"scopes": [
        {"name": "orders:read"}, {"name": "orders:write"}, {"name": "invoices:read"}
    ]}});
    tenants
        .patch(TENANT, &PatchParams::default(), &Patch::Merge(&scopes))
        .await?;
    for region in REGIONS {
        let url = meridian.region_issuer(region).discovery_url();
        eventually(
            &format!("invoices:read served in {region}"),
            WAIT,
            async || {
                // Not answering yet counts as not served yet.
                let scopes = discovery_scopes(&url).await.unwrap_or_default();
                Ok(scopes.iter().any(|s| s == "invoices:read").then_some(()))
            },
        )
        .await?;
    }
    let served = applied.elapsed();
    println!("one bad tenant: acme's change served in every region in {served:.2?}");
    assert!(served < Duration::from_secs(30), "{served:?}");
    tenant_condition(&hub, ("Ready", "True", "Ready")).await?;
    let acme = tenants.get(TENANT).await?;
    let status = acme.status.unwrap_or_default();
    assert_eq!(status.observed_generation, acme.metadata.generation);

    // Repaired, globex is served and Ready too.
    let fixed = json!({"users": [{"username": "carol", "passwordHash":
        meridian_auth_server::dev::hash_password("carol's password")}]});
    put_secret(&hub, "globex-users", "users.json", &fixed.to_string()).await?;
    eventually("globex Ready once repaired", WAIT, async || {
        let status = tenants.get("globex").await?.status.unwrap_or_default();
        Ok(status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
            .then_some(()))
    })
    .await?;
    meridian.stop().await;
    Ok(())
}
