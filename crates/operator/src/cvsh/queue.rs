//! The order in which clusters are reconciled: a work queue where what a person or an upgrade is waiting
//! for always goes before the periodic re-observation of idle clusters.
//!
//! Each cluster is in the queue at most once (a second request merges into the first: the earlier time
//! and the more urgent reason win) and is never handed out while a reconcile of it is running; what is
//! asked for meanwhile waits until that reconcile ends. Among the clusters that are due, the most urgent
//! reason goes first, then the one due longest. Time is passed in, so the order is tested on tables.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Why a cluster is reconciled; the order of the variants is the order of urgency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// Its ClusterVersionShadow appeared (a cluster was registered, or the operator started).
    New,
    /// Its spec changed (an upgrade requested or cancelled, paused, forced), or someone else wrote it.
    Request,
    /// An upgrade runs (or waits for its turn): the next step is due.
    Executing,
    /// Something every cluster reads changed: the release catalogue, or the global cluster.
    Fleet,
    /// The last reconcile could not write its status.
    Retry,
    /// Periodic re-observation of a cluster nothing happens to.
    Resync,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::New,
        Reason::Request,
        Reason::Executing,
        Reason::Fleet,
        Reason::Retry,
        Reason::Resync,
    ];

    /// Lower goes first. New clusters, requests and running upgrades share the first class: none of them
    /// may wait behind another class, and among them the one due longest goes first.
    fn class(self) -> u8 {
        match self {
            Reason::New | Reason::Request | Reason::Executing => 0,
            Reason::Fleet | Reason::Retry => 1,
            Reason::Resync => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::New => "new",
            Reason::Request => "request",
            Reason::Executing => "executing",
            Reason::Fleet => "fleet",
            Reason::Retry => "retry",
            Reason::Resync => "resync",
        }
    }

    /// The more urgent of two reasons.
    fn most_urgent(self, other: Reason) -> Reason {
        if other.class() < self.class() { other } else { self }
    }
}

/// A cluster's place in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub reason: Reason,
    pub at: Instant,
}

impl Due {
    pub fn new(reason: Reason, at: Instant) -> Self {
        Self { reason, at }
    }

    /// Two requests for one cluster: the earlier time, and the more urgent reason.
    fn merge(self, other: Due) -> Due {
        Due {
            reason: self.reason.most_urgent(other.reason),
            at: self.at.min(other.at),
        }
    }
}

/// What [`Queue::pop`] hands out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Work<K> {
    pub key: K,
    pub due: Due,
}

#[derive(Clone, Copy, Debug)]
struct Queued {
    due: Due,
    seq: u64,
}

/// What is known of a key whose reconcile is running.
#[derive(Clone, Copy, Debug)]
enum Running {
    /// Nothing asked for meanwhile.
    Idle,
    /// Asked for again while running: queued when the reconcile ends.
    Again(Due),
    /// Deleted while running: not queued again.
    Forgotten,
}

pub struct Queue<K> {
    queued: HashMap<K, Queued>,
    /// Queued keys not yet due, by time.
    later: BTreeSet<(Instant, u64)>,
    /// Queued keys that are due, by class, then time.
    ready: BTreeSet<(u8, Instant, u64)>,
    keys: HashMap<u64, K>,
    running: HashMap<K, Running>,
    next_seq: u64,
}

