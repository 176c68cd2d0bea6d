//! Temporary directories of test processes that died without cleaning up.
//!
//! `Drop` cleans up after a passing or panicking test; a test binary killed outright (SIGKILL,
//! a CI timeout) cannot, though its children die with it (see `process`). Its directory keeps
//! an owner file with its pid, and the next start removes directories whose owner is gone.
//! Never touches a directory without an owner file or whose owner may still run.

use std::path::Path;

const PREFIX: &str = "meridian-e2e-";
const OWNER_FILE: &str = "owner.pid";

pub(crate) fn directory_prefix() -> &'static str {
    PREFIX
}

/// Marks `dir` as owned by this process.
pub(crate) fn claim(dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join(OWNER_FILE), std::process::id().to_string())
}

/// Removes directories under `parent` left by test processes that no longer exist. Best effort:
/// a directory that cannot be read or removed is left alone.
pub(crate) fn remove_abandoned(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_string_lossy().starts_with(PREFIX);
        let owner = std::fs::read_to_string(entry.path().join(OWNER_FILE)).ok();
        let owner_gone = owner
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
        if is_ours && owner_gone {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directories_of_dead_owners_are_removed() {
        let parent = tempfile::tempdir().unwrap();
        let make = |name: &str, owner: Option<&str>| {
            let dir = parent.path().join(name);
            std::fs::create_dir(&dir).unwrap();
            if let Some(pid) = owner {
                std::fs::write(dir.join(OWNER_FILE), pid).unwrap();
            }
            dir
        };
        // pid_max on Linux is at most 2^22, so this pid cannot exist.
        let dead = make("meridian-e2e-dead", Some("99999999"));
        let alive = make("meridian-e2e-alive", Some(&std::process::id().to_string()));
        let unclaimed = make("meridian-e2e-starting", None);
        let foreign = make("someone-else", Some("99999999"));
        remove_abandoned(parent.path());
        assert!(!dead.exists());
        assert!(alive.exists() && unclaimed.exists() && foreign.exists());
    }
}
