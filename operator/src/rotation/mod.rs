//! Signing-key rotation: the pure planner that decides the schedule, and the driver that runs
//! it for one tenant against the hub.

pub mod drive;
pub mod plan;

pub use drive::{ROTATE_ANNOTATION, Rotated, rotate};
pub use plan::{Note, Observations, Policy, RotationState, plan};
