//! crds/ holds exactly what the Rust types generate; a stale file fails here.
//! Regenerate with: cargo run -p meridian-operator -- crd --out-dir crds

use std::path::Path;

#[test]
fn crds_directory_matches_the_generated_crds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crds");
    let files = meridian_operator::api::crd_files().expect("CRDs render");
    assert!(!files.is_empty());
    for (name, generated) in files {
        let committed = std::fs::read_to_string(dir.join(&name))
            .unwrap_or_else(|e| panic!("crds/{name}: {e}; regenerate with `cargo run -p meridian-operator -- crd --out-dir crds`"));
        assert!(
            committed == generated,
            "crds/{name} is stale; regenerate with `cargo run -p meridian-operator -- crd --out-dir crds`"
        );
    }
    let on_disk = std::fs::read_dir(&dir).expect("crds/ exists").count();
    assert_eq!(
        on_disk,
        meridian_operator::api::crds().len(),
        "crds/ holds files no type generates"
    );
}
