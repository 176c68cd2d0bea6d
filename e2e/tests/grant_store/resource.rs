//! Resource indicators on the shared store: a refresh token keeps the resource its grant was
//! for, whichever replica rotates it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::support::*;

const ORDERS: &str = "https://orders.example/";

fn aud(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON");
    claims["aud"].clone()
}

#[tokio::test]
async fn a_refresh_at_another_replica_keeps_the_grants_resource() {
    let region = Region::start_with_tenant(2, |tenant| {
        tenant["clients"][0]["resources"] = json!([ORDERS]);
    })
    .await;
    let browser = browser();
    sign_in(&browser, &region.base(0), &region.setup).await;
    let with_resource =
        reqwest::Url::parse_with_params(&authorize_url(&region.base(0)), [("resource", ORDERS)])
            .expect("URL");
    let code = code_of(&browser.get(with_resource).send().await.expect("authorize"));
    let issued = tokens(redeem(&region.base(0), &region.setup, &code).await).await;
    assert_eq!(aud(&field(&issued, "access_token")), ORDERS);
    let refreshed = tokens(
        refresh(
            &region.base(1),
            &region.setup,
            &field(&issued, "refresh_token"),
        )
        .await,
    )
    .await;
    assert_eq!(
        aud(&field(&refreshed, "access_token")),
        ORDERS,
        "kept in the database"
    );
}
