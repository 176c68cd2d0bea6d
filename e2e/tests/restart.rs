//! A region's API server stops (its clients fail, other clusters carry on) and restarts on the
//! same port with its data.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use meridian_e2e::{ClusterOptions, Clusters};

#[tokio::test]
async fn a_restarted_apiserver_keeps_its_data_and_port() -> anyhow::Result<()> {
    let clusters = Clusters::start(2, ClusterOptions::default()).await?;
    let region = &clusters["eu-west"];
    let url = region.server_url();
    let config_maps = Api::<ConfigMap>::namespaced(region.client(), "default");
    let before = ConfigMap {
        metadata: ObjectMeta {
            name: Some("survives-restart".into()),
            ..Default::default()
        },
        data: Some([("key".to_string(), "value".to_string())].into()),
        ..Default::default()
    };
    config_maps.create(&PostParams::default(), &before).await?;

    region.stop_apiserver().await?;
    assert!(!region.apiserver_running());
    assert!(
        config_maps.get("survives-restart").await.is_err(),
        "a stopped API server answered"
    );
    Api::<Namespace>::all(clusters.hub().client())
        .list(&ListParams::default())
        .await?;

    region.start_apiserver().await?;
    assert_eq!(region.server_url(), url);
    let after = config_maps.get("survives-restart").await?;
    assert_eq!(after.data, before.data);
    Ok(())
}
