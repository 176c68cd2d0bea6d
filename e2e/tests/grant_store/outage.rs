//! A database outage degrades only what needs state: client_credentials, discovery and JWKS go
//! on, the pods stay in their Service, grants that need state answer 503, and everything
//! recovers by itself when the database is back.

use std::time::Duration;

use meridian_e2e::eventually;
use reqwest::StatusCode;

use crate::support::*;

const RECOVERY: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_database_outage_degrades_only_the_grants_that_need_state() {
    let mut region = Region::with_own_database_server(2).await;
    let (a, b, setup) = (region.base(0), region.base(1), &region.setup);
    let code = sign_in(&browser(), &a, setup).await;
    let issued = tokens(redeem(&a, setup, &code).await).await;

    region.db.stop().await.expect("database stopped");

    for replica in [&a, &b] {
        tokens(client_credentials(replica, setup).await).await;
        let jwks = status_of(&format!("{replica}/t/demo/jwks.json")).await;
        assert_eq!(jwks, StatusCode::OK);
        assert_eq!(
            status_of(&format!("{replica}/readyz")).await,
            StatusCode::OK
        );
        assert_eq!(
            status_of(&format!("{replica}/readyz/store")).await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        // Whether an access token was revoked is in the database: no answer beats a wrong one.
        let introspection = http()
            .post(format!("{replica}/t/demo/introspect"))
            .basic_auth(
                meridian_auth_server::dev::CLIENT_ID,
                Some(&setup.client_secret),
            )
            .form(&[("token", field(&issued, "access_token"))])
            .send()
            .await
            .unwrap();
        assert_eq!(introspection.status(), StatusCode::SERVICE_UNAVAILABLE);
        let refused = refresh(replica, setup, &field(&issued, "refresh_token")).await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()["content-type"], "application/json");
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    let admin = region.replicas[0].admin_addr;
    let metrics = eventually("store_up 0 in metrics", RECOVERY, async || {
        let text = http()
            .get(format!("http://{admin}/metrics"))
            .send()
            .await
            .unwrap();
        let text = text.text().await.unwrap();
        Ok(text.contains("meridian_auth_store_up 0").then_some(()))
    })
    .await;
    metrics.expect("the outage shows in metrics");

    region.db.restart().await.expect("database back");
    for replica in [&a, &b] {
        let back = eventually("store ready again", RECOVERY, async || {
            let status = status_of(&format!("{replica}/readyz/store")).await;
            Ok((status == StatusCode::OK).then_some(()))
        })
        .await;
        back.expect("the replica reconnects by itself");
    }
    // The refresh token the outage could not rotate rotates now, and the chain goes on at the
    // other replica: same processes, no restart.
    let rotated = tokens(refresh(&a, setup, &field(&issued, "refresh_token")).await).await;
    tokens(refresh(&b, setup, &field(&rotated, "refresh_token")).await).await;
    for replica in &mut region.replicas {
        replica.check_running().expect("never restarted");
    }
}
