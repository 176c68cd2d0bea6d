//! One auth-server replica ("pod"): the real binary as a process, serving its Deployment's
//! projected volume on its own loopback address with the container's environment, its output
//! in a log file. Killed (with its process group) on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Component;
use crate::process::{Process, ProcessSpec, log_tail};

use super::env::Environment;

const FIRST_BACK_OFF: Duration = Duration::from_millis(250);
const MAX_BACK_OFF: Duration = Duration::from_secs(10);
/// A rolled pod's `terminationGracePeriodSeconds` (shorter than Kubernetes' 30 s default:
/// the auth-server drains in well under a second).
const TERMINATION_GRACE: Duration = Duration::from_secs(10);
/// The auth-server's own settings: a container has only what its pod spec gives it, never
/// what the test process happens to carry.
const OWN_VARS_PREFIX: &str = "MERIDIAN_";

/// What a pod last died of, for error messages.
#[derive(Clone, Debug)]
pub struct PodExit {
    pub reason: String,
    pub log_tail: String,
}

/// What [`Pod::ensure_running`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    Running,
    Started,
    /// Died since the last look; starts again after its back-off.
    Exited,
    BackingOff,
    /// Draining after SIGTERM; starts again once it has exited (its port is free then).
    Terminating,
}

#[derive(Debug)]
pub struct Pod {
    /// `<deployment>-<ordinal>`.
    pub name: String,
    pub deployment: String,
    pub listen: SocketAddr,
    /// The Deployment's pod template this pod last started from: a change rolls it.
    pub template: String,
    pub log: PathBuf,
    pub starts: u32,
    pub exits: Vec<PodExit>,
    spec: ProcessSpec,
    process: Option<Process>,
    restart_at: Option<Instant>,
    /// A process draining after SIGTERM, and when it gets SIGKILL instead.
    terminating: Option<(Process, Instant)>,
}

impl Pod {
    pub fn new(
        region: &str,
        deployment: &str,
        ordinal: usize,
        listen: SocketAddr,
        binary: &Path,
        volume: &Path,
        dir: &Path,
    ) -> Self {
        let name = format!("{deployment}-{ordinal}");
        let log = dir.join(format!("{name}.log"));
        let spec = ProcessSpec {
            cluster: region.to_owned(),
            // process.rs names components from the control-plane enum; this module reports
            // its own failures (KubeletError::PodFailed) and never surfaces that name.
            component: Component::AuthServer,
            program: binary.to_owned(),
            args: vec![
                "--listen".into(),
                listen.to_string(),
                "--config-dir".into(),
                volume.display().to_string(),
                // Pods here share one network namespace: each gets an admin port of its own
                // rather than the rendered 9090.
                "--admin-listen".into(),
                "127.0.0.1:0".into(),
            ],
            log: log.clone(),
        };
        Self {
            name,
            deployment: deployment.to_owned(),
            listen,
            template: String::new(),
            log,
            starts: 0,
            exits: Vec::new(),
            spec,
            process: None,
            restart_at: None,
            terminating: None,
        }
    }

    /// Starts the process (from `template`, with `env`) unless it runs; records the exit of
    /// one that died, and starts it again after a back-off that doubles with every exit
    /// (kubelet's CrashLoopBackOff).
    pub fn ensure_running(
        &mut self,
        template: &str,
        env: &Environment,
    ) -> std::io::Result<Lifecycle> {
        if let Some((process, kill_at)) = &mut self.terminating {
            if !process.exited() && Instant::now() < *kill_at {
                return Ok(Lifecycle::Terminating);
            }
            // Exited, or past its grace period: dropping it kills and reaps it.
            self.terminating = None;
        }
        if self.restart_at.is_some_and(|at| Instant::now() < at) {
            return Ok(Lifecycle::BackingOff);
        }
        if let Some(process) = &mut self.process {
            return match process.check_running() {
                Ok(()) => Ok(Lifecycle::Running),
                Err(error) => {
                    let reason = match error {
                        crate::Error::ComponentFailed { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    self.exits.push(PodExit {
                        reason,
                        log_tail: self.log_tail(),
                    });
                    self.process = None;
                    let doublings = self.exits.len().min(5) as u32;
                    let back_off = (FIRST_BACK_OFF * 2u32.pow(doublings)).min(MAX_BACK_OFF);
                    self.restart_at = Some(Instant::now() + back_off);
                    Ok(Lifecycle::Exited)
                }
            };
        }
        let process = self
            .spec
            .spawn_with(|command| {
                let inherited: Vec<_> = std::env::vars_os()
                    .map(|(name, _)| name)
                    .filter(|name| name.to_string_lossy().starts_with(OWN_VARS_PREFIX))
                    .collect();
                for name in inherited {
                    command.env_remove(name);
                }
                command.envs(env.iter());
            })
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.process = Some(process);
        self.template = template.to_owned();
        self.starts += 1;
        Ok(Lifecycle::Started)
    }

    /// SIGKILL, as a crashed container; the kubelet starts it again on its next sync.
    pub fn kill(&mut self) {
        self.process = None;
    }

    /// SIGTERM, as kubelet stops a pod it replaces: requests in flight finish, then the pod
    /// starts again (from the current template) once the old process has exited.
    pub fn terminate(&mut self) {
        if let Some(process) = self.process.take() {
            process.signal(libc::SIGTERM);
            self.terminating = Some((process, Instant::now() + TERMINATION_GRACE));
        }
    }

    pub fn is_running(&self) -> bool {
        self.process.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::id)
    }

    /// The last lines of the log, without terminal colours or backtraces (with
    /// `RUST_BACKTRACE` set, one would push the error itself out of the tail).
    pub fn log_tail(&self) -> String {
        readable_tail(&std::fs::read_to_string(&self.log).unwrap_or_else(|_| log_tail(&self.log)))
    }
}

const TAIL_LINES: usize = 30;

fn readable_tail(log: &str) -> String {
    let plain = without_ansi_escapes(log);
    let mut in_backtrace = false;
    let lines: Vec<&str> = plain
        .lines()
        .filter(|line| {
            if line.trim() == "Stack backtrace:" {
                in_backtrace = true;
            } else if in_backtrace && !line.is_empty() && !line.starts_with(' ') {
                in_backtrace = false;
            }
            !in_backtrace
        })
        .collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// Removes `ESC [ ... <letter>` sequences (SGR colours) from log text.
fn without_ansi_escapes(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    #[test]
    fn log_tails_lose_their_colours() {
        let line = "\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m listening";
        assert_eq!(super::without_ansi_escapes(line), "2026  INFO listening");
    }

    #[test]
    fn log_tails_keep_the_error_and_drop_its_backtrace() {
        let log = "Error: starting the server\n\nCaused by:\n    Address already in use\n\nStack backtrace:\n   0: main\n             at ./main.rs:1\n2026 INFO restarted";
        assert_eq!(
            super::readable_tail(log),
            "Error: starting the server\n\nCaused by:\n    Address already in use\n\n2026 INFO restarted"
        );
    }
}
