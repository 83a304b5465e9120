//! The ClusterVersionShadow controller: gather → decide → apply → project, with the whole state machine
//! persisted in the object's status.

pub mod cadence;
pub mod controller;
pub mod facts;
#[cfg(test)]
mod fixtures;
pub mod fleet;
pub mod gather;
pub mod insights;
pub mod phase;
pub mod pinning;
pub mod plan;
pub mod preflight;
pub mod project;
pub mod queue;
pub mod risks;
pub mod roles;
pub mod scheduler;
pub mod slots;
pub mod stages;
pub mod transitions;
