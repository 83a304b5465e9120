//! Upgrade notifications to a webhook: reconciles hand over the transitions they publish as Events; a
//! separate task delivers them in order, with retries, from a bounded queue. A reconcile never waits on a
//! receiver.
//!
//! The webhook's URL and optional bearer token live in a Secret in the operator's namespace (keys `url`
//! and `token`), read before each delivery so a rotated token is used at once. Neither is ever logged or
//! put into an event.

pub mod deliver;
pub mod event;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use acp_api::cvsh::Tier;
use acp_api::k8s::Time;
use acp_api::{ClusterVersionShadow, ClusterVersionShadowStatus};
use kube::ResourceExt;
use tokio::sync::Notify;

use crate::cvsh::transitions::Transition;
use crate::metrics::{Delivery, Metrics};
pub use event::CloudEvent;

/// How many notifications may wait; beyond it the oldest is dropped (and counted) for the newest.
pub const QUEUE_CAPACITY: usize = 512;

/// Where reconciles put notifications. Cheap to clone; a disabled notifier drops everything silently.
#[derive(Clone, Default)]
pub struct Notifier {
    queue: Option<Arc<Queue>>,
}

impl Notifier {
    /// A notifier that sends nothing (no `--notification-secret`).
    pub fn disabled() -> Self {
        Notifier::default()
    }

    pub fn new(queue: Arc<Queue>) -> Self {
        Notifier { queue: Some(queue) }
    }

    /// Queues the notifications for the transitions of `shadow` from `old` to `new`. `tier` is the
    /// tier the operator grants the cluster, not the one its spec claims.
    pub fn publish(
        &self,
        shadow: &ClusterVersionShadow,
        tier: Tier,
        old: &ClusterVersionShadowStatus,
        new: &ClusterVersionShadowStatus,
        transitions: &[Transition],
        now: &Time,
    ) {
        let Some(queue) = &self.queue else {
            return;
        };
        for event in notifications(shadow, tier, old, new, transitions, now) {
            queue.push(event);
        }
    }
}

/// The notifications for the transitions of `shadow` (granted `tier`) from `old` to `new`.
fn notifications(
    shadow: &ClusterVersionShadow,
    tier: Tier,
    old: &ClusterVersionShadowStatus,
    new: &ClusterVersionShadowStatus,
    transitions: &[Transition],
    now: &Time,
) -> Vec<CloudEvent> {
    let name = shadow.name_any();
    let namespace = shadow.namespace().unwrap_or_default();
    let uid = shadow.uid().unwrap_or_default();
    let tier = format!("{tier:?}");
    let subject = event::Subject {
        namespace: &namespace,
        name: &name,
        uid: &uid,
        generation: shadow.metadata.generation,
        tier: &tier,
    };
    event::cloud_events(&subject, old, new, transitions, now)
}

/// A bounded FIFO of notifications waiting for delivery.
pub struct Queue {
    items: Mutex<VecDeque<CloudEvent>>,
    capacity: usize,
    ready: Notify,
    metrics: Metrics,
}

impl Queue {
    pub fn new(capacity: usize, metrics: Metrics) -> Arc<Self> {
        Arc::new(Queue {
            items: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
            metrics,
        })
    }

    /// Appends `event`, dropping the oldest waiting one when full.
    pub fn push(&self, event: CloudEvent) {
        let Ok(mut items) = self.items.lock() else {
            return;
        };
        while items.len() >= self.capacity {
            if let Some(dropped) = items.pop_front() {
                tracing::warn!(
                    id = %dropped.id,
                    r#type = %dropped.type_,
                    cluster = %dropped.subject,
                    "notification queue full: dropped the oldest notification"
                );
                self.metrics.notification(Delivery::Dropped);
            }
        }
        items.push_back(event);
        self.metrics.notifications_queued(items.len());
        drop(items);
        self.ready.notify_one();
    }

    /// The oldest waiting notification, without removing it (it stays first until delivered or given up).
    fn front(&self) -> Option<CloudEvent> {
        self.items.lock().ok()?.front().cloned()
    }

    /// Removes `id` if it is still first (a full queue may have dropped it meanwhile).
    fn done(&self, id: &str) {
        if let Ok(mut items) = self.items.lock() {
            if items.front().is_some_and(|e| e.id == id) {
                items.pop_front();
            }
            self.metrics.notifications_queued(items.len());
        }
    }

    /// Waits until something is queued.
    async fn wait(&self) {
        loop {
            let notified = self.ready.notified();
            if self.items.lock().is_ok_and(|items| !items.is_empty()) {
                return;
            }
            notified.await;
        }
    }

    pub fn len(&self) -> usize {
        self.items.lock().map(|items| items.len()).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    fn event(id: &str) -> CloudEvent {
        CloudEvent {
            specversion: "1.0",
            id: id.into(),
            source: "/s".into(),
            type_: "io.alauda.acp.cvo.upgrade.started".into(),
            subject: "global".into(),
            time: "2027-01-01T00:00:00Z".into(),
            datacontenttype: "application/json",
            data: event::EventData {
                cluster: "global".into(),
                tier: "Global".into(),
                reason: "UpgradeStarted".into(),
                message: "m".into(),
                current_version: None,
                target_version: None,
                stage: None,
                progress: None,
            },
        }
    }

    #[test]
    fn notifications_carry_the_granted_tier_not_the_claimed_one() {
        use acp_api::cvsh::ClusterVersionShadowSpec;
        use acp_api::k8s::Timestamp;
        use kube::runtime::events::EventType;

        let started = Transition {
            type_: EventType::Normal,
            reason: "UpgradeStarted",
            note: "upgrade to 4.3.1 started".into(),
            about: None,
        };
        let status = ClusterVersionShadowStatus::default();
        let now = Time(Timestamp::UNIX_EPOCH);
        // (tier the spec claims, tier granted, tier notified)
        let table = [
            (Some(Tier::GlobalStandby), Tier::Workload, "Workload"),
            (Some(Tier::GlobalStandby), Tier::GlobalStandby, "GlobalStandby"),
            (None, Tier::Workload, "Workload"),
        ];
        for (claimed, granted, expected) in table {
            let mut shadow = ClusterVersionShadow::new(
                "dr",
                ClusterVersionShadowSpec {
                    tier: claimed,
                    ..Default::default()
                },
            );
            shadow.metadata.namespace = Some("cpaas-system".into());
            let events = notifications(
                &shadow,
                granted,
                &status,
                &status,
                std::slice::from_ref(&started),
                &now,
            );
            assert_eq!(events.len(), 1);
            assert_eq!(
                events[0].data.tier, expected,
                "claimed {claimed:?}, granted {granted:?}"
            );
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let mut registry = Registry::default();
        let metrics = Metrics::new(&mut registry);
        let queue = Queue::new(2, metrics);
        for id in ["a", "b", "c"] {
            queue.push(event(id));
        }
        assert_eq!(queue.len(), 2);
        assert_eq!(queue.front().unwrap().id, "b");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("acp_cvo_notifications_total{result=\"dropped\"} 1"),
            "{text}"
        );
        assert!(text.contains("acp_cvo_notifications_queued 2"), "{text}");
        queue.done("b");
        assert_eq!(queue.front().unwrap().id, "c");
        // Done for an event no longer first (dropped meanwhile) removes nothing else.
        queue.done("b");
        assert_eq!(queue.len(), 1);
    }
}