impl<K> Default for Queue<K> {
    fn default() -> Self {
        Self {
            queued: HashMap::new(),
            later: BTreeSet::new(),
            ready: BTreeSet::new(),
            keys: HashMap::new(),
            running: HashMap::new(),
            next_seq: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> Queue<K> {
    /// Asks for a reconcile of `key` at `due`.
    pub fn push(&mut self, key: K, due: Due, now: Instant) {
        if let Some(running) = self.running.get_mut(&key) {
            *running = match *running {
                Running::Idle => Running::Again(due),
                Running::Again(before) => Running::Again(before.merge(due)),
                // Deleted and created again while the old reconcile ran.
                Running::Forgotten => Running::Again(due),
            };
            return;
        }
        let due = match self.unqueue(&key) {
            Some(before) => before.merge(due),
            None => due,
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.keys.insert(seq, key.clone());
        self.queued.insert(key, Queued { due, seq });
        if due.at <= now {
            self.ready.insert((due.reason.class(), due.at, seq));
        } else {
            self.later.insert((due.at, seq));
        }
    }

    /// The next key to reconcile, if one is due; it counts as running until [`Queue::finish`].
    pub fn pop(&mut self, now: Instant) -> Option<Work<K>> {
        self.promote(now);
        let (_, _, seq) = self.ready.pop_first()?;
        let key = self.keys.remove(&seq)?;
        let queued = self.queued.remove(&key)?;
        self.running.insert(key.clone(), Running::Idle);
        Some(Work { key, due: queued.due })
    }

    /// The reconcile of `key` ended; `next` is when it asked to run again.
    pub fn finish(&mut self, key: &K, next: Option<Due>, now: Instant) {
        let again = match self.running.remove(key) {
            Some(Running::Forgotten) => return,
            Some(Running::Again(due)) => Some(next.map_or(due, |n| n.merge(due))),
            Some(Running::Idle) | None => next,
        };
        if let Some(due) = again {
            self.push(key.clone(), due, now);
        }
    }

    /// `key` was deleted: it is not reconciled again.
    pub fn forget(&mut self, key: &K) {
        self.unqueue(key);
        if let Some(running) = self.running.get_mut(key) {
            *running = Running::Forgotten;
        }
    }

    /// When the next queued key is due (`now` when one already is).
    pub fn next_at(&self, now: Instant) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(now);
        }
        self.later.first().map(|(at, _)| (*at).max(now))
    }

    pub fn is_queued(&self, key: &K) -> bool {
        self.queued.contains_key(key) || matches!(self.running.get(key), Some(Running::Again(_)))
    }

    pub fn is_running(&self, key: &K) -> bool {
        self.running.contains_key(key)
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// How many due keys wait for a worker, per reason.
    pub fn waiting(&self, now: Instant) -> HashMap<Reason, usize> {
        let mut counts = HashMap::new();
        for queued in self.queued.values().filter(|q| q.due.at <= now) {
            *counts.entry(queued.due.reason).or_default() += 1;
        }
        counts
    }

    fn promote(&mut self, now: Instant) {
        while let Some(&(at, seq)) = self.later.first() {
            if at > now {
                break;
            }
            self.later.pop_first();
            let Some(queued) = self.keys.get(&seq).and_then(|k| self.queued.get(k)) else {
                continue;
            };
            self.ready.insert((queued.due.reason.class(), at, seq));
        }
    }

    fn unqueue(&mut self, key: &K) -> Option<Due> {
        let queued = self.queued.remove(key)?;
        self.keys.remove(&queued.seq);
        let due = queued.due;
        self.later.remove(&(due.at, queued.seq));
        self.ready.remove(&(due.reason.class(), due.at, queued.seq));
        Some(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    fn drain(queue: &mut Queue<&'static str>, now: Instant) -> Vec<&'static str> {
        let mut out = Vec::new();
        while let Some(work) = queue.pop(now) {
            out.push(work.key);
            queue.finish(&work.key, None, now);
        }
        out
    }

    #[test]
    fn requests_new_clusters_and_running_upgrades_go_before_resyncs_that_waited_longer() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        // Resyncs due long ago, then a new cluster, a request and a step of a running upgrade just now.
        for (i, key) in ["idle-a", "idle-b", "idle-c"].into_iter().enumerate() {
            queue.push(key, Due::new(Reason::Resync, at(t0, i as u64)), at(t0, 100));
        }
        queue.push("fleet", Due::new(Reason::Fleet, at(t0, 50)), at(t0, 100));
        queue.push("running", Due::new(Reason::Executing, at(t0, 99)), at(t0, 100));
        queue.push("new", Due::new(Reason::New, at(t0, 98)), at(t0, 100));
        queue.push("asked", Due::new(Reason::Request, at(t0, 100)), at(t0, 100));
        assert_eq!(
            drain(&mut queue, at(t0, 100)),
            ["new", "running", "asked", "fleet", "idle-a", "idle-b", "idle-c"]
        );
    }

    #[test]
    fn nothing_is_handed_out_before_it_is_due() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.push("later", Due::new(Reason::Executing, at(t0, 10)), t0);
        queue.push("now", Due::new(Reason::Resync, t0), t0);
        assert_eq!(queue.next_at(t0), Some(t0));
        assert_eq!(drain(&mut queue, t0), ["now"]);
        assert_eq!(queue.next_at(t0), Some(at(t0, 10)));
        assert!(queue.pop(at(t0, 9)).is_none());
        assert_eq!(drain(&mut queue, at(t0, 10)), ["later"]);
        assert_eq!(queue.next_at(at(t0, 10)), None);
    }

    #[test]
    fn a_cluster_is_queued_once_with_the_earlier_time_and_the_more_urgent_reason() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.push("east", Due::new(Reason::Resync, at(t0, 300)), t0);
        queue.push("east", Due::new(Reason::Request, at(t0, 1)), t0);
        queue.push("east", Due::new(Reason::Resync, at(t0, 30)), t0);
        let work = queue.pop(at(t0, 1)).unwrap();
        assert_eq!(work.due, Due::new(Reason::Request, at(t0, 1)));
        assert!(queue.pop(at(t0, 1000)).is_none(), "queued once");
    }

    #[test]
    fn a_running_cluster_is_not_handed_out_again_until_its_reconcile_ends() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.push("east", Due::new(Reason::Resync, t0), t0);
        let work = queue.pop(t0).unwrap();
        // A spec change arrives while the reconcile runs.
        queue.push("east", Due::new(Reason::Request, t0), t0);
        assert!(queue.is_queued(&"east"));
        assert!(queue.pop(t0).is_none(), "never two reconciles of one cluster");
        // The reconcile asked for its resync in 30 s; the request made meanwhile wins.
        queue.finish(&work.key, Some(Due::new(Reason::Resync, at(t0, 30))), t0);
        let again = queue.pop(t0).unwrap();
        assert_eq!(again.due, Due::new(Reason::Request, t0));
    }

    #[test]
    fn a_deleted_cluster_is_not_reconciled_again() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.push("gone", Due::new(Reason::Resync, t0), t0);
        queue.push("running", Due::new(Reason::Resync, t0), t0);
        let running = queue.pop(t0).unwrap();
        queue.forget(&"gone");
        queue.forget(&"running");
        queue.finish(&running.key, Some(Due::new(Reason::Resync, t0)), t0);
        assert!(queue.pop(at(t0, 1000)).is_none());
        assert_eq!(queue.running(), 0);
    }

    #[test]
    fn waiting_counts_only_due_clusters_by_reason() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.push("a", Due::new(Reason::Resync, t0), t0);
        queue.push("b", Due::new(Reason::Resync, t0), t0);
        queue.push("c", Due::new(Reason::New, t0), t0);
        queue.push("d", Due::new(Reason::Resync, at(t0, 5)), t0);
        let waiting = queue.waiting(t0);
        assert_eq!(waiting.get(&Reason::Resync), Some(&2));
        assert_eq!(waiting.get(&Reason::New), Some(&1));
    }

    #[test]
    fn five_thousand_idle_clusters_do_not_delay_a_new_one() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        let idle: Vec<String> = (0..5000).map(|i| format!("c-{i}")).collect();
        for key in &idle {
            queue.push(key.clone(), Due::new(Reason::Resync, t0), t0);
        }
        queue.push("new".to_string(), Due::new(Reason::New, at(t0, 1)), at(t0, 1));
        assert_eq!(queue.pop(at(t0, 1)).unwrap().key, "new");
    }
}
