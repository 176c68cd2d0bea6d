//! PostgreSQL's own programs: the server and `initdb` from Debian's versioned directory (the
//! newest `/usr/lib/postgresql/<version>/bin`, which is not on PATH) or else PATH, `psql` and
//! `pg_isready` beside them, and the system user they run as when the tests run as root.
//!
//! Must never put a password on a command line, where `ps` shows it to every local user:
//! `psql` gets it in `PGPASSWORD`.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::Url;

use crate::error::{Error, Result};
use crate::process::log_tail;

const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// Debian's postgresql package creates this user; the server refuses to run as root.
const SERVER_USER: &str = "postgres";
/// A statement of the harness (CREATE or DROP DATABASE) takes milliseconds; this is for a
/// server that stopped answering.
const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// The programs of one PostgreSQL version.
#[derive(Clone, Debug)]
pub(super) struct ServerTools {
    pub postgres: PathBuf,
    pub initdb: PathBuf,
    pub pg_isready: PathBuf,
    pub psql: PathBuf,
}

impl ServerTools {
    /// The newest installed server, with the `initdb` of the same version.
    pub fn locate() -> Result<ServerTools> {
        let missing = || {
            Error::Binaries(format!(
                "no PostgreSQL server (postgres and initdb) in {DEBIAN_ROOT}/<version>/bin or on \
                 PATH: install Debian's postgresql package (e2e/test.sh does) or set {}",
                super::URL_ENV
            ))
        };
        let postgres = find_tool("postgres").ok_or_else(missing)?;
        // PATH may hold a symlink; the real directory holds the matching initdb.
        let postgres = std::fs::canonicalize(&postgres).unwrap_or(postgres);
        let dir = postgres.parent().ok_or_else(missing)?.to_owned();
        let initdb = dir.join("initdb");
        if !is_executable(&initdb) {
            return Err(missing());
        }
        let beside = |name: &str| {
            let path = dir.join(name);
            if is_executable(&path) {
                Ok(path)
            } else {
                find_tool(name).ok_or_else(|| {
                    Error::Binaries(format!("no {name} beside {} or on PATH", dir.display()))
                })
            }
        };
        Ok(ServerTools {
            pg_isready: beside("pg_isready")?,
            psql: beside("psql")?,
            postgres,
            initdb,
        })
    }

    /// A new cluster in `<dir>/data` whose superuser is `role`, trusted on loopback.
    pub async fn initdb(&self, dir: &Path, role: &str, owner: Option<SystemUser>) -> Result<()> {
        let log_path = dir.join("initdb.log");
        let log = std::fs::File::create(&log_path)
            .map_err(Error::io(format!("create {}", log_path.display())))?;
        let stderr = log
            .try_clone()
            .map_err(Error::io(format!("open {}", log_path.display())))?;
        let mut command = tokio::process::Command::new(&self.initdb);
        command
            .arg("-D")
            .arg(super::data_dir(dir))
            .arg(format!("--username={role}"))
            .args(["--auth=trust", "--encoding=UTF8"])
            // The C locale: no dependence on which locales this machine generated.
            .arg("--no-locale")
            // initdb's own final sync only; the server keeps fsync on. The files are thrown
            // away with the test, and syncing them costs seconds on a busy disk.
            .arg("--no-sync")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .kill_on_drop(true);
        if let Some(user) = owner {
            command.uid(user.uid).gid(user.gid);
        }
        let status = command
            .status()
            .await
            .map_err(Error::io(format!("run {}", self.initdb.display())))?;
        if status.success() {
            return Ok(());
        }
        Err(Error::Postgres {
            action: "initialise a cluster".into(),
            reason: format!(
                "initdb exited with {status}\n--- last lines of {} ---\n{}",
                log_path.display(),
                log_tail(&log_path)
            ),
        })
    }

    /// Whether the server on `port` accepts connections (not merely the TCP handshake: a
    /// server still recovering refuses sessions).
    pub async fn accepting(&self, port: u16, role: &str) -> bool {
        let status = tokio::process::Command::new(&self.pg_isready)
            .args(["-q", "-h", "127.0.0.1", "-d", "postgres", "-t", "2"])
            .args(["-p", &port.to_string(), "-U", role])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status()
            .await;
        status.is_ok_and(|s| s.success())
    }
}

/// `psql`, for an external server whose own programs are elsewhere.
pub(super) fn psql_tool() -> Result<PathBuf> {
    find_tool("psql").ok_or_else(|| {
        Error::Binaries(format!(
            "no psql in {DEBIAN_ROOT}/<version>/bin or on PATH: install Debian's postgresql-client"
        ))
    })
}

