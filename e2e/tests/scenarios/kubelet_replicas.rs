//! The kubelet stand-in runs a Deployment's `replicas` behind one address: every pod gets the
//! container's environment (literal values and keys of the region's Secrets), connections
//! spread over the ready pods, a killed pod leaves the rotation at once and comes back, a
//! template change rolls the pods one at a time without a failed request, and scaling down
//! removes pods.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use meridian_e2e::kubelet::{Kubelet, KubeletOptions, PodStatus, SHARED_GROUP};
use meridian_e2e::meridian::ensure_namespace;
use meridian_e2e::{ClusterOptions, Clusters, eventually};

const NS: &str = "meridian-auth";
const WAIT: Duration = Duration::from_secs(60);

async fn create_region_objects(client: &Client, public_url: &str) -> anyhow::Result<()> {
    ensure_namespace(client, NS).await?;
    let region = serde_json::json!({"name": "eu-west", "publicUrl": public_url}).to_string();
    let config: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "region-config"},
        "data": {"region.json": region}
    }))?;
    Api::<ConfigMap>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &config)
        .await?;
    let store: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "store"},
        "stringData": {"uri": "memory"}
    }))?;
    Api::<Secret>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &store)
        .await?;
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": SHARED_GROUP, "labels": {"app.kubernetes.io/managed-by": "meridian-operator"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "auth"}},
            "template": {
                "metadata": {"labels": {"app": "auth"}},
                "spec": {
                    "containers": [{"name": "auth-server", "image": "meridian-auth-server", "env": [
                        {"name": "RUST_LOG", "value": "info"},
                        {"name": "MERIDIAN_STORE", "valueFrom": {"secretKeyRef": {"name": "store", "key": "uri"}}}
                    ]}],
                    "volumes": [{"name": "config", "projected": {"sources": [{"configMap": {"name": "region-config"}}]}}]
                }
            }
        }
    }))?;
    Api::<Deployment>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &deployment)
        .await?;
    Ok(())
}

/// What a process was started with, from the kernel's record.
fn environment_of(pod: &PodStatus) -> anyhow::Result<Vec<String>> {
    let pid = pod
        .pid
        .ok_or_else(|| anyhow::anyhow!("{} is not running", pod.name))?;
    let raw = std::fs::read(format!("/proc/{pid}/environ"))?;
    Ok(raw
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect())
}

/// `GET /readyz` through the Service on a connection of its own, as a new client would.
async fn served(http: &reqwest::Client, address: SocketAddr) -> anyhow::Result<()> {
    let response = http.get(format!("http://{address}/readyz")).send().await?;
    anyhow::ensure!(response.status().is_success(), "{}", response.status());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_address_through_kills_rolls_and_scaling() -> anyhow::Result<()> {
    let clusters = Clusters::start_named(&["eu-west"], ClusterOptions::default()).await?;
    let region = &clusters["eu-west"];
    let address = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    create_region_objects(&region.client(), &format!("http://{address}")).await?;
    let kubelet = Kubelet::start(region, KubeletOptions::new(address)).await?;
    assert_eq!(kubelet.address(SHARED_GROUP)?, address);

    let pods = kubelet.pods(SHARED_GROUP)?;
    assert_eq!(pods.len(), 3);
    for pod in &pods {
        assert!(pod.ready, "{pod:?}");
        let env = environment_of(pod)?;
        assert!(env.contains(&"MERIDIAN_STORE=memory".to_owned()), "{env:?}");
        assert!(env.contains(&"RUST_LOG=info".to_owned()), "{env:?}");
    }

    // A fresh connection per request: the Service balances connections, not requests.
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()?;
    for _ in 0..30 {
        served(&http, address).await?;
    }
    let connections: Vec<u64> = kubelet
        .pods(SHARED_GROUP)?
        .iter()
        .map(|p| p.connections)
        .collect();
    assert_eq!(connections, [10, 10, 10], "round-robin over the ready pods");

    // A killed pod leaves the rotation at once: not one request fails meanwhile.
    kubelet.kill_pod(&format!("{SHARED_GROUP}-1"))?;
    for _ in 0..20 {
        served(&http, address).await?;
    }
    eventually("the killed pod restarted and ready", WAIT, async || {
        let pods = kubelet.pods(SHARED_GROUP).unwrap_or_default();
        Ok(pods
            .get(1)
            .is_some_and(|p| p.starts == 2 && p.ready)
            .then_some(()))
    })
    .await?;

    // A template change rolls one pod at a time; the others serve throughout.
    let deployments = Api::<Deployment>::namespaced(region.client(), NS);
    let roll = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {"rolled": "once"}}}}});
    deployments
        .patch(SHARED_GROUP, &PatchParams::default(), &Patch::Merge(&roll))
        .await?;
    // A failed request ends the wait at once (the outer `Err`).
    eventually("every pod rolled and ready", WAIT, async || {
        if let Err(failed) = served(&http, address).await {
            return Ok(Some(Err(failed)));
        }
        let pods = kubelet.pods(SHARED_GROUP).unwrap_or_default();
        let rolled = pods.len() == 3 && [2, 3, 2].iter().zip(&pods).all(|(s, p)| p.starts == *s);
        Ok((rolled && pods.iter().all(|p| p.ready)).then_some(Ok(())))
    })
    .await??;

    let scale = serde_json::json!({"spec": {"replicas": 1}});
    deployments
        .patch(SHARED_GROUP, &PatchParams::default(), &Patch::Merge(&scale))
        .await?;
    eventually("scaled down to one pod", WAIT, async || {
        let pods = kubelet.pods(SHARED_GROUP).unwrap_or_default();
        Ok((pods.len() == 1).then_some(()))
    })
    .await?;
    served(&http, address).await?;
    Ok(())
}
