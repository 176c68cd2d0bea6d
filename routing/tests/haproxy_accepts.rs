//! Debian's HAProxy (installed by e2e/frontdoor/install.sh) accepts every config this crate
//! renders: `haproxy -c` parses it as the running proxy would, ACLs, checks and all.

use std::path::Path;
use std::process::Command;

use meridian_routing::{FrontDoor, FrontDoorRegion, FrontDoorTenant, HealthCheck};

fn haproxy_check(config: &str) {
    let dir = tempfile_dir();
    let path = dir.join("haproxy.cfg");
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
    let _ = std::fs::remove_dir_all(dir);
}

fn haproxy() -> &'static str {
    if Path::new("/usr/sbin/haproxy").exists() {
        "/usr/sbin/haproxy"
    } else {
        "haproxy"
    }
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "meridian-routing-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
}
