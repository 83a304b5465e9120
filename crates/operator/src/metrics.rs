//! Prometheus metrics served on `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::cvsh::facts::ClusterFacts;

/// Which controller a reconcile belongs to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ControllerName {
    ClusterVersion,
    Release,
    Rollout,
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabels {
    cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterInfoLabels {
    cluster: String,
    tier: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterStateLabels {
    cluster: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailingCheckLabels {
    cluster: String,
    check: String,
    requested: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InsightLabels {
    cluster: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// How the cluster-version reconciles are scheduled: whether any cluster waits, and why.
#[derive(Clone)]
struct Scheduling {
    waiting: Family<ReasonLabels, Gauge>,
    delay: Family<ReasonLabels, Histogram>,
    duration: Family<ReasonLabels, Histogram>,
    busy: Gauge,
    oldest_observation: Gauge<f64, AtomicU64>,
}

impl Default for Scheduling {
    fn default() -> Self {
        Self {
            waiting: Family::default(),
            delay: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 2.0, 16))),
            duration: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.005, 2.0, 14))),
            busy: Gauge::default(),
            oldest_observation: Gauge::default(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
}

/// What became of a notification.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver answered 2xx.
    Delivered,
    /// The receiver refused it (4xx other than 408/429), or no webhook is configured; not retried.
    Rejected,
    /// Every attempt failed (network error, timeout, 5xx, 408, 429).
    Failed,
    /// The queue was full: the oldest waiting notification was dropped for a new one.
    Dropped,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Delivered => "delivered",
            Delivery::Rejected => "rejected",
            Delivery::Failed => "failed",
            Delivery::Dropped => "dropped",
        }
    }
}

impl EncodeLabelValue for Delivery {
    fn encode(&self, encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>) -> std::fmt::Result {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    result: Delivery,
}

/// Which kind of cluster an outbound request went to: the hub itself, or a workload cluster. No cluster
/// name: with thousands of clusters a per-cluster label would be thousands of series per family.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ClusterClass {
    Global,
    Workload,
}

impl EncodeLabelValue for ClusterClass {
    fn encode(&self, encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>) -> std::fmt::Result {
        let text = match self {
            Self::Global => "global",
            Self::Workload => "workload",
        };
        EncodeLabelValue::encode(&text, encoder)
    }
}

/// How an outbound request to a managed cluster ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// An answer that is not an error.
    Ok,
    /// The API server answered with an error (4xx other than 429).
    Refused,
    /// No answer in time, no connection, 5xx or 429, or the operator's own request limit held it too long.
    Unreachable,
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>) -> std::fmt::Result {
        let text = match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Unreachable => "unreachable",
        };
        EncodeLabelValue::encode(&text, encoder)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    class: ClusterClass,
    outcome: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    class: ClusterClass,
}

/// Requests the operator sends to managed clusters, and the clients it keeps for them.
#[derive(Clone, Default)]
pub struct Outbound {
    requests: Family<OutboundLabels, Counter>,
    in_flight: Family<ClassLabels, Gauge>,
    cached_clients: Gauge,
}

impl Outbound {
    /// One request ended with `outcome`.
    pub fn request(&self, class: ClusterClass, outcome: Outcome) {
        self.requests
            .get_or_create(&OutboundLabels { class, outcome })
            .inc();
    }

    /// A request holds its permits and is on the wire until the guard is dropped.
    pub fn in_flight(&self, class: ClusterClass) -> InFlight {
        let gauge = self.in_flight.get_or_create(&ClassLabels { class }).clone();
        gauge.inc();
        InFlight(gauge)
    }

