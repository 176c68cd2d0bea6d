//! The helm built from the pinned Go module runs from the binary cache and talks to a test
//! cluster.

use meridian_e2e::{Binaries, ClusterOptions, Clusters};

/// The helm version pinned in e2e/tools/helm/go.mod.
fn pinned_helm_version() -> String {
    let go_mod = include_str!("../tools/helm/go.mod");
    go_mod
        .lines()
        .find_map(|line| line.trim().strip_prefix("helm.sh/helm/v3 "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("helm is pinned in e2e/tools/helm/go.mod")
        .to_string()
}

#[test]
fn the_built_helm_runs_from_the_cache() -> anyhow::Result<()> {
    let binaries = Binaries::locate()?;
    let helm = binaries.helm()?;
    let output = std::process::Command::new(&helm)
        .args(["version", "--short"])
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.starts_with(&pinned_helm_version()),
        "{} printed {stdout}",
        helm.display()
    );
    Ok(())
}

#[tokio::test]
async fn helm_lists_releases_of_a_test_cluster() -> anyhow::Result<()> {
    let clusters = Clusters::start(1, ClusterOptions::default()).await?;
    eprintln!("one cluster ready in {:.1?}", clusters.startup_time());
    let output = clusters
        .hub()
        .helm()?
        .args(["list", "--all-namespaces"])
        .output()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("NAME"));
    Ok(())
}
