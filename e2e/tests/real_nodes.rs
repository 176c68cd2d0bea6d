//! The harness's real nodes themselves: a region cluster's node registers and goes Ready, and
//! dropping the clusters leaves nothing of it behind on the machine (processes, network
//! namespace, cgroups, mounts).

use std::path::Path;

use meridian_e2e::{ClusterOptions, Clusters};

#[tokio::test]
async fn a_region_cluster_gets_a_ready_node_that_leaves_nothing_behind() -> anyhow::Result<()> {
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

    drop(clusters);
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
