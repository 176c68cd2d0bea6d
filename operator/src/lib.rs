//! Meridian's operator: reconciles Tenants and AuthRegions from a hub cluster into every
//! region cluster.

pub mod admin;
pub mod api;
pub mod controller;
pub mod duration;
pub mod hub;
pub mod jwks;
pub mod leader;
pub mod metrics;
pub mod region;
pub mod render;
pub mod rotation;
pub mod runtime;
pub mod settings;
