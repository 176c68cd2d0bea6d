use super::*;

fn region(name: &str, port: u16) -> FrontDoorRegion {
    FrontDoorRegion {
        name: name.into(),
        public_url: format!("http://127.0.0.1:{port}"),
    }
}

fn tenant(name: &str, home: &str, regions: &[&str]) -> FrontDoorTenant {
    FrontDoorTenant {
        name: name.into(),
        issuer: format!("http://127.0.0.1:18440/t/{name}"),
        home_region: home.into(),
        regions: regions.iter().map(|r| r.to_string()).collect(),
    }
}

fn door(tenants: Vec<FrontDoorTenant>) -> FrontDoor {
    FrontDoor {
        bind: "127.0.0.1:18440".into(),
        tls_certificate: None,
        regions: vec![
            region("eu-west", 18441),
            region("us-east", 18442),
            region("eu-central", 18443),
        ],
        tenants,
        check: HealthCheck::default(),
    }
}

/// The backend section named `name`, up to the next blank line.
fn section<'a>(config: &'a str, name: &str) -> &'a str {
    let start = config
        .find(&format!("\nbackend {name}\n"))
        .unwrap_or_else(|| panic!("no backend {name} in\n{config}"));
    let rest = &config[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

fn servers(section: &str) -> Vec<String> {
    section
        .lines()
        .filter_map(|l| l.trim().strip_prefix("server "))
        .map(|l| l.to_owned())
        .collect()
}

#[test]
fn the_home_region_comes_first_then_the_others_in_the_front_doors_order() {
    let d = door(vec![tenant(
        "globex",
        "us-east",
        &["eu-central", "us-east", "eu-west"],
    )]);
    let order: Vec<_> = d
        .failover_order(&d.tenants[0])
        .unwrap()
        .into_iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(order, ["us-east", "eu-west", "eu-central"]);
}

#[test]
fn one_region_serves_at_a_time_and_the_others_are_backups_in_order() {
    let config = door(vec![tenant("acme", "eu-west", &["eu-west", "us-east"])])
        .render()
        .unwrap();
    let backend = section(&config, "tenant_acme");
    assert_eq!(
        servers(backend),
        ["eu-west 127.0.0.1:18441", "us-east 127.0.0.1:18442 backup"]
    );
    assert!(!backend.contains("balance roundrobin"));
    assert!(
        !backend.contains("allbackups"),
        "only the first healthy backup serves"
    );
}

#[test]
fn a_tenant_is_checked_by_its_own_discovery_document_on_its_issuers_host() {
    let config = door(vec![tenant("acme", "eu-west", &["eu-west"])])
        .render()
        .unwrap();
    let backend = section(&config, "tenant_acme");
    assert!(backend.contains(
        "http-check send meth GET uri /t/acme/.well-known/openid-configuration ver HTTP/1.1 hdr Host 127.0.0.1"
    ));
    assert!(backend.contains("http-check expect status 200"));
    assert!(backend.contains("on-error mark-down"));
    let regions = section(&config, "regions");
    assert!(regions.contains("uri /readyz"));
}

#[test]
fn beyond_the_per_tenant_bound_every_tenant_tracks_its_regions_readyz_check() {
    let mut many = door(vec![
        tenant("acme", "eu-west", &["eu-west", "us-east"]),
        tenant("globex", "us-east", &["us-east", "eu-west"]),
    ]);
    many.check.per_tenant_up_to = 1;
    let config = many.render().unwrap();
    let backend = section(&config, "tenant_globex");
    assert!(!backend.contains("http-check"), "no check of its own");
    assert!(!backend.contains("default-server check"));
    assert_eq!(
        servers(backend),
        [
            "us-east 127.0.0.1:18442 track regions/us-east",
            "eu-west 127.0.0.1:18441 track regions/eu-west backup",
        ],
        "still one region at a time, home first"
    );
    // What they track: one /readyz check per region, whatever the number of tenants.
    let regions = section(&config, "regions");
    assert!(regions.contains("uri /readyz"));
    assert!(regions.contains("default-server check"));
    assert_eq!(config.matches("http-check send").count(), 1);

    let few = door(vec![tenant("acme", "eu-west", &["eu-west"])]);
    let config = few.render().unwrap();
    assert!(!config.contains(" track "), "{config}");
}

#[test]
fn residency_keeps_a_tenant_out_of_regions_it_is_not_placed_in() {
    // eu-only is listed in eu-west and eu-central only (the operator placed it nowhere else):
    // with both down it fails, rather than fail over to us-east.
    let config = door(vec![tenant(
        "eu-only",
        "eu-central",
        &["eu-west", "eu-central"],
    )])
    .render()
    .unwrap();
    let backend = section(&config, "tenant_eu-only");
    assert_eq!(
        servers(backend),
        [
            "eu-central 127.0.0.1:18443",
            "eu-west 127.0.0.1:18441 backup"
        ]
    );
    assert!(!backend.contains("us-east"));
}

#[test]
fn tenants_are_selected_by_issuer_host_and_path_including_rfc8414_well_known_uris() {
    let mut custom = tenant("initech", "eu-west", &["eu-west"]);
    custom.issuer = "https://login.initech.example/".into();
    let config = door(vec![tenant("acme", "eu-west", &["eu-west"]), custom])
        .render()
        .unwrap();
    assert!(config.contains("acl host_acme req.hdr(host),field(1,:) -i 127.0.0.1"));
    assert!(config.contains(
        "acl path_acme path /t/acme /.well-known/oauth-authorization-server/t/acme /.well-known/openid-configuration/t/acme"
    ));
    assert!(config.contains("acl path_acme path_beg /t/acme/"));
    assert!(config.contains("use_backend tenant_acme if host_acme path_acme"));
    assert!(
        config.contains("option forwardfor"),
        "the client's address for throttling"
    );
    assert!(config.contains("acl host_initech req.hdr(host),field(1,:) -i login.initech.example"));
    assert!(config.contains("acl path_initech path_beg /\n"));
    assert!(config.contains("hdr Host login.initech.example"));
}

#[test]
fn https_regions_are_verified_and_tls_can_be_terminated() {
    let mut d = door(vec![tenant("acme", "eu-west", &["eu-west"])]);
    d.regions[0].public_url = "https://eu-west.auth.example.com".into();
    d.tls_certificate = Some("/etc/haproxy/auth.example.com.pem".into());
    d.bind = ":443".into();
    let config = d.render().unwrap();
    assert!(config.contains("bind :443 ssl crt /etc/haproxy/auth.example.com.pem"));
    assert!(config.contains(
        "server eu-west eu-west.auth.example.com:443 ssl verify required ca-file @system-ca sni str(eu-west.auth.example.com)"
    ));
}

#[test]
fn inputs_that_would_inject_directives_or_route_nowhere_are_refused() {
    // A URL's path is percent-encoded by parsing: it reaches the config as one word.
    let mut spaced = tenant("acme", "eu-west", &["eu-west"]);
    spaced.issuer = "http://127.0.0.1:18440/t/a b\"c".into();
    assert!(
        door(vec![spaced])
            .render()
            .unwrap()
            .contains("path_beg /t/a%20b%22c/")
    );
    let bad_name = tenant("acme\n    server evil 10.0.0.1:80", "eu-west", &["eu-west"]);
    assert_eq!(
        door(vec![bad_name]).render().unwrap_err().reason(),
        "UnsafeValue"
    );
    let nowhere = tenant("acme", "eu-west", &[]);
    assert_eq!(
        door(vec![nowhere]).render().unwrap_err().reason(),
        "NoRegion"
    );
    let unknown = tenant("acme", "eu-west", &["ap-south"]);
    assert_eq!(
        door(vec![unknown]).render().unwrap_err().reason(),
        "UnknownRegion"
    );
    let twice = vec![
        tenant("acme", "eu-west", &["eu-west"]),
        tenant("acme", "us-east", &["us-east"]),
    ];
    assert_eq!(door(twice).render().unwrap_err().reason(), "Duplicate");
}
