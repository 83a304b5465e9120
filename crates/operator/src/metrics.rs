//! Prometheus metrics served on `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Which controller a reconcile belongs to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ControllerName {
    ClusterVersion,
    Release,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: ControllerName,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    controller: ControllerName,
    error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    check: String,
}

/// Every metric the operator exports; cheap to clone (all handles are shared).
#[derive(Clone)]
pub struct Metrics {
    reconciles: Family<ControllerLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    durations: Family<ControllerLabels, Histogram>,
    clusters: Family<StateLabels, Gauge>,
    upgrade_duration: Histogram,
    preflight_failures: Family<CheckLabels, Counter>,
    leader: Gauge,
    /// Last known state of each cluster, so the `clusters` gauge counts every cluster exactly once.
    cluster_states: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Metrics {
    /// Creates the metrics and registers them under the `acp_cvo` prefix.
    pub fn new(registry: &mut Registry) -> Self {
        let metrics = Self {
            reconciles: Family::default(),
            failures: Family::default(),
            durations: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 14))),
            clusters: Family::default(),
            upgrade_duration: Histogram::new(exponential_buckets(30.0, 2.0, 12)),
            preflight_failures: Family::default(),
            leader: Gauge::default(),
            cluster_states: Arc::default(),
        };
        let registry = registry.sub_registry_with_prefix("acp_cvo");
        registry.register(
            "reconciles",
            "Reconciles run, by controller",
            metrics.reconciles.clone(),
        );
        registry.register(
            "reconcile_failures",
            "Reconciles that ended in an error, by controller and error kind",
            metrics.failures.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time a reconcile took, by controller",
            metrics.durations.clone(),
        );
        registry.register("clusters", "Managed clusters by state", metrics.clusters.clone());
        registry.register(
            "upgrade_duration_seconds",
            "Time from the start of an upgrade to its completion",
            metrics.upgrade_duration.clone(),
        );
        registry.register(
            "preflight_failures",
            "Preflight checks that failed, by check",
            metrics.preflight_failures.clone(),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease",
            metrics.leader.clone(),
        );
        metrics
    }

    /// Counts a reconcile and measures it until the returned guard is dropped.
    pub fn reconcile_started(&self, controller: ControllerName) -> ReconcileTimer {
        self.reconciles
            .get_or_create(&ControllerLabels { controller })
            .inc();
        ReconcileTimer {
            histogram: self
                .durations
                .get_or_create(&ControllerLabels { controller })
                .clone(),
            start: Instant::now(),
        }
    }

    pub fn reconcile_failed(&self, controller: ControllerName, error: &str) {
        self.failures
            .get_or_create(&FailureLabels {
                controller,
                error: error.to_string(),
            })
            .inc();
    }

    /// Records the state a cluster is in now; the gauge per state is recomputed from all clusters.
    pub fn cluster_state(&self, cluster: &str, state: &str) {
        self.update_states(|states| {
            states.insert(cluster.to_string(), state.to_string());
        });
    }

    /// Forgets clusters whose ClusterVersionShadow no longer exists.
    pub fn retain_clusters(&self, exists: impl Fn(&str) -> bool) {
        self.update_states(|states| states.retain(|name, _| exists(name)));
    }

    fn update_states(&self, change: impl FnOnce(&mut BTreeMap<String, String>)) {
        let Ok(mut states) = self.cluster_states.lock() else {
            return;
        };
        change(&mut states);
        let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
        for state in states.values() {
            *counts.entry(state.as_str()).or_default() += 1;
        }
        self.clusters.clear();
        for (state, count) in counts {
            self.clusters
                .get_or_create(&StateLabels {
                    state: state.to_string(),
                })
                .set(count);
        }
    }

    pub fn upgrade_completed(&self, took: Duration) {
        self.upgrade_duration.observe(took.as_secs_f64());
    }

    pub fn preflight_failed(&self, check: &str) {
        self.preflight_failures
            .get_or_create(&CheckLabels {
                check: check.to_string(),
            })
            .inc();
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }
}

/// Observes the reconcile duration when dropped.
pub struct ReconcileTimer {
    histogram: Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    fn render(registry: &Registry) -> String {
        let mut out = String::new();
        encode(&mut out, registry).unwrap();
        out
    }

    #[test]
    fn clusters_gauge_counts_each_cluster_once_in_its_latest_state() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        metrics.cluster_state("global", "Upgrading");
        metrics.cluster_state("east", "Idle");
        metrics.cluster_state("global", "Idle");
        let text = render(&registry);
        assert!(text.contains("acp_cvo_clusters{state=\"Idle\"} 2"), "{text}");
        assert!(!text.contains("state=\"Upgrading\""), "{text}");
        metrics.retain_clusters(|name| name != "east");
        assert!(render(&registry).contains("acp_cvo_clusters{state=\"Idle\"} 1"));
    }

    #[test]
    fn reconciles_and_failures_are_labelled_by_controller() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        drop(metrics.reconcile_started(ControllerName::Release));
        metrics.reconcile_failed(ControllerName::ClusterVersion, "kube");
        metrics.preflight_failed("KubernetesVersionSupported");
        let text = render(&registry);
        assert!(
            text.contains("acp_cvo_reconciles_total{controller=\"Release\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("acp_cvo_reconcile_failures_total{controller=\"ClusterVersion\",error=\"kube\"} 1"),
            "{text}"
        );
        assert!(text.contains("acp_cvo_preflight_failures_total{check=\"KubernetesVersionSupported\"} 1"));
        assert!(text.contains("acp_cvo_reconcile_duration_seconds_count{controller=\"Release\"} 1"));
    }
}
