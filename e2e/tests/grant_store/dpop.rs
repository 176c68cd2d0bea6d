//! DPoP on the shared store: a proof used at one replica is refused at the other, and a public
//! client's refresh token bound at one replica needs the same key at the other. Proofs name
//! the issuer's URLs, not the replica's, as a client behind the front door would.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meridian_auth_server::clock::{Clock, SystemClock};
use meridian_auth_server::keys::Signer;
use meridian_contract::Algorithm;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// A client's own key, for DPoP proofs and client assertions (made like a tenant key; only
/// its public JWK leaves it).
pub struct ClientKey(Signer);

impl ClientKey {
    pub fn generate() -> Self {
        let key = meridian_keys::generate_key(Algorithm::ES256, 1, 0);
        Self(Signer::from_contract(&key).expect("key"))
    }

    pub fn jwk(&self) -> Value {
        serde_json::to_value(self.0.jwk()).expect("JWK")
    }

    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"));
        let input = format!("{}.{}", part(header), part(claims));
        let signature = URL_SAFE_NO_PAD.encode(self.0.sign(input.as_bytes()));
        format!("{input}.{signature}")
    }

    fn proof(&self, htu: &str) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.0.jwk()});
        let jti = meridian_auth_server::issue::random_token();
        let iat = SystemClock.now();
        let claims = json!({"jti": jti, "htm": "POST", "htu": htu, "iat": iat});
        self.sign(&header, &claims)
    }
}

pub async fn with_proof(
    base: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
    proof: &str,
) -> (StatusCode, Value) {
    let mut request = http()
        .post(tenant_url(base, "/token"))
        .header("DPoP", proof)
        .form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.expect("token request");
    let status = response.status();
    (status, response.json().await.expect("token JSON"))
}

#[tokio::test]
async fn a_proof_used_at_one_replica_is_refused_at_the_other() {
    let region = Region::start(2).await;
    let htu = format!("{}/token", region.setup.issuer);
    let proof = ClientKey::generate().proof(&htu);
    let form = [("grant_type", "client_credentials"), ("scope", "api")];
    let basic = Some(("demo-client", region.setup.client_secret.as_str()));
    let (status, body) = with_proof(&region.base(0), &form, basic, &proof).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (StatusCode::OK, Some("DPoP")),
        "{body}"
    );
    let (status, body) = with_proof(&region.base(1), &form, basic, &proof).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["error"], "invalid_dpop_proof",
        "replayed at the other replica"
    );
}

#[tokio::test]
async fn a_bound_refresh_token_needs_its_key_at_any_replica() {
    let region = Region::start_with_tenant(2, with_dpop_app).await;
    let browser = browser();
    sign_in(&browser, &region.base(0), &region.setup).await;
    // RFC 7636 Appendix B.
    let authorize = reqwest::Url::parse_with_params(
        &tenant_url(&region.base(0), "/authorize"),
        [
            ("response_type", "code"),
            ("client_id", "dpop-app"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ],
    )
    .expect("URL");
    let code = code_of(&browser.get(authorize).send().await.expect("authorize"));
    let htu = format!("{}/token", region.setup.issuer);
    let key = ClientKey::generate();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", "dpop-app"),
        (
            "code_verifier",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ),
    ];
    let (status, issued) = with_proof(&region.base(0), &form, None, &key.proof(&htu)).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let refresh_token = field(&issued, "refresh_token");
    let refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.as_str()),
        ("client_id", "dpop-app"),
    ];
    let other = ClientKey::generate().proof(&htu);
    let (status, body) = with_proof(&region.base(1), &refresh, None, &other).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );
    let (status, body) = with_proof(&region.base(1), &refresh, None, &key.proof(&htu)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the key's own proof, at the other replica: {body}"
    );
}

async fn live_values(region: &Region) -> String {
    let sql = "SELECT count(*) FROM used_once";
    let count = region.db.psql(&region.uri, sql).await.expect("count");
    count.trim().to_owned()
}

