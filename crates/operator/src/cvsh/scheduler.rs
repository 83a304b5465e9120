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
use acp_api::cvsh::Tier;
use acp_api::names::GLOBAL_CLUSTER;
use acp_api::names::labels::MAINTENANCE_WINDOW;
use futures::{FutureExt as _, Stream, StreamExt};
use kube::ResourceExt;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::task::JoinSet;

use super::cadence::Cadence;
use super::controller::{self, Context, Next, Outcome};
use super::queue::{Due, Queue, Reason, Work};

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
    /// The generation last seen: it moves only when the spec does.
    generation: Option<i64>,
    /// Idle observations in a row that found nothing new.
    unchanged: u32,
    /// When a reconcile of it last ended (or when it appeared, before its first).
    observed: Instant,
    /// The object this process wrote last, until the cache has it.
    written: Option<Arc<ClusterVersionShadow>>,
}

/// Why a watch event means the cluster must be reconciled, if it does; `running` when a reconcile of it
/// runs now.
fn reason_for(known: Option<&Known>, object: &ClusterVersionShadow, running: bool) -> Option<Reason> {
    let Some(known) = known else {
        return Some(Reason::New);
    };
    if object.metadata.resource_version.is_some()
        && known.resource_version == object.metadata.resource_version
    {
        // The echo of this process's own write, or a relist of an object that did not change.
        return None;
    }
    if running && known.generation == object.metadata.generation {
        // Not the spec: the status write of the running reconcile, whose echo can arrive before the
        // reconcile has returned. Its end schedules what follows.
        return None;
    }
    Some(Reason::Request)
}

/// Whether a change of `name` from `before` to `after` matters to other clusters' reconciles: the global
/// cluster's version and upgrade gate every workload cluster, and every workload cluster's version gates
/// the global one.
fn matters_to_the_fleet(before: Option<&ClusterVersionShadow>, after: &ClusterVersionShadow) -> bool {
    let facts = |s: &ClusterVersionShadow| {
        let observed = s.status.as_ref().and_then(|st| st.observed.as_ref());
        (
            s.current_version().map(str::to_owned),
            s.status.as_ref().and_then(|st| st.running_upgrade()).is_some(),
            s.spec.tier,
            // The global cluster's KubernetesVersionSupported reads each workload cluster's.
            observed.and_then(|o| o.kubernetes_version.clone()),
            observed.and_then(|o| o.reachable),
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
    window_changes: impl Stream<Item = String> + Send,
    shutdown: impl Future<Output = ()> + Send,
    settings: Settings,
) {
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|shadow| shadow.managed_fields_mut().clear());
    let events = reflector::reflector(writer, events);
    let mut tracker = Tracker::new(ctx.shadows.clone(), &ctx.namespace, settings.cadence);
    let mut events = std::pin::pin!(events);
    let mut retrigger = std::pin::pin!(retrigger);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut running: JoinSet<Ended> = JoinSet::new();
    let mut retriggers = true;
    let mut window_changes = std::pin::pin!(window_changes);
    let mut windows = true;
    let mut secret_changes = ctx.access.secret_changes();
    let mut last_gauges: Option<Instant> = None;
    loop {
        let now = Instant::now();
        while running.len() < settings.workers {
            let Some((work, shadow)) = tracker.next(now) else {
                break;
            };
            start(&ctx, &mut running, work, shadow, now);
        }
        if last_gauges.is_none_or(|at| now.saturating_duration_since(at) >= Duration::from_secs(1)) {
            last_gauges = Some(now);
            tracker.publish_gauges(&ctx, running.len(), now);
        }
        let idle_tick = tokio::time::Instant::from_std(now + Duration::from_secs(1));
        let wake = tracker
            .queue
            .next_at(now)
            .map_or(idle_tick, |at| tokio::time::Instant::from_std(at).min(idle_tick));
        tokio::select! {
            () = &mut shutdown => break,
            event = events.next() => match event {
                Some(Ok(event)) => {
                    ctx.fleet.changed();
                    for gone in tracker.on_event(event, Instant::now()) {
                        ctx.forget(&gone);
                    }
                }
                Some(Err(err)) => tracing::warn!(error = %err, "watching ClusterVersionShadows failed; retrying"),
                None => break,
            },
            Some(secret) = next_secret_change(&mut secret_changes) => {
                tracker.secret_changed(&secret, Instant::now());
            }
            window = window_changes.next(), if windows => match window {
                Some(window) => {
                    // The next read of the window must be the edited one, not a cached copy.
                    ctx.platform.forget_window(&window);
                    tracker.window_changed(&window, Instant::now());
                }
                None => windows = false,
            },
            trigger = retrigger.next(), if retriggers => match trigger {
                Some(()) => tracker.everyone(Reason::Fleet, None, Instant::now()),
                None => retriggers = false,
            },
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(Ended { name, from, result }) = done {
                    let outcome = result.map_err(|err| controller::error_policy(&name, &err, &ctx)).ok();
                    tracker.finished(&name, &from, outcome, fastrand::f64(), Instant::now());
                }
            }
            () = tokio::time::sleep_until(wake), if running.len() < settings.workers => {}
        }
    }
    // Finish what runs; start nothing new.
    while running.join_next().await.is_some() {}
}

