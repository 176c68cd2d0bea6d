//! The kubelet stand-in explains why a region's auth-server does not serve: a volume source
//! that does not exist is named, an address it cannot serve is named, and a process that
//! exits is reported with its log tail.

use std::net::TcpListener;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use meridian_e2e::kubelet::{Kubelet, KubeletError, KubeletOptions, SHARED_GROUP};
use meridian_e2e::meridian::ensure_namespace;
use meridian_e2e::{ClusterOptions, Clusters};

const NS: &str = "meridian-auth";

fn deployment() -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(serde_json::json!({
        "metadata": {"name": SHARED_GROUP, "labels": {"app.kubernetes.io/managed-by": "meridian-operator"}},
        "spec": {
            "selector": {"matchLabels": {"app": "auth"}},
            "template": {
                "metadata": {"labels": {"app": "auth"}},
                "spec": {
                    "containers": [{"name": "auth-server", "image": "meridian-auth-server"}],
                    "volumes": [{"name": "config", "projected": {"sources": [{"configMap": {"name": "region-config"}}]}}]
                }
            }
        }
    }))?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_and_a_failed_start_are_explained() -> anyhow::Result<()> {
    let clusters = Clusters::start_named(&["eu-west"], ClusterOptions::default()).await?;
    let region = &clusters["eu-west"];
    let client = region.client();
    ensure_namespace(&client, NS).await?;
    Api::<Deployment>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &deployment()?)
        .await?;

    // The address is taken, so the Service cannot listen once the pod's files exist.
    let busy = TcpListener::bind("127.0.0.1:0")?;
    let mut options = KubeletOptions::new(busy.local_addr()?);
    options.ready_timeout = Duration::from_secs(3);
    let waiting = Kubelet::start(region, options.clone()).await.err().unwrap();
    assert_eq!(waiting.reason(), "NotReady", "{waiting}");
    assert!(
        waiting
            .to_string()
            .contains("ConfigMap region-config named by the volume does not exist"),
        "{waiting}"
    );

    let config: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "region-config"},
        "data": {"region.json": "{\"name\": \"eu-west\", \"publicUrl\": \"http://127.0.0.1:1\"}"}
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &config)
        .await?;
    let taken = Kubelet::start(region, options.clone()).await.err().unwrap();
    assert_eq!(taken.reason(), "NotReady", "{taken}");
    let address = busy.local_addr()?;
    assert!(
        taken
            .to_string()
            .contains(&format!("cannot serve {address}")),
        "{taken}"
    );
    drop(busy);

    // A store the auth-server refuses: it exits at start, and says why in its log.
    let env = serde_json::json!({"spec": {"template": {"spec": {"containers": [
        {"name": "auth-server", "env": [{"name": "MERIDIAN_STORE", "value": "not-a-store"}]}
    ]}}}});
    Api::<Deployment>::namespaced(client, NS)
        .patch(
            SHARED_GROUP,
            &PatchParams::default(),
            &Patch::Strategic(&env),
        )
        .await?;
    options.ready_timeout = Duration::from_secs(30);
    let failed = Kubelet::start(region, options).await.err().unwrap();
    let KubeletError::PodFailed(failure) = &failed else {
        panic!("expected a failed start, got {failed}");
    };
    assert_eq!(failure.deployment, SHARED_GROUP);
    assert_eq!(failure.pod, format!("{SHARED_GROUP}-0"));
    assert!(failure.log_tail.contains("MERIDIAN_STORE"), "{failed}");
    println!("{failed}");
    Ok(())
}
