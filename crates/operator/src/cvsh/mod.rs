//! The ClusterVersionShadow controller: observe → plan → preflight → execute → record, with the whole
//! state machine persisted in the object's status.

pub mod controller;
pub mod facts;
pub mod fleet;
pub mod pinning;
pub mod plan;
pub mod preflight;
pub mod record;
pub mod roles;
pub mod stages;
