//! The harness's real nodes themselves: a region cluster's node registers and goes Ready, runs
//! a pod, and dropping the clusters leaves nothing of it behind on the machine (processes,
//! network namespaces, cgroups, mounts).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::PostParams;
use meridian_e2e::node::SANDBOX_IMAGE;
use meridian_e2e::{ClusterOptions, Clusters, eventually};

fn pinned_namespaces() -> BTreeSet<String> {
    std::fs::read_dir("/run/netns")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_region_cluster_gets_a_ready_node_that_leaves_nothing_behind() -> anyhow::Result<()> {
    let namespaces_before = pinned_namespaces();
    let clusters =
        Clusters::start_named(&["hub", "eu-west"], ClusterOptions::default().with_nodes()).await?;
    assert!(clusters.hub().node().is_none(), "the hub runs no pods");
    let node = clusters["eu-west"].node().expect("the region has a node");
    let addresses = *node.addresses();
    let dir = clusters.dir().to_path_buf();
    let netns = addresses.netns_path();
    let cgroup = Path::new("/sys/fs/cgroup/memory").join(addresses.cgroup());
    assert!(netns.exists() && cgroup.exists());
    let kubelet_log = std::fs::read_to_string(node.kubelet_log())?;
    assert!(
        kubelet_log.contains("Successfully registered node"),
        "{kubelet_log}"
    );

    // A pod (the locally built sandbox image, as a container) is scheduled, started and runs.
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "sleeper", "namespace": "default"},
        "spec": {"containers": [{"name": "sleep", "image": SANDBOX_IMAGE}]}
    }))?;
    let pods = Api::<Pod>::namespaced(clusters["eu-west"].client(), "default");
    // Admission wants the namespace's default ServiceAccount, which the controller-manager
    // creates shortly after start.
    eventually("the pod created", Duration::from_secs(30), async || {
        Ok(pods.create(&PostParams::default(), &pod).await.ok())
    })
    .await?;
    let running = eventually("the pod running", Duration::from_secs(60), async || {
        let pod = pods.get("sleeper").await?;
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
        Ok((phase.as_deref() == Some("Running")).then_some(pod))
    })
    .await?;
    let uid = running.metadata.uid.unwrap_or_default();
    assert!(
        !node.pod_processes(&uid).is_empty(),
        "the pod's processes are found by its cgroup"
    );
    assert_ne!(
        pinned_namespaces(),
        namespaces_before,
        "containerd pinned the pod's network namespace"
    );

    drop(clusters);
    assert_eq!(
        pinned_namespaces(),
        namespaces_before,
        "no network namespace is left"
    );
    assert!(!netns.exists(), "{} is gone", netns.display());
    assert!(!cgroup.exists(), "{} is gone", cgroup.display());
    assert!(!dir.exists(), "{} is gone", dir.display());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")?;
    assert!(
        !mounts.contains(&dir.display().to_string()),
        "no mount is left"
    );
    let needle = dir.display().to_string();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&cmdline).contains(&needle),
            "process {:?} of the node outlived it",
            entry.file_name()
        );
    }
    Ok(())
}
