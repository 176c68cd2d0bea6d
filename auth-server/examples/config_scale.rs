//! Benchmark (not a test) of loading many tenants: `config_scale <server-binary> <tenants>
//! <plain|kubernetes>`, run by `auth-server/bench/config-scale.sh`.
//!
//! Writes a contract directory of N tenants (one ES256 key, a confidential and a public client,
//! [`USERS`] users with argon2id hashes — one hash, reused, since hashing is not what is
//! measured), starts the server binary on it and prints one row: seconds from spawn to
//! `/readyz` 200 and to the "configuration loaded" line counting every tenant, RSS and peak RSS
//! (VmHWM), then seconds from one tenant's file changing on disk to its discovery document
//! answering with a new `meridian-revision`, polled every 10 ms (median and maximum of
//! [`CHANGES`] changes), and the peak RSS after them.
//!
//! `plain` changes the file by writing a temporary name and renaming it over the old one;
//! `kubernetes` lays the directory out as the kubelet does (files in a timestamped directory,
//! `..data` pointing at it, one link per file) and changes it as the kubelet does: a new
//! directory with every file, then `..data` swapped to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use meridian_auth_server::clock::{Clock, SystemClock};
use meridian_auth_server::dev::hash_password;
use meridian_contract::{
    Algorithm, ClientConfig, ClientKind, ClientSecrets, GrantType, KeyRing, REGION_FILE,
    REVISION_HEADER, RegionConfig, Scope, SecretDigest, TenantConfig, TenantFile, TokenLifetimes,
    User, UserDirectory,
};
use meridian_keys::generate_key;

const USERS: usize = 3;
const POLL: Duration = Duration::from_millis(10);
const TIMEOUT: Duration = Duration::from_secs(120);
/// One tenant is changed this many times, at different points of the watcher's tick.
const CHANGES: usize = 7;

fn tenant_id(n: usize) -> String {
    format!("t{n:05}")
}

fn tenant(id: &str, base: &str) -> TenantConfig {
    let scope = |name: &str| Scope {
        name: name.into(),
        description: String::new(),
    };
    let client =
        |client_id: &str, kind, grant_types, redirect_uris, scopes: &[&str]| ClientConfig {
            client_id: client_id.into(),
            display_name: String::new(),
            kind,
            grant_types,
            redirect_uris,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            audience: None,
            resources: vec![],
            allowed_origins: None,
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            require_dpop_nonce: false,
            token_endpoint_auth_method: None,
            jwks: None,
            jwks_uri: None,
            token_exchange: None,
        };
    TenantConfig {
        fapi2: false,
        id: id.into(),
        display_name: id.into(),
        issuer: format!("{base}/t/{id}"),
        home_region: "bench".into(),
        scopes: vec![scope("openid"), scope("api")],
        clients: vec![
            client(
                "svc",
                ClientKind::Confidential,
                vec![GrantType::ClientCredentials],
                vec![],
                &["api"],
            ),
            client(
                "web",
                ClientKind::Public,
                vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                vec!["https://app.example/cb".into()],
                &["openid", "api"],
            ),
        ],
        tokens: TokenLifetimes {
            access_token_seconds: 300,
            id_token_seconds: 300,
            refresh_token_seconds: 3600,
        },
        claims: Default::default(),
    }
}

fn json(value: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(value).expect("contract values serialize")
}

/// Every file of the directory, by name.
fn contract_files(count: usize, base: &str) -> Vec<(String, Vec<u8>)> {
    let region = RegionConfig {
        name: "bench".into(),
        public_url: base.into(),
        jwks_max_age_seconds: 300,
    };
    let mut files = vec![(REGION_FILE.to_owned(), json(&region))];
    let digest = ring::digest::digest(&ring::digest::SHA256, b"bench-secret");
    let mut secrets = ClientSecrets::default();
    secrets.secrets.insert(
        "svc".into(),
        SecretDigest::from_sha256(digest.as_ref().try_into().expect("32 bytes")),
    );
    let secrets = json(&secrets);
    let hash = hash_password("bench-password");
    let now = SystemClock.now();
    for n in 0..count {
        let id = tenant_id(n);
        let users = UserDirectory {
            users: (0..USERS)
                .map(|u| User {
                    username: format!("user{u}"),
                    password_hash: hash.clone(),
                    claims: [("email".into(), format!("user{u}@{id}.example").into())].into(),
                    home_region: None,
                })
                .collect(),
        };
        let keys = KeyRing {
            keys: vec![generate_key(Algorithm::ES256, 1, now - 60)],
        };
        files.push((TenantFile::Config.file_name(&id), json(&tenant(&id, base))));
        files.push((TenantFile::Keys.file_name(&id), json(&keys)));
        files.push((TenantFile::Clients.file_name(&id), secrets.clone()));
        files.push((TenantFile::Users.file_name(&id), json(&users)));
    }
    files
}

/// Where the files are, and how a change reaches them.
enum Layout {
    Plain,
    /// The kubelet's atomic writer: `..data` → the current timestamped directory.
    Kubernetes {
        generation: usize,
    },
}

impl Layout {
    fn write(&mut self, dir: &Path, files: &[(String, Vec<u8>)]) {
        match self {
            Self::Plain => {
                for (name, bytes) in files {
                    std::fs::write(dir.join(name), bytes).expect("writing a file");
                }
            }
            Self::Kubernetes { generation } => {
                let data = dir.join(format!("..gen{generation}"));
                std::fs::create_dir(&data).expect("creating the data directory");
                for (name, bytes) in files {
                    std::fs::write(data.join(name), bytes).expect("writing a file");
                    std::os::unix::fs::symlink(format!("..data/{name}"), dir.join(name))
                        .expect("linking a file");
                }
                std::os::unix::fs::symlink(format!("..gen{generation}"), dir.join("..data"))
                    .expect("linking ..data");
            }
        }
    }

