//! The kubelet stand-in explains why a region's auth-server does not serve: a volume source
//! that does not exist is named, and a process that exits is reported with its log tail.

use std::net::TcpListener;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;
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

    // The address is taken, so the server cannot listen once its files exist.
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
    Api::<ConfigMap>::namespaced(client, NS)
        .create(&PostParams::default(), &config)
        .await?;
    options.ready_timeout = Duration::from_secs(30);
    let failed = Kubelet::start(region, options).await.err().unwrap();
    let KubeletError::PodFailed(failure) = &failed else {
        panic!("expected a failed start, got {failed}");
    };
    assert_eq!(failure.deployment, SHARED_GROUP);
    assert!(failure.log_tail.contains("in use"), "{failed}");
    println!("{failed}");
    drop(busy);
    Ok(())
}
