//! Each tenant's files, rendered once per change of its inputs and shared by every region.
//!
//! A region's reconcile selects from every Tenant, and rendering one (parsing its key ring,
//! checking each key, validating and serializing its files) costs far more than asking whether
//! its inputs changed: rendered afresh each time, a region's pass cost what the region's size
//! does, not what its change does, and a cold start of 10,000 Tenants made passes of seconds.
//! The files do not depend on the region, so one render serves them all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::render::TenantFiles;
use crate::status::report::TenantProblem;

/// Shared, not copied: every region's pass holds each of its tenants' files, and at 10,000
/// Tenants a copy per region was 16 MiB each, most of the operator's peak memory.
pub type Rendered = Result<Arc<TenantFiles>, TenantProblem>;

/// The last render of each tenant, by name, with the version of the inputs it came from.
#[derive(Debug, Default)]
pub struct TenantRenders(Mutex<HashMap<String, (u64, Rendered)>>);

impl TenantRenders {
    /// The files of `tenant` for inputs at `version`: the remembered ones when the inputs are
    /// unchanged, else `render`'s, remembered for next time.
    pub fn get_or_render(
        &self,
        tenant: &str,
        version: u64,
        render: impl FnOnce() -> Rendered,
    ) -> Rendered {
        if let Some((seen, rendered)) = self.0.lock().expect("renders lock").get(tenant)
            && *seen == version
        {
            return rendered.clone();
        }
        let rendered = render();
        self.0
            .lock()
            .expect("renders lock")
            .insert(tenant.to_owned(), (version, rendered.clone()));
        rendered
    }

    /// Forgets tenants no longer among `live`, so a deleted Tenant's files do not stay.
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        self.0
            .lock()
            .expect("renders lock")
            .retain(|name, _| live(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_tenant_is_rendered_again_only_when_its_inputs_change() {
        let renders = TenantRenders::default();
        let calls = Cell::new(0);
        let render = || {
            calls.set(calls.get() + 1);
            Ok(Arc::new(TenantFiles::default()))
        };
        renders.get_or_render("acme", 1, render).unwrap();
        renders.get_or_render("acme", 1, render).unwrap();
        assert_eq!(calls.get(), 1, "same inputs, same files");
        renders.get_or_render("acme", 2, render).unwrap();
        assert_eq!(calls.get(), 2, "changed inputs are rendered");
        renders.retain(|name| name != "acme");
        renders.get_or_render("acme", 2, render).unwrap();
        assert_eq!(calls.get(), 3, "a forgotten tenant starts over");
    }
}
