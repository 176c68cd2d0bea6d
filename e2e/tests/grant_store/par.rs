//! Pushed authorization requests on the shared store: pushed at one replica, used at another,
//! and never twice, whichever replica is asked.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn a_request_pushed_at_one_replica_is_used_once_at_any() {
    let region = Region::start(2).await;
    let form = [
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "s-par"),
    ];
    let pushed = http()
        .post(tenant_url(&region.base(0), "/par"))
        .basic_auth("demo-client", Some(&region.setup.client_secret))
        .form(&form)
        .send()
        .await
        .expect("push");
    assert_eq!(pushed.status(), StatusCode::CREATED);
    let body: Value = pushed.json().await.expect("JSON");
    let request_uri = field(&body, "request_uri");
    let authorize = |base: String| {
        reqwest::Url::parse_with_params(
            &tenant_url(&base, "/authorize"),
            [
                ("client_id", "demo-client"),
                ("request_uri", request_uri.as_str()),
            ],
        )
        .expect("URL")
    };
    let browser = browser();
    let page = browser
        .get(authorize(region.base(1)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the login page, at the other replica"
    );
    for replica in [0, 1] {
        let again = browser
            .get(authorize(region.base(replica)))
            .send()
            .await
            .expect("authorize");
        assert_eq!(
            again.status(),
            StatusCode::BAD_REQUEST,
            "used already (replica {replica})"
        );
    }
}
