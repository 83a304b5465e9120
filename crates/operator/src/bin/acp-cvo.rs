//! `acp-cvo`: the ACP cluster version operator.

use clap::Parser;
use tracing_subscriber::EnvFilter;

use acp_operator::{Config, shutdown};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,kube=warn"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if config.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }

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
