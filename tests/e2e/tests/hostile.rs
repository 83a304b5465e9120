//! Hostile input, with the operator running as a real process against real API servers: each attack on
//! the trust boundaries is refused, and the refusal is a condition a person can act on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod operator_support;

#[path = "hostile/pinning.rs"]
mod pinning;
