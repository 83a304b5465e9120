//! Leader election on a Lease: only the holder runs the controllers, so only one replica writes.
//!
//! The controllers run in their own task, started when this replica acquires the Lease and aborted the
//! moment it loses it. Status writes additionally carry the resourceVersion they were computed from, so a
//! replica that lost the Lease without noticing (paused process) cannot overwrite a newer state.

use std::sync::Arc;

use anyhow::Context as _;
use kube_lease_manager::{LeaseCreateMode, LeaseManagerBuilder};

use crate::http::{Health, Role};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// Where and as whom to take the Lease.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub duration_seconds: u64,
}

/// Runs `work` whenever this replica leads, until shutdown. `work` receives the shutdown signal and should
/// finish in-flight reconciles when it fires; on losing the Lease it is aborted instead.
pub async fn run<F, Fut>(
    client: kube::Client,
    settings: LeaseSettings,
    health: Arc<Health>,
    metrics: Metrics,
    shutdown: Shutdown,
    mut work: F,
) -> anyhow::Result<()>
where
    F: FnMut(Shutdown) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let duration = settings.duration_seconds.max(3);
    // Renew a third of the duration before expiry, so one failed renewal does not lose the Lease.
    let grace = (duration / 3).max(1);
    let manager = LeaseManagerBuilder::new(client, &settings.name)
        .with_namespace(&settings.namespace)
        .with_identity(&settings.identity)
        .with_duration(duration)
        .with_grace(grace)
        .with_field_manager(format!("acp-cvo-lease/{}", settings.identity))
        .with_create_mode(LeaseCreateMode::AutoCreate)
        .build()
        .await
        .with_context(|| {
            format!(
                "cannot use Lease {}/{} for leader election; check that the namespace exists and the \
                 service account may get, create and patch leases (or run with --leader-election off)",
                settings.namespace, settings.name
            )
        })?;
    let (mut leading, lease_task) = manager.watch().await;
    health.set(Role::Standby);
    tracing::info!(identity = %settings.identity, lease = %settings.name, "waiting for the leader Lease");

    let result = loop {
        if shutdown.requested() {
            break Ok(());
        }
        if !*leading.borrow_and_update() {
            tokio::select! {
                changed = leading.changed() => {
                    if changed.is_err() {
                        break Err(anyhow::anyhow!("leader election stopped unexpectedly"));
                    }
                    continue;
                }
                () = shutdown.clone().wait() => break Ok(()),
            }
        }

        tracing::info!(identity = %settings.identity, "acquired the leader Lease, starting controllers");
        metrics.set_leader(true);
        let mut controllers = tokio::spawn(work(shutdown.clone()));
        let outcome = loop {
            tokio::select! {
                finished = &mut controllers => break Some(finished),
                changed = leading.changed() => {
                    if changed.is_err() || !*leading.borrow_and_update() {
                        break None;
                    }
                }
            }
        };
        metrics.set_leader(false);
        match outcome {
            None => {
                controllers.abort();
                let _ = controllers.await;
                health.set(Role::Standby);
                tracing::warn!(identity = %settings.identity, "lost the leader Lease; controllers stopped");
            }
            Some(Ok(Ok(()))) => break Ok(()),
            Some(Ok(Err(err))) => break Err(err),
            Some(Err(join)) => break Err(anyhow::anyhow!("controllers panicked: {join}")),
        }
    };

    // Closing the channel makes the lease task release the Lease, so a standby takes over at once.
    drop(leading);
    match lease_task.await {
        Ok(Ok(_)) => tracing::info!("released the leader Lease"),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "could not release the leader Lease; it expires on its own")
        }
        Err(err) => tracing::warn!(error = %err, "leader election task failed"),
    }
    result
}
