//! Meridian's operator: reconciles Tenants and AuthRegions from a hub cluster into every
//! region cluster.

pub mod api;
pub mod duration;
pub mod render;
pub mod settings;
