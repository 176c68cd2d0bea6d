//! Real Kubernetes control planes for Meridian's tests.
//!
//! [`Clusters::start`] runs N independent clusters at once (a hub and regions), each a real
//! `kube-apiserver` with its own CA, admin identity, RBAC, service-account token signing and
//! a write audit log, optionally with `kube-controller-manager`; all share one `etcd` under
//! per-cluster prefixes. Binaries come from `KUBEBUILDER_ASSETS` or are built from pinned Go
//! modules by `e2e/tools/build.sh` (see [`Binaries`]).
//!
//! What a test reaches for:
//! - start: [`Clusters::start`], [`Clusters::start_named`], [`ClusterOptions`];
//!   `clusters["eu-west"]`, [`Clusters::hub`], [`Clusters::regions`];
//! - talk to a cluster: [`Cluster::client`] (admin), [`Cluster::kubeconfig_path`],
//!   [`Cluster::kubeconfig`] (embedded credentials, fit for a Secret), [`Cluster::kubectl`],
//!   [`Cluster::helm`];
//! - act as someone else: [`Cluster::client_for_user`], [`Cluster::client_impersonating`],
//!   [`Cluster::service_account_token`] (TokenRequest) with [`Cluster::client_with_token`];
//! - count writes: [`Cluster::audit`], [`AuditLog::mark`], [`AuditLog::count_writes`],
//!   [`AuditLog::wait_for_writes`], [`AuditLog::writes_during`], [`WriteFilter`];
//! - take a region down: [`Cluster::stop_apiserver`], [`Cluster::start_apiserver`];
//! - a real database: [`Postgres::from_env_or_start`], [`Postgres::create_database`],
//!   [`Postgres::stop`] / [`Postgres::restart`] for an outage;
//! - auth-server replicas outside Kubernetes, on a shared store: [`auth_server::Replica`];
//! - wait without sleeping: [`eventually`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), meridian_e2e::Error> {
//! use meridian_e2e::{ClusterOptions, Clusters, WriteFilter};
//!
//! let clusters = Clusters::start(3, ClusterOptions::default()).await?;
//! let region = &clusters["eu-west"];
//! let mark = region.audit().mark()?;
//! // ... run the component under test against region.client() ...
//! assert_eq!(region.audit().count_writes(mark, &WriteFilter::any().user("operator"))?, 0);
//! # Ok(()) }
//! ```
//!
//! This crate is test infrastructure: it must never be a dependency of a shipped binary.

mod access;
mod apiserver;
mod audit;
pub mod auth_server;
mod auth_server_binary;
mod binaries;
mod cluster;
mod clusters;
mod controller_manager;
pub mod cpu_time;
mod error;
mod etcd;
pub mod example_api;
mod files;
pub mod frontdoor;
pub mod gateway;
pub mod haproxy;
mod health;
mod kubeconfig;
mod leftovers;
pub mod local;
pub mod meridian;
pub mod node;
mod pki;
mod ports;
pub mod postgres;
mod process;
pub mod region_pods;
mod scheduler;
pub mod tokens;
mod wait;

pub use audit::{AuditLog, AuditMark, WriteFilter, WriteRequest};
pub use binaries::Binaries;
pub use cluster::{ADMIN_USER, Cluster};
pub use clusters::{ClusterOptions, Clusters, DEFAULT_NAMES};
pub use error::{Component, Error, Result};
pub use postgres::Postgres;
pub use wait::eventually;

/// Clusters are shared with spawned tasks (an operator under test, a load generator).
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Clusters>();
    shareable::<Cluster>();
};
