//! Hostile input, refused with the operator running as a real process against real API servers: each
//! area of attack is a module under `hostile/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod operator_support;

#[path = "hostile/bundle_content.rs"]
mod hostile_bundle_content;
