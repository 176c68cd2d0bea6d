//! CRs in the hub → objects in each region → auth-servers run from exactly those objects →
//! a token from each region verifies against every region's JWKS, with the right claims.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::ListParams;
use meridian_e2e::local::{REGIONS, TENANT};
use meridian_operator::api::Tenant;

use crate::common::{BACKEND, backend_secret, start, tokens_verify_everywhere};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_each_region_verifies_in_every_region() -> anyhow::Result<()> {
    let meridian = start().await?;
    let secret = backend_secret(&meridian).await?;
    tokens_verify_everywhere(&meridian, (BACKEND, &secret), &REGIONS).await?;

    // Each region's auth-server sees the operator's files, and nothing else: the region
    // identity, and acme's config, keys, client digests and users.
    for region in REGIONS {
        let dir = meridian.config_dir(region).await?;
        let files: BTreeSet<String> = std::fs::read_dir(&dir)?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        let visible: Vec<&str> = files
            .iter()
            .map(String::as_str)
            .filter(|f| !f.starts_with(".."))
            .collect();
        assert_eq!(
            visible,
            [
                "acme.clients.json",
                "acme.keys.json",
                "acme.tenant.json",
                "acme.users.json",
                "region.json"
            ],
            "{region}"
        );
        // Byte for byte what the operator wrote into the region.
        let maps =
            Api::<ConfigMap>::namespaced(meridian.clusters()[region].client(), "meridian-auth")
                .list(&ListParams::default())
                .await?;
        let written = maps
            .items
            .iter()
            .find_map(|cm| cm.data.as_ref()?.get("acme.tenant.json").cloned())
            .expect("the region holds acme's config");
        assert_eq!(
            std::fs::read_to_string(dir.join("acme.tenant.json"))?,
            written
        );
        let region_json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("region.json"))?)?;
        assert_eq!(region_json["name"], region);
        assert_eq!(region_json["publicUrl"], meridian.public_url(region));
    }

    // Every region publishes the key the hub reports as signing, and discovery names the one
    // issuer.
    let tenant = Api::<Tenant>::all(meridian.hub()).get(TENANT).await?;
    let active = tenant.status.and_then(|s| s.signing?.active_kid).unwrap();
    for region in REGIONS {
        let issuer = meridian.region_issuer(region);
        let jwks = issuer.jwks().await?;
        assert!(jwks.find(&active).is_some(), "{region} publishes {active}");
        let discovery: serde_json::Value = meridian_e2e::tokens::http_client()
            .get(issuer.discovery_url())
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(discovery["issuer"], meridian.issuer());
    }
    Ok(())
}
