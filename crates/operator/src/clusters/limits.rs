//! The operator's own limits on requests to workload clusters: at most so many at once to one cluster and
//! in total, so a fleet of thousands is never hit by a burst and a slow cluster holds no more than its
//! share. Waiting for a slot counts against the request's timeout.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ClusterError;
use crate::metrics::{ClusterClass, InFlight, Outbound, Outcome};

/// The limits of one operator: the total shared by every workload cluster, and the size of each cluster's
/// own.
#[derive(Clone)]
pub struct RequestLimits {
    per_cluster: Option<usize>,
    total: Option<(Arc<Semaphore>, usize)>,
    metrics: Option<Outbound>,
}

impl RequestLimits {
    /// `per_cluster` and `total` below 1 are taken as 1: a limit of 0 would stop every request.
    pub fn new(per_cluster: usize, total: usize, metrics: Option<Outbound>) -> Self {
        let total = total.max(1);
        Self {
            per_cluster: Some(per_cluster.max(1)),
            total: Some((Arc::new(Semaphore::new(total)), total)),
            metrics,
        }
    }

    /// No limit and no metrics.
    pub fn unlimited() -> Self {
        Self {
            per_cluster: None,
            total: None,
            metrics: None,
        }
    }

    /// The slots of one workload cluster; kept with its client, shared by every handle on it.
    pub fn cluster_slots(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(self.per_cluster.unwrap_or(0)))
    }

    /// Limits for a workload cluster whose own slots are `slots` (held, limits or not, so that the
    /// cluster's client counts as in use while a handle on it exists).
    pub fn workload(&self, slots: Arc<Semaphore>) -> Limits {
        Limits {
            class: ClusterClass::Workload,
            cluster: Some((slots, self.per_cluster)),
            total: self.total.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// The global cluster is the hub the operator runs on: counted, not limited here (its own client has
    /// the hub's priority and fairness).
    pub fn global(&self) -> Limits {
        Limits {
            class: ClusterClass::Global,
            cluster: None,
            total: None,
            metrics: self.metrics.clone(),
        }
    }
}

/// What one cluster's calls wait for before they are sent.
#[derive(Clone)]
pub struct Limits {
    class: ClusterClass,
    /// The cluster's own slots and their number (`None`: not limited, the slots only mark it in use).
    cluster: Option<(Arc<Semaphore>, Option<usize>)>,
    total: Option<(Arc<Semaphore>, usize)>,
    metrics: Option<Outbound>,
}

/// Which limit a call is waiting for, if any.
#[derive(Default)]
pub(super) struct Waiting(Option<String>);

impl Waiting {
    /// The limit the call was still waiting for, in words with the flag that sets it.
    pub(super) fn held_by(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// Held while a call is on the wire.
pub(super) struct Slot {
    _cluster: Option<OwnedSemaphorePermit>,
    _total: Option<OwnedSemaphorePermit>,
    _in_flight: Option<InFlight>,
}

impl Limits {
    /// No limit and no metrics.
    pub fn none() -> Self {
        Self {
            class: ClusterClass::Workload,
            cluster: None,
            total: None,
            metrics: None,
        }
    }

    /// Waits for the cluster's own slot, then for one of the total: a call waiting on a busy cluster holds
    /// none of the slots other clusters need.
    pub(super) async fn acquire(&self, waiting: &mut Waiting) -> Slot {
        let cluster = match &self.cluster {
            Some((slots, Some(limit))) => {
                waiting.0 = Some(format!(
                    "{limit} concurrent requests to one cluster (--max-requests-per-cluster)"
                ));
                slots.clone().acquire_owned().await.ok()
            }
            _ => None,
        };
        let total = match &self.total {
            Some((slots, limit)) => {
                waiting.0 = Some(format!(
                    "{limit} concurrent requests to all clusters (--max-requests-total)"
                ));
                slots.clone().acquire_owned().await.ok()
            }
            None => None,
        };
        waiting.0 = None;
        Slot {
            _cluster: cluster,
            _total: total,
            _in_flight: self.metrics.as_ref().map(|m| m.in_flight(self.class)),
        }
    }

    pub(super) fn record<T>(&self, result: &Result<T, ClusterError>) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(ClusterError::Refused { .. }) => Outcome::Refused,
            Err(ClusterError::Unreachable { .. }) => Outcome::Unreachable,
        };
        metrics.request(self.class, outcome);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use prometheus_client::registry::Registry;

    use super::*;
    use crate::clusters::Cluster;
    use crate::metrics::Metrics;

    /// Requests in flight now and the most ever seen at once.
    #[derive(Default)]
    struct Load {
        now: AtomicUsize,
        max: AtomicUsize,
    }

    /// A client whose API server answers every request `after` and counts, into `load` and `total`, the
    /// requests it is answering.
    fn client(load: Arc<Load>, total: Arc<Load>, after: Duration) -> kube::Client {
        let server = tower::service_fn(move |_request: http::Request<kube::client::Body>| {
            let (load, total) = (load.clone(), total.clone());
            async move {
                for load in [&load, &total] {
                    let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
                    load.max.fetch_max(now, Ordering::SeqCst);
                }
                tokio::time::sleep(after).await;
                for load in [&load, &total] {
                    load.now.fetch_sub(1, Ordering::SeqCst);
                }
                let response = http::Response::builder()
                    .status(200)
                    .body(kube::client::Body::from(b"{}".to_vec()))
                    .unwrap();
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        kube::Client::new(server, "default")
    }

    async fn get(cluster: &Cluster) -> Result<String, ClusterError> {
        let request = http::Request::get("/api").body(Vec::new()).unwrap();
        cluster
            .call("get /api", cluster.client.request_text(request))
            .await
    }

    #[tokio::test]
    async fn no_more_requests_than_the_limits_run_at_once() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let limits = RequestLimits::new(4, 6, Some(metrics.outbound().clone()));
        let total = Arc::new(Load::default());
        let mut clusters = Vec::new();
        let mut loads = Vec::new();
        for name in ["east", "west"] {
            let load = Arc::new(Load::default());
            let client = client(load.clone(), total.clone(), Duration::from_millis(50));
            let cluster = Cluster::new(name, client, Duration::from_secs(10))
                .with_limits(limits.workload(limits.cluster_slots()));
            clusters.push(cluster);
            loads.push(load);
        }
        // Ten calls to each cluster at once.
        let calls = clusters
            .iter()
            .flat_map(|cluster| (0..10).map(move |_| get(cluster)));
        let results = futures::future::join_all(calls).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        for load in &loads {
            assert_eq!(load.max.load(Ordering::SeqCst), 4, "per cluster");
        }
        assert_eq!(total.max.load(Ordering::SeqCst), 6, "in total");
        let text = render(&registry);
        assert!(
            text.contains(r#"acp_cvo_cluster_requests_total{class="workload",outcome="ok"} 20"#),
            "{text}"
        );
        assert!(
            text.contains(r#"acp_cvo_cluster_requests_in_flight{class="workload"} 0"#),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_call_that_gets_no_slot_in_time_blames_the_operator_s_limit_not_the_cluster() {
        let limits = RequestLimits::new(1, 64, None);
        let (load, total) = (Arc::new(Load::default()), Arc::new(Load::default()));
        let slow = client(load.clone(), total, Duration::from_secs(600));
        let slots = limits.cluster_slots();
        let holder = Cluster::new("east", slow.clone(), Duration::from_secs(600))
            .with_limits(limits.workload(slots.clone()));
        let waiter = Cluster::new("east", slow, Duration::from_secs(1)).with_limits(limits.workload(slots));
        let holding = tokio::spawn(async move { get(&holder).await });
        until(|| load.now.load(Ordering::SeqCst) == 1).await;

        let err = get(&waiter).await.unwrap_err();
        holding.abort();
        assert!(err.is_unreachable());
        let text = err.to_string();
        assert!(text.contains("operator's own limit"), "{text}");
        assert!(text.contains("--max-requests-per-cluster"), "{text}");
        assert!(text.contains("not the cluster"), "{text}");

        // Without a slot to wait for, silence is the cluster's.
        let (load, total) = (Arc::new(Load::default()), Arc::new(Load::default()));
        let silent = Cluster::new(
            "east",
            client(load, total, Duration::from_secs(600)),
            Duration::from_secs(1),
        )
        .with_limits(limits.workload(limits.cluster_slots()));
        let text = get(&silent).await.unwrap_err().to_string();
        assert!(text.contains("got no answer within 1s"), "{text}");
        assert!(!text.contains("limit"), "{text}");
    }

    /// Yields to the other tasks until `done` holds.
    async fn until(done: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if done() {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("condition not reached");
    }

    fn render(registry: &Registry) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
        text
    }
}
