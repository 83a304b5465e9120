//! Hostile inputs, refused with the operator running as a real process against real API servers: one test
//! binary, one module per area under `hostile/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod operator_support;

#[path = "hostile/bundle_content.rs"]
mod hostile_bundle_content;
#[path = "hostile/signing.rs"]
mod hostile_signing;
#[path = "hostile/kubeconfig.rs"]
mod kubeconfig;
#[path = "hostile/pinning.rs"]
mod pinning;
