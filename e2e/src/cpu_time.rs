//! CPU time this machine's processes spent, by program, read from `/proc`: where a
//! benchmark's wall time went, in a unit that does not depend on how busy the machine was.
//! A process that exits between two snapshots is not counted; one that starts between them
//! counts from zero. Linux only.

use std::collections::{BTreeMap, HashMap};

/// CPU time (user + system, in clock ticks) of every live process, with its program's name,
/// and the time the machine's hypervisor gave to others (steal).
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot {
    processes: HashMap<u32, (String, u64)>,
    steal: u64,
}

impl CpuSnapshot {
    pub fn take() -> Self {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Self::default();
        };
        let processes = entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| Some((pid, (program(pid)?, ticks(pid)?))));
        Self {
            processes: processes.collect(),
            steal: steal().unwrap_or(0),
        }
    }

    /// Seconds of CPU the hypervisor gave to other machines since `earlier`: a busy neighbour
    /// makes every number measured meanwhile slower.
    pub fn steal_since(&self, earlier: &CpuSnapshot) -> f64 {
        self.steal.saturating_sub(earlier.steal) as f64 / ticks_per_second()
    }

    /// CPU seconds spent since `earlier`, by program, largest first.
    pub fn seconds_since(&self, earlier: &CpuSnapshot) -> Vec<(String, f64)> {
        let per_second = ticks_per_second();
        let mut by_program = BTreeMap::<String, u64>::new();
        for (pid, (name, now)) in &self.processes {
            let before = match earlier.processes.get(pid) {
                Some((same, before)) if same == name => *before,
                _ => 0,
            };
            *by_program.entry(name.clone()).or_default() += now.saturating_sub(before);
        }
        let mut seconds: Vec<(String, f64)> = by_program
            .into_iter()
            .filter(|(_, ticks)| *ticks > 0)
            .map(|(name, ticks)| (name, ticks as f64 / per_second))
            .collect();
        seconds.sort_by(|a, b| b.1.total_cmp(&a.1));
        seconds
    }
}

/// The program's file name; a kube-apiserver is told apart by its cluster (its etcd prefix).
fn program(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|arg| String::from_utf8_lossy(arg).into_owned());
    let name = args.next()?.rsplit('/').next()?.to_owned();
    if name.is_empty() {
        return None; // a kernel thread
    }
    let cluster = args.find_map(|arg| {
        arg.strip_prefix("--etcd-prefix=/clusters/")
            .map(str::to_owned)
    });
    Some(match cluster {
        Some(cluster) => format!("{name} ({cluster})"),
        None => name,
    })
}

/// utime + stime: fields 14 and 15 of `/proc/<pid>/stat`, counted after the command's
/// parenthesised name (which may itself hold spaces).
fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The `steal` column of `/proc/stat`'s first line, in clock ticks.
fn steal() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines().next()?.split_whitespace().nth(8)?.parse().ok()
}

fn ticks_per_second() -> f64 {
    // SAFETY: sysconf reads a constant of the running system and has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_seen_spending_the_cpu_it_spends() {
        let before = CpuSnapshot::take();
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(300) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        let spent = CpuSnapshot::take().seconds_since(&before);
        let me = program(std::process::id()).expect("this process has a command line");
        let mine = spent
            .iter()
            .find(|(name, _)| *name == me)
            .map(|(_, seconds)| *seconds);
        assert!(
            mine.is_some_and(|s| s >= 0.2),
            "{me} spun 0.3 s, counted {mine:?} in {spent:?}"
        );
    }
}
