//! One auth-server "pod": the real binary as a process, serving its projected volume on a
//! loopback address, its output in a log file. Killed (with its process group) on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Component;
use crate::process::{Process, ProcessSpec, log_tail};

use super::volume::ProjectedDir;

const FIRST_BACK_OFF: Duration = Duration::from_millis(250);
const MAX_BACK_OFF: Duration = Duration::from_secs(10);

/// What a pod last died of, for error messages.
#[derive(Clone, Debug)]
pub struct PodExit {
    pub reason: String,
    pub log_tail: String,
}

#[derive(Debug)]
pub struct Pod {
    pub deployment: String,
    pub listen: SocketAddr,
    pub volume: ProjectedDir,
    /// The Deployment's pod template as last started: a change rolls the pod.
    pub template: String,
    pub log: PathBuf,
    pub starts: u32,
    pub exits: Vec<PodExit>,
    spec: ProcessSpec,
    process: Option<Process>,
    restart_at: Option<Instant>,
}

impl Pod {
    pub fn new(
        region: &str,
        deployment: &str,
        listen: SocketAddr,
        binary: &Path,
        dir: &Path,
    ) -> std::io::Result<Self> {
        let volume = ProjectedDir::create(dir.join(deployment).join("volume"))?;
        let log = dir.join(format!("{deployment}.log"));
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
                volume.path().display().to_string(),
            ],
            log: log.clone(),
        };
        Ok(Self {
            deployment: deployment.to_owned(),
            listen,
            volume,
            template: String::new(),
            log,
            starts: 0,
            exits: Vec::new(),
            spec,
            process: None,
            restart_at: None,
        })
    }

    /// Starts the process unless it runs; records the exit of one that died, and starts it
    /// again after a back-off that doubles with every exit (kubelet's CrashLoopBackOff).
    pub fn ensure_running(&mut self) -> std::io::Result<bool> {
        if self.restart_at.is_some_and(|at| Instant::now() < at) {
            return Ok(false);
        }
        if let Some(process) = &mut self.process {
            match process.check_running() {
                Ok(()) => return Ok(false),
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
                    return Ok(false);
                }
            }
        }
        let process = self
            .spec
            .spawn()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        self.process = Some(process);
        self.starts += 1;
        Ok(true)
    }

    /// SIGKILL, as a crashed container; the kubelet starts it again on its next sync.
    pub fn kill(&mut self) {
        self.process = None;
    }

    pub fn is_running(&self) -> bool {
        self.process.is_some()
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
