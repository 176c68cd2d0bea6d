//! The core rule of a region, without I/O: which tenants it serves and with which files.
//!
//! A tenant placed in the region is served with the files rendered from the hub's current
//! inputs; when those cannot be rendered, with its last good files read back from the region;
//! and when it never had any, not at all. Each outcome is recorded for the Tenant controller,
//! but for a new tenant still waiting for its first key ring: the region has nothing to say
//! about it yet, so it stays pending rather than failing, until the key ring is there.

use std::sync::Arc;

use kube::{Resource, ResourceExt};

use crate::api::{AuthRegionSpec, Isolation, Tenant};
use crate::render::{PlacedTenant, Placement, TenantFiles, placement};
use crate::status::report::{RegionSync, TenantInRegion, TenantProblem};

/// What a region is to serve, and how each of its tenants is served.
#[derive(Debug, Default)]
pub struct Selection {
    pub placed: Vec<PlacedTenant>,
    pub sync: RegionSync,
    /// Tenants of the shared group the region is to serve, served yet or not (a new one still
    /// waiting for its key ring counts): the group is sized from them, so that its shards and
    /// pods keep their shape while a cold start's key rings arrive, instead of being resharded
    /// (and the pods rolled) each time the served count crosses a power of two.
    pub shared_expected: usize,
}

/// Chooses the region's tenants and their files. `render` makes a tenant's files from the
/// hub's inputs or says why it cannot; `last_good` gives what the region serves now for a
/// tenant (asked only of tenants whose files cannot be made).
pub fn select<'a>(
    region: &str,
    spec: &AuthRegionSpec,
    tenants: impl IntoIterator<Item = &'a Tenant>,
    last_good: impl Fn(&str) -> TenantFiles,
    mut render: impl FnMut(&Tenant, &str) -> Result<Arc<TenantFiles>, TenantProblem>,
) -> Selection {
    let mut selection = Selection::default();
    let live = tenants
        .into_iter()
        .filter(|t| t.meta().deletion_timestamp.is_none());
    for tenant in live {
        let name = tenant.name_any();
        if placement(&tenant.spec, region, spec) != Placement::Placed {
            continue;
        }
        if tenant.spec.isolation == Isolation::Shared {
            selection.shared_expected += 1;
        }
        let (files, entry) = match render(tenant, &name) {
            Ok(files) => {
                let entry = TenantInRegion {
                    generation: tenant.meta().generation,
                    problem: None,
                    serving: true,
                    revision: Some(files.revision()),
                };
                (files, entry)
            }
            Err(problem) => match Some(last_good(&name)).filter(|files| !files.is_empty()) {
                Some(files) => {
                    let entry = TenantInRegion {
                        generation: None,
                        problem: Some(problem),
                        serving: true,
                        revision: Some(files.revision()),
                    };
                    (Arc::new(files), entry)
                }
                None if problem.awaits_key_ring() => continue,
                None => {
                    let entry = TenantInRegion {
                        generation: None,
                        problem: Some(problem),
                        serving: false,
                        revision: None,
                    };
                    selection.sync.tenants.insert(name, entry);
                    continue;
                }
            },
        };
        selection.sync.tenants.insert(name.clone(), entry);
        selection.placed.push(PlacedTenant {
            name,
            isolation: tenant.spec.isolation,
            files,
        });
    }
    selection
}

#[cfg(test)]
mod tests;
