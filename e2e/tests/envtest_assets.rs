//! A `KUBEBUILDER_ASSETS` directory as setup-envtest leaves it (kube-apiserver and etcd, no
//! controller-manager, no helm) is used as is; what it lacks comes from the build cache.

use meridian_e2e::{Binaries, ClusterOptions, Clusters};

#[tokio::test]
async fn kubebuilder_assets_are_used_and_missing_binaries_come_from_the_cache() -> anyhow::Result<()>
{
    let cache = tokio::task::spawn_blocking(|| {
        // Where build.sh puts everything; found without KUBEBUILDER_ASSETS (not yet set).
        let output = std::process::Command::new("bash")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tools/build.sh"))
            .output()?;
        anyhow::Ok(std::path::PathBuf::from(
            String::from_utf8(output.stdout)?.trim(),
        ))
    })
    .await??;
    let assets = tempfile::tempdir()?;
    for name in ["kube-apiserver", "etcd"] {
        std::os::unix::fs::symlink(cache.join(name), assets.path().join(name))?;
    }
    // SAFETY: this binary's only test, before anything here reads the environment.
    unsafe { std::env::set_var("KUBEBUILDER_ASSETS", assets.path()) };

    let binaries = tokio::task::spawn_blocking(Binaries::locate).await??;
    assert_eq!(binaries.dir(), assets.path());
    assert_eq!(
        binaries.kube_apiserver(),
        assets.path().join("kube-apiserver")
    );
    assert!(binaries.helm()?.starts_with(&cache));

    let clusters = Clusters::start(1, ClusterOptions::default().with_controller_manager()).await?;
    assert!(clusters.hub().has_controller_manager());
    Ok(())
}
