//! The ClusterVersionShadow controller: observe → plan → preflight → execute → record, with the whole
//! state machine persisted in the object's status.

pub mod fleet;
pub mod preflight;
