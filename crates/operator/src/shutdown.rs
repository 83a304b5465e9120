//! A shutdown signal every task can wait on: SIGTERM, SIGINT, or a caller's request.

use tokio::sync::watch;

/// Sends the shutdown request.
#[derive(Clone)]
pub struct Trigger(watch::Sender<bool>);

/// Resolves once shutdown was requested; cheap to clone.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    pub fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes when shutdown is requested (or every trigger is gone, which means the same).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|requested| *requested).await;
    }
}

/// Fires `trigger` on the first SIGTERM or SIGINT.
pub fn on_signals(trigger: Trigger) {
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for SIGTERM; only SIGINT stops the operator");
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = terminate => tracing::info!("SIGTERM received, shutting down"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
        }
        trigger.fire();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_tasks_see_the_request() {
        let (trigger, shutdown) = channel();
        assert!(!shutdown.requested());
        let waiter = tokio::spawn(shutdown.clone().wait());
        trigger.fire();
        waiter.await.unwrap();
        assert!(shutdown.requested());
    }
}
