//! Renders the issuer's front door (an HAProxy config) from the hub's Tenants and AuthRegions,
//! exactly as the demo and the tests run it: what a platform team's pipeline runs when Tenants
//! or AuthRegions change, before `haproxy -c` and `systemctl reload haproxy`.
//!
//! ```text
//! KUBECONFIG=hub.yaml meridian-frontdoor --bind :443 --order eu-west,us-east \
//!     [--tls-certificate /etc/haproxy/certs/auth.example.com.pem] > haproxy.cfg
//! ```
//!
//! The hub is reached as kubectl would (KUBECONFIG, else in-cluster) and only read: `list` on
//! Tenants and AuthRegions. Tenants placed in no region are left out, with a warning on stderr.

use anyhow::Context;
use meridian_e2e::frontdoor::front_door_from_hub;

const USAGE: &str = "usage: meridian-frontdoor --bind <address> --order <region,...> \
                     [--tls-certificate <pem>]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut bind = None;
    let mut order = String::new();
    let mut tls_certificate = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--bind" => bind = Some(value()?),
            "--order" => order = value()?,
            "--tls-certificate" => tls_certificate = Some(value()?),
            _ => anyhow::bail!("unknown argument {flag}\n{USAGE}"),
        }
    }
    let bind = bind.context(USAGE)?;
    let order: Vec<&str> = order.split(',').filter(|r| !r.is_empty()).collect();
    // Warnings (a tenant placed in no region) go to stderr; the config alone to stdout.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let hub = kube::Client::try_default()
        .await
        .context("reaching the hub (KUBECONFIG or in-cluster)")?;
    let mut door = front_door_from_hub(&hub, &bind, &order).await?;
    door.tls_certificate = tls_certificate;
    print!("{}", door.render().context("rendering the front door")?);
    Ok(())
}