    /// How many workload clusters have a client kept for them.
    pub fn cached_clients(&self, count: usize) {
        self.cached_clients.set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    fn register(&self, registry: &mut Registry) {
        for class in [ClusterClass::Global, ClusterClass::Workload] {
            for outcome in [Outcome::Ok, Outcome::Refused, Outcome::Unreachable] {
                self.requests
                    .get_or_create(&OutboundLabels { class, outcome })
                    .inc_by(0);
            }
            self.in_flight.get_or_create(&ClassLabels { class }).set(0);
        }
        registry.register(
            "cluster_requests",
            "Requests sent to managed clusters, by cluster class (global, workload) and outcome (ok, refused, \
             unreachable)",
            self.requests.clone(),
        );
        registry.register(
            "cluster_requests_in_flight",
            "Requests to managed clusters holding a slot under --max-requests-per-cluster and \
             --max-requests-total, by cluster class",
            self.in_flight.clone(),
        );
        registry.register(
            "cluster_clients",
            "Workload clusters the operator keeps a client (and its connection) for; clients unused for a \
             while are dropped and rebuilt when next needed",
            self.cached_clients.clone(),
        );
    }
}

/// Counts one request in flight until dropped.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The per-cluster series; each cluster's are replaced as a whole when its facts change.
#[derive(Clone, Default)]
struct ClusterSeries {
    info: Family<ClusterInfoLabels, Gauge>,
    state: Family<ClusterStateLabels, Gauge>,
    reachable: Family<ClusterLabels, Gauge>,
    observed: Family<ClusterLabels, Gauge>,
    minors_behind: Family<ClusterLabels, Gauge>,
    upgrade_started: Family<ClusterLabels, Gauge>,
    upgrade_expected: Family<ClusterLabels, Gauge>,
    upgrade_progress: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    failing_checks: Family<FailingCheckLabels, Gauge>,
    wait_insights: Family<InsightLabels, Gauge>,
}

impl ClusterSeries {
    fn set(&self, cluster: &str, facts: &ClusterFacts) {
        let id = || ClusterLabels {
            cluster: cluster.to_string(),
        };
        self.info
            .get_or_create(&ClusterInfoLabels {
                cluster: cluster.to_string(),
                tier: facts.tier.to_string(),
                version: facts.version.clone(),
            })
            .set(1);
        self.state
            .get_or_create(&ClusterStateLabels {
                cluster: cluster.to_string(),
                state: facts.state.to_string(),
            })
            .set(1);
        self.reachable
            .get_or_create(&id())
            .set(i64::from(facts.reachable));
        self.observed.get_or_create(&id()).set(facts.observed_at);
        if let Some(behind) = facts.minors_behind_global {
            self.minors_behind
                .get_or_create(&id())
                .set(i64::try_from(behind).unwrap_or(i64::MAX));
        }
        if let Some(upgrade) = &facts.upgrade {
            self.upgrade_started.get_or_create(&id()).set(upgrade.started_at);
            self.upgrade_progress
                .get_or_create(&id())
                .set(upgrade.progress_ratio);
            if let Some(expected) = upgrade.expected_seconds {
                self.upgrade_expected
                    .get_or_create(&id())
                    .set(i64::try_from(expected).unwrap_or(i64::MAX));
            }
        }
        for failing in &facts.failing_checks {
            self.failing_checks
                .get_or_create(&FailingCheckLabels {
                    cluster: cluster.to_string(),
                    check: failing.check.clone(),
                    requested: failing.requested.to_string(),
                })
                .set(1);
        }
        for (reason, count) in &facts.wait_insights {
            self.wait_insights
                .get_or_create(&InsightLabels {
                    cluster: cluster.to_string(),
                    reason: reason.clone(),
                })
                .set(*count);
        }
    }

    fn remove(&self, cluster: &str, facts: &ClusterFacts) {
        let id = ClusterLabels {
            cluster: cluster.to_string(),
        };
        self.info.remove(&ClusterInfoLabels {
            cluster: cluster.to_string(),
            tier: facts.tier.to_string(),
            version: facts.version.clone(),
        });
        self.state.remove(&ClusterStateLabels {
            cluster: cluster.to_string(),
            state: facts.state.to_string(),
        });
        for family in [
            &self.reachable,
            &self.observed,
            &self.minors_behind,
            &self.upgrade_started,
            &self.upgrade_expected,
        ] {
            family.remove(&id);
        }
        self.upgrade_progress.remove(&id);
        for failing in &facts.failing_checks {
            self.failing_checks.remove(&FailingCheckLabels {
                cluster: cluster.to_string(),
                check: failing.check.clone(),
                requested: failing.requested.to_string(),
            });
        }
        for reason in facts.wait_insights.keys() {
            self.wait_insights.remove(&InsightLabels {
                cluster: cluster.to_string(),
                reason: reason.clone(),
            });
        }
    }

