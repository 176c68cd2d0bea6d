//! A hub and two regions start together, share nothing but the machine, and the real kubectl
//! works with each one's kubeconfig.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use meridian_e2e::{Cluster, ClusterOptions, Clusters};

/// The Kubernetes release pinned in e2e/tools/go.mod; build.sh stamps it into the binaries.
fn pinned_kubernetes_version() -> String {
    include_str!("../tools/go.mod")
        .lines()
        .find_map(|line| line.trim().strip_prefix("k8s.io/kubernetes v"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|version| format!("v{version}"))
        .expect("k8s.io/kubernetes is pinned in e2e/tools/go.mod")
}

/// `kubectl` with the cluster's kubeconfig; its stdout, or an error with its stderr.
fn kubectl(cluster: &Cluster, args: &[&str]) -> anyhow::Result<String> {
    let output = cluster.kubectl().args(args).output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success(),
        "kubectl {args:?} in {}: {stderr}",
        cluster.name()
    );
    Ok(String::from_utf8(output.stdout)?)
}

#[tokio::test]
async fn hub_and_two_regions_are_independent_and_kubectl_works_with_each() -> anyhow::Result<()> {
    let clusters = Clusters::start(3, ClusterOptions::default()).await?;
    eprintln!("hub + 2 regions ready in {:.1?}", clusters.startup_time());
    let names: Vec<&str> = clusters.iter().map(|c| c.name()).collect();
    assert_eq!(names, ["hub", "eu-west", "us-east"]);
    let version = clusters.hub().client().apiserver_version().await?;
    assert_eq!(version.git_version, pinned_kubernetes_version());

    let marker = ConfigMap {
        metadata: ObjectMeta {
            name: Some("only-in-eu-west".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(clusters["eu-west"].client(), "default")
        .create(&PostParams::default(), &marker)
        .await?;
    kubectl(clusters.hub(), &["create", "namespace", "only-in-hub"])?;

    for cluster in clusters.iter() {
        let name = cluster.name();
        let found = Api::<ConfigMap>::namespaced(cluster.client(), "default")
            .get_opt("only-in-eu-west")
            .await?;
        assert_eq!(
            found.is_some(),
            name == "eu-west",
            "ConfigMap seen in {name}"
        );
        let namespaces = kubectl(cluster, &["get", "ns", "-o", "name"])?;
        assert!(
            namespaces.contains("namespace/kube-system"),
            "{name}: {namespaces}"
        );
        assert_eq!(
            namespaces.contains("namespace/only-in-hub"),
            name == "hub",
            "{name}: {namespaces}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn one_cluster_does_not_trust_another_clusters_admin() -> anyhow::Result<()> {
    let clusters = Clusters::start(2, ClusterOptions::default()).await?;
    let (hub, region) = (clusters.hub(), &clusters.regions()[0]);
    // The hub's admin kubeconfig aimed at the region's port: each cluster has its own CA, so
    // the region's serving certificate is not trusted by the hub's kubeconfig (and vice versa).
    let mixed = hub
        .kubeconfig()
        .replace(&hub.server_url(), &region.server_url());
    let path = clusters.dir().join("mixed.kubeconfig");
    std::fs::write(&path, mixed)?;
    let refused = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&path)
        .args(["get", "ns"])
        .output()?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("certificate"), "{stderr}");
    Ok(())
}
