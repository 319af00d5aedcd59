//! The worker's OS confinement, from `sluice-sandbox`: `sluice worker` calls [`confine`] first
//! thing, while the process is still single-threaded, and runs nothing if it fails.
//!
//! Only this crate depends on `sluice-sandbox`: the gateway crates never confine themselves (a
//! test of the dependency graph keeps it so).

pub use sluice_sandbox::{
    ADDRESS_SPACE_HEADROOM_BYTES, Confinement, Layer, Policy, SandboxError, confine,
};
