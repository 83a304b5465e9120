//! The acp-cvo web console: the fleet, each cluster, releases, rollouts and risks, as server-rendered
//! pages that update themselves from watches (server-sent events), and the few mutations a person makes
//! (request or cancel an upgrade; approve, pause or resume a run).
//!
//! Every request to the API server is made **as the caller**: with the person's own kubeconfig (`ac
//! console`), or in bearer mode with only the caller's bearer token (in a pod, behind an auth proxy or
//! after the sign-in page). What a person sees and may do is exactly what their RBAC allows; a refusal
//! is shown as the permission it needs. The console never reads Secrets.
//!
//! Reading a cluster (its state, progress, preflight verdicts) and deciding a request (the guards of `ac
//! adm upgrade`) come from `acp-api`, so the console, the CLI and the metrics never disagree.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod assets;
mod auth;
mod errors;
mod live;
mod pages;
mod security;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

pub use auth::Mode;

/// How many server-sent event streams may be open at once; more are refused (503) until one closes.
pub const MAX_STREAMS: usize = 64;
/// How long one event stream lasts; the browser reconnects, so a watch never outlives this.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(600);
/// The largest request body accepted (forms are a few fields).
pub const MAX_BODY: usize = 16 * 1024;

/// What the console serves and how it reaches the API server.
#[derive(Clone)]
pub struct Config {
    /// Whose credentials requests use.
    pub mode: Mode,
    /// Namespace of the ClusterVersionShadow and UpgradeRun objects.
    pub namespace: String,
}

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the console's secret key: {0}")]
    Random(String),
    #[error("the console's listener failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Shared by every request.
pub(crate) struct State {
    pub config: Config,
    pub sessions: auth::SessionKey,
    pub streams: Arc<tokio::sync::Semaphore>,
}

/// The console's router (for tests that drive it without a socket).
pub fn router(config: Config) -> Result<axum::Router, Error> {
    let state = Arc::new(State {
        config,
        sessions: auth::SessionKey::generate()?,
        streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
    });
    Ok(pages::routes(state))
}

/// Serves the console on `listener` until the process ends.
pub async fn serve(config: Config, listener: tokio::net::TcpListener) -> Result<(), Error> {
    let app = router(config)?;
    axum::serve(listener, app).await?;
    Ok(())
}
