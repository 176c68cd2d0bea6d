//! Publishing a reconcile's conclusions: one status write when (and only when) the status
//! changed, and an Event for each problem that began or ended on the way.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Context, ReconcileError};

/// Writes `status` over `previous` for the cluster-scoped `object`. The transitions
/// [`notable`](crate::status::conditions::notable) picks become Events.
pub async fn publish_status<K, S>(
    ctx: &Context,
    object: &K,
    previous: &S,
    status: &S,
    conditions: impl Fn(&S) -> &[Condition],
) -> Result<(), ReconcileError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: PartialEq + Serialize,
{
    if status == previous {
        return Ok(());
    }
    let reference = object.object_ref(&());
    for (condition, warning) in
        crate::status::conditions::notable(conditions(previous), conditions(status))
    {
        let note = format!("{}: {}", condition.type_, condition.message);
        ctx.event(&reference, warning, &condition.reason, note)
            .await;
    }
    let patch = Patch::Merge(serde_json::json!({ "status": status }));
    Api::<K>::all(ctx.hub.clone())
        .patch_status(&object.name_any(), &PatchParams::default(), &patch)
        .await
        .map_err(ReconcileError::Hub)?;
    Ok(())
}
