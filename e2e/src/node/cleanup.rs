//! Taking a node apart so that nothing outlives it: its pods' processes (found by the node's
//! cgroup, since containerd's shims and the containers they run are not our children), every
//! process whose command line names the node's directory (containerd, its shims, kubelet,
//! kube-proxy), the mounts under its directory (overlay snapshots, projected volumes), its
//! network namespace, and its cgroups. Also what a test process killed outright left behind,
//! found through the slot it held.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::network::{self, NodeAddresses};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Everything of the node in slot `a` whose files are (or were) under `dir`.
pub(crate) fn tear_down(a: &NodeAddresses, dir: &Path) {
    // containerd pins each pod's network namespace at /run/netns/cni-<id>; with containerd
    // killed rather than asked to stop the sandboxes, the pins are ours to remove. Known by
    // their namespace's inode, read while the pods' processes still hold them.
    let pod_namespaces = pod_network_namespaces(&a.cgroup());
    kill_cgroup_tree(&a.cgroup());
    kill_processes_naming(dir);
    // Containers started between the two passes (the kubelet was still running) go now.
    kill_cgroup_tree(&a.cgroup());
    unmount_under(dir);
    remove_pinned_namespaces(&pod_namespaces);
    network::remove(a);
    remove_cgroups(&a.cgroup());
    remove_container_log_links(dir);
}

/// Every v1 hierarchy's directory for `cgroup` (and the v2 one, when mounted beside them).
pub(crate) fn cgroup_dirs(cgroup: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(CGROUP_ROOT) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path().join(cgroup))
        .filter(|p| p.is_dir())
        .collect()
}

/// Creates `cgroup` in every v1 hierarchy, as the kubelet requires its `cgroupRoot` to exist;
/// cpuset's needs its CPUs and memory nodes copied from the parent before anything joins it.
pub(crate) fn create_cgroups(cgroup: &str) -> std::io::Result<()> {
    for entry in std::fs::read_dir(CGROUP_ROOT)?.flatten() {
        let hierarchy = entry.path();
        let name = entry.file_name();
        if name == "unified" || !hierarchy.join("cgroup.procs").exists() {
            continue;
        }
        let dir = hierarchy.join(cgroup);
        std::fs::create_dir_all(&dir)?;
        if name == "cpuset" {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let parent = std::fs::read_to_string(hierarchy.join(file))?;
                std::fs::write(dir.join(file), parent.trim())?;
            }
        }
    }
    Ok(())
}

/// The process ids in `dir` and every cgroup below it.
pub(crate) fn processes_in(dir: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            pids.extend(procs.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        }
        if let Ok(entries) = std::fs::read_dir(&dir) {
            pending.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

fn kill(pid: u32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
}

/// SIGKILL to every process of the node's pods until none is left (at most a few seconds:
/// a process being forked into the tree is caught by the next round).
pub(crate) fn kill_cgroup_tree(cgroup: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids: Vec<u32> = cgroup_dirs(cgroup)
            .iter()
            .flat_map(|dir| processes_in(dir))
            .collect();
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        pids.into_iter().for_each(kill);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The inodes of the network namespaces the node's pod processes are in.
fn pod_network_namespaces(cgroup: &str) -> Vec<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut inodes: Vec<u64> = cgroup_dirs(cgroup)
        .iter()
        .flat_map(|dir| processes_in(dir))
        .filter_map(|pid| std::fs::metadata(format!("/proc/{pid}/ns/net")).ok())
        .map(|m| m.ino())
        .collect();
    inodes.sort_unstable();
    inodes.dedup();
    inodes
}

/// Unmounts and removes the /run/netns pins of these namespaces.
fn remove_pinned_namespaces(inodes: &[u64]) {
    use std::os::unix::fs::MetadataExt;
    if inodes.is_empty() {
        return;
    }
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let pinned = std::fs::metadata(entry.path()).is_ok_and(|m| inodes.contains(&m.ino()));
        if !pinned {
            continue;
        }
        if let Ok(target) = std::ffi::CString::new(entry.path().display().to_string()) {
            // SAFETY: umount2(2) with a valid NUL-terminated path.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

/// containerd is started with its config file, its shims with its socket, kubelet and
/// kube-proxy with theirs: all under the node's directory.
fn kill_processes_naming(dir: &Path) {
    let needle = dir.display().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    let own = std::process::id();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            kill(pid);
        }
    }
}

/// Mount points at or under `dir`, deepest first.
pub(crate) fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut mounts: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_mount_path)
        .filter(|p| p.starts_with(dir))
        .collect();
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    mounts.dedup();
    mounts
}

/// mountinfo writes space, tab, newline and backslash as octal escapes.
fn unescape_mount_path(field: &str) -> PathBuf {
    let mut out = String::new();
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(byte) = u8::from_str_radix(&code, 8) {
                out.push(byte as char);
                continue;
            }
            out.push('\\');
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    PathBuf::from(out)
}

fn unmount_under(dir: &Path) {
    for mount in mounts_under(dir) {
        let Ok(target) = std::ffi::CString::new(mount.display().to_string()) else {
            continue;
        };
        // SAFETY: umount2(2) with a valid NUL-terminated path.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }
}

fn remove_cgroups(cgroup: &str) {
    for dir in cgroup_dirs(cgroup) {
        remove_cgroup_dir(&dir);
    }
}

/// cgroup directories are removed bottom-up with rmdir (their files cannot be unlinked).
fn remove_cgroup_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for child in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
            remove_cgroup_dir(&child);
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// The kubelet links each container's log into /var/log/containers whatever `podLogsDir`
/// says; links into this node's directory are ours to remove.
fn remove_container_log_links(dir: &Path) {
    let Ok(entries) = std::fs::read_dir("/var/log/containers") else {
        return;
    };
    for entry in entries.flatten() {
        let target = std::fs::read_link(entry.path());
        if target.is_ok_and(|t| t.starts_with(dir)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(
            unescape_mount_path(r"/tmp/a\040b/c"),
            PathBuf::from("/tmp/a b/c")
        );
        assert_eq!(unescape_mount_path("/plain"), PathBuf::from("/plain"));
    }
}
