//! Where one node sits on the network: a slot number (held by a lock file, so test processes
//! running at the same time never pick the same addresses), and from it the node's network
//! namespace, the veth pair joining it to the host, and its addresses.
//!
//! Each node has its own network namespace, so two nodes' kube-proxy rules, CNI bridges and
//! kubelet ports never meet. The host reaches a node's pods and Services through routes to
//! the pod and Service ranges via the node; pods reach the host at [`HOST_ADDRESS`], where the
//! API servers of clusters with nodes (and PostgreSQL, when pods use it) listen. Nothing here
//! is routed beyond this machine.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// The host's address on the node network, on the loopback interface: it exists once per
/// machine, so every node reaches it the same way (its default route leads to the host).
pub const HOST_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 250, 255, 1);

/// Slots 1..=MAX_SLOT: addresses are 10.250.<slot>.x, 10.251.<slot>.x, 10.252.<slot>.x.
const MAX_SLOT: u8 = 250;
const LOCK_DIR: &str = "/run/meridian-e2e-nodes";

/// The addresses and names of the node in one slot. Pure: nothing is created by asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeAddresses {
    slot: u8,
}

impl NodeAddresses {
    pub(crate) fn for_slot(slot: u8) -> Self {
        assert!((1..=MAX_SLOT).contains(&slot), "slot {slot} out of range");
        Self { slot }
    }

    pub fn slot(&self) -> u8 {
        self.slot
    }

    /// The host's end of the veth pair.
    pub fn host_side(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.slot, 1)
    }

    /// The node's own address (its InternalIP), the node's end of the veth pair.
    pub fn node_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.slot, 2)
    }

    /// The node's pod range (CNI host-local), also kube-proxy's cluster CIDR.
    pub fn pod_cidr(&self) -> String {
        format!("10.251.{}.0/24", self.slot)
    }

    /// The cluster's Service range (`--service-cluster-ip-range`): one per node, so that the
    /// host can route each cluster's ClusterIPs to its node.
    pub fn service_cidr(&self) -> String {
        format!("10.252.{}.0/24", self.slot)
    }

    /// The first Service address: the `kubernetes` Service.
    pub fn kubernetes_service_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 252, self.slot, 1)
    }

    pub fn netns(&self) -> String {
        format!("meridian-node-{}", self.slot)
    }

    pub fn netns_path(&self) -> PathBuf {
        Path::new("/run/netns").join(self.netns())
    }

    /// The host's interface (at most 15 characters).
    pub fn host_link(&self) -> String {
        format!("mnode{}", self.slot)
    }

    /// The cgroup (in every v1 hierarchy) all of the node's pods live under: the kubelet's
    /// `cgroupRoot`, so two kubelets never share a `kubepods` tree.
    pub fn cgroup(&self) -> String {
        format!("meridian-node-{}", self.slot)
    }
}

/// A slot held by this process until dropped (the lock is released with the file).
#[derive(Debug)]
pub(crate) struct Slot {
    pub addresses: NodeAddresses,
    /// Whoever held the slot before and died without cleaning up left this directory.
    pub previous_dir: Option<PathBuf>,
    lock: File,
}

impl Slot {
    /// The first free slot; records `dir` as its holder's files.
    pub fn acquire(dir: &Path) -> Result<Slot> {
        for slot in 1..=MAX_SLOT {
            let (path, mut lock) = lock_file(&format!("slot-{slot}"))?;
            if !flock(&lock, libc::LOCK_EX | libc::LOCK_NB) {
                continue;
            }
            let mut previous = String::new();
            let _ = lock.read_to_string(&mut previous);
            let record = |lock: &mut File| -> std::io::Result<()> {
                lock.set_len(0)?;
                lock.seek(SeekFrom::Start(0))?;
                lock.write_all(dir.display().to_string().as_bytes())
            };
            record(&mut lock).map_err(Error::io(format!("write {}", path.display())))?;
            let previous = previous.trim();
            return Ok(Slot {
                addresses: NodeAddresses::for_slot(slot),
                previous_dir: (!previous.is_empty()).then(|| PathBuf::from(previous)),
                lock,
            });
        }
        Err(Error::Node {
            node: "(any)".into(),
            step: "find a free node slot".into(),
            reason: format!("all {MAX_SLOT} slots under {LOCK_DIR} are held"),
        })
    }

    /// Empties the record, so a later holder finds nothing to clean up.
    pub fn release(self) {
        let _ = self.lock.set_len(0);
    }
}

/// A machine-wide lock, held while one kubelet starts: every kubelet binds its device-plugin
/// socket at the same fixed path (/var/lib/kubelet/device-plugins/kubelet.sock, whatever
/// `--root-dir` says) after clearing that directory, so two starting at once can collide
/// (`bind: address already in use`). Once started, they no longer touch it.
pub(crate) struct StartLock {
    _file: File,
}

