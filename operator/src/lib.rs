//! Meridian's operator: reconciles Tenants and AuthRegions from a hub cluster into every
//! region cluster.
//!
//! Module map, from what users write to what the operator does about it:
//!
//! - The contract with users: [`api`] (the CRDs, their defaults and admission rules). The
//!   contract with the auth-server is the `meridian-contract` crate (the files a region serves
//!   and the validation both sides run); keys are the `meridian-keys` crate.
//! - Pure builders, no I/O and no clock:
//!   - [`render`]: a region's desired objects (workloads, shards of tenant files) from specs;
//!   - [`controller::select`](controller) (private): which tenants a region serves, with which
//!     files, falling back to last good ones;
//!   - [`status`]: Tenant and AuthRegion status from what the controllers gathered;
//!   - [`rotation::plan`]: the key rotation schedule.
//! - I/O edges, in [`edge`]: the hub's Secrets and key rings ([`edge::hub`]), the region
//!   clusters ([`edge::region`]), the regions' public JWKS ([`edge::jwks`]).
//! - The controllers that join them: [`controller`] (the AuthRegion and Tenant reconcilers,
//!   what they share) and [`rotation::drive`] (runs the planner for one tenant).
//! - Process plumbing: [`runtime`] (watches, queues, error policy), [`leader`] (election),
//!   [`admin`] (health and metrics endpoints), [`metrics`], [`settings`], [`duration`].

pub mod admin;
pub mod api;
pub mod controller;
pub mod duration;
pub mod edge;
pub mod leader;
pub mod metrics;
pub mod render;
pub mod rotation;
pub mod runtime;
pub mod settings;
pub mod status;
