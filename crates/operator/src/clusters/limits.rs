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

    /// Limits for a workload cluster whose own slots are `slots`.
    pub fn workload(&self, slots: Arc<Semaphore>) -> Limits {
        Limits {
            class: ClusterClass::Workload,
            cluster: self.per_cluster.map(|limit| (slots, limit)),
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
    cluster: Option<(Arc<Semaphore>, usize)>,
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
            Some((slots, limit)) => {
                waiting.0 = Some(format!(
                    "{limit} concurrent requests to one cluster (--max-requests-per-cluster)"
                ));
                slots.clone().acquire_owned().await.ok()
            }
            None => None,
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
