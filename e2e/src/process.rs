//! Child processes of the control plane: each runs in its own process group with stdout and
//! stderr appended to one log file, and is killed with its whole group when dropped.
//!
//! Must never leave a process behind. Three layers make sure of it: `Drop` (also during a
//! panicking test's unwind), `stop` for a deliberate graceful stop, and on Linux a parent-death
//! signal so that even a test binary killed with SIGKILL or Ctrl-C takes its children along.

use std::{
    fs::OpenOptions,
    io::{self, Read, Seek, SeekFrom},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{OnceLock, mpsc},
    time::Duration,
};

use crate::{
    error::{Component, Error, Result},
    wait::eventually,
};

const LOG_TAIL_LINES: usize = 40;
const LOG_TAIL_BYTES: u64 = 64 * 1024;

/// How to start one component: enough to start it again after a stop.
#[derive(Clone, Debug)]
pub(crate) struct ProcessSpec {
    pub cluster: String,
    pub component: Component,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub log: PathBuf,
}

/// A running component. Dropping it kills its process group and reaps it.
#[derive(Debug)]
pub(crate) struct Process {
    spec: ProcessSpec,
    child: Child,
    reaped: bool,
}

impl ProcessSpec {
    pub fn spawn(&self) -> Result<Process> {
        self.spawn_with(|_| {})
    }

    /// As [`ProcessSpec::spawn`], with `configure` adjusting the command first (the user it
    /// runs as, its working directory). A uid or gid set here still gets the parent-death
    /// signal: std switches credentials before it runs pre-exec hooks, and the hook that arms
    /// the signal comes after, so the kernel's clearing of it on a credential change is moot.
    pub fn spawn_with(&self, configure: impl FnOnce(&mut Command)) -> Result<Process> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(Error::io(format!("open {}", self.log.display())))?;
        let stderr = log
            .try_clone()
            .map_err(Error::io(format!("open {}", self.log.display())))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .process_group(0);
        configure(&mut command);
        die_with_parent(&mut command);
        let child = spawn_on_long_lived_thread(command)
            .map_err(|e| self.failure(format!("could not run {}: {e}", self.program.display())))?;
        Ok(Process {
            spec: self.clone(),
            child,
            reaped: false,
        })
    }

    /// A start failure of this component, with the tail of its log.
    pub fn failure(&self, reason: impl Into<String>) -> Error {
        Error::ComponentFailed {
            cluster: self.cluster.clone(),
            component: self.component,
            reason: reason.into(),
            log: self.log.clone(),
            log_tail: log_tail(&self.log),
        }
    }
}

impl Process {
    /// `Err` with the log tail if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.reaped = true;
                Err(self.spec.failure(format!("exited with {status}")))
            }
            Err(e) => Err(self.spec.failure(format!("could not be waited on: {e}"))),
        }
    }

    pub fn spec(&self) -> &ProcessSpec {
        &self.spec
    }

    /// SIGTERM to the group, then SIGKILL if it has not exited within `grace`.
    pub async fn stop(self, grace: Duration) -> Result<()> {
        self.stop_with(libc::SIGTERM, grace).await
    }

    /// `signal` to the group (for servers whose graceful stop is not SIGTERM), then SIGKILL
    /// if it has not exited within `grace`.
    pub async fn stop_with(mut self, signal: libc::c_int, grace: Duration) -> Result<()> {
        self.signal(signal);
        let what = format!("{} of {} to exit", self.spec.component, self.spec.cluster);
        let exited = eventually(&what, grace, async || Ok(self.try_wait())).await;
        if exited.is_err() {
            self.kill_and_reap();
        }
        self.reaped = true;
        Ok(())
    }

    /// As [`Process::stop_with`], blocking the thread: for `Drop`, which cannot await.
    pub fn stop_blocking(mut self, signal: libc::c_int, grace: Duration) {
        self.signal(signal);
        let deadline = std::time::Instant::now() + grace;
        while self.try_wait().is_none() {
            if std::time::Instant::now() >= deadline {
                self.kill_and_reap();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.reaped = true;
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// `signal` to the process group; nothing once reaped (its id may belong to another).
    pub fn signal(&self, signal: libc::c_int) {
        if self.reaped {
            return;
        }
        // The child leads its own group (process_group(0)), so -pid addresses the group and
        // reaches anything it forked too.
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(group, signal) };
    }

    fn kill_and_reap(&mut self) {
        // The leader is unreaped until wait() below, so its id cannot have been reused and
        // the signal reaches only our group.
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
        self.reaped = true;
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_and_reap();
        }
    }
}

/// The last lines of a log file, or a note saying why there are none.
pub(crate) fn log_tail(path: &Path) -> String {
    let read = || -> io::Result<String> {
        let mut file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(e) => format!("(no log: {e})"),
    }
}

/// Linux delivers the parent-death signal when the *thread* that forked the child ends, not
/// the process. Test runtimes end threads freely (tokio's blocking pool, one thread per test),
/// so every spawn goes through one thread that lives as long as the test binary.
fn spawn_on_long_lived_thread(command: Command) -> io::Result<Child> {
    type Request = (Command, mpsc::Sender<io::Result<Child>>);
    static SPAWNER: OnceLock<mpsc::Sender<Request>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, incoming) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("e2e-process-spawner".into())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("the process spawner thread starts");
        requests
    });
    let (reply, response) = mpsc::channel();
    spawner
        .send((command, reply))
        .map_err(|_| io::Error::other("process spawner thread is gone"))?;
    response
        .recv()
        .map_err(|_| io::Error::other("process spawner thread is gone"))?
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec only async-signal-safe calls are made (prctl, getppid).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::other("test process exited during spawn"));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stand-in component: a shell script.
    pub(crate) fn shell(script: &str, dir: &Path) -> ProcessSpec {
        ProcessSpec {
            cluster: "hub".into(),
            component: Component::KubeApiserver,
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            log: dir.join("component.log"),
        }
    }

    /// Alive and not a zombie (a zombie is dead; only its parent has yet to reap it).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
    }

    #[tokio::test]
    async fn dropping_a_process_kills_its_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let spec = shell("sleep 300 & echo $!; wait", dir.path());
        let process = spec.spawn().unwrap();
        let leader = process.child.id();
        let forked: u32 = eventually("the forked pid", Duration::from_secs(10), async || {
            Ok(std::fs::read_to_string(&spec.log)
                .ok()
                .and_then(|log| log.trim().parse().ok()))
        })
        .await
        .unwrap();
        assert!(alive(leader) && alive(forked));
        drop(process);
        assert!(!alive(leader));
        eventually(
            "the forked process to die",
            Duration::from_secs(10),
            async || Ok((!alive(forked)).then_some(())),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn stop_ends_a_process_that_ignores_sigterm() {
        let dir = tempfile::tempdir().unwrap();
        let process = shell("trap '' TERM; sleep 300 & wait", dir.path())
            .spawn()
            .unwrap();
        let leader = process.child.id();
        process.stop(Duration::from_millis(300)).await.unwrap();
        assert!(!alive(leader));
    }

    #[test]
    fn the_log_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("component.log");
        let lines: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        std::fs::write(&log, lines.join("\n")).unwrap();
        let tail = log_tail(&log);
        assert!(
            tail.starts_with("line 60\n") && tail.ends_with("line 99"),
            "{tail}"
        );
    }
}
