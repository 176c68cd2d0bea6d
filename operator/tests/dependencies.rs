//! The operator builds without the auth-server: it shares the contract and the keys crate with
//! it, never its HTTP framework or its password hashing. Issue #17 split them; this keeps
//! them split, since one convenient import would bring the whole server back.

use std::collections::BTreeSet;
use std::process::Command;

const FORBIDDEN: [&str; 3] = ["meridian-auth-server", "argon2", "axum"];

#[test]
fn the_operator_compiles_no_auth_server_argon2_or_axum() {
    let output = Command::new(env!("CARGO"))
        .args(["tree", "-p", "meridian-operator", "-e", "normal"])
        .args(["--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8(output.stdout).expect("cargo tree prints UTF-8");
    // One `name vX.Y.Z [(path)] [(*)]` per line.
    let crates: BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split(' ').next())
        .collect();
    assert!(crates.contains("meridian-keys"), "{tree}");
    for forbidden in FORBIDDEN {
        let pulled: Vec<_> = crates
            .iter()
            .filter(|name| **name == forbidden || name.starts_with(&format!("{forbidden}-")))
            .collect();
        assert!(pulled.is_empty(), "the operator pulls {pulled:?}:\n{tree}");
    }
}
