//! Standard `metav1.Condition` helpers: set by type, find by type, test for `True`.
//!
//! `lastTransitionTime` moves only when a condition's status changes, so "Degraded for 12 minutes"
//! stays true across reconciles that rewrite the same condition with a fresh message. The current time
//! comes from a [`Clock`], so tests pin it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// Condition types written on a ClusterVersionShadow and a ProductManifest.
pub mod types {
    /// The desired version is reached and healthy (cvsh); the release is resolved (ProductManifest).
    pub const READY: &str = "Ready";
    /// An update is being applied.
    pub const RECONCILING: &str = "Reconciling";
    /// Progress is blocked by an error; the operator keeps retrying.
    pub const DEGRADED: &str = "Degraded";
    /// Every preflight check for the requested target passed (or was accepted by `force`).
    pub const PREFLIGHT_READY: &str = "PreflightReady";
    /// Blocked past the retry deadline: a human has to act.
    pub const STALLED: &str = "Stalled";
    /// Whether a ProductManifest's release bundle carries a signature by a trusted key (or why it was
    /// not checked: built in, or no keys configured).
    pub const SIGNATURE_VERIFIED: &str = "SignatureVerified";
    /// Another ClusterVersionShadow reaches the same cluster (same `kube-system` UID); present only then.
    pub const DUPLICATE_CLUSTER: &str = "DuplicateCluster";
    /// `spec.tier` claims a role the operator does not grant (a second GlobalStandby, Global on an object
    /// not named `global`); the cluster is treated as a workload cluster. Present only then.
    pub const TIER_REFUSED: &str = "TierRefused";
}

/// Status of a condition, as the API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    /// The wire form: `True`, `False` or `Unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }

    /// Reads the wire form; anything unrecognised is `Unknown`, as the API conventions ask.
    pub fn parse(s: &str) -> Self {
        match s {
            "True" => Self::True,
            "False" => Self::False,
            _ => Self::Unknown,
        }
    }
}

impl From<bool> for ConditionStatus {
    fn from(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

impl std::fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Source of the current time for condition and status timestamps.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;

    /// The current time as a Kubernetes `Time`.
    fn time(&self) -> Time {
        Time(self.now())
    }
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that always reads the same instant (tests, replays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// What a writer wants a condition to say. `set` turns it into a full `Condition`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionUpdate {
    pub type_: String,
    pub status: ConditionStatus,
    /// CamelCase machine-readable reason; must not be empty.
    pub reason: String,
    /// What happened, on which object, and what to do next.
    pub message: String,
    /// `metadata.generation` the writer acted on.
    pub observed_generation: Option<i64>,
}

impl ConditionUpdate {
    pub fn new(
        type_: impl Into<String>,
        status: impl Into<ConditionStatus>,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: None,
        }
    }

    /// Records the generation this condition was computed for.
    pub fn observed_generation(mut self, generation: Option<i64>) -> Self {
        self.observed_generation = generation;
        self
    }
}

/// How a `set` changed the list; callers emit an Event on `StatusChanged`/`Added`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The condition did not exist before.
    Added,
    /// The status changed; `lastTransitionTime` moved.
    StatusChanged,
    /// Reason, message or observed generation changed; `lastTransitionTime` kept.
    Updated,
    /// Nothing changed.
    Unchanged,
}

impl Change {
    /// True when the status is new or different (the moments worth an Event).
    pub fn is_transition(self) -> bool {
        matches!(self, Self::Added | Self::StatusChanged)
    }
}

/// Sets the condition of `update.type_`, keeping its `lastTransitionTime` unless the status changes.
/// The observed generation of an existing condition is kept when the update carries none.
pub fn set(conditions: &mut Vec<Condition>, update: ConditionUpdate, clock: &dyn Clock) -> Change {
    let status = update.status.as_str();
    match conditions.iter_mut().find(|c| c.type_ == update.type_) {
        None => {
            conditions.push(Condition {
                type_: update.type_,
                status: status.to_owned(),
                reason: update.reason,
                message: update.message,
                observed_generation: update.observed_generation,
                last_transition_time: clock.time(),
            });
            Change::Added
        }
        Some(existing) => {
            let generation = update.observed_generation.or(existing.observed_generation);
            if existing.status != status {
                existing.status = status.to_owned();
                existing.reason = update.reason;
                existing.message = update.message;
                existing.observed_generation = generation;
                existing.last_transition_time = clock.time();
                return Change::StatusChanged;
            }
            if existing.reason == update.reason
                && existing.message == update.message
                && existing.observed_generation == generation
            {
                return Change::Unchanged;
            }
            existing.reason = update.reason;
            existing.message = update.message;
            existing.observed_generation = generation;
            Change::Updated
        }
    }
}

