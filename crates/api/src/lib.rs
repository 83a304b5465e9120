//! API types for `config.alauda.io/v1`: ClusterVersionShadow (`cvsh`) and ProductManifest (`pdman`),
//! the helpers the operator and the CLI share to read and write them, and their CRDs.
//!
//! Versions travel as strings on the wire, exactly as ACP writes them; code parses them with the
//! policy crate's version types at the edges.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod acp_version;
pub mod catalogue;
pub mod checks;
pub mod conditions;
pub mod crd;
pub mod cvsh;
pub mod duration;
pub mod kubeconfig;
pub mod maintenance_window;
pub mod names;
pub mod product_manifest;
pub mod risk_matrix;
pub mod risks;
pub mod rollout;
pub mod ssa;
pub mod stages;
pub mod versions;

pub use cvsh::{ClusterVersionShadow, ClusterVersionShadowSpec, ClusterVersionShadowStatus};
pub use product_manifest::{ProductManifest, ProductManifestSpec, ProductManifestStatus};
pub use versions::FieldError;

/// The kube and k8s-openapi items users of this crate need most, so they import from one place.
pub mod k8s {
    pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    pub use k8s_openapi::jiff::Timestamp;
}
