//! A hub and two regions start together, share nothing but the machine, and the real kubectl
//! works with each one's kubeconfig.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use meridian_e2e::{ClusterOptions, Clusters};

/// The Kubernetes release pinned in e2e/tools/go.mod; build.sh stamps it into the binaries.
fn pinned_kubernetes_version() -> String {
    include_str!("../tools/go.mod")
        .lines()
        .find_map(|line| line.trim().strip_prefix("k8s.io/kubernetes v"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|version| format!("v{version}"))
        .expect("k8s.io/kubernetes is pinned in e2e/tools/go.mod")
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
    let created = clusters
        .hub()
        .kubectl()
        .args(["create", "namespace", "only-in-hub"])
        .output()?;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    for cluster in clusters.iter() {
        let found = Api::<ConfigMap>::namespaced(cluster.client(), "default")
            .get_opt("only-in-eu-west")
            .await?;
        assert_eq!(
            found.is_some(),
            cluster.name() == "eu-west",
            "ConfigMap seen in {}",
            cluster.name()
        );

        let listed = cluster
            .kubectl()
            .args(["get", "ns", "-o", "name"])
            .output()?;
        let stdout = String::from_utf8_lossy(&listed.stdout);
        assert!(
            listed.status.success(),
            "{}: {}",
            cluster.name(),
            String::from_utf8_lossy(&listed.stderr)
        );
        assert!(
            stdout.contains("namespace/kube-system"),
            "{}: {stdout}",
            cluster.name()
        );
        assert_eq!(
            stdout.contains("namespace/only-in-hub"),
            cluster.name() == "hub",
            "{}: {stdout}",
            cluster.name()
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
    let refused = hub
        .kubectl()
        .arg("--kubeconfig")
        .arg(&path)
        .args(["get", "ns"])
        .output()?;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("certificate"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    Ok(())
}