    fn clear(&self) {
        self.info.clear();
        self.state.clear();
        for family in [
            &self.reachable,
            &self.observed,
            &self.minors_behind,
            &self.upgrade_started,
            &self.upgrade_expected,
        ] {
            family.clear();
        }
        self.upgrade_progress.clear();
        self.failing_checks.clear();
        self.wait_insights.clear();
    }
}

/// A labelled family registered so that its HELP and TYPE are served before it has a sample: scrapers,
/// dashboards and rules see every family the operator declares, whatever state the fleet is in.
#[derive(Debug)]
struct Declared<M>(M);

impl<M: prometheus_client::encoding::EncodeMetric> prometheus_client::encoding::EncodeMetric for Declared<M> {
    fn encode(&self, encoder: prometheus_client::encoding::MetricEncoder) -> std::fmt::Result {
        self.0.encode(encoder)
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        self.0.metric_type()
    }

    fn is_empty(&self) -> bool {
        false
    }
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
    series: ClusterSeries,
    /// The facts each cluster's series were last set from, so they can be replaced or removed.
    cluster_facts: Arc<Mutex<BTreeMap<String, ClusterFacts>>>,
    unsigned_releases: Family<VersionLabels, Gauge>,
    notifications: Family<DeliveryLabels, Counter>,
    notifications_queued: Gauge,
    scheduling: Scheduling,
    outbound: Outbound,
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
            series: ClusterSeries::default(),
            cluster_facts: Arc::default(),
            unsigned_releases: Family::default(),
            notifications: Family::default(),
            notifications_queued: Gauge::default(),
            scheduling: Scheduling::default(),
            outbound: Outbound::default(),
        };
        let registry = registry.sub_registry_with_prefix("acp_cvo");
        registry.register(
            "reconciles",
            "Reconciles run, by controller",
            Declared(Declared(metrics.reconciles.clone())),
        );
        registry.register(
            "reconcile_failures",
            "Reconciles that ended in an error, by controller and error kind",
            Declared(Declared(metrics.failures.clone())),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time a reconcile took, by controller",
            Declared(Declared(metrics.durations.clone())),
        );
        registry.register(
            "clusters",
            "Managed clusters by state",
            Declared(metrics.clusters.clone()),
        );
        registry.register(
            "upgrade_duration_seconds",
            "Time from the start of an upgrade to its completion",
            metrics.upgrade_duration.clone(),
        );
        registry.register(
            "preflight_failures",
            "Preflight checks that failed, by check",
            Declared(Declared(metrics.preflight_failures.clone())),
        );
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease",
            metrics.leader.clone(),
        );
        // Every outcome starts at 0, so that increase() sees the first failure.
        for result in [
            Delivery::Delivered,
            Delivery::Rejected,
            Delivery::Failed,
            Delivery::Dropped,
        ] {
            metrics
                .notifications
                .get_or_create(&DeliveryLabels { result })
                .inc_by(0);
        }
        let series = &metrics.series;
        registry.register(
            "cluster_info",
            "1 for each managed cluster, with its tier and current ACP version (`unknown` until known)",
            Declared(Declared(series.info.clone())),
        );
        registry.register(
            "cluster_state",
            "1 for each managed cluster, in the state it is in (the states of acp_cvo_clusters)",
            Declared(Declared(series.state.clone())),
        );
        registry.register(
            "cluster_reachable",
            "1 when the last observation of the cluster got an answer, else 0",
            Declared(Declared(series.reachable.clone())),
        );
        registry.register(
            "cluster_observed_timestamp_seconds",
            "When the operator last observed the cluster (Unix seconds), whatever the outcome",
            Declared(Declared(series.observed.clone())),
        );
        registry.register(
            "cluster_minors_behind_global",
            "Minor lines a workload cluster trails the global tier by",
            Declared(Declared(series.minors_behind.clone())),
        );
        registry.register(
            "upgrade_started_timestamp_seconds",
            "When the running upgrade of the cluster started (Unix seconds); absent when none runs",
            Declared(Declared(series.upgrade_started.clone())),
        );
        registry.register(
            "upgrade_expected_duration_seconds",
            "How long the cluster's previous upgrade took, the basis of the running upgrade's ETA; absent \
             for a first upgrade",
            Declared(Declared(series.upgrade_expected.clone())),
        );
        registry.register(
            "upgrade_progress_ratio",
            "Operations done out of all planned for the running upgrade, 0 to 1",
            Declared(Declared(series.upgrade_progress.clone())),
        );
        registry.register(
            "preflight_check_failing",
            "1 for each preflight check that is Failed now; requested=\"true\" when it holds a requested \
             upgrade, \"false\" when it concerns the newest offered update",
            Declared(Declared(series.failing_checks.clone())),
        );
        registry.register(
            "upgrade_wait_insights",
            "Culprits the running upgrade's waiting operations name, by reason (Unschedulable, \
             ImagePullFailed, CrashLoopBackOff, NodeNotReady, MachinesNotUpdating)",
            Declared(Declared(series.wait_insights.clone())),
        );
        registry.register(
            "release_unsigned",
            "1 for each offered (Ready) release whose bundle signature was not verified because no \
             verification key is configured",
            Declared(Declared(metrics.unsigned_releases.clone())),
        );
        registry.register(
            "notifications",
            "Upgrade notifications by outcome: delivered, rejected, failed (after retries), dropped (queue full)",
            Declared(Declared(metrics.notifications.clone())),
        );
        registry.register(
            "notifications_queued",
            "Notifications waiting to be delivered",
            metrics.notifications_queued.clone(),
        );
        let scheduling = &metrics.scheduling;
        registry.register(
            "reconcile_queue_waiting",
            "Clusters due for a reconcile that wait for a worker, by why they are due (new, request, \
             executing, fleet, retry, resync)",
            Declared(Declared(scheduling.waiting.clone())),
        );
        registry.register(
            "reconcile_queue_delay_seconds",
            "Time from a cluster being due to its reconcile starting, by why it was due",
            Declared(Declared(scheduling.delay.clone())),
        );
        registry.register(
            "cluster_reconcile_duration_seconds",
            "Time a cluster-version reconcile took, by why it ran",
            Declared(Declared(scheduling.duration.clone())),
        );
        registry.register(
            "reconcile_workers_busy",
            "Cluster-version reconciles running now (at most --reconcile-workers)",
            scheduling.busy.clone(),
        );
        registry.register(
            "oldest_observation_age_seconds",
            "Time since the cluster observed longest ago was last reconciled (or registered, if never); \
             stays below --resync-max plus 10 % while the operator keeps up",
            scheduling.oldest_observation.clone(),
        );
        metrics.outbound.register(registry);
        metrics
    }

    /// Requests to managed clusters and the clients kept for them.
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// A cluster's reconcile starts, `delay` after it was due.
    pub fn reconcile_dequeued(&self, reason: &'static str, delay: Duration) {
        self.scheduling
            .delay
            .get_or_create(&ReasonLabels { reason })
            .observe(delay.as_secs_f64());
    }

    /// A cluster's reconcile, run because of `reason`, took `took`.
    pub fn reconcile_by_reason(&self, reason: &'static str, took: Duration) {
        self.scheduling
            .duration
            .get_or_create(&ReasonLabels { reason })
            .observe(took.as_secs_f64());
    }

    /// The scheduler's queue now: due clusters per reason, reconciles running, the oldest observation.
    pub fn scheduler_gauges(
        &self,
        waiting: impl Iterator<Item = (&'static str, usize)>,
        running: usize,
        oldest_observation: Duration,
    ) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for (reason, n) in waiting {
            self.scheduling
                .waiting
                .get_or_create(&ReasonLabels { reason })
                .set(count(n));
        }
        self.scheduling.busy.set(count(running));
        self.scheduling
            .oldest_observation
            .set(oldest_observation.as_secs_f64());
    }

    /// Replaces the per-cluster series of `cluster` with `facts`.
    pub fn cluster_facts(&self, cluster: &str, facts: ClusterFacts) {
        let Ok(mut known) = self.cluster_facts.lock() else {
            return;
        };
        if known.get(cluster) == Some(&facts) {
            return;
        }
        if let Some(before) = known.remove(cluster) {
            self.series.remove(cluster, &before);
        }
        self.series.set(cluster, &facts);
        known.insert(cluster.to_string(), facts);
    }

    /// Offered releases whose signature was not verified, by version; replaces the previous set.
    pub fn unsigned_releases(&self, versions: &[String]) {
        self.unsigned_releases.clear();
        for version in versions {
            self.unsigned_releases
                .get_or_create(&VersionLabels {
                    version: version.clone(),
                })
                .set(1);
        }
    }

    pub fn notification(&self, result: Delivery) {
        self.notifications.get_or_create(&DeliveryLabels { result }).inc();
    }

    pub fn notifications_queued(&self, length: usize) {
        self.notifications_queued
            .set(i64::try_from(length).unwrap_or(i64::MAX));
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
        if let Ok(mut known) = self.cluster_facts.lock() {
            known.retain(|name, facts| {
                let keep = exists(name);
                if !keep {
                    self.series.remove(name, facts);
                }
                keep
            });
        }
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

    /// Records leadership. A replica that stops leading drops its cluster series: only the leader
    /// observes, so only its values are current (and sums over replicas count each cluster once).
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
        if !leader {
            self.update_states(BTreeMap::clear);
            if let Ok(mut known) = self.cluster_facts.lock() {
                known.clear();
                self.series.clear();
            }
            self.unsigned_releases.clear();
        }
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

    fn facts(version: &str, upgrading: bool) -> ClusterFacts {
        use crate::cvsh::facts::{FailingCheck, UpgradeFacts};
        ClusterFacts {
            tier: "Workload",
            version: version.into(),
            state: if upgrading { "Upgrading" } else { "Blocked" },
            reachable: true,
            observed_at: 1_800_000_000,
            minors_behind_global: Some(2),
            upgrade: upgrading.then_some(UpgradeFacts {
                started_at: 1_799_999_000,
                expected_seconds: Some(1200),
                progress_ratio: 0.25,
            }),
            failing_checks: if upgrading {
                vec![]
            } else {
                vec![FailingCheck {
                    check: "GlobalTierReached".into(),
                    requested: true,
                }]
            },
            wait_insights: if upgrading {
                [("CrashLoopBackOff".to_string(), 2)].into()
            } else {
                Default::default()
            },
        }
    }

    #[test]
    fn a_cluster_s_series_are_replaced_as_a_whole_and_dropped_with_it_or_with_leadership() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        metrics.set_leader(true);
        metrics.cluster_facts("east", facts("4.2.3", false));
        let text = render(&registry);
        for series in [
            "acp_cvo_cluster_info{cluster=\"east\",tier=\"Workload\",version=\"4.2.3\"} 1",
            "acp_cvo_cluster_state{cluster=\"east\",state=\"Blocked\"} 1",
            "acp_cvo_cluster_observed_timestamp_seconds{cluster=\"east\"} 1800000000",
            "acp_cvo_cluster_minors_behind_global{cluster=\"east\"} 2",
            "acp_cvo_preflight_check_failing{cluster=\"east\",check=\"GlobalTierReached\",requested=\"true\"} 1",
        ] {
            assert!(text.contains(series), "{series} missing:\n{text}");
        }
        assert!(
            !text.contains("acp_cvo_upgrade_started_timestamp_seconds{"),
            "{text}"
        );

        metrics.cluster_facts("east", facts("4.3.1", true));
        let text = render(&registry);
        assert!(!text.contains("version=\"4.2.3\""), "{text}");
        assert!(!text.contains("GlobalTierReached"), "{text}");
        assert!(!text.contains("state=\"Blocked\""), "{text}");
        assert!(
            text.contains("acp_cvo_upgrade_progress_ratio{cluster=\"east\"} 0.25"),
            "{text}"
        );
        assert!(text.contains("acp_cvo_upgrade_expected_duration_seconds{cluster=\"east\"} 1200"));
        assert!(
            text.contains("acp_cvo_upgrade_wait_insights{cluster=\"east\",reason=\"CrashLoopBackOff\"} 2"),
            "{text}"
        );

        metrics.cluster_facts("west", facts("4.2.3", false));
        metrics.retain_clusters(|name| name != "east");
        let text = render(&registry);
        assert!(!text.contains("cluster=\"east\""), "{text}");
        assert!(text.contains("cluster=\"west\""), "{text}");

        // A replica that stops leading drops them all but still declares every family.
        metrics.set_leader(false);
        let text = render(&registry);
        assert!(!text.contains("cluster=\"west\""), "{text}");
        assert!(text.contains("# TYPE acp_cvo_cluster_info gauge"), "{text}");
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
