//! With the controller-manager option, the controllers Meridian's tests rely on run: a
//! Deployment gets a ReplicaSet, garbage collection follows owner references, a deleted
//! namespace goes away, and every namespace gets its default ServiceAccount.

use std::time::Duration;

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{Namespace, ServiceAccount},
};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use meridian_e2e::{ClusterOptions, Clusters, WriteFilter, eventually};

const WAIT: Duration = Duration::from_secs(60);

fn deployment() -> Deployment {
    serde_json::from_value(serde_json::json!({
        "metadata": { "name": "web" },
        "spec": {
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "web", "image": "example.invalid/web:1" }] }
            }
        }
    }))
    .expect("a valid Deployment")
}

#[tokio::test]
async fn deployments_garbage_collection_and_namespace_deletion_work() -> anyhow::Result<()> {
    let clusters = Clusters::start(1, ClusterOptions::default().with_controller_manager()).await?;
    let hub = clusters.hub();
    let mark = hub.audit().mark()?;
    let namespaces = Api::<Namespace>::all(hub.client());
    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": "apps" } }))?;
    namespaces
        .create(&PostParams::default(), &namespace)
        .await?;

    let service_accounts = Api::<ServiceAccount>::namespaced(hub.client(), "apps");
    eventually("the default ServiceAccount in apps", WAIT, async || {
        Ok(service_accounts.get_opt("default").await?)
    })
    .await?;

    let deployments = Api::<Deployment>::namespaced(hub.client(), "apps");
    deployments
        .create(&PostParams::default(), &deployment())
        .await?;
    let replica_sets = Api::<ReplicaSet>::namespaced(hub.client(), "apps");
    let list = ListParams::default().labels("app=web");
    eventually("a ReplicaSet for the Deployment", WAIT, async || {
        Ok(replica_sets.list(&list).await?.items.into_iter().next())
    })
    .await?;
    let by_controllers = WriteFilter::any()
        .resource("replicasets")
        .verb("create")
        .user("system:kube-controller-manager");
    hub.audit()
        .wait_for_writes(mark, &by_controllers, 1, WAIT)
        .await?;

    deployments
        .delete("web", &DeleteParams::background())
        .await?;
    eventually(
        "the garbage collector to delete the ReplicaSet",
        WAIT,
        async || {
            Ok(replica_sets
                .list(&list)
                .await?
                .items
                .is_empty()
                .then_some(()))
        },
    )
    .await?;

    namespaces.delete("apps", &DeleteParams::default()).await?;
    eventually(
        "the namespace controller to finish deleting apps",
        WAIT,
        async || Ok(namespaces.get_opt("apps").await?.is_none().then_some(())),
    )
    .await?;
    Ok(())
}
