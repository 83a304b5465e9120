//! Hostile inputs, refused with the operator running as a real process against real API servers: one
//! module per area under `hostile/`.

mod bundle_content;
mod kubeconfig;
mod pinning;
mod signing;
