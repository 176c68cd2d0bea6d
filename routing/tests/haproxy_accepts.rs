//! Debian's HAProxy (installed by e2e/frontdoor/install.sh) accepts every config this crate
//! renders: `haproxy -c` parses it as the running proxy would, ACLs, checks and all.

use std::process::Command;

use meridian_routing::{FrontDoor, FrontDoorRegion, FrontDoorTenant, HealthCheck};

mod support;
use support::haproxy;

fn haproxy_check(config: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(haproxy())
        .args(["-c", "-f"])
        .arg(&path)
        .output()
        .expect("haproxy runs (install it with e2e/frontdoor/install.sh)");
    assert!(
        output.status.success(),
        "haproxy -c refused the config:\n{}\n{config}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_front_door_config_is_accepted() {
    let door = FrontDoor {
        bind: "127.0.0.1:18440".into(),
        tls_certificate: None,
        regions: ["eu-west", "us-east"]
            .iter()
            .enumerate()
            .map(|(i, name)| FrontDoorRegion {
                name: name.to_string(),
                public_url: format!("http://127.0.0.1:{}", 18441 + i),
            })
            .collect(),
        tenants: vec![
            FrontDoorTenant {
                name: "acme".into(),
                issuer: "http://127.0.0.1:18440/t/acme".into(),
                home_region: "eu-west".into(),
                regions: vec!["eu-west".into(), "us-east".into()],
            },
            FrontDoorTenant {
                name: "initech".into(),
                issuer: "https://login.initech.example".into(),
                home_region: "us-east".into(),
                regions: vec!["us-east".into()],
            },
        ],
        check: HealthCheck::default(),
    };
    haproxy_check(&door.render().unwrap());
    // At scale, every tenant's servers track their region's /readyz check.
    let tracking = FrontDoor {
        check: HealthCheck {
            per_tenant_up_to: 1,
            ..HealthCheck::default()
        },
        ..door
    };
    let config = tracking.render().unwrap();
    assert!(config.contains(" track regions/"), "{config}");
    haproxy_check(&config);
}

#[test]
fn the_gateway_config_is_accepted_with_the_keys_it_names() {
    use meridian_routing::jwk::jwk_to_pem;
    use meridian_routing::{ApiInstance, ApiRoute, Gateway, GatewayTenant, TenantKey};

    let dir = tempfile::tempdir().unwrap();
    // RFC 7517 Appendix A.1's P-256 key: jwt_verify loads every named key when it starts.
    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "a1",
        "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"});
    let key = jwk_to_pem(&jwk).unwrap();
    // A thumbprint kid may start with `-`, which HAProxy takes for a flag unless after `--`.
    let key = meridian_routing::jwk::PublicKeyPem {
        kid: "-a1".into(),
        ..key
    };
    let pem_path = dir.path().join("-a1.pem");
    std::fs::write(&pem_path, &key.pem).unwrap();
    let gateway = Gateway {
        bind: "127.0.0.1:18450".into(),
        realm: "api".into(),
        tenants: vec![GatewayTenant {
            name: "acme".into(),
            issuer: "http://127.0.0.1:18440/t/acme".into(),
            audience: "https://api.acme.example".into(),
            keys: vec![TenantKey {
                kid: key.kid,
                alg: key.alg,
                pem_path: pem_path.display().to_string(),
            }],
        }],
        routes: vec![ApiRoute {
            tenant: "acme".into(),
            method: Some("GET".into()),
            path_prefix: "/api/acme/".into(),
            scope: "orders:read".into(),
        }],
        instances: vec![ApiInstance {
            region: "eu-west".into(),
            url: "http://127.0.0.1:18451".into(),
        }],
        key_refresh: Some("http://127.0.0.1:18459".into()),
    };
    haproxy_check(&gateway.render().unwrap());
}