    /// Replaces one file's content as its layout would; returns when the change is visible.
    fn change(&mut self, dir: &Path, name: &str, bytes: &[u8]) -> Instant {
        match self {
            Self::Plain => {
                let temporary = dir.join(format!(".{name}.tmp"));
                std::fs::write(&temporary, bytes).expect("writing the new file");
                std::fs::rename(&temporary, dir.join(name)).expect("renaming it into place");
            }
            Self::Kubernetes { generation } => {
                let old = dir.join(format!("..gen{generation}"));
                *generation += 1;
                let new = dir.join(format!("..gen{generation}"));
                std::fs::create_dir(&new).expect("creating the next data directory");
                for entry in std::fs::read_dir(&old).expect("reading the data directory") {
                    let entry = entry.expect("a directory entry");
                    if entry.file_name() != name {
                        std::fs::hard_link(entry.path(), new.join(entry.file_name()))
                            .expect("linking an unchanged file");
                    }
                }
                std::fs::write(new.join(name), bytes).expect("writing the new file");
                let link = dir.join("..data_tmp");
                std::os::unix::fs::symlink(format!("..gen{generation}"), &link)
                    .expect("linking the next data directory");
                std::fs::rename(&link, dir.join("..data")).expect("swapping ..data");
            }
        }
        Instant::now()
    }
}

/// One HTTP/1.1 GET on a fresh connection: the status and the value of `header`, if any.
fn get(addr: SocketAddr, path: &str, header: &str) -> Option<(u16, Option<String>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let head = response.split("\r\n\r\n").next()?;
    let mut lines = head.lines();
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let value = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case(header)
            .then(|| value.trim().to_owned())
    });
    Some((status, value))
}

fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

/// `VmRSS` and `VmHWM` of a process, in MiB.
fn rss_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Each "configuration loaded" log line: when it was read, and its `tenants` and `built`.
fn loaded_lines(child: &mut Child) -> mpsc::Receiver<(Instant, u64, u64)> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let fields = &event["fields"];
            if fields["message"] == "configuration loaded" {
                let count = |name: &str| fields[name].as_u64().unwrap_or_default();
                let _ = send.send((Instant::now(), count("tenants"), count("built")));
            }
        }
    });
    receive
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, binary, count, layout] = args.as_slice() else {
        eprintln!("usage: config_scale <server-binary> <tenants> <plain|kubernetes>");
        std::process::exit(2);
    };
    let count: usize = count.parse().expect("a tenant count");
    let mut layout = match layout.as_str() {
        "plain" => Layout::Plain,
        "kubernetes" => Layout::Kubernetes { generation: 0 },
        other => panic!("unknown layout {other}"),
    };
    let (addr, admin) = (free_addr(), free_addr());
    let base = format!("http://{addr}");
    let work = tempfile::tempdir().expect("a temporary directory");
    let dir: PathBuf = work.path().join("config");
    std::fs::create_dir(&dir).expect("creating the config directory");
    let writing = Instant::now();
    let files = contract_files(count, &base);
    layout.write(&dir, &files);
    let written = writing.elapsed();

    let spawned = Instant::now();
    let mut child = Command::new(binary)
        .arg(format!("--config-dir={}", dir.display()))
        .arg(format!("--listen={addr}"))
        .arg(format!("--admin-listen={admin}"))
        .env("MERIDIAN_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the server");
    let loaded = loaded_lines(&mut child);
    let server = Server(child);
    let pid = server.0.id();
    poll("/readyz", || {
        (get(admin, "/readyz", "")?.0 == 200).then_some(())
    });
    let ready = spawned.elapsed();
    let (at, tenants, _) = loaded
        .recv_timeout(TIMEOUT)
        .expect("a configuration loaded");
    assert_eq!(tenants, count as u64, "every tenant loads");
    let all_loaded = at - spawned;
    let (rss, peak) = rss_mib(pid);

    // A tenant in the middle: the change is found by its revision, not by its place.
    let id = tenant_id(count / 2);
    let discovery = format!("/t/{id}/.well-known/openid-configuration");
    let revision = poll("discovery", || get(addr, &discovery, REVISION_HEADER)?.1);
    let mut config = tenant(&id, &base);
    let mut live = Vec::with_capacity(CHANGES);
    let mut revision = revision;
    for change in 0..CHANGES {
        // Changes land at different points of the watcher's one-second tick.
        std::thread::sleep(Duration::from_millis(137 * change as u64 % 1000));
        config.scopes.push(Scope {
            name: format!("added-{change}"),
            description: String::new(),
        });
        let changed = layout.change(&dir, &TenantFile::Config.file_name(&id), &json(&config));
        revision = poll("the new revision", || {
            let seen = get(addr, &discovery, REVISION_HEADER)?.1?;
            (seen != revision).then_some(seen)
        });
        live.push(changed.elapsed().as_secs_f64());
        let (_, _, built) = loaded.recv_timeout(TIMEOUT).expect("a reload");
        assert_eq!(built, 1, "only the changed tenant is rebuilt");
    }
    live.sort_by(f64::total_cmp);
    let (_, peak_after) = rss_mib(pid);
    drop(server);
    println!(
        "{count:>7} {layout:>10} {written:>8.2} {ready:>8.2} {all_loaded:>8.2} {rss:>8.1} {peak:>8.1} {median:>8.3} {max:>8.3} {peak_after:>8.1}",
        layout = args[3],
        written = written.as_secs_f64(),
        ready = ready.as_secs_f64(),
        all_loaded = all_loaded.as_secs_f64(),
        median = live[CHANGES / 2],
        max = live[CHANGES - 1],
    );
}
