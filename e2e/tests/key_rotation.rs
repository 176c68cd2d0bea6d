//! Key rotation against real API servers, before any auth-server runs: a requested rotation
//! stages a key (its too short publishAhead raised, and said so in the Event), and since no
//! region's JWKS can be seen publishing it, activation is postponed with a condition and an
//! Event naming the lagging regions. Then a search of every place a
//! secret could leak to — Tenant status, Events, the operator's logs, every ConfigMap of every
//! cluster — finds no private key material.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use meridian_contract::KeyRing;
use meridian_e2e::meridian::{
    OPERATOR_NAMESPACE, Operator, apply_examples, install_crds, register_regions,
};
use meridian_e2e::{ClusterOptions, Clusters, eventually};
use meridian_operator::api::Tenant;
use meridian_operator::controller::ROTATE_ANNOTATION;
use meridian_operator::settings::Settings;

const WAIT: Duration = Duration::from_secs(90);

/// Captures the operator's logs (this test binary runs one test, so the global subscriber is
/// this test's alone).
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn tenant(hub: &Client) -> meridian_e2e::Result<Tenant> {
    Ok(Api::<Tenant>::all(hub.clone()).get("acme").await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_no_region_confirms_is_postponed_and_no_key_material_leaks() -> anyhow::Result<()>
{
    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(move || writer.clone())
        .init();

    let clusters = Clusters::start(3, ClusterOptions::default()).await?;
    let hub = clusters.hub().client();
    install_crds(clusters.hub())?;
    register_regions(&clusters).await?;
    apply_examples(clusters.hub())?;
    // A short JWKS max-age, so the least publishAhead these settings allow is 27 s: 10 s of
    // propagation and a 2 s resync to be seen publishing, then 15 s to decide in time.
    let settings = Settings {
        jwks_max_age: Duration::from_secs(2),
        ..Operator::test_settings(Duration::from_secs(2))
    };
    let operator = Operator::start(hub.clone(), settings);
    operator.ready().await?;
    let first_kid = eventually("acme signs", WAIT, async || {
        Ok(tenant(&hub)
            .await?
            .status
            .and_then(|s| s.signing?.active_kid))
    })
    .await?;

    // Short schedule, then ask for a rotation now.
    let patch = serde_json::json!({
        "metadata": {"annotations": {ROTATE_ANNOTATION: "1"}},
        "spec": {"signing": {"rotationInterval": "10m", "publishAhead": "15s"}}
    });
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let staged = eventually("a key staged", WAIT, async || {
        Ok(tenant(&hub).await?.status.and_then(|s| s.signing?.next_kid))
    })
    .await?;
    assert_ne!(staged, first_kid);

    // Nobody serves JWKS yet: activation is postponed, and the condition names the regions.
    let degraded = eventually("rotation postponed", WAIT, async || {
        let conditions = tenant(&hub).await?.status.unwrap_or_default().conditions;
        Ok(conditions
            .into_iter()
            .find(|c| c.type_ == "Degraded" && c.reason == "RotationPostponed"))
    })
    .await?;
    assert!(
        degraded.message.contains("eu-west") && degraded.message.contains("us-east"),
        "{}",
        degraded.message
    );
    let events = Api::<Event>::all(hub.clone());
    let postponed = eventually("RotationPostponed Event", WAIT, async || {
        let list = events.list(&ListParams::default()).await?;
        Ok(list
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("RotationPostponed"))
            .and_then(|e| e.note))
    })
    .await?;
    assert!(postponed.contains(&staged), "{postponed}");
    // 15 s could not be kept safe: the schedule used 27 s, and the Event says so.
    let staged_event = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .find(|e| e.reason.as_deref() == Some("KeyStaged"))
        .and_then(|e| e.note)
        .expect("a KeyStaged Event");
    assert!(
        staged_event.contains("spec.signing.publishAhead 15s raised to 27s"),
        "{staged_event}"
    );
    let signing = tenant(&hub).await?.status.and_then(|s| s.signing).unwrap();
    assert_eq!(
        signing.active_kid.as_deref(),
        Some(first_kid.as_str()),
        "the staged key must not sign yet"
    );

    // The key ring lives in the hub Secret only; fragments of every private key must appear
    // nowhere else a user or log reader can see.
    let secret = Api::<Secret>::namespaced(hub.clone(), OPERATOR_NAMESPACE)
        .get("meridian-keys-acme")
        .await?;
    let ring: KeyRing = serde_json::from_slice(&secret.data.unwrap()["keys.json"].0)?;
    assert_eq!(ring.keys.len(), 2);
    let fragments: Vec<String> = ring
        .keys
        .iter()
        .map(|k| {
            k.private_key_pem
                .lines()
                .nth(1)
                .expect("PEM body")
                .chars()
                .take(24)
                .collect()
        })
        .collect();
    let mut haystacks = vec![
        (
            "Tenant status".to_owned(),
            serde_json::to_string(&tenant(&hub).await?.status)?,
        ),
        (
            "Events".to_owned(),
            serde_json::to_string(&events.list(&ListParams::default()).await?.items)?,
        ),
        (
            "operator logs".to_owned(),
            String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned(),
        ),
    ];
    for cluster in clusters.iter() {
        let maps = Api::<ConfigMap>::all(cluster.client())
            .list(&ListParams::default())
            .await?;
        haystacks.push((
            format!("ConfigMaps of {}", cluster.name()),
            serde_json::to_string(&maps.items)?,
        ));
    }
    assert!(
        haystacks[2].1.contains("staged key"),
        "the log capture works"
    );
    for (place, text) in &haystacks {
        assert!(!text.contains("PRIVATE KEY"), "{place} holds a PEM");
        for fragment in &fragments {
            assert!(
                !text.contains(fragment.as_str()),
                "{place} holds private key material"
            );
        }
    }
    operator.stop().await;
    Ok(())
}