/// The user a server runs as: `None` (this process's own user) unless this process is root.
#[derive(Clone, Copy, Debug)]
pub(super) struct SystemUser {
    pub uid: u32,
    pub gid: u32,
}

impl SystemUser {
    pub fn server_owner() -> Result<Option<SystemUser>> {
        // SAFETY: geteuid(2) cannot fail and touches no memory.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        lookup_user(SERVER_USER).map(Some).ok_or_else(|| {
            Error::Binaries(format!(
                "running as root, which PostgreSQL refuses, and there is no {SERVER_USER:?} user \
                 to run it as (Debian's postgresql package creates one)"
            ))
        })
    }
}

fn lookup_user(name: &str) -> Option<SystemUser> {
    let name = CString::new(name).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain old data; getpwnam_r fills it, pointing only into `buffer`,
    // which outlives every read below.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let status = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    (status == 0 && !found.is_null()).then_some(SystemUser {
        uid: entry.pw_uid,
        gid: entry.pw_gid,
    })
}

/// A password, kept out of `Debug` output and command lines.
#[derive(Clone)]
pub(super) struct Password {
    /// As it appears in a URI (percent-encoded).
    encoded: String,
}

impl Password {
    pub fn from_uri_part(encoded: &str) -> Password {
        Password {
            encoded: encoded.to_owned(),
        }
    }

    pub fn uri_part(&self) -> &str {
        &self.encoded
    }

    fn decoded(&self) -> String {
        percent_decode(&self.encoded)
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Runs one SQL string with psql against `uri` and returns its output (unaligned, no headers).
/// `Err` is psql's own message.
pub(super) async fn run_psql(
    psql: &Path,
    uri: &str,
    password: Option<&Password>,
    sql: &str,
) -> Result<String, String> {
    let mut command = tokio::process::Command::from(psql_command(psql, uri, password, sql)?);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(CLI_TIMEOUT, command.output())
        .await
        .map_err(|_| format!("psql did not answer within {CLI_TIMEOUT:?}"))?
        .map_err(|e| format!("could not run {}: {e}", psql.display()))?;
    psql_outcome(output)
}

/// As [`run_psql`], blocking the thread: for `Drop`.
pub(super) fn run_psql_blocking(
    psql: &Path,
    uri: &str,
    password: Option<&Password>,
    sql: &str,
) -> Result<String, String> {
    let output = psql_command(psql, uri, password, sql)?
        .output()
        .map_err(|e| format!("could not run {}: {e}", psql.display()))?;
    psql_outcome(output)
}

fn psql_command(
    psql: &Path,
    uri: &str,
    password: Option<&Password>,
    sql: &str,
) -> Result<std::process::Command, String> {
    let mut url = Url::parse(uri).map_err(|e| format!("not a URI: {e}"))?;
    // A password inside the URI moves to the environment too.
    let password = url
        .password()
        .map(Password::from_uri_part)
        .or_else(|| password.cloned());
    let _ = url.set_password(None);
    let mut command = std::process::Command::new(psql);
    command
        // No ~/.psqlrc, quiet, unaligned tuples only, stop at the first error.
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .arg("-d")
        .arg(url.as_str())
        .arg("-c")
        .arg(sql)
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null());
    if let Some(password) = password {
        command.env("PGPASSWORD", password.decoded());
    }
    Ok(command)
}

fn psql_outcome(output: std::process::Output) -> Result<String, String> {
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    Err(if stderr.is_empty() {
        format!("psql exited with {}", output.status)
    } else {
        stderr
    })
}

/// `bin` directories of Debian's installed versions, newest first, then PATH.
fn find_tool(name: &str) -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(DEBIAN_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    versions
        .into_iter()
        .map(|(_, dir)| dir)
        .chain(on_path)
        .map(|dir| dir.join(name))
        .find(|path| is_executable(path))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn percent_decode(encoded: &str) -> String {
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_percent_decoded_for_the_environment() {
        assert_eq!(percent_decode("s%40cret%2Fx%zz"), "s@cret/x%zz");
    }

    #[test]
    fn a_password_in_a_uri_never_reaches_the_command_line() {
        let command = psql_command(
            Path::new("psql"),
            "postgres://tester:s%40cret@db.internal:6543/x",
            None,
            "SELECT 1",
        )
        .unwrap();
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.iter().all(|a| !a.contains("cret")), "{args:?}");
        assert!(args.contains(&"postgres://tester@db.internal:6543/x".to_owned()));
        let password = command
            .get_envs()
            .find(|(k, _)| *k == "PGPASSWORD")
            .and_then(|(_, v)| v);
        assert_eq!(password, Some(std::ffi::OsStr::new("s@cret")));
    }
}
