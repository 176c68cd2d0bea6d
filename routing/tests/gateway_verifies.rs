//! The gateway's token checks as Debian's HAProxy runs them: a config rendered by this crate,
//! a key of the test's own (as the glue writes it from a JWKS), an API instance that answers
//! `ok`, and tokens signed with that key whose claims are each wrong in one way. Everything a
//! signature cannot prove — `typ`, `aud`, `exp`, `iat`, `nbf` — is refused by HAProxy itself.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::SystemTime;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use meridian_contract::Algorithm as KeyAlgorithm;
use meridian_keys::{generate_key, public_jwk};
use meridian_routing::gateway::CLOCK_SKEW_SECS;
use meridian_routing::jwk::jwks_to_pems;
use meridian_routing::{ApiInstance, ApiRoute, Gateway, GatewayTenant, TenantKey};
use serde_json::{Value, json};

mod support;
use support::{Running, answer_ok, free_port};

const ISSUER: &str = "https://auth.example.com/t/acme";
const AUDIENCE: &str = "https://api.acme.example";

/// A change to a good token's claims.
type Edit<'a> = dyn Fn(&mut Value) + 'a;

#[test]
fn haproxy_refuses_tokens_whose_claims_do_not_hold_and_passes_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let key = generate_key(KeyAlgorithm::ES256, 1, now);
    let jwk = serde_json::to_value(public_jwk(&key).unwrap()).unwrap();
    let pem = jwks_to_pems(&json!({ "keys": [jwk] })).unwrap().remove(0);
    let pem_path = dir.path().join(format!("{}.pem", pem.kid));
    std::fs::write(&pem_path, &pem.pem).unwrap();

    let instance = answer_ok();
    let bind = free_port();
    let gateway = Gateway {
        bind: format!("127.0.0.1:{bind}"),
        realm: "api".into(),
        tenants: vec![GatewayTenant {
            name: "acme".into(),
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            keys: vec![TenantKey {
                kid: pem.kid.clone(),
                alg: "ES256".into(),
                pem_path: pem_path.display().to_string(),
            }],
        }],
        routes: vec![ApiRoute {
            tenant: "acme".into(),
            method: None,
            path_prefix: "/api/acme/".into(),
            scope: "orders:read".into(),
        }],
        instances: vec![ApiInstance {
            region: "eu-west".into(),
            url: format!("http://127.0.0.1:{instance}"),
        }],
        key_refresh: None,
    };
    let config = dir.path().join("gateway.cfg");
    std::fs::write(&config, gateway.render().unwrap()).unwrap();
    let _haproxy = Running::start("-db", &config, None, bind);

    let signing = EncodingKey::from_ec_pem(key.private_key_pem.as_bytes()).unwrap();
    let token = |typ: &str, edit: &Edit<'_>| {
        let mut claims = json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "client_id": "web",
            "tenant_id": "acme", "region": "eu-west", "scope": "orders:read",
            "iat": now, "exp": now + 300, "jti": "j1",
        });
        edit(&mut claims);
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(pem.kid.clone());
        header.typ = Some(typ.into());
        encode(&header, &claims, &signing).unwrap()
    };
    let skew = i64::from(CLOCK_SKEW_SECS);
    let get = |token: &str| status(bind, token);

    assert_eq!(get(&token("at+jwt", &|_| {})), 200, "a good token");
    assert_eq!(
        get(&token("at+jwt", &|c| c["nbf"] = json!(now + skew / 2))),
        200,
        "nbf within the clock skew"
    );
    let refused: [(&str, &str, &Edit<'_>); 7] = [
        ("JWT", "an ID token's typ", &|_| {}),
        ("at+jwt", "expired", &|c| c["exp"] = json!(now - 1)),
        ("at+jwt", "iat in the future", &|c| {
            c["iat"] = json!(now + 10 * skew)
        }),
        ("at+jwt", "no iat", &|c| {
            c.as_object_mut().unwrap().remove("iat");
        }),
        ("at+jwt", "nbf in the future", &|c| {
            c["nbf"] = json!(now + 10 * skew)
        }),
        ("at+jwt", "another audience", &|c| {
            c["aud"] = json!("https://api.other.example")
        }),
        ("at+jwt", "another issuer", &|c| {
            c["iss"] = json!("https://evil.example/t/acme")
        }),
    ];
    for (typ, what, edit) in refused {
        assert_eq!(get(&token(typ, edit)), 401, "{what}");
    }
}

/// The status of `GET /api/acme/orders` with `token`, over plain HTTP/1.1.
fn status(port: u16, token: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /api/acme/orders HTTP/1.1\r\nHost: api.example\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP response: {response}"))
}
