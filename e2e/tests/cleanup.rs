//! A failing test leaves no process and no directory behind.

use std::path::Path;

use meridian_e2e::{ClusterOptions, Clusters};

/// Live processes whose command line mentions `dir` (every component's does: its flags name
/// files in the clusters' directory).
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            cmdline
                .contains(&needle)
                .then(|| format!("{}: {cmdline}", entry.file_name().to_string_lossy()))
        })
        .collect()
}

#[test]
fn a_panicking_test_leaves_no_process_or_directory_behind() -> anyhow::Result<()> {
    let (dir_sender, dir_receiver) = std::sync::mpsc::channel();
    let failed_test = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let options = ClusterOptions::default().with_controller_manager();
            let clusters = Clusters::start(1, options)
                .await
                .expect("the cluster starts");
            dir_sender
                .send(clusters.dir().to_path_buf())
                .expect("the test waits for it");
            assert_eq!(
                processes_mentioning(clusters.dir()).len(),
                3,
                "etcd, apiserver, controller-manager"
            );
            panic!("the test fails while its cluster runs");
        })
    })
    .join();
    assert!(failed_test.is_err(), "the inner test was meant to panic");
    let dir = dir_receiver.recv()?;
    assert!(!dir.exists(), "{} was left behind", dir.display());
    assert_eq!(processes_mentioning(&dir), Vec::<String>::new());
    Ok(())
}