/// The next changed kubeconfig Secret; never, without a Secret watch.
async fn next_secret_change(
    changes: &mut Option<tokio::sync::mpsc::UnboundedReceiver<String>>,
) -> Option<String> {
    match changes {
        Some(rx) => match rx.recv().await {
            Some(name) => Some(name),
            None => {
                *changes = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

/// A reconcile that ended: of which cluster, from which copy of its object, with what result.
struct Ended {
    name: String,
    from: Arc<ClusterVersionShadow>,
    result: Result<Outcome, controller::Error>,
}

fn start(
    ctx: &Arc<Context>,
    running: &mut JoinSet<Ended>,
    work: Work<String>,
    shadow: Arc<ClusterVersionShadow>,
    now: Instant,
) {
    let reason = work.due.reason.as_str();
    ctx.metrics
        .reconcile_dequeued(reason, now.saturating_duration_since(work.due.at));
    let ctx = ctx.clone();
    running.spawn(async move {
        let started = Instant::now();
        // A panic must still end the reconcile here: else its cluster would count as running forever.
        let result = std::panic::AssertUnwindSafe(controller::reconcile(shadow.clone(), ctx.clone()))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                Err(controller::Error::Panicked {
                    name: work.key.clone(),
                })
            });
        ctx.metrics.reconcile_by_reason(reason, started.elapsed());
        Ended {
            name: work.key,
            from: shadow,
            result,
        }
    });
}

/// Which cluster is reconciled when: the queue, fed by the watch and by the ends of reconciles.
struct Tracker {
    queue: Queue<String>,
    known: HashMap<String, Known>,
    /// Objects of a listing in progress that need a reconcile once it is complete.
    listed: Vec<(String, Reason)>,
    shadows: Store<ClusterVersionShadow>,
    namespace: String,
    cadence: Cadence,
}

impl Tracker {
    fn new(shadows: Store<ClusterVersionShadow>, namespace: &str, cadence: Cadence) -> Self {
        Self {
            queue: Queue::default(),
            known: HashMap::new(),
            listed: Vec::new(),
            shadows,
            namespace: namespace.to_owned(),
            cadence,
        }
    }

    /// The next cluster due, with the copy of its object to reconcile.
    fn next(&mut self, now: Instant) -> Option<(Work<String>, Arc<ClusterVersionShadow>)> {
        loop {
            let work = self.queue.pop(now)?;
            if let Some(shadow) = self.object(&work.key) {
                return Some((work, shadow));
            }
            // Deleted since it was queued.
            self.queue.forget(&work.key);
            self.queue.finish(&work.key, None, now);
        }
    }

    fn cached(&self, name: &str) -> Option<Arc<ClusterVersionShadow>> {
        self.shadows.get(&ObjectRef::new(name).within(&self.namespace))
    }

    /// The newest copy of `name`: what this process wrote, until the cache has caught up with it.
    fn object(&self, name: &str) -> Option<Arc<ClusterVersionShadow>> {
        let cached = self.cached(name);
        match self.known.get(name).and_then(|k| k.written.clone()) {
            Some(written) if cached.is_some() => Some(written),
            _ => cached,
        }
    }

    /// Takes in a watch event (after the cache did); returns the clusters found deleted.
    fn on_event(&mut self, event: watcher::Event<ClusterVersionShadow>, now: Instant) -> Vec<String> {
        match event {
            watcher::Event::Apply(shadow) => {
                if let Some((name, reason)) = self.seen(&shadow, now) {
                    self.queue.push(name, Due::new(reason, now), now);
                }
                Vec::new()
            }
            watcher::Event::InitApply(shadow) => {
                // The cache holds a listing only once it is complete: queued at InitDone.
                if let Some(seen) = self.seen(&shadow, now) {
                    self.listed.push(seen);
                }
                Vec::new()
            }
            watcher::Event::Delete(shadow) => {
                let name = shadow.name_any();
                self.forget(&name);
                self.wake_the_fleet_of(&name, now);
                vec![name]
            }
            watcher::Event::InitDone => {
                for (name, reason) in std::mem::take(&mut self.listed) {
                    self.queue.push(name, Due::new(reason, now), now);
                }
                // The cache was replaced by a complete listing: nothing this process wrote is newer.
                for known in self.known.values_mut() {
                    known.written = None;
                }
                // Deleted while the watch was down: the relist does not say so, the cache does.
                let gone: Vec<String> = self
                    .known
                    .keys()
                    .filter(|name| self.cached(name).is_none())
                    .cloned()
                    .collect();
                for name in &gone {
                    self.forget(name);
                }
                gone
            }
            // A listing that restarts keeps what the interrupted one found: its resourceVersions are
            // already recorded, so the new listing would not show those changes again.
            watcher::Event::Init => Vec::new(),
        }
    }

    /// Records a watched object; returns it with the reason to reconcile it, if it is news.
    fn seen(&mut self, shadow: &ClusterVersionShadow, now: Instant) -> Option<(String, Reason)> {
        let name = shadow.name_any();
        let running = self.queue.is_running(&name);
        let reason = reason_for(self.known.get(&name), shadow, running);
        let known = self.known.entry(name.clone()).or_insert_with(|| Known {
            resource_version: None,
            generation: None,
            unchanged: 0,
            observed: now,
            written: None,
        });
        known.resource_version = shadow.metadata.resource_version.clone();
        known.generation = shadow.metadata.generation;
        // The cache holds the written copy once the watch delivered it; events before it (of an earlier
        // write of this process) leave the written copy the newest.
        if known
            .written
            .as_ref()
            .is_some_and(|w| w.metadata.resource_version == shadow.metadata.resource_version)
        {
            known.written = None;
        }
        let reason = reason?;
        known.unchanged = 0;
        Some((name, reason))
    }

    fn forget(&mut self, name: &str) {
        let name = name.to_owned();
        self.queue.forget(&name);
        self.known.remove(&name);
    }

    /// Kubeconfig Secret `secret` changed: the clusters reached through it are looked at now (a fixed or
    /// rotated kubeconfig takes effect at once, a broken one is reported at once).
    fn secret_changed(&mut self, secret: &str, now: Instant) {
        let users: Vec<String> = self
            .shadows
            .state()
            .iter()
            .filter(|s| s.kubeconfig_secret_ref().is_some_and(|r| r.name == secret))
            .map(|s| s.name_any())
            .collect();
        for name in users {
            if let Some(known) = self.known.get_mut(&name) {
                known.unchanged = 0;
            }
            self.queue.push(name, Due::new(Reason::Request, now), now);
        }
    }

    /// MaintenanceWindow `window` was created, changed or deleted: the clusters labelled with it are
    /// looked at now, so a window opened (or a freeze lifted) starts their held upgrades at once rather
    /// than when their nap ends.
    fn window_changed(&mut self, window: &str, now: Instant) {
        let labelled: Vec<String> = self
            .shadows
            .state()
            .iter()
            .filter(|s| s.labels().get(MAINTENANCE_WINDOW).is_some_and(|w| w == window))
            .map(|s| s.name_any())
            .collect();
        for name in labelled {
            self.queue.push(name, Due::new(Reason::Request, now), now);
        }
    }

    /// Every cluster (but `except`) is looked at again now.
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

    /// The reconcile of `name`, started from `from`, ended with `outcome` (`None`: it failed). `unit`,
    /// uniform in [0, 1), spreads the next observation of an idle cluster.
    fn finished(
        &mut self,
        name: &str,
        from: &ClusterVersionShadow,
        outcome: Option<Outcome>,
        unit: f64,
        now: Instant,
    ) {
        let key = name.to_owned();
        // The write was fenced on `from`: while the newest copy known here is still `from`, the write is
        // newer; once the cache moved on, it holds the write or something after it.
        let behind = self
            .object(name)
            .is_some_and(|newest| newest.resource_version() == from.resource_version());
        let Some(known) = self.known.get_mut(name) else {
            // Deleted while it ran.
            self.queue.finish(&key, None, now);
            return;
        };
        known.observed = now;
        let Some(outcome) = outcome else {
            let due = Due::new(Reason::Retry, now + controller::RETRY_AFTER);
            self.queue.finish(&key, Some(due), now);
            return;
        };
        let fleet = outcome
            .written
            .as_ref()
            .is_some_and(|written| matters_to_the_fleet(Some(from), written));
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
            Next::Until(after) => Due::new(Reason::Resync, now + after),
            // A request waits on something outside it: looked at again at the first cadence, not later.
            Next::Pending => Due::new(Reason::Resync, now + Cadence::spread(self.cadence.first, unit)),
            Next::Idle { reachable } => {
                let interval = self.cadence.idle(known.unchanged.saturating_sub(1), reachable);
                Due::new(Reason::Resync, now + Cadence::spread(interval, unit))
            }
        };
        self.queue.finish(&key, Some(due), now);
        if fleet {
            self.wake_the_fleet_of(name, now);
        }
    }

    /// What `name` is changed in ways others read: a global-tier cluster gates every workload cluster,
    /// a workload cluster gates the global one.
    fn wake_the_fleet_of(&mut self, name: &str, now: Instant) {
        let global_tier = name == GLOBAL_CLUSTER
            || self
                .cached(name)
                .is_some_and(|s| matches!(s.spec.tier, Some(Tier::Global | Tier::GlobalStandby)));
        if global_tier {
            self.everyone(Reason::Fleet, Some(name), now);
        } else if self.known.contains_key(GLOBAL_CLUSTER) {
            self.queue
                .push(GLOBAL_CLUSTER.to_owned(), Due::new(Reason::Fleet, now), now);
        }
    }

    /// The queue and staleness gauges.
    fn publish_gauges(&self, ctx: &Context, running: usize, now: Instant) {
        let oldest = self
            .known
            .values()
            .map(|k| now.saturating_duration_since(k.observed))
            .max()
            .unwrap_or_default();
        let waiting = self.queue.waiting(now);
        ctx.metrics.scheduler_gauges(
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
            generation: None,
            unchanged: 0,
            observed: Instant::now(),
            written: None,
        }
    }

    #[test]
    fn a_watch_event_is_work_unless_it_is_the_echo_of_what_was_already_seen() {
        assert_eq!(reason_for(None, &shadow("1"), false), Some(Reason::New));
        assert_eq!(reason_for(Some(&known("7")), &shadow("7"), false), None);
        assert_eq!(
            reason_for(Some(&known("7")), &shadow("8"), false),
            Some(Reason::Request)
        );
        // While a reconcile runs, its own write can be seen before it returns: not a request...
        assert_eq!(reason_for(Some(&known("7")), &shadow("8"), true), None);
        // ...unless the spec changed.
        let mut requested = shadow("9");
        requested.metadata.generation = Some(2);
        assert_eq!(
            reason_for(Some(&known("7")), &requested, true),
            Some(Reason::Request)
        );
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

    mod tracker {
        use super::*;
        use kube::runtime::reflector::store::Writer;

        const NS: &str = "cpaas-system";

        fn cadence() -> Cadence {
            Cadence {
                first: Duration::from_secs(30),
                max: Duration::from_secs(300),
            }
        }

        fn object(name: &str, rv: &str, version: Option<&str>) -> ClusterVersionShadow {
            let mut s = ClusterVersionShadow::new(name, ClusterVersionShadowSpec::default());
            s.metadata.namespace = Some(NS.into());
            s.metadata.resource_version = Some(rv.into());
            s.status = Some(ClusterVersionShadowStatus {
                current: version.map(|v| acp_api::cvsh::Release {
                    version: Some(v.into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            s
        }

        struct Fixture {
            writer: Writer<ClusterVersionShadow>,
            tracker: Tracker,
            now: Instant,
        }

        impl Fixture {
            fn new() -> Self {
                let (store, writer) = reflector::store();
                Self {
                    writer,
                    tracker: Tracker::new(store, NS, cadence()),
                    now: Instant::now(),
                }
            }

            /// The watch delivers `event`: the cache first, then the scheduler, as the reflector does.
            fn watch(&mut self, event: watcher::Event<ClusterVersionShadow>) -> Vec<String> {
                self.writer.apply_watcher_event(&event);
                self.tracker.on_event(event, self.now)
            }

            fn list(&mut self, objects: Vec<ClusterVersionShadow>) {
                self.watch(watcher::Event::Init);
                for o in objects {
                    self.watch(watcher::Event::InitApply(o));
                }
                self.watch(watcher::Event::InitDone);
            }

            fn due(&mut self) -> Vec<(String, Reason)> {
                let mut out = Vec::new();
                while let Some((work, _)) = self.tracker.next(self.now) {
                    out.push((work.key, work.due.reason));
                }
                out.sort();
                out
            }

            fn finish(&mut self, name: &str, from: &ClusterVersionShadow, outcome: Outcome) {
                self.tracker.finished(name, from, Some(outcome), 0.5, self.now);
            }

            fn later(&mut self, secs: u64) {
                self.now += Duration::from_secs(secs);
            }
        }

        fn idle(written: Option<ClusterVersionShadow>, changed: bool) -> Outcome {
            Outcome {
                next: Next::Idle { reachable: true },
                written,
                changed,
            }
        }

        #[test]
        fn clusters_listed_at_start_are_handed_out_once_the_listing_is_complete() {
            let mut f = Fixture::new();
            f.watch(watcher::Event::Init);
            f.watch(watcher::Event::InitApply(object("east", "1", None)));
            assert!(f.due().is_empty(), "the cache does not hold a partial listing");
            f.watch(watcher::Event::InitApply(object("west", "2", None)));
            f.watch(watcher::Event::InitDone);
            assert_eq!(
                f.due(),
                [("east".into(), Reason::New), ("west".into(), Reason::New)]
            );
        }

        #[test]
        fn the_echo_of_its_own_write_is_not_work_but_someone_elses_change_is() {
            let mut f = Fixture::new();
            let east = object("east", "1", None);
            f.list(vec![east.clone()]);
            f.due();
            let written = object("east", "2", Some("4.2.3"));
            f.finish("east", &east, idle(Some(written.clone()), true));
            // The next reconcile starts from the written copy, before the watch delivers it.
            let (_, resumed) = {
                f.later(30);
                f.tracker.next(f.now).unwrap()
            };
            assert_eq!(resumed.resource_version().as_deref(), Some("2"));
            f.finish("east", &resumed, idle(None, false));
            f.watch(watcher::Event::Apply(written));
            assert!(f.due().is_empty(), "the echo of the write");
            f.watch(watcher::Event::Apply(object("east", "3", Some("4.2.3"))));
            assert_eq!(f.due(), [("east".into(), Reason::Request)]);
        }

        #[test]
        fn an_idle_cluster_is_observed_less_often_until_something_changes() {
            let mut f = Fixture::new();
            let east = object("east", "1", Some("4.2.3"));
            f.list(vec![east.clone()]);
            let mut waits = Vec::new();
            for changed in [true, false, false, false, true] {
                let (work, from) = f.tracker.next(f.now).unwrap();
                assert_eq!(work.key, "east");
                f.finish("east", &from, idle(None, changed));
                let before = f.now;
                while f.tracker.next(f.now).is_none() {
                    f.later(1);
                }
                waits.push(f.now.duration_since(before).as_secs());
                // Handed out above: put it back as if it was just popped.
                f.tracker
                    .queue
                    .finish(&"east".to_owned(), Some(Due::new(Reason::Resync, f.now)), f.now);
            }
            assert_eq!(waits, [30, 30, 60, 120, 30]);
        }

        #[test]
        fn a_version_change_wakes_the_clusters_it_gates() {
            let mut f = Fixture::new();
            let global = object("global", "1", Some("4.2.5"));
            let east = object("east", "2", Some("4.2.3"));
            let west = object("west", "3", Some("4.2.3"));
            f.list(vec![global.clone(), east.clone(), west.clone()]);
            f.due();
            for (name, from) in [("global", &global), ("east", &east), ("west", &west)] {
                f.finish(name, from, idle(None, false));
            }
            // A workload cluster reached a new version: the global cluster's checks read it.
            let upgraded = object("east", "4", Some("4.3.1"));
            f.finish("east", &east, idle(Some(upgraded), true));
            assert_eq!(f.due(), [("global".into(), Reason::Fleet)]);
            f.finish("global", &global, idle(None, false));
            // The global cluster moved: every workload cluster's gate changed.
            f.finish(
                "global",
                &global,
                idle(Some(object("global", "5", Some("4.3.1"))), true),
            );
            assert_eq!(
                f.due(),
                [("east".into(), Reason::Fleet), ("west".into(), Reason::Fleet)]
            );
        }

        #[test]
        fn a_changed_kubeconfig_secret_wakes_the_clusters_reached_through_it() {
            let mut f = Fixture::new();
            let with_secret = |name: &str, rv: &str, secret: &str| {
                let mut o = object(name, rv, None);
                o.spec.kubeconfig_secret_ref = Some(acp_api::cvsh::KubeconfigSecretRef {
                    name: secret.into(),
                    key: "value".into(),
                });
                o
            };
            let (east, west) = (
                with_secret("east", "1", "east-kubeconfig"),
                with_secret("west", "2", "west-kubeconfig"),
            );
            f.list(vec![east.clone(), west.clone()]);
            f.due();
            f.finish("east", &east, idle(None, false));
            f.finish("west", &west, idle(None, false));
            f.tracker.secret_changed("east-kubeconfig", f.now);
            assert_eq!(f.due(), [("east".into(), Reason::Request)]);
            f.tracker.secret_changed("unrelated", f.now);
            assert!(f.due().is_empty());
        }

        #[test]
        fn a_changed_window_wakes_the_clusters_labelled_with_it() {
            let mut f = Fixture::new();
            let labelled = |name: &str, rv: &str, window: &str| {
                let mut o = object(name, rv, None);
                o.metadata.labels = Some([(MAINTENANCE_WINDOW.to_string(), window.to_string())].into());
                o
            };
            let (east, west) = (
                labelled("east", "1", "night-shift"),
                labelled("west", "2", "weekend"),
            );
            f.list(vec![east.clone(), west.clone()]);
            f.due();
            f.finish("east", &east, idle(None, false));
            f.finish("west", &west, idle(None, false));
            f.tracker.window_changed("night-shift", f.now);
            assert_eq!(f.due(), [("east".into(), Reason::Request)]);
            f.tracker.window_changed("unused", f.now);
            assert!(f.due().is_empty());
        }

        #[test]
        fn deleted_clusters_are_forgotten_even_when_the_watch_missed_the_deletion() {
            let mut f = Fixture::new();
            f.list(vec![object("east", "1", None), object("west", "2", None)]);
            let gone = f.watch(watcher::Event::Delete(object("east", "1", None)));
            assert_eq!(gone, ["east"]);
            assert_eq!(f.due(), [("west".into(), Reason::New)]);
            // The watch restarts; `west` was deleted meanwhile.
            f.watch(watcher::Event::Init);
            let gone = f.watch(watcher::Event::InitDone);
            assert_eq!(gone, ["west"]);
            f.later(1000);
            assert!(f.due().is_empty());
        }
    }
}
