//! The operator's I/O edges, each behind its own module: the hub's Secrets (inputs and key
//! rings), the region clusters (clients, reads, writes) and the regions' public JWKS.

pub mod hub;
pub mod jwks;
pub mod region;
