//! `meridian-demo`: Meridian across a hub and two regions on this machine, each region with two
//! auth-server replicas on a PostgreSQL database of its own, until Ctrl-C.
//! Run through `e2e/demo.sh`, which builds what it needs first. Wiring and printing only: the
//! setup lives in `meridian_e2e::local`, the clients in `meridian_e2e::tokens`.

use std::time::Instant;

use anyhow::Context;
use meridian_e2e::example_api::ExampleApi;
use meridian_e2e::frontdoor::served_by;
use meridian_e2e::gateway::{ApiGateway, GatewayPlan, TenantSource};
use meridian_e2e::local::{LocalMeridian, LocalOptions, Steps};

/// The confidential client of examples/ and the Secret holding its secret.
const CLIENT: &str = "backend";
const CLIENT_SECRET: (&str, &str) = ("acme-backend-client", "clientSecret");
const AUDIENCE: &str = "https://api.acme.example";
const SCOPES: &[&str] = &["orders:read", "orders:write"];
/// Where the API gateway listens, beside the issuer's 18440 and the regions' 18441/18442.
const GATEWAY: &str = "127.0.0.1:18450";

/// The example API: an instance per region behind the gateway, served until the demo stops.
struct DemoApi {
    gateway: ApiGateway,
    _instances: Vec<ExampleApi>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // kube's client logs every refused connection as an ERROR; the operator reports the
        // same failures with their meaning, and they are expected while the demo stops.
        .unwrap_or_else(|_| "error,kube_client=off".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let started = Instant::now();
    let steps = Steps::stdout();
    println!("Meridian demo: a hub and the regions eu-west and us-east on this machine\n");
    let meridian = match LocalMeridian::start(LocalOptions::demo(), &steps).await {
        Ok(meridian) => meridian,
        Err(error) => {
            eprintln!("\ndemo failed: {error:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let api = match show(&meridian, &steps, started).await {
        Ok(api) => api,
        Err(error) => {
            eprintln!("\ndemo failed: {error:#}");
            meridian.stop().await;
            return std::process::ExitCode::FAILURE;
        }
    };
    wait_for_stop().await;
    drop(api);
    println!("\nstopping: auth-servers, operator, control planes ...");
    let stopping = Instant::now();
    meridian.stop().await;
    println!(
        "stopped and removed everything in {:.1} s",
        stopping.elapsed().as_secs_f64()
    );
    std::process::ExitCode::SUCCESS
}

async fn show(
    meridian: &LocalMeridian,
    steps: &Steps,
    started: Instant,
) -> anyhow::Result<DemoApi> {
    let eu = meridian.region_issuer("eu-west");
    let us = meridian.region_issuer("us-east");
    let issuer = meridian.through_front_door();
    let secret = meridian
        .client_secret(CLIENT_SECRET.0, CLIENT_SECRET.1)
        .await
        .context("reading the backend client's secret from the hub")?;
    let (_, answering) = served_by(&issuer.discovery_url()).await?;
    let answering = answering.unwrap_or_else(|| "?".into());
    let token = steps
        .run(
            &format!("client_credentials token at the issuer URL (front door → {answering})"),
            async { Ok(issuer.client_credentials(CLIENT, &secret, SCOPES).await?) },
        )
        .await?;
    let verified = steps
        .run("token verified against us-east's JWKS", async {
            Ok(us.verify(&token, AUDIENCE).await?)
        })
        .await?;
    let api = steps
        .run(
            &format!(
                "API gateway (HAProxy jwt_verify) on http://{GATEWAY}, an instance per region"
            ),
            start_api(meridian),
        )
        .await?;
    let orders = format!("{}/api/acme/orders", api.gateway.url());
    let served: serde_json::Value = steps
        .run("the token accepted by the gateway", async {
            let response = meridian_e2e::tokens::http_client()
                .get(&orders)
                .bearer_auth(&token)
                .send()
                .await?;
            anyhow::ensure!(response.status() == 200, "HTTP {}", response.status());
            Ok(response.json().await?)
        })
        .await?;
    println!(
        "\nready in {:.1} s (start to verified token)\n",
        started.elapsed().as_secs_f64()
    );
    println!("{}\n", store_summary(meridian).await?);
    println!("Clusters (kubectl --kubeconfig <path> get ...):");
    for cluster in meridian.clusters().iter() {
        println!(
            "  {:<8} {}",
            cluster.name(),
            cluster.kubeconfig_path().display()
        );
    }
    let front_door = meridian.front_door()?;
    println!(
        "\nIssuer (every region, through the front door): {}",
        meridian.issuer()
    );
    println!("           discovery {}", issuer.discovery_url());
    println!("           JWKS      {}", issuer.jwks_url());
    println!("           token     {}", issuer.token_url());
    println!(
        "           served by {answering} now (acme's home region; us-east if eu-west goes down)"
    );
    println!(
        "           HAProxy   {} (log {})",
        front_door.haproxy().config_path().display(),
        front_door.haproxy().log_path().display()
    );
    println!("\nRegions (for the operator and the front door):");
    for region in [&eu, &us] {
        println!("  {:<8} {}", region.region, region.public_url);
        println!("           discovery {}", region.discovery_url());
        println!("           JWKS      {}", region.jwks_url());
        print_serving(meridian, &region.region).await?;
    }
    let claims = &verified.claims;
    println!(
        "\nToken from the issuer URL (client {CLIENT}), verified with us-east's JWKS (kid {}):",
        verified.kid
    );
    println!("  iss       {}", claims.iss);
    println!("  tenant_id {}", claims.tenant_id);
    println!("  region    {}", claims.region);
    println!("  scope     {}", claims.scope);
    println!("  aud       {}", claims.aud);
    println!("  client_id {}", claims.client_id);
    println!("  expires   in {} s", claims.exp.saturating_sub(claims.iat));
    println!("\nAPI behind the gateway: {orders} (GET needs orders:read, POST orders:write)");
    println!(
        "  the token above was served by the {} instance (its region claim), as tenant {}",
        served["instance"].as_str().unwrap_or("?"),
        served["tenant"].as_str().unwrap_or("?")
    );
    println!("\nTry it:");
    println!("  curl -s {}", issuer.discovery_url());
    println!(
        "  curl -s -u {CLIENT}:{secret} -d grant_type=client_credentials -d scope=orders:read {}",
        issuer.token_url()
    );
    println!(
        "  kubectl --kubeconfig {} get tenants,authregions",
        meridian.clusters().hub().kubeconfig_path().display()
    );
    let stores = meridian.stores();
    if let (Some(postgres), Some(database)) = (stores.postgres(), stores.database("eu-west")) {
        // A server of the demo's own (not MERIDIAN_TEST_POSTGRES_URL's) trusts loopback.
        if postgres.log_path().is_some() {
            println!(
                "  psql -h 127.0.0.1 -p {} -U meridian {database} -c '\\dt'",
                postgres.port()
            );
        }
    }
    println!("  token={token}    # the token above, valid for 15 minutes");
    println!("  curl -si -H \"Authorization: Bearer $token\" {orders}    # 200, eu-west");
    println!(
        "  curl -si -X POST -H \"Authorization: Bearer $token\" {orders}    # 200: it has orders:write (an orders:read token gets 403)"
    );
    println!("  curl -si {orders}    # 401, WWW-Authenticate: Bearer");
    println!("\nPress Ctrl-C to stop: every process and file of the demo is removed.");
    Ok(api)
}

/// acme's order API: one instance per region, the gateway in front keeping acme's keys from
/// the issuer URL.
async fn start_api(meridian: &LocalMeridian) -> anyhow::Result<DemoApi> {
    let instances = vec![
        ExampleApi::start("eu-west").await?,
        ExampleApi::start("us-east").await?,
    ];
    let route = |method: &str, scope: &str| meridian_routing::ApiRoute {
        tenant: "acme".into(),
        method: Some(method.into()),
        path_prefix: "/api/acme/".into(),
        scope: scope.into(),
    };
    let plan = GatewayPlan {
        tenants: vec![TenantSource {
            name: "acme".into(),
            issuer: meridian.issuer().to_owned(),
            audience: AUDIENCE.into(),
        }],
        routes: vec![route("GET", "orders:read"), route("POST", "orders:write")],
        instances: instances
            .iter()
            .map(|i| meridian_routing::ApiInstance {
                region: i.region.clone(),
                url: i.url.clone(),
            })
            .collect(),
        follow_max_age: true,
    };
    let dir = meridian.clusters().dir().join("gateway");
    std::fs::create_dir_all(&dir)?;
    let gateway = ApiGateway::start(&dir, GATEWAY, plan).await?;
    Ok(DemoApi {
        gateway,
        _instances: instances,
    })
}

/// One line on how the regions run, counted from what runs rather than from what was asked.
async fn store_summary(meridian: &LocalMeridian) -> anyhow::Result<String> {
    let mut replicas = Vec::new();
    for region in ["eu-west", "us-east"] {
        replicas.push(meridian.serving_pods(region).await?.len());
    }
    let counts = if replicas.iter().all(|n| *n == replicas[0]) {
        format!("{} auth-server replicas", replicas[0])
    } else {
        format!("{replicas:?} auth-server replicas")
    };
    Ok(match meridian.stores().postgres() {
        Some(_) => format!(
            "Each region runs {counts} on PostgreSQL: a database per region, shared by its replicas."
        ),
        None => format!("Each region runs {counts} on the memory store."),
    })
}

/// Which processes serve the region's address, and where they keep state.
async fn print_serving(meridian: &LocalMeridian, region: &str) -> anyhow::Result<()> {
    let pods = meridian.serving_pods(region).await?;
    let ready = pods.iter().filter(|p| p.ready).count();
    let names: Vec<String> = pods
        .iter()
        .map(|p| format!("{} at {}", p.name, p.address))
        .collect();
    println!(
        "           serving   {} replicas ({ready} ready): {}",
        pods.len(),
        names.join(", ")
    );
    let stores = meridian.stores();
    match (stores.postgres(), stores.database(region)) {
        (Some(postgres), Some(database)) => println!(
            "           store     PostgreSQL database {database} on port {}",
            postgres.port()
        ),
        _ => println!("           store     memory (in each replica)"),
    }
    Ok(())
}

async fn wait_for_stop() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
}
