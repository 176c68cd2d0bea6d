//! Where the `meridian-auth-server` binary comes from: `MERIDIAN_AUTH_SERVER_BIN`, or
//! `cargo build -p meridian-auth-server` (a no-op when fresh), whose own report names the
//! executable wherever the target directory is. Located once per process.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::error::{Error, Result};

pub const BINARY_ENV: &str = "MERIDIAN_AUTH_SERVER_BIN";

/// What cargo sets for the crate whose test or binary runs.
const PER_CRATE_VARS: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

/// The auth-server binary; blocks while cargo builds it (call from `spawn_blocking`).
pub fn auth_server_binary() -> Result<PathBuf> {
    static LOCATED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    LOCATED.get_or_init(locate).clone().map_err(Error::Binaries)
}

fn locate() -> std::result::Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(BINARY_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{BINARY_ENV}={} is not a file", path.display()))
        };
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = crate::meridian::repo_root().join("Cargo.toml");
    let mut command = Command::new(cargo);
    // Run inside `cargo test`, this process carries the test crate's CARGO_PKG_*,
    // CARGO_MANIFEST_DIR, ...: build scripts that watch them (ring's) would rerun and rebuild
    // their dependents on every alternation between the two cargo invocations.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if PER_CRATE_VARS.contains(&key.as_ref())
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_BIN_EXE_")
        {
            command.env_remove(key.as_ref());
        }
    }
    let output = command
        .args([
            "build",
            "-p",
            "meridian-auth-server",
            "--bin",
            "meridian-auth-server",
        ])
        .args([
            "--message-format=json-render-diagnostics",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build -p meridian-auth-server exited with {} (its output is above)",
            output.status
        ));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["target"]["name"] == "meridian-auth-server")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built meridian-auth-server but reported no executable".to_owned())
}