#[tokio::test]
async fn a_full_replay_cache_refuses_new_proofs_and_still_knows_every_live_one() {
    let region = Region::start(2).await;
    let htu = format!("{}/token", region.setup.issuer);
    let form = [("grant_type", "client_credentials"), ("scope", "api")];
    let basic = Some(("demo-client", region.setup.client_secret.as_str()));
    let used = ClientKey::generate().proof(&htu);
    let (status, body) = with_proof(&region.base(0), &form, basic, &used).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Fill the tenant's cap with values live for ten minutes, as a flood would.
    let cap = meridian_auth_server::store::ONCE_CAPS.per_tenant;
    let fill = format!(
        "INSERT INTO used_once (digest, tenant, expires_at) \
         SELECT sha256(('flood-' || i)::bytea), 'demo', extract(epoch FROM now())::bigint + 600 \
         FROM generate_series(2, {cap}) AS i"
    );
    region.db.psql(&region.uri, &fill).await.expect("filled");
    assert_eq!(live_values(&region).await, cap.to_string());
    for replica in [0, 1] {
        let (status, body) = with_proof(&region.base(replica), &form, basic, &used).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof")),
            "the used proof is still known at replica {replica}"
        );
        let fresh = ClientKey::generate().proof(&htu);
        let (status, body) = with_proof(&region.base(replica), &form, basic, &fresh).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("temporarily_unavailable")
            ),
            "a new proof is refused, not let in by forgetting one (replica {replica})"
        );
    }
    assert_eq!(
        live_values(&region).await,
        cap.to_string(),
        "nothing evicted"
    );
    region
        .db
        .psql(
            &region.uri,
            "DELETE FROM used_once WHERE expires_at > extract(epoch FROM now())::bigint + 300",
        )
        .await
        .expect("flood expired");
    let fresh = ClientKey::generate().proof(&htu);
    let (status, body) = with_proof(&region.base(1), &form, basic, &fresh).await;
    assert_eq!(status, StatusCode::OK, "room again: {body}");
}

#[tokio::test]
async fn a_public_clients_proofs_are_remembered_only_once_its_grant_holds() {
    let region = Region::start_with_tenant(1, with_dpop_app).await;
    let htu = format!("{}/token", region.setup.issuer);
    let key = ClientKey::generate();
    // Anyone may send these: a key of one's own, a public client's id and made-up grants.
    let unknown_code = [
        ("grant_type", "authorization_code"),
        ("code", "no-such-code"),
        ("redirect_uri", REDIRECT_URI),
        ("client_id", "dpop-app"),
    ];
    let unknown_refresh = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "no-such-token"),
        ("client_id", "dpop-app"),
    ];
    for _ in 0..20 {
        for form in [&unknown_code[..], &unknown_refresh[..]] {
            let (status, body) = with_proof(&region.base(0), form, None, &key.proof(&htu)).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_grant"))
            );
        }
    }
    assert_eq!(
        live_values(&region).await,
        "0",
        "no proof of a failed grant kept"
    );
    // A confidential client has proved itself: its proof is kept at once.
    let form = [("grant_type", "client_credentials"), ("scope", "api")];
    let basic = Some(("demo-client", region.setup.client_secret.as_str()));
    let (status, body) = with_proof(&region.base(0), &form, basic, &key.proof(&htu)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(live_values(&region).await, "1");
}

/// Adds `dpop-app`, a public client of the code flow with refresh tokens.
fn with_dpop_app(tenant: &mut serde_json::Value) {
    tenant["clients"]
        .as_array_mut()
        .expect("clients")
        .push(json!({
            "clientId": "dpop-app",
            "kind": "public",
            "grantTypes": ["authorization_code", "refresh_token"],
            "redirectUris": [REDIRECT_URI],
            "scopes": ["openid"],
        }));
}
