//! Runs the ClusterVersionShadow reconcile over the whole fleet: a watch-fed cache of the objects, the
//! [`Queue`] that decides who goes next, a bounded set of workers, and the [`Cadence`] of idle clusters.
//!
//! Why not kube-runtime's controller: its queue is first come, first served, so at a few thousand clusters
//! the periodic re-observation of idle ones took every worker and newly registered clusters waited for
//! minutes; it also runs a reconcile for every watch event, including the echo of the operator's own
//! status write, which doubled the work. Here the echo is recognised by its resourceVersion, and the
//! next reconcile of that cluster starts from the object the write returned.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acp_api::ClusterVersionShadow;
use acp_api::names::GLOBAL_CLUSTER;
use futures::{Stream, StreamExt};
use kube::ResourceExt;
use kube::runtime::reflector::{self, ObjectRef, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::JoinSet;

use super::cadence::Cadence;
use super::controller::{self, Context, Next, Outcome};
use super::queue::{Due, Queue, Reason};

/// How the fleet is worked through.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub workers: usize,
    pub cadence: Cadence,
}

/// What the scheduler remembers of one cluster between its reconciles.
#[derive(Debug)]
struct Known {
    /// The resourceVersion last seen or written: a watch event carrying it is nothing new.
    resource_version: Option<String>,
    /// Idle observations in a row that found nothing new.
    unchanged: u32,
    /// When a reconcile of it last ended (or when it appeared, before its first).
    observed: Instant,
    /// The object this process wrote last, until the cache has it.
    written: Option<Arc<ClusterVersionShadow>>,
}

/// Why a watch event means the cluster must be reconciled, if it does.
fn reason_for(known: Option<&Known>, object: &ClusterVersionShadow) -> Option<Reason> {
    let Some(known) = known else {
        return Some(Reason::New);
    };
    if object.metadata.resource_version.is_some()
        && known.resource_version == object.metadata.resource_version
    {
        // The echo of this process's own write, or a relist of an object that did not change.
        return None;
    }
    Some(Reason::Request)
}

/// Whether a change of `name` from `before` to `after` matters to other clusters' reconciles: the global
/// cluster's version and upgrade gate every workload cluster, and every workload cluster's version gates
/// the global one.
fn matters_to_the_fleet(before: Option<&ClusterVersionShadow>, after: &ClusterVersionShadow) -> bool {
    let facts = |s: &ClusterVersionShadow| {
        (
            s.current_version().map(str::to_owned),
            s.status.as_ref().and_then(|st| st.running_upgrade()).is_some(),
            s.spec.tier,
        )
    };
    before.is_none_or(|b| facts(b) != facts(after))
}

/// Runs until `shutdown`; the reconciles running then are finished first.
pub async fn run(
    ctx: Arc<Context>,
    api: kube::Api<ClusterVersionShadow>,
    writer: Writer<ClusterVersionShadow>,
    retrigger: impl Stream<Item = ()> + Send,
    shutdown: impl Future<Output = ()> + Send,
    settings: Settings,
) {
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|shadow| shadow.managed_fields_mut().clear());
    let events = reflector::reflector(writer, events);
    let mut scheduler = Scheduler {
        queue: Queue::default(),
        known: HashMap::new(),
        settings,
        ctx,
        last_gauges: None,
        listed: Vec::new(),
    };
    let mut events = std::pin::pin!(events);
    let mut retrigger = std::pin::pin!(retrigger);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut running: JoinSet<Ended> = JoinSet::new();
    let mut retriggers = true;
    loop {
        let now = Instant::now();
        scheduler.start_due(&mut running, now);
        scheduler.update_gauges(running.len(), now);
        let wake = scheduler
            .queue
            .next_at(now)
            .map(|at| tokio::time::Instant::from_std(at.max(now)));
        let idle_tick = tokio::time::Instant::from_std(now + Duration::from_secs(1));
        let sleep = tokio::time::sleep_until(wake.map_or(idle_tick, |w| w.min(idle_tick)));
        tokio::select! {
            () = &mut shutdown => break,
            event = events.next() => match event {
                Some(Ok(event)) => scheduler.on_event(event, Instant::now()),
                Some(Err(err)) => tracing::warn!(error = %err, "watching ClusterVersionShadows failed; retrying"),
                None => break,
            },
            trigger = retrigger.next(), if retriggers => match trigger {
                Some(()) => scheduler.everyone(Reason::Fleet, None, Instant::now()),
                None => retriggers = false,
            },
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(ended) = done {
                    scheduler.finished(ended, Instant::now());
                }
            }
            () = sleep, if running.len() < scheduler.settings.workers => {}
        }
    }
    // Finish what runs; start nothing new.
    while running.join_next().await.is_some() {}
}

