//! Two replicas on one database behave as one server: whichever replica a load balancer picks,
//! a code redeems once, a refresh token rotates once, a revocation and a throttle count
//! everywhere.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn a_code_issued_at_one_replica_is_redeemed_at_the_other() {
    let region = Region::start(2).await;
    let browser = browser();
    let code = sign_in(&browser, &region.base(0), &region.setup).await;
    let issued = tokens(redeem(&region.base(1), &region.setup, &code).await).await;
    assert!(issued["refresh_token"].is_string());
    let access = field(&issued, "access_token");
    let seen = introspect(&region.base(0), &region.setup, &access).await;
    assert_eq!(seen["active"], true, "either replica vouches for it");
}

#[tokio::test]
async fn one_code_sent_to_both_replicas_at_once_redeems_exactly_once() {
    let region = Region::start(2).await;
    let browser = browser();
    sign_in(&browser, &region.base(0), &region.setup).await;
    let (a, b) = (region.base(0), region.base(1));
    for attempt in 0..100 {
        // The session makes each code one redirect away, at alternating replicas.
        let code = code_from_session(&browser, if attempt % 2 == 0 { &a } else { &b }).await;
        let (at_a, at_b) = tokio::join!(
            redeem(&a, &region.setup, &code),
            redeem(&b, &region.setup, &code)
        );
        let mut statuses = [at_a.status(), at_b.status()];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::BAD_REQUEST],
            "attempt {attempt}: exactly one replica redeems the code"
        );
    }
}

#[tokio::test]
async fn a_refresh_token_rotated_at_one_replica_and_replayed_at_the_other_revokes_the_family() {
    let region = Region::start(2).await;
    let (a, b, setup) = (region.base(0), region.base(1), &region.setup);
    let code = sign_in(&browser(), &a, setup).await;
    let first = tokens(redeem(&a, setup, &code).await).await;
    let rotated = tokens(refresh(&a, setup, &field(&first, "refresh_token")).await).await;

    let replay = refresh(&b, setup, &field(&first, "refresh_token")).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    let next = field(&rotated, "refresh_token");
    for replica in [&a, &b] {
        assert_eq!(
            refresh(replica, setup, &next).await.status(),
            StatusCode::BAD_REQUEST,
            "the newest token of the family is dead at {replica} too"
        );
        let access = introspect(replica, setup, &field(&rotated, "access_token")).await;
        assert_eq!(access["active"], false, "and so is its access token");
    }
}

#[tokio::test]
async fn a_revocation_at_one_replica_is_seen_by_the_other_before_revoke_returns() {
    let region = Region::start(2).await;
    let (a, b, setup) = (region.base(0), region.base(1), &region.setup);
    let access = field(
        &tokens(client_credentials(&a, setup).await).await,
        "access_token",
    );
    assert_eq!(introspect(&b, setup, &access).await["active"], true);
    revoke(&a, setup, &access).await;
    assert_eq!(introspect(&b, setup, &access).await["active"], false);

    let code = sign_in(&browser(), &b, setup).await;
    let user = tokens(redeem(&b, setup, &code).await).await;
    revoke(&b, setup, &field(&user, "refresh_token")).await;
    let refreshed = refresh(&a, setup, &field(&user, "refresh_token")).await;
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    let access = introspect(&a, setup, &field(&user, "access_token")).await;
    assert_eq!(
        access["active"], false,
        "revoking the grant ends its access tokens"
    );
}

#[tokio::test]
async fn failed_logins_are_counted_across_replicas() {
    let region = Region::start(2).await;
    let (a, b) = (region.base(0), region.base(1));
    let browser = browser();
    // One pending login, its form posted to whichever replica: five failures in all (the
    // per-user limit), split between the two.
    let form = login_form(&browser, &a).await;
    for replica in [&a, &b, &a, &b, &a] {
        let failed = submit_login(&browser, replica, &form, "wrong password").await;
        assert_eq!(failed.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = submit_login(&browser, &b, &form, &region.setup.password).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the right password is refused while the user is locked, at either replica"
    );
}