/// Removes the condition of the given type; true when one was removed.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// The condition of the given type, if any.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The status of the condition of the given type; `Unknown` when it is absent.
pub fn status_of(conditions: &[Condition], type_: &str) -> ConditionStatus {
    find(conditions, type_).map_or(ConditionStatus::Unknown, |c| ConditionStatus::parse(&c.status))
}

/// True when the condition exists and its status is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    status_of(conditions, type_) == ConditionStatus::True
}

/// True when the condition exists and its status is `False`.
pub fn is_false(conditions: &[Condition], type_: &str) -> bool {
    status_of(conditions, type_) == ConditionStatus::False
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> FixedClock {
        FixedClock(Timestamp::from_second(1_800_000_000 + seconds).unwrap())
    }

    fn degraded(status: bool, message: &str) -> ConditionUpdate {
        ConditionUpdate::new(types::DEGRADED, status, "OperationFailed", message).observed_generation(Some(3))
    }

    #[test]
    fn a_new_condition_is_added_with_the_current_time() {
        let mut conditions = Vec::new();
        let change = set(&mut conditions, degraded(true, "module x failed"), &at(0));
        assert_eq!(change, Change::Added);
        let c = find(&conditions, types::DEGRADED).unwrap();
        assert_eq!(c.status, "True");
        assert_eq!(c.reason, "OperationFailed");
        assert_eq!(c.observed_generation, Some(3));
        assert_eq!(c.last_transition_time, at(0).time());
    }

    #[test]
    fn a_new_message_with_the_same_status_keeps_the_transition_time() {
        let mut conditions = Vec::new();
        set(&mut conditions, degraded(true, "first"), &at(0));
        let change = set(&mut conditions, degraded(true, "second"), &at(60));
        assert_eq!(change, Change::Updated);
        let c = find(&conditions, types::DEGRADED).unwrap();
        assert_eq!(c.message, "second");
        assert_eq!(c.last_transition_time, at(0).time());
        assert_eq!(conditions.len(), 1);
    }

    #[test]
    fn a_status_change_moves_the_transition_time() {
        let mut conditions = Vec::new();
        set(&mut conditions, degraded(true, "failed"), &at(0));
        let change = set(&mut conditions, degraded(false, "recovered"), &at(60));
        assert_eq!(change, Change::StatusChanged);
        assert!(change.is_transition());
        let c = find(&conditions, types::DEGRADED).unwrap();
        assert_eq!(c.status, "False");
        assert_eq!(c.last_transition_time, at(60).time());
    }

    #[test]
    fn rewriting_the_same_condition_changes_nothing() {
        let mut conditions = Vec::new();
        set(&mut conditions, degraded(true, "failed"), &at(0));
        let before = conditions.clone();
        assert_eq!(
            set(&mut conditions, degraded(true, "failed"), &at(60)),
            Change::Unchanged
        );
        assert_eq!(conditions, before);
    }

    #[test]
    fn observed_generation_is_kept_when_an_update_has_none_and_replaced_when_it_has_one() {
        let mut conditions = Vec::new();
        set(&mut conditions, degraded(true, "failed"), &at(0));
        let without = ConditionUpdate::new(types::DEGRADED, true, "OperationFailed", "failed again");
        set(&mut conditions, without, &at(1));
        assert_eq!(
            find(&conditions, types::DEGRADED).unwrap().observed_generation,
            Some(3)
        );
        set(
            &mut conditions,
            degraded(true, "x").observed_generation(Some(4)),
            &at(2),
        );
        assert_eq!(
            find(&conditions, types::DEGRADED).unwrap().observed_generation,
            Some(4)
        );
    }

    #[test]
    fn conditions_of_other_types_are_left_alone() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            ConditionUpdate::new(types::READY, true, "Done", "at 4.3.0"),
            &at(0),
        );
        set(&mut conditions, degraded(true, "failed"), &at(5));
        assert_eq!(conditions.len(), 2);
        assert!(is_true(&conditions, types::READY));
        assert!(is_true(&conditions, types::DEGRADED));
        assert!(!is_true(&conditions, types::STALLED));
        assert_eq!(status_of(&conditions, types::STALLED), ConditionStatus::Unknown);
        assert!(remove(&mut conditions, types::DEGRADED));
        assert!(!remove(&mut conditions, types::DEGRADED));
        assert!(find(&conditions, types::DEGRADED).is_none());
        assert!(is_true(&conditions, types::READY));
    }

    #[test]
    fn unrecognised_status_reads_as_unknown() {
        let mut conditions = Vec::new();
        set(
            &mut conditions,
            ConditionUpdate::new(types::READY, true, "Done", ""),
            &at(0),
        );
        conditions[0].status = "Maybe".into();
        assert_eq!(status_of(&conditions, types::READY), ConditionStatus::Unknown);
        assert!(!is_true(&conditions, types::READY));
        assert!(!is_false(&conditions, types::READY));
    }
}
