//! Polling with a deadline: the only way tests synchronise with clusters.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How often conditions are re-evaluated.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Polls `condition` every [`POLL_INTERVAL`] until it returns `true`, or fails with [`Error::Timeout`] naming
/// `what` once `timeout` has passed. The condition is always evaluated at least once.
///
/// ```no_run
/// # async fn demo(client: kube::Client) -> acp_testkit::Result<()> {
/// use std::time::Duration;
/// use k8s_openapi::api::core::v1::Namespace;
/// let namespaces: kube::Api<Namespace> = kube::Api::all(client);
/// acp_testkit::wait_for("namespace demo to exist", Duration::from_secs(30), || async {
///     namespaces.get_opt("demo").await.ok().flatten().is_some()
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn wait_for<F, Fut>(what: &str, timeout: Duration, mut condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for_some(what, timeout, || {
        let fut = condition();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Polls `probe` every [`POLL_INTERVAL`] until it returns `Some(value)` and returns that value, or fails with
/// [`Error::Timeout`] naming `what` once `timeout` has passed.
pub async fn wait_for_some<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                after: timeout,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
