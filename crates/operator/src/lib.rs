//! The cluster version operator: observes managed clusters, tells which upgrades are possible, checks
//! them, executes them in stages and records the outcome, all persisted in ClusterVersionShadow status.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod clusters;
pub mod config;
pub mod controllers;
pub mod cvsh;
pub mod http;
pub mod leader;
pub mod metrics;
pub mod notify;
pub mod releases;
pub mod rollouts;
pub mod shutdown;
pub mod status;

use std::sync::Arc;

use anyhow::Context as _;
use prometheus_client::registry::Registry;

pub use config::Config;

/// Runs the operator until SIGTERM/SIGINT or until `shutdown` fires.
pub async fn run(
    config: Config,
    trigger: shutdown::Trigger,
    shutdown: shutdown::Shutdown,
) -> anyhow::Result<()> {
    let client = global_client(&config).await?;
    let mut registry = Registry::default();
    let metrics = metrics::Metrics::new(&mut registry);
    let health = Arc::new(http::Health::default());

    let server = tokio::spawn(http::serve(
        config.metrics_addr,
        Arc::new(registry),
        health.clone(),
        shutdown.clone().wait(),
    ));

    let result = if config.leader_election {
        let settings = leader::LeaseSettings {
            namespace: config.namespace.clone(),
            name: config.lease_name.clone(),
            identity: config.identity(),
            duration_seconds: config.lease_duration_seconds,
        };
        let work = {
            let (config, client, metrics, health) =
                (config.clone(), client.clone(), metrics.clone(), health.clone());
            move |stop: shutdown::Shutdown| {
                controllers::run(
                    config.clone(),
                    client.clone(),
                    metrics.clone(),
                    health.clone(),
                    stop,
                )
            }
        };
        leader::run(
            client.clone(),
            settings,
            health.clone(),
            metrics.clone(),
            shutdown.clone(),
            work,
        )
        .await
    } else {
        tracing::info!("leader election is off: this replica writes unconditionally");
        metrics.set_leader(true);
        controllers::run(
            config.clone(),
            client.clone(),
            metrics.clone(),
            health.clone(),
            shutdown.clone(),
        )
        .await
    };

    // Whatever ended the controllers, stop serving too.
    trigger.fire();
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) if result.is_ok() => return Err(err),
        Ok(Err(err)) => tracing::warn!(error = %err, "HTTP server failed"),
        Err(err) => tracing::warn!(error = %err, "HTTP server task failed"),
    }
    result
}

async fn global_client(config: &Config) -> anyhow::Result<kube::Client> {
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
                .await
                .with_context(|| format!("kubeconfig {} is not usable", path.display()))?
        }
        None => kube::Config::infer().await.context(
            "cannot find the global cluster: pass --kubeconfig, set KUBECONFIG, or run in a pod with a \
             service account",
        )?,
    };
    kube::Client::try_from(kube_config).context("cannot build a client for the global cluster")
}