impl StartLock {
    /// Blocks until the lock is ours (call from `spawn_blocking`).
    pub fn acquire(name: &str) -> Result<StartLock> {
        let (path, file) = lock_file(name)?;
        if !flock(&file, libc::LOCK_EX) {
            return Err(Error::io(format!("lock {}", path.display()))(
                std::io::Error::last_os_error(),
            ));
        }
        Ok(StartLock { _file: file })
    }
}

/// `<LOCK_DIR>/<name>.lock`, opened for reading and writing (created if missing, kept as is).
fn lock_file(name: &str) -> Result<(PathBuf, File)> {
    std::fs::create_dir_all(LOCK_DIR).map_err(Error::io(format!("create {LOCK_DIR}")))?;
    let path = Path::new(LOCK_DIR).join(format!("{name}.lock"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(Error::io(format!("open {}", path.display())))?;
    Ok((path, file))
}

/// flock(2) with these flags; whether the lock is now ours.
fn flock(file: &File, flags: libc::c_int) -> bool {
    // SAFETY: flock(2) on a descriptor we own; no memory is shared.
    unsafe { libc::flock(file.as_raw_fd(), flags) == 0 }
}

/// Runs `ip` (or another network tool) and fails with its stderr.
pub(crate) fn run(node: &str, program: &str, args: &[&str]) -> Result<()> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(Error::io(format!("run {program}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Error::Node {
        node: node.to_owned(),
        step: format!("{program} {}", args.join(" ")),
        reason: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    })
}

/// Makes sure [`HOST_ADDRESS`] is on the host's loopback interface. Idempotent; it stays.
pub(crate) fn ensure_host_address() -> Result<()> {
    let cidr = format!("{HOST_ADDRESS}/32");
    match run("(host)", "ip", &["addr", "add", &cidr, "dev", "lo"]) {
        // iproute2 words it "File exists" or "Address already assigned" by version.
        Err(Error::Node { reason, .. })
            if !reason.contains("File exists") && !reason.contains("already assigned") =>
        {
            Err(Error::Node {
                node: "(host)".into(),
                step: format!("ip addr add {cidr} dev lo"),
                reason,
            })
        }
        _ => Ok(()),
    }
}

/// The namespace, the veth pair, the node's addresses and default route, forwarding inside the
/// node, and the host's routes to its pods and Services.
pub(crate) fn create(node: &str, a: &NodeAddresses) -> Result<()> {
    let ns = a.netns();
    let link = a.host_link();
    let host_side = format!("{}/24", a.host_side());
    let node_ip = format!("{}/24", a.node_ip());
    let via = a.node_ip().to_string();
    let gateway = a.host_side().to_string();
    let ip = |args: &[&str]| run(node, "ip", args);
    ip(&["netns", "add", &ns])?;
    ip(&[
        "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &ns,
    ])?;
    ip(&["addr", "add", &host_side, "dev", &link])?;
    ip(&["link", "set", &link, "up"])?;
    ip(&["-n", &ns, "addr", "add", &node_ip, "dev", "eth0"])?;
    ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
    ip(&["-n", &ns, "link", "set", "lo", "up"])?;
    ip(&["-n", &ns, "route", "add", "default", "via", &gateway])?;
    // /proc/sys/net is the reading process's namespace: nsenter makes it the node's.
    let netns = format!("--net={}", a.netns_path().display());
    run(
        node,
        "nsenter",
        &[&netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
    )?;
    ip(&["route", "add", &a.pod_cidr(), "via", &via])?;
    ip(&["route", "add", &a.service_cidr(), "via", &via])?;
    Ok(())
}

/// Deletes the namespace (with it the veth pair and the host's routes through it). Best
/// effort: a namespace that is not there is fine.
pub(crate) fn remove(a: &NodeAddresses) {
    let _ = Command::new("ip")
        .args(["netns", "delete", &a.netns()])
        .output();
    let _ = Command::new("ip")
        .args(["link", "delete", &a.host_link()])
        .output();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_never_share_an_address_or_a_name() {
        let a = NodeAddresses::for_slot(7);
        let b = NodeAddresses::for_slot(8);
        assert_ne!(a.node_ip(), b.node_ip());
        assert_ne!(a.pod_cidr(), b.pod_cidr());
        assert_ne!(a.service_cidr(), b.service_cidr());
        assert_ne!(a.netns(), b.netns());
        assert_ne!(a.cgroup(), b.cgroup());
        assert_eq!(a.node_ip().to_string(), "10.250.7.2");
        assert_eq!(a.host_side().to_string(), "10.250.7.1");
        assert_eq!(a.pod_cidr(), "10.251.7.0/24");
        assert_eq!(a.service_cidr(), "10.252.7.0/24");
        assert_eq!(a.kubernetes_service_ip().to_string(), "10.252.7.1");
        // The kernel's limit for interface names.
        assert!(NodeAddresses::for_slot(MAX_SLOT).host_link().len() <= 15);
    }

    #[test]
    fn no_slot_address_is_the_host_address() {
        for slot in 1..=MAX_SLOT {
            let a = NodeAddresses::for_slot(slot);
            assert_ne!(a.host_side(), HOST_ADDRESS);
            assert_ne!(a.node_ip(), HOST_ADDRESS);
        }
    }
}
