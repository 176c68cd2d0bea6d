//! Prints the front door's HAProxy config for a production shape: TLS for `auth.example.com`
//! terminated at the front door, regions reached over verified TLS at their own hostnames,
//! acme homed in eu-west, globex in us-east, an EU-only tenant never routed to us-east.
//! `cargo run -p meridian-routing --example production_front_door`

use meridian_routing::{FrontDoor, FrontDoorRegion, FrontDoorTenant, HealthCheck};

fn main() {
    let region = |name: &str| FrontDoorRegion {
        name: name.into(),
        public_url: format!("https://{name}.auth.example.com"),
    };
    let tenant = |name: &str, home: &str, regions: &[&str]| FrontDoorTenant {
        name: name.into(),
        issuer: format!("https://auth.example.com/t/{name}"),
        home_region: home.into(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
    };
    let door = FrontDoor {
        bind: ":443".into(),
        tls_certificate: Some("/etc/haproxy/certs/auth.example.com.pem".into()),
        regions: vec![region("eu-west"), region("eu-central"), region("us-east")],
        tenants: vec![
            tenant("acme", "eu-west", &["eu-west", "us-east"]),
            tenant("globex", "us-east", &["eu-west", "us-east"]),
            // dataResidency: [EU]: the operator places it in EU regions only.
            tenant("bundesbank", "eu-central", &["eu-central", "eu-west"]),
        ],
        check: HealthCheck {
            // Regions a continent away: a connect may take an intercontinental round trip.
            connect_timeout_ms: 500,
            ..HealthCheck::default()
        },
    };
    match door.render() {
        Ok(config) => print!("{config}"),
        Err(error) => {
            eprintln!("{error}");
            std::process::exit(1);
        }
    }
}
