//! ACP release bundles as OCI artifacts: publish a `kind: ProductRelease` document to a registry
//! and fetch it back, checked.
//!
//! A bundle is one YAML layer (`application/vnd.alauda.acp.release.v1+yaml`) under a config of
//! type `application/vnd.alauda.acp.release.config.v1+json` (see [`artifact`]). Pulls refuse
//! anything else, verify the content against its digest, cap its size, and check that a version
//! tag names the bundle's own version, so `REPO:4.3.1` always holds release 4.3.1.
//!
//! ```no_run
//! # async fn example() -> Result<(), acp_bundle::BundleError> {
//! use acp_bundle::{BundleClient, BundleRef, ClientOptions, pull};
//! let client = BundleClient::new(ClientOptions::default());
//! let reference = BundleRef::parse("registry.example.com/acp/release:4.3.1")?;
//! let bundle = pull(&client, &reference).await?;
//! println!("{} at {}", bundle.release.version, bundle.digest);
//! # Ok(()) }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod artifact;
mod client;
pub mod content;
mod credentials;
mod document;
mod error;
mod reference;
pub mod signature;
mod source;

pub use client::{
    BundleClient, ClientOptions, DEFAULT_MAX_BUNDLE_BYTES, DEFAULT_TIMEOUT, PulledBundle, pull, push,
    push_release,
};
pub use content::{ContentPolicy, ContentRefused};
pub use credentials::{
    Credentials, CredentialsError, DockerConfig, credentials_from_docker_config, default_docker_config_path,
};
pub use document::{Bundle, DocumentError};
pub use error::{BundleError, Operation};
pub use reference::{BundleRef, RefError, version_tag};
pub use source::{BundleSource, Requested, bundle_source};
