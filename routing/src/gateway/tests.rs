use super::*;

pub(crate) fn gateway() -> Gateway {
    let tenant = |name: &str, kid: &str| GatewayTenant {
        name: name.into(),
        issuer: format!("http://127.0.0.1:18440/t/{name}"),
        audience: format!("https://api.{name}.example"),
        keys: vec![TenantKey {
            kid: kid.into(),
            alg: "ES256".into(),
            pem_path: format!("/run/gateway/keys/{kid}.pem"),
        }],
    };
    let route = |tenant: &str, method: &str, scope: &str| ApiRoute {
        tenant: tenant.into(),
        method: Some(method.into()),
        path_prefix: format!("/api/{tenant}/"),
        scope: scope.into(),
    };
    Gateway {
        bind: "127.0.0.1:18450".into(),
        realm: "api".into(),
        tenants: vec![tenant("acme", "kidA"), tenant("globex", "kidG")],
        routes: vec![
            route("acme", "GET", "orders:read"),
            route("acme", "POST", "orders:write"),
            route("globex", "GET", "orders:read"),
        ],
        instances: vec![
            ApiInstance {
                region: "eu-west".into(),
                url: "http://127.0.0.1:18451".into(),
            },
            ApiInstance {
                region: "us-east".into(),
                url: "http://127.0.0.1:18452".into(),
            },
        ],
        key_refresh: None,
    }
}

#[test]
fn a_key_verifies_only_tokens_naming_its_own_tenants_issuer_audience_and_algorithm() {
    let config = gateway().render().unwrap();
    assert!(config.contains(
        "http-request set-var(txn.signed_by) str(acme) if !signed { var(txn.kid) -m str -- kidA } { var(txn.alg) -m str -- ES256 } { var(txn.iss) -m str -- http://127.0.0.1:18440/t/acme } { var(txn.aud) -m str -- https://api.acme.example } { var(txn.bearer),jwt_verify(ES256,\"/run/gateway/keys/kidA.pem\") -m int 1 }"
    ));
    assert!(config.contains("acl known_kid var(txn.kid) -m str -- kidA kidG"));
}

#[test]
fn refusals_come_in_the_order_a_client_can_act_on() {
    let config = gateway().render().unwrap();
    let at = |needle: &str| {
        config
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in\n{config}"))
    };
    let not_found = at("http-request return status 404");
    let no_token =
        at("hdr WWW-Authenticate 'Bearer realm=\"api\"' unless { var(txn.bearer) -m found }");
    let bad_signature = at("if known_kid !signed");
    let expired = at("!{ var(txn.ttl) -m int gt 0 }");
    let other_tenant = at("this route belongs to another tenant");
    let scope = at("error=\"insufficient_scope\", scope=\"orders:write\"");
    let routed = at("use_backend instance_eu-west if { var(txn.region) -m str -- eu-west }");
    assert!(not_found < no_token && no_token < bad_signature && bad_signature < expired);
    assert!(expired < other_tenant && other_tenant < scope && scope < routed);
}

#[test]
fn identity_headers_are_stripped_from_requests_and_set_from_the_verified_token() {
    let config = gateway().render().unwrap();
    for (header, var) in IDENTITY_HEADERS {
        let deleted = config
            .find(&format!("http-request del-header {header}\n"))
            .unwrap();
        let set = config
            .find(&format!(
                "http-request set-header {header} %[var(txn.{var})]"
            ))
            .unwrap();
        assert!(deleted < set);
    }
}

#[test]
fn unknown_kids_go_to_the_key_refresh_glue_when_there_is_one() {
    let mut with_glue = gateway();
    assert!(with_glue.render().unwrap().contains("if !known_kid\n"));
    with_glue.key_refresh = Some("http://127.0.0.1:18459".into());
    let config = with_glue.render().unwrap();
    assert!(!config.contains("\"unknown key\""));
    assert!(config.contains("use_backend key_refresh if !known_kid"));
    assert!(config.contains("server glue 127.0.0.1:18459"));
}

#[test]
fn a_scope_is_matched_as_a_whole_word_of_the_scope_claim() {
    let mut dotted = gateway();
    dotted.routes[0].scope = "orders.read".into();
    let config = dotted.render().unwrap();
    assert!(config.contains("!{ var(txn.scope) -m reg '(^| )orders[.]read( |$)' }"));
}
