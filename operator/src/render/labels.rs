//! The label set every object Meridian writes carries, and the selectors its sweep uses.

use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "meridian-operator";
pub const REGION_LABEL: &str = "meridian.dev/region";
pub const TENANT_LABEL: &str = "meridian.dev/tenant";
const NAME_LABEL: &str = "app.kubernetes.io/name";
const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
const APP_NAME: &str = "meridian-auth-server";

/// Labels of one object: which region wrote it, which auth-server group it belongs to, and
/// which tenant when it belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels {
    pub region: String,
    pub instance: Option<String>,
    pub tenant: Option<String>,
}

impl Labels {
    pub fn region(region: &str) -> Self {
        Self {
            region: region.to_owned(),
            instance: None,
            tenant: None,
        }
    }

    pub fn instance(mut self, instance: &str) -> Self {
        self.instance = Some(instance.to_owned());
        self
    }

    pub fn tenant(mut self, tenant: Option<&str>) -> Self {
        self.tenant = tenant.map(str::to_owned);
        self
    }

    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (NAME_LABEL.to_owned(), APP_NAME.to_owned()),
            (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
            (REGION_LABEL.to_owned(), self.region.clone()),
        ]);
        if let Some(instance) = &self.instance {
            labels.insert(INSTANCE_LABEL.to_owned(), instance.clone());
        }
        if let Some(tenant) = &self.tenant {
            labels.insert(TENANT_LABEL.to_owned(), tenant.clone());
        }
        labels
    }

    /// The pod selector of an auth-server group: stable for the Deployment's life (a selector
    /// is immutable), so it holds only the group and region.
    pub fn selector(&self) -> BTreeMap<String, String> {
        let mut selector = BTreeMap::from([
            (NAME_LABEL.to_owned(), APP_NAME.to_owned()),
            (REGION_LABEL.to_owned(), self.region.clone()),
        ]);
        if let Some(instance) = &self.instance {
            selector.insert(INSTANCE_LABEL.to_owned(), instance.clone());
        }
        selector
    }

    /// The label selector of everything Meridian wrote for `region`, for the sweep.
    pub fn managed_selector(region: &str) -> String {
        format!("{},{REGION_LABEL}={region}", managed_by_selector())
    }
}

/// The label selector of everything Meridian wrote, in any region or the hub.
pub fn managed_by_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY}")
}
