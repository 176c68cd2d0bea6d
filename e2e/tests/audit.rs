//! The audit write counter sees exactly the writes sent, attributed to who sent them.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use meridian_e2e::{ADMIN_USER, ClusterOptions, Clusters, WriteFilter};

const WAIT: Duration = Duration::from_secs(15);

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn the_write_counter_sees_a_create_it_just_made_and_no_reads() -> anyhow::Result<()> {
    let clusters = Clusters::start(1, ClusterOptions::default()).await?;
    let hub = clusters.hub();
    let api = Api::<ConfigMap>::namespaced(hub.client(), "default");
    let by_admin = WriteFilter::any().user(ADMIN_USER);
    let mark = hub.audit().mark()?;

    api.create(&PostParams::default(), &config_map("counted"))
        .await?;
    let creates = WriteFilter::any()
        .user(ADMIN_USER)
        .verb("create")
        .resource("configmaps");
    let seen = hub.audit().wait_for_writes(mark, &creates, 1, WAIT).await?;
    assert_eq!(seen[0].namespace.as_deref(), Some("default"));
    assert_eq!(seen[0].code, Some(201));

    api.get("counted").await?;
    api.list(&ListParams::default()).await?;
    // The delete is logged after the reads would have been, so once it shows, the count is final.
    api.delete("counted", &DeleteParams::default()).await?;
    hub.audit()
        .wait_for_writes(mark, &by_admin.clone().verb("delete"), 1, WAIT)
        .await?;
    let verbs: Vec<String> = hub
        .audit()
        .writes_since(mark)?
        .into_iter()
        .filter(|w| by_admin.matches(w))
        .map(|w| w.verb)
        .collect();
    assert_eq!(verbs, ["create", "delete"]);

    // Only reads from now on: an observation window sees no write by the admin.
    let quiet = async {
        let reads = async {
            for _ in 0..5 {
                api.list(&ListParams::default()).await?;
            }
            anyhow::Ok(())
        };
        let (writes, reads) = tokio::join!(
            hub.audit().writes_during(&by_admin, Duration::from_secs(1)),
            reads
        );
        reads?;
        anyhow::Ok(writes?)
    };
    assert_eq!(quiet.await?, vec![]);
    Ok(())
}

#[tokio::test]
async fn writes_are_attributed_to_service_accounts_impersonated_and_certificate_users()
-> anyhow::Result<()> {
    let clusters = Clusters::start(1, ClusterOptions::default()).await?;
    let hub = clusters.hub();
    Api::<ServiceAccount>::namespaced(hub.client(), "default")
        .create(
            &PostParams::default(),
            &ServiceAccount {
                metadata: ObjectMeta {
                    name: Some("operator".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await?;
    let token = hub
        .service_account_token("default", "operator", &[], Duration::from_secs(600))
        .await?;
    let mark = hub.audit().mark()?;

    // No RBAC grants: the service account and the certificate user are refused (403), yet
    // their attempts are writes all the same. The impersonated admin group may write.
    let as_sa = Api::<ConfigMap>::namespaced(hub.client_with_token(&token).await?, "default");
    assert!(
        as_sa
            .create(&PostParams::default(), &config_map("by-sa"))
            .await
            .is_err()
    );
    let as_bob = Api::<ConfigMap>::namespaced(
        hub.client_for_user("bob", Some("developers")).await?,
        "default",
    );
    assert!(
        as_bob
            .create(&PostParams::default(), &config_map("by-bob"))
            .await
            .is_err()
    );
    let as_alice = Api::<ConfigMap>::namespaced(
        hub.client_impersonating("alice", &["system:masters"])?,
        "default",
    );
    as_alice
        .create(&PostParams::default(), &config_map("by-alice"))
        .await?;

    let writes = hub
        .audit()
        .wait_for_writes(mark, &WriteFilter::any().resource("configmaps"), 3, WAIT)
        .await?;
    let who: Vec<(&str, Option<u16>)> = writes.iter().map(|w| (w.user.as_str(), w.code)).collect();
    assert_eq!(
        who,
        [
            ("system:serviceaccount:default:operator", Some(403)),
            ("bob", Some(403)),
            ("alice", Some(201))
        ]
    );
    Ok(())
}
