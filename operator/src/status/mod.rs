//! Status builders: pure functions from what the controllers gathered to what users read with
//! `kubectl get`, so every condition is unit-tested and an unchanged outcome writes nothing.
//! Nothing here may do I/O or read a clock; callers pass the time in.

pub mod conditions;
pub mod region;
pub mod report;
pub mod serving;
pub mod tenant;
