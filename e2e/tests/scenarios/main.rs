//! Meridian end to end: CRs in a hub become objects in each region, each region's real node
//! runs the auth-server pods from exactly those objects, and real clients get and check
//! tokens over HTTP. One test binary, so the scenarios share one link and run side by side,
//! each on its own control planes and loopback ports.

mod browser_code_flow;
mod common;
mod front_door;
mod gateway;
mod hub_outage;
mod load;
mod one_bad_tenant;
mod postgres_regions;
mod propagation;
mod real_nodes;
mod region_outage;
mod tokens_everywhere;
