//! Publishing a reconcile's conclusions: one status write when (and only when) the status
//! changed, and an Event for every condition that changed on the way.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Context, ReconcileError};

/// Writes `status` over `previous` for the cluster-scoped `object`. Transitions of Ready, and of
/// any condition into a bad state (Degraded true, the others false), become Events.
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
    for condition in
        crate::status::conditions::transitions(conditions(previous), conditions(status))
    {
        let warning = (condition.type_ == "Degraded") == (condition.status == "True");
        if warning || condition.type_ == "Ready" {
            let note = format!("{}: {}", condition.type_, condition.message);
            ctx.event(&reference, warning, &condition.reason, note)
                .await;
        }
    }
    let patch = Patch::Merge(serde_json::json!({ "status": status }));
    Api::<K>::all(ctx.hub.clone())
        .patch_status(&object.name_any(), &PatchParams::default(), &patch)
        .await
        .map_err(ReconcileError::Hub)?;
    Ok(())
}