/// A reconcile that ended: of which cluster, from which copy of its object, with what result.
struct Ended {
    name: String,
    from: Arc<ClusterVersionShadow>,
    result: Result<Outcome, controller::Error>,
}

struct Scheduler {
    queue: Queue<String>,
    known: HashMap<String, Known>,
    settings: Settings,
    ctx: Arc<Context>,
    last_gauges: Option<Instant>,
    /// Objects of a listing in progress that need a reconcile once it is complete.
    listed: Vec<(String, Reason)>,
}

impl Scheduler {
    fn start_due(&mut self, running: &mut JoinSet<Ended>, now: Instant) {
        while running.len() < self.settings.workers {
            let Some(work) = self.queue.pop(now) else {
                return;
            };
            let Some(shadow) = self.object(&work.key) else {
                // Deleted since it was queued.
                self.queue.forget(&work.key);
                self.queue.finish(&work.key, None, now);
                continue;
            };
            self.ctx.metrics.reconcile_dequeued(
                work.due.reason.as_str(),
                now.saturating_duration_since(work.due.at),
            );
            let ctx = self.ctx.clone();
            let reason = work.due.reason;
            running.spawn(async move {
                let started = Instant::now();
                let result = controller::reconcile(shadow.clone(), ctx.clone()).await;
                ctx.metrics
                    .reconcile_by_reason(reason.as_str(), started.elapsed());
                Ended {
                    name: work.key,
                    from: shadow,
                    result,
                }
            });
        }
    }

    /// The newest copy of `name`: what this process wrote, until the cache has caught up with it.
    fn object(&self, name: &str) -> Option<Arc<ClusterVersionShadow>> {
        let cached = self
            .ctx
            .shadows
            .get(&ObjectRef::new(name).within(&self.ctx.namespace));
        match self.known.get(name).and_then(|k| k.written.clone()) {
            Some(written) if cached.is_some() => Some(written),
            _ => cached,
        }
    }

    fn on_event(&mut self, event: watcher::Event<ClusterVersionShadow>, now: Instant) {
        self.ctx.fleet.changed();
        match event {
            watcher::Event::Apply(shadow) => {
                if let Some((name, reason)) = self.seen(&shadow, now) {
                    self.queue.push(name, Due::new(reason, now), now);
                }
            }
            watcher::Event::InitApply(shadow) => {
                // The cache holds a listing only once it is complete: queued at InitDone.
                if let Some(seen) = self.seen(&shadow, now) {
                    self.listed.push(seen);
                }
            }
            watcher::Event::Delete(shadow) => self.forget(&shadow.name_any()),
            watcher::Event::InitDone => {
                for (name, reason) in std::mem::take(&mut self.listed) {
                    self.queue.push(name, Due::new(reason, now), now);
                }
                // Deleted while the watch was down: the relist does not say so, the cache does.
                let gone: Vec<String> = self
                    .known
                    .keys()
                    .filter(|name| {
                        self.ctx
                            .shadows
                            .get(&ObjectRef::new(name).within(&self.ctx.namespace))
                            .is_none()
                    })
                    .cloned()
                    .collect();
                for name in gone {
                    self.forget(&name);
                }
            }
            watcher::Event::Init => self.listed.clear(),
        }
    }

    /// Records a watched object; returns it with the reason to reconcile it, if it is news.
    fn seen(&mut self, shadow: &ClusterVersionShadow, now: Instant) -> Option<(String, Reason)> {
        let name = shadow.name_any();
        let reason = reason_for(self.known.get(&name), shadow);
        let known = self.known.entry(name.clone()).or_insert_with(|| Known {
            resource_version: None,
            unchanged: 0,
            observed: now,
            written: None,
        });
        known.resource_version = shadow.metadata.resource_version.clone();
        // The cache now holds this object (or will at InitDone), at least as new as any write.
        known.written = None;
        let reason = reason?;
        known.unchanged = 0;
        Some((name, reason))
    }

    fn forget(&mut self, name: &str) {
        let name = name.to_owned();
        self.queue.forget(&name);
        self.known.remove(&name);
        self.ctx.forget(&name);
    }

    /// Every cluster (but `except`) is looked at again soon.
    fn everyone(&mut self, reason: Reason, except: Option<&str>, now: Instant) {
        let names: Vec<String> = self
            .known
            .keys()
            .filter(|n| Some(n.as_str()) != except)
            .cloned()
            .collect();
        for name in names {
            self.queue.push(name, Due::new(reason, now), now);
        }
    }

