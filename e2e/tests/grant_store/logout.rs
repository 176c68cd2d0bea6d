//! Logout on the shared store: a session ended at one replica is over at every replica, and
//! the relying party it signed in to is told exactly once, whichever replica ended it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

type Received = Arc<Mutex<Vec<String>>>;

/// The demo client's back-channel logout endpoint; every logout token it is sent.
async fn relying_party() -> (Received, String) {
    let received = Received::default();
    let app = Router::new()
        .route(
            "/backchannel",
            post(
                |State(received): State<Received>, body: String| async move {
                    received.lock().unwrap().push(body);
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (received, uri)
}

fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON")
}

#[tokio::test]
async fn a_logout_at_one_replica_ends_the_session_everywhere_and_tells_the_client_once() {
    let (received, uri) = relying_party().await;
    let region = Region::start_with_tenant(2, |tenant| {
        tenant["clients"][0]["backchannelLogoutUri"] = Value::from(uri);
    })
    .await;
    let browser = browser();
    let code = sign_in(&browser, &region.base(0), &region.setup).await;
    let id_token = field(
        &tokens(redeem(&region.base(0), &region.setup, &code).await).await,
        "id_token",
    );
    let sid = claims(&id_token)["sid"].as_str().expect("a sid").to_owned();

    let logout = |base: String| {
        let browser = browser.clone();
        let id_token = id_token.clone();
        async move {
            let url = reqwest::Url::parse_with_params(
                &tenant_url(&base, "/logout"),
                [("id_token_hint", id_token.as_str())],
            )
            .unwrap();
            browser.get(url).send().await.expect("logout").status()
        }
    };
    assert_eq!(
        logout(region.base(1)).await,
        StatusCode::OK,
        "signed out at replica 1"
    );

    let again = browser
        .get(format!("{}&prompt=none", authorize_url(&region.base(0))))
        .send()
        .await
        .expect("authorize");
    let location = again.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("error=login_required"),
        "no session at replica 0: {location}"
    );

    for _ in 0..100 {
        if !received.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    logout(region.base(0)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bodies = received.lock().unwrap().clone();
    assert_eq!(
        bodies.len(),
        1,
        "told once, though both replicas were asked"
    );
    let form = reqwest::Url::parse(&format!("http://form/?{}", bodies[0])).unwrap();
    let token = form
        .query_pairs()
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .expect("a logout_token");
    let logout_claims = claims(&token);
    assert_eq!(logout_claims["sid"], sid.as_str());
    assert_eq!(logout_claims["aud"], "demo-client");
}
