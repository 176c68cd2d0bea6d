//! Debian's HAProxy run from a config rendered by `meridian-routing`: the issuer's front door
//! and the API gateway of the end-to-end tests and the demo.
//!
//! HAProxy runs in master-worker mode (`-W`) in the foreground, so a new config is loaded by
//! SIGUSR2 to the master: new workers take over the listening sockets the master keeps, and
//! the old ones finish the requests they hold. It must never bind a port it was not given,
//! and like every child of the harness it dies with its owner.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Component, Error, Result};
use crate::process::{Process, ProcessSpec, log_tail};
use crate::wait::eventually;

/// What HAProxy's master logs once a worker has loaded a config (the first or a reload's).
const LOADED: &str = "Loading success.";
/// How long a new worker may take to load a config.
const LOAD_WITHIN: Duration = Duration::from_secs(10);

/// One HAProxy, its config file and log in `dir`.
pub struct HaProxy {
    name: String,
    config: PathBuf,
    process: Process,
    reloads: u32,
}

impl HaProxy {
    /// Writes `config` as `<dir>/<name>.cfg`, checks it with `haproxy -c` (a refusal carries
    /// HAProxy's own message), starts HAProxy on it and waits until `listen` accepts.
    pub async fn start(name: &str, dir: &Path, config: &str, listen: &str) -> Result<Self> {
        let path = dir.join(format!("{name}.cfg"));
        write_checked(&path, config)?;
        let spec = ProcessSpec {
            cluster: name.to_owned(),
            component: Component::HaProxy,
            program: binary(),
            args: vec!["-W".into(), "-f".into(), path.display().to_string()],
            log: dir.join(format!("{name}.log")),
        };
        let mut process = spec.spawn()?;
        let listen = listen.to_owned();
        eventually(
            &format!("{name} (haproxy) listening on {listen}"),
            Duration::from_secs(10),
            async || {
                process.check_running()?;
                Ok(tokio::net::TcpStream::connect(&listen).await.ok().map(drop))
            },
        )
        .await?;
        Ok(Self {
            name: name.to_owned(),
            config: path,
            process,
            reloads: 0,
        })
    }

    /// Loads a new config without dropping a connection: checked first, so a bad one leaves
    /// the running config serving and says why. Returns once the new worker has loaded it (the
    /// master's `Loading success.`): until then new connections still meet the old config, and
    /// a caller that took the new config as live (the gateway counting a new kid as known)
    /// would be wrong for as long as the load takes. Blocks meanwhile, for milliseconds.
    pub fn reload(&mut self, config: &str) -> Result<()> {
        write_checked(&self.config, config)?;
        self.process.check_running()?;
        self.process.signal(libc::SIGUSR2);
        self.reloads += 1;
        self.wait_loaded()
    }

    /// Waits until the master has said `Loading success.` once for the first load and once per
    /// reload since.
    fn wait_loaded(&mut self) -> Result<()> {
        let wanted = self.reloads as usize + 1;
        let deadline = Instant::now() + LOAD_WITHIN;
        loop {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            if log.matches(LOADED).count() >= wanted {
                return Ok(());
            }
            self.process.check_running()?;
            if Instant::now() > deadline {
                return Err(Error::ComponentFailed {
                    cluster: self.name.clone(),
                    component: Component::HaProxy,
                    reason: format!("no new worker loaded the config within {LOAD_WITHIN:?}"),
                    log: self.log_path().to_path_buf(),
                    log_tail: log_tail(self.log_path()),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// How many times a new config was loaded.
    pub fn reloads(&self) -> u32 {
        self.reloads
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn log_path(&self) -> &Path {
        &self.process.spec().log
    }

    /// The last lines HAProxy logged (health-check transitions are logged at notice level).
    pub fn log_tail(&self) -> String {
        log_tail(self.log_path())
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// HAProxy as e2e/frontdoor/install.sh installs it.
fn binary() -> PathBuf {
    let debian = Path::new("/usr/sbin/haproxy");
    if debian.exists() {
        debian.to_path_buf()
    } else {
        PathBuf::from("haproxy")
    }
}

fn write_checked(path: &Path, config: &str) -> Result<()> {
    let candidate = path.with_extension("cfg.new");
    std::fs::write(&candidate, config)
        .map_err(Error::io(format!("write {}", candidate.display())))?;
    let output = std::process::Command::new(binary())
        // Not `-q`: it silences the alerts that say why a config is refused.
        .args(["-c", "-f"])
        .arg(&candidate)
        .output()
        .map_err(Error::io(
            "run haproxy -c (install it with e2e/frontdoor/install.sh)",
        ))?;
    if !output.status.success() {
        return Err(Error::ComponentFailed {
            cluster: path.display().to_string(),
            component: Component::HaProxy,
            reason: "haproxy -c refused the rendered config".into(),
            log: candidate,
            log_tail: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    std::fs::rename(&candidate, path).map_err(Error::io(format!("replace {}", path.display())))
}
