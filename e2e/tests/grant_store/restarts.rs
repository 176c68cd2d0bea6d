//! Killing or restarting replicas loses nothing: state is in the database, not in a process.

use reqwest::StatusCode;

use crate::support::*;

#[tokio::test]
async fn a_code_flow_cut_by_sigkill_is_finished_at_the_other_replica() {
    let mut region = Region::start(2).await;
    let browser = browser();
    let form = login_form(&browser, &region.base(0)).await;
    region.replicas[0].kill();
    assert!(
        region.replicas[0].check_running().is_err(),
        "replica 0 is gone"
    );
    let b = region.base(1);
    let signed_in = submit_login(&browser, &b, &form, &region.setup.password).await;
    let code = code_of(&signed_in);
    tokens(redeem(&b, &region.setup, &code).await).await;
}

#[tokio::test]
async fn refresh_tokens_and_sessions_survive_a_restart_of_every_replica() {
    let mut region = Region::start(2).await;
    let browser = browser();
    let code = sign_in(&browser, &region.base(0), &region.setup).await;
    let issued = tokens(redeem(&region.base(1), &region.setup, &code).await).await;
    for replica in &mut region.replicas {
        replica.kill();
    }
    for replica in &mut region.replicas {
        replica.restart().await.expect("replica starts again");
    }
    let refresh_token = field(&issued, "refresh_token");
    let refreshed = refresh(&region.base(1), &region.setup, &refresh_token).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "the refresh token still works"
    );
    // The browser's session cookie still signs the user in, with no login page.
    let code = code_from_session(&browser, &region.base(0)).await;
    tokens(redeem(&region.base(0), &region.setup, &code).await).await;
}