    fn finished(&mut self, ended: Ended, now: Instant) {
        let Ended { name, from, result } = ended;
        // The write was fenced on `from`: while the newest copy known here is still `from`, the write is
        // newer; once the cache moved on, it holds the write or something after it.
        let behind = self
            .object(&name)
            .is_some_and(|newest| newest.resource_version() == from.resource_version());
        let Some(known) = self.known.get_mut(&name) else {
            // Deleted while it ran.
            self.queue.finish(&name, None, now);
            return;
        };
        known.observed = now;
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(err) => {
                controller::error_policy(&name, &err, &self.ctx);
                let due = Due::new(Reason::Retry, now + controller::RETRY_AFTER);
                self.queue.finish(&name, Some(due), now);
                return;
            }
        };
        let fleet = outcome
            .written
            .as_ref()
            .is_some_and(|written| matters_to_the_fleet(Some(&from), written));
        if let Some(written) = outcome.written
            && behind
        {
            known.resource_version = written.metadata.resource_version.clone();
            known.written = Some(Arc::new(written));
        }
        known.unchanged = if outcome.changed {
            0
        } else {
            known.unchanged.saturating_add(1)
        };
        let due = match outcome.next {
            Next::Step(after) => {
                known.unchanged = 0;
                Due::new(Reason::Executing, now + after)
            }
            Next::Again(after) => Due::new(Reason::Retry, now + after),
            Next::Idle { reachable } => {
                let interval = self
                    .settings
                    .cadence
                    .idle(known.unchanged.saturating_sub(1), reachable);
                Due::new(Reason::Resync, now + Cadence::spread(interval, fastrand::f64()))
            }
        };
        self.queue.finish(&name, Some(due), now);
        if fleet {
            if name == GLOBAL_CLUSTER {
                self.everyone(Reason::Fleet, Some(GLOBAL_CLUSTER), now);
            } else if self.known.contains_key(GLOBAL_CLUSTER) {
                self.queue
                    .push(GLOBAL_CLUSTER.to_owned(), Due::new(Reason::Fleet, now), now);
            }
        }
    }

    /// Queue and staleness gauges, at most once a second.
    fn update_gauges(&mut self, running: usize, now: Instant) {
        if self
            .last_gauges
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return;
        }
        self.last_gauges = Some(now);
        let oldest = self
            .known
            .values()
            .map(|k| now.saturating_duration_since(k.observed))
            .max()
            .unwrap_or_default();
        let waiting = self.queue.waiting(now);
        let metrics = &self.ctx.metrics;
        metrics.scheduler_gauges(
            Reason::ALL
                .iter()
                .map(|r| (r.as_str(), waiting.get(r).copied().unwrap_or(0))),
            running,
            oldest,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::{ClusterVersionShadowSpec, ClusterVersionShadowStatus};

    fn shadow(resource_version: &str) -> ClusterVersionShadow {
        let mut shadow = ClusterVersionShadow::new("east", ClusterVersionShadowSpec::default());
        shadow.metadata.resource_version = Some(resource_version.into());
        shadow
    }

    fn known(resource_version: &str) -> Known {
        Known {
            resource_version: Some(resource_version.into()),
            unchanged: 0,
            observed: Instant::now(),
            written: None,
        }
    }

    #[test]
    fn a_watch_event_is_work_unless_it_is_the_echo_of_what_was_already_seen() {
        assert_eq!(reason_for(None, &shadow("1")), Some(Reason::New));
        assert_eq!(reason_for(Some(&known("7")), &shadow("7")), None);
        assert_eq!(reason_for(Some(&known("7")), &shadow("8")), Some(Reason::Request));
    }

    #[test]
    fn only_versions_upgrades_and_tiers_matter_to_the_rest_of_the_fleet() {
        let at = |version: Option<&str>| {
            let mut s = shadow("1");
            s.status = Some(ClusterVersionShadowStatus {
                current: version.map(|v| acp_api::cvsh::Release {
                    version: Some(v.into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            s
        };
        assert!(matters_to_the_fleet(None, &at(None)));
        assert!(!matters_to_the_fleet(
            Some(&at(Some("4.2.3"))),
            &at(Some("4.2.3"))
        ));
        assert!(matters_to_the_fleet(Some(&at(Some("4.2.3"))), &at(Some("4.3.1"))));
        let mut observed_again = at(Some("4.2.3"));
        observed_again.metadata.resource_version = Some("2".into());
        assert!(!matters_to_the_fleet(Some(&at(Some("4.2.3"))), &observed_again));
    }
}
