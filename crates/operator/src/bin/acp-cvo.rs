//! `acp-cvo`: the ACP cluster version operator.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use acp_operator::{Config, shutdown};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,kube=warn")),
        )
        .init();

    let (trigger, stop) = shutdown::channel();
    shutdown::on_signals(trigger.clone());
    tracing::info!(version = env!("CARGO_PKG_VERSION"), namespace = %config.namespace, "starting acp-cvo");
    let result = acp_operator::run(config, trigger, stop).await;
    if let Err(err) = &result {
        tracing::error!(error = format!("{err:#}"), "acp-cvo stopped");
    } else {
        tracing::info!("acp-cvo stopped");
    }
    result
}
