//! `meridian-auth-server`: parses flags, sets up logging, starts the server. Wiring only: no
//! OAuth logic may live here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use meridian_auth_server::client_address::TrustedProxies;
use meridian_auth_server::dev::{DevConfig, write_dev_config};
use meridian_auth_server::password::{DEFAULT_MEMORY_LIMIT, cgroup_memory_limit, parse_bytes};
use meridian_auth_server::server::{ServerOptions, start};
use meridian_auth_server::store::StoreChoice;

const USAGE: &str =
    "usage: meridian-auth-server [--config-dir DIR] [--listen ADDR] [--store STORE] [--dev]

  --config-dir DIR  directory of contract files (env MERIDIAN_CONFIG_DIR, default /etc/meridian)
  --listen ADDR     address to serve on (env MERIDIAN_LISTEN, default 0.0.0.0:8443;
                    127.0.0.1:8443 with --dev)
  --admin-listen ADDR  where /metrics (and the probes again) are served (env
                    MERIDIAN_ADMIN_LISTEN, default 0.0.0.0:9090; 127.0.0.1:9090 with --dev)
  --store STORE     where codes, refresh tokens and sessions live: `memory` (default; one
                    replica) or a PostgreSQL URI postgres://USER:PASSWORD@HOST:PORT/DB shared
                    by every replica (env MERIDIAN_STORE; prefer the variable: arguments are
                    visible to every user of the machine)
  --login-memory BYTES  memory limit the password checks are sized from (env
                    MERIDIAN_LOGIN_MEMORY, e.g. 128Mi; default the cgroup's memory.max or
                    memory.limit_in_bytes, else 128Mi): 48Mi is kept for the rest, each argon2
                    check holds its m (19Mi by default), beyond that a login answers 503
  --trusted-proxies CIDRS  comma-separated addresses/CIDR blocks of proxies whose
                    Forwarded / X-Forwarded-For header names the client for the login
                    throttle (env MERIDIAN_TRUSTED_PROXIES; default none: the TCP peer)
  --drain-seconds N  on SIGTERM, keep answering for N seconds with `Connection: close` (and
                    /readyz failing) before stopping, so clients on keep-alive connections
                    move to another replica without losing a request (env
                    MERIDIAN_DRAIN_SECONDS, default 5; 0 stops at once); Ctrl-C stops at once
  --dev             serve a demo tenant: written into --config-dir (default a temporary
                    directory) on first start, reused on later ones

Logs: RUST_LOG filters (default info); MERIDIAN_LOG_FORMAT=json for JSON lines.";

struct Args {
    config_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    store: StoreChoice,
    login_memory: Option<u64>,
    trusted_proxies: TrustedProxies,
    drain_period: Option<Duration>,
    dev: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        config_dir: std::env::var_os("MERIDIAN_CONFIG_DIR").map(PathBuf::from),
        listen: std::env::var("MERIDIAN_LISTEN")
            .ok()
            .map(|v| v.parse())
            .transpose()?,
        admin_listen: std::env::var("MERIDIAN_ADMIN_LISTEN")
            .ok()
            .map(|v| v.parse())
            .transpose()?,
        store: match std::env::var("MERIDIAN_STORE") {
            Ok(value) if !value.is_empty() => value.parse().context("MERIDIAN_STORE")?,
            _ => StoreChoice::Memory,
        },
        login_memory: std::env::var("MERIDIAN_LOGIN_MEMORY")
            .ok()
            .map(|v| bytes(&v).context("MERIDIAN_LOGIN_MEMORY"))
            .transpose()?,
        trusted_proxies: std::env::var("MERIDIAN_TRUSTED_PROXIES")
            .unwrap_or_default()
            .parse()
            .context("MERIDIAN_TRUSTED_PROXIES")?,
        drain_period: std::env::var("MERIDIAN_DRAIN_SECONDS")
            .ok()
            .map(|v| seconds(&v).context("MERIDIAN_DRAIN_SECONDS"))
            .transpose()?,
        dev: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        // Both `--flag value` and `--flag=value`, as Kubernetes manifests usually write it.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| argv.next())
                .with_context(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--config-dir" => args.config_dir = Some(value("--config-dir")?.into()),
            "--listen" => args.listen = Some(value("--listen")?.parse()?),
            "--admin-listen" => args.admin_listen = Some(value("--admin-listen")?.parse()?),
            "--store" => args.store = value("--store")?.parse().context("--store")?,
            "--login-memory" => {
                args.login_memory =
                    Some(bytes(&value("--login-memory")?).context("--login-memory")?)
            }
            "--trusted-proxies" => {
                args.trusted_proxies = value("--trusted-proxies")?
                    .parse()
                    .context("--trusted-proxies")?
            }
            "--drain-seconds" => {
                args.drain_period =
                    Some(seconds(&value("--drain-seconds")?).context("--drain-seconds")?)
            }
            "--dev" => args.dev = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(args)
}

fn bytes(text: &str) -> anyhow::Result<u64> {
    parse_bytes(text).with_context(|| format!("{text:?} is not a size like 128Mi"))
}

fn seconds(text: &str) -> anyhow::Result<Duration> {
    let seconds: u64 = text
        .parse()
        .with_context(|| format!("{text:?} is not a whole number of seconds"))?;
    Ok(Duration::from_secs(seconds))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never into a log file or a collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if std::env::var("MERIDIAN_LOG_FORMAT").is_ok_and(|format| format == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    init_logging();
    let listen = match (args.listen, args.dev) {
        (Some(listen), _) => listen,
        (None, true) => SocketAddr::from(([127, 0, 0, 1], 8443)),
        (None, false) => SocketAddr::from(([0, 0, 0, 0], 8443)),
    };
    let config_dir = if args.dev {
        let dir = args
            .config_dir
            .unwrap_or_else(|| std::env::temp_dir().join("meridian-dev"));
        match write_dev_config(&dir, listen).context("writing the demo configuration")? {
            DevConfig::Written(setup) => println!("{}", setup.instructions()),
            DevConfig::Reused => println!(
                "Meridian auth-server (dev mode): reusing the demo tenant in {} \
                 (its secrets were printed when it was written)",
                dir.display()
            ),
        }
        dir
    } else {
        args.config_dir
            .unwrap_or_else(|| PathBuf::from("/etc/meridian"))
    };
    let mut options = ServerOptions::new(config_dir, listen);
    options.store = args.store;
    options.memory_limit = args
        .login_memory
        .or_else(cgroup_memory_limit)
        .unwrap_or(DEFAULT_MEMORY_LIMIT);
    options.trusted_proxies = args.trusted_proxies;
    if let Some(period) = args.drain_period {
        options.drain_period = period;
    }
    options.admin_listen = Some(args.admin_listen.unwrap_or_else(|| {
        let host = if args.dev {
            [127, 0, 0, 1]
        } else {
            [0, 0, 0, 0]
        };
        SocketAddr::from((host, 9090))
    }));
    let server = start(options).await.context("starting the server")?;
    server.run_until_signal().await.context("serving")
}
