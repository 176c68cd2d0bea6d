//! What a pod's process really runs with, read from /proc on the node's host: its user and
//! group ids, capabilities, no_new_privs and seccomp, whether its root filesystem is mounted
//! read-only, and its resident memory. Parsing is pure and unit-tested.

/// The facts of one process, as the kernel reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessFacts {
    pub pid: u32,
    /// `/proc/<pid>/comm`.
    pub command: String,
    /// Real, effective, saved and filesystem user ids.
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    /// Effective, permitted and bounding capability sets.
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub cap_bounding: u64,
    pub no_new_privs: bool,
    /// 0 none, 1 strict, 2 filter.
    pub seccomp: u8,
    pub rss_bytes: u64,
    /// The mount options of the process's `/`, as it sees it.
    pub root_mount_read_only: bool,
}

/// Reads the facts of `pid`, or `None` once it has gone.
pub fn process_facts(pid: u32) -> Option<ProcessFacts> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).ok()?;
    let command = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    let mut facts = parse_status(pid, &status)?;
    facts.command = command.trim().to_owned();
    facts.root_mount_read_only = root_is_read_only(&mountinfo);
    Some(facts)
}

fn ids(value: &str) -> Option<[u32; 4]> {
    let parsed: Vec<u32> = value
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    parsed.try_into().ok()
}

pub(crate) fn parse_status(pid: u32, status: &str) -> Option<ProcessFacts> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let hex = |name: &str| field(name).and_then(|v| u64::from_str_radix(v, 16).ok());
    let rss_kib: u64 = field("VmRSS")
        .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    Some(ProcessFacts {
        pid,
        command: String::new(),
        uids: ids(field("Uid")?)?,
        gids: ids(field("Gid")?)?,
        cap_effective: hex("CapEff")?,
        cap_permitted: hex("CapPrm")?,
        cap_bounding: hex("CapBnd")?,
        no_new_privs: field("NoNewPrivs") == Some("1"),
        seccomp: field("Seccomp")?.parse().ok()?,
        rss_bytes: rss_kib * 1024,
        root_mount_read_only: false,
    })
}

/// Whether the mount at `/` (the last one, if stacked) has the `ro` per-mount option.
pub(crate) fn root_is_read_only(mountinfo: &str) -> bool {
    mountinfo
        .lines()
        .rfind(|line| line.split(' ').nth(4) == Some("/"))
        .and_then(|line| line.split(' ').nth(5))
        .is_some_and(|options| options.split(',').any(|o| o == "ro"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tmeridian-auth-s\nUmask:\t0022\nState:\tS (sleeping)\n\
        Uid:\t65532\t65532\t65532\t65532\nGid:\t65532\t65532\t65532\t65532\n\
        VmRSS:\t   12345 kB\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n\
        CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\n\
        NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n";

    #[test]
    fn a_locked_down_process_reads_as_such() {
        let facts = parse_status(42, STATUS).unwrap();
        assert_eq!(facts.uids, [65532; 4]);
        assert_eq!(facts.gids, [65532; 4]);
        assert_eq!(facts.cap_effective, 0);
        assert_eq!(facts.cap_bounding, 0);
        assert!(facts.no_new_privs);
        assert_eq!(facts.seccomp, 2);
        assert_eq!(facts.rss_bytes, 12345 * 1024);
    }

    #[test]
    fn root_capabilities_are_seen() {
        let status = STATUS
            .replace("Uid:\t65532\t65532\t65532\t65532", "Uid:\t0\t0\t0\t0")
            .replace("CapEff:\t0000000000000000", "CapEff:\t000001ffffffffff");
        let facts = parse_status(1, &status).unwrap();
        assert_eq!(facts.uids, [0; 4]);
        assert_ne!(facts.cap_effective, 0);
    }

    #[test]
    fn the_root_mount_options_decide() {
        let ro = "1 0 0:30 / / ro,relatime - overlay overlay rw,lowerdir=/a\n\
                  2 1 0:31 / /proc rw,nosuid - proc proc rw\n";
        let rw = "1 0 0:30 / / rw,relatime - overlay overlay rw,lowerdir=/a\n";
        assert!(root_is_read_only(ro));
        assert!(!root_is_read_only(rw));
    }
}
