//! Pending logins are bounded on PostgreSQL as in memory: past a tenant's cap the oldest go.

use meridian_auth_server::store::LOGIN_CAPS;
use meridian_e2e::Postgres;
use meridian_e2e::auth_server::Replica;

use crate::support::*;

#[tokio::test]
async fn unauthenticated_authorize_requests_keep_at_most_the_tenants_cap_of_pending_logins() {
    let db = Postgres::from_env_or_start().await.expect("postgres");
    let uri = db.create_database("caps").await.expect("database created");
    let (dir, _setup) = demo_tenant();
    let replica = Replica::start("replica-0", dir.path(), &uri, dir.path())
        .await
        .expect("replica ready");
    let (base, total) = (replica.base(), LOGIN_CAPS.per_tenant + 100);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (base, sent) = (base.clone(), sent.clone());
            tokio::spawn(async move {
                let client = http();
                while sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                    let status = client.get(authorize_url(&base)).send().await.unwrap();
                    assert_eq!(status.status(), 200);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let count = db
        .psql(&uri, "SELECT count(*) FROM pending_logins")
        .await
        .expect("count");
    assert_eq!(count.trim(), LOGIN_CAPS.per_tenant.to_string());
}
