//! The operator's edge towards region clusters: clients built from kubeconfig Secrets, reading
//! what Meridian wrote there, checking the store's Secret, and applying the desired state with
//! as few writes as possible.

mod apply;
mod clients;
mod diff;
mod error;
mod observe;
mod store;

pub use apply::{ApplyCache, ApplyReport, apply_region, delete_region};
pub use clients::probe;
pub use clients::{KUBECONFIG_DEFAULT_KEY, RegionClients};
pub use error::RegionError;
pub use observe::{ObservedRegion, RegionFiles, observe_region, observe_region_files};
pub use store::check_store;
