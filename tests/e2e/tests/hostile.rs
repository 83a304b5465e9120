//! Hostile input, refused with the operator running against real API servers: each area of the trust
//! boundary has its own module under `hostile/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod operator_support;

#[path = "hostile/kubeconfig.rs"]
mod kubeconfig;
