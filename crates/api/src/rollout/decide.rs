//! One scheduling step of a run: read each cluster's outcome back from its facts, decide which
//! clusters start now, and project the run's status. Pure: the controller gathers the facts, calls
//! [`step`], then writes the requests and the status it returns; `ac adm upgrade rollout plan` calls it
//! on a plan it never writes.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::facts::{ClusterFact, WindowFact};
use super::resolve::Resolved;
use super::run::{
    ClusterEntry, ClusterState, Counts, MAX_CLUSTER_MESSAGE_CHARS, PendingGate, Plan, RunPhase,
    UpgradeRunSpec, UpgradeRunStatus,
};
use super::strategy::{Gate, GateType, PreflightFailureAction};
use crate::conditions::{self, ConditionUpdate, FixedClock};
use crate::cvsh::{State, bounds::clip};

/// Condition types of an UpgradeRun.
pub mod types {
    pub const PROGRESSING: &str = "Progressing";
    pub const HALTED: &str = "Halted";
    pub const SUCCEEDED: &str = "Succeeded";
}

/// Whether the global tier runs the run's target yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobalTier {
    Reached,
    /// Not yet: what it runs, in a sentence.
    Behind(String),
}

/// Everything one step decides on.
pub struct Inputs<'a> {
    /// Name of the run (the label its requests carry, and what the CLI hints name).
    pub run: &'a str,
    pub spec: &'a UpgradeRunSpec,
    pub generation: Option<i64>,
    pub plan: &'a Plan,
    pub resolved: &'a Resolved,
    pub facts: &'a BTreeMap<String, ClusterFact>,
    pub global_tier: GlobalTier,
    pub now: Timestamp,
}

/// Something worth an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The cluster it is about; None: the run as a whole.
    pub cluster: Option<String>,
    pub reason: String,
    pub message: String,
    pub warning: bool,
}

/// What the controller does after a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub status: UpgradeRunStatus,
    /// Clusters whose `spec.desiredUpdate` the run sets to the target now.
    pub start: Vec<String>,
    /// Clusters whose request (set by this run) the run withdraws.
    pub withdraw: Vec<String>,
    pub transitions: Vec<Transition>,
    /// When something time-based happens next (a window opens, a soak or a timeout ends).
    pub wake_at: Option<Timestamp>,
}

/// A step from `previous` (whose `plan` and `clusters` were frozen at start).
pub fn step(inputs: &Inputs<'_>, previous: &UpgradeRunStatus) -> Step {
    let mut run = Stepper {
        inputs,
        status: previous.clone(),
        start: Vec::new(),
        withdraw: Vec::new(),
        transitions: Vec::new(),
        wake_at: None,
        index: previous
            .clusters
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), i))
            .collect(),
    };
    run.status.plan = Some(inputs.plan.clone());
    run.observe();
    run.apply_skips();
    run.withdraw_unwanted();
    let halt = run.halt();
    let held = run.hold(halt.as_ref());
    run.status.pending_gates.clear();
    let stage_note = match &held {
        None => run.schedule(),
        Some(Hold::Halted | Hold::Paused) => {
            run.take_back_waiting_requests();
            None
        }
        Some(Hold::GlobalTier(_)) => None,
    };
    run.project(previous, halt, held, stage_note);
    Step {
        status: run.status,
        start: run.start,
        withdraw: run.withdraw,
        transitions: run.transitions,
        wake_at: run.wake_at,
    }
}

struct Stepper<'a, 'b> {
    inputs: &'a Inputs<'b>,
    status: UpgradeRunStatus,
    start: Vec<String>,
    withdraw: Vec<String>,
    transitions: Vec<Transition>,
    wake_at: Option<Timestamp>,
    index: HashMap<String, usize>,
}

/// Why no cluster starts in this step.
enum Hold {
    Halted,
    Paused,
    GlobalTier(String),
}

fn time(t: Timestamp) -> Option<Time> {
    Some(Time(t))
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

impl Stepper<'_, '_> {
    fn target(&self) -> &str {
        &self.inputs.spec.target_version
    }

    fn now(&self) -> Timestamp {
        self.inputs.now
    }

    fn wake(&mut self, at: Timestamp) {
        if at > self.now() {
            self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
        }
    }

    fn entry(&mut self, name: &str) -> Option<&mut ClusterEntry> {
        let i = *self.index.get(name)?;
        self.status.clusters.get_mut(i)
    }

    /// Moves a cluster to `state`; an Event when the state changes.
    fn set(&mut self, name: &str, state: ClusterState, reason: Option<&str>, message: String) {
        let now = self.now();
        let Some(entry) = self.entry(name) else { return };
        let changed = entry.state != state;
        let message = clip(&message, MAX_CLUSTER_MESSAGE_CHARS).into_owned();
        entry.state = state;
        entry.reason = reason.map(str::to_owned);
        if state != ClusterState::Upgrading {
            entry.progress = None;
            entry.eta = None;
        }
        if state != ClusterState::WaitingForWindow {
            entry.window_opens_at = None;
        }
        if state.is_final() && entry.finished_at.is_none() {
            entry.finished_at = time(now);
        }
        if changed || entry.message.as_deref() != Some(message.as_str()) {
            entry.message = Some(message.clone());
        }
        // A gate holds a whole stage: one Event for the run says so, not one per cluster.
        if changed && !matches!(state, ClusterState::WaitingForGate | ClusterState::Pending) {
            self.transitions.push(Transition {
                cluster: Some(name.to_owned()),
                reason: format!("Cluster{}", state.as_str()),
                message,
                warning: matches!(state, ClusterState::Failed | ClusterState::Blocked),
            });
        }
    }

    /// Reads each cluster's outcome back from its cvsh.
    fn observe(&mut self) {
        let names: Vec<String> = self.status.clusters.iter().map(|e| e.name.clone()).collect();
        for name in names {
            let Some(entry) = self.entry(&name).cloned() else {
                continue;
            };
            if entry.state.is_final() {
                continue;
            }
            let Some(fact) = self.inputs.facts.get(&name) else {
                self.set(
                    &name,
                    ClusterState::Skipped,
                    Some("Deleted"),
                    format!("ClusterVersionShadow {name} no longer exists"),
                );
                continue;
            };
            let target = self.target().to_owned();
            if !entry.is_started() && !fact.state.is_executing() && runs_newer(fact, &target) {
                let current = fact.current_version.clone().unwrap_or_default();
                self.set(
                    &name,
                    ClusterState::Skipped,
                    Some("NewerThanTarget"),
                    format!("{name} runs {current}, newer than {target}; a run never moves a cluster back"),
                );
                continue;
            }
            if fact.current_version.as_deref() == Some(target.as_str()) && !fact.state.is_executing() {
                let message = if entry.started_at.is_some() {
                    format!("{name} runs {target}")
                } else {
                    format!("{name} already ran {target}; nothing to do")
                };
                self.set(&name, ClusterState::Succeeded, None, message);
                continue;
            }
            let adopted = !entry.is_started()
                && fact.requested.as_deref() == Some(target.as_str())
                && fact.requested_by_run.as_deref() == Some(self.inputs.run);
            if entry.is_started() || adopted {
                let now = self.now();
                if let Some(e) = self.entry(&name)
                    && e.started_at.is_none()
                {
                    e.started_at = time(now);
                }
                self.observe_started(&name, fact);
            }
        }
    }

    fn observe_started(&mut self, name: &str, fact: &ClusterFact) {
        let target = self.target().to_owned();
        let started = self
            .entry(name)
            .and_then(|e| e.started_at.clone())
            .map_or(self.now(), |t| t.0);
        let deadline = after(started, self.inputs.resolved.timeout);
        // Someone replaced the run's request: the cluster is theirs now, whatever it does next.
        if let Some(other) = fact.state.target().filter(|t| *t != target) {
            let other = other.to_owned();
            self.set(
                name,
                ClusterState::Skipped,
                Some("RequestReplaced"),
                format!(
                    "ClusterVersionShadow {name} now asks for {other} instead of the run's {target}; the run leaves the cluster alone"
                ),
            );
            return;
        }
        match &fact.state {
            State::Stalled { .. } => {
                let why = fact
                    .reason
                    .clone()
                    .unwrap_or_else(|| "no reason given".to_owned());
                self.set(
                    name,
                    ClusterState::Failed,
                    Some("Stalled"),
                    format!("the upgrade of {name} to {target} stalled ({why}); see `ac adm upgrade status --cluster {name}`"),
                );
                return;
            }
            _ if self.now() >= deadline => {
                let limit = super::resolve::format_duration(self.inputs.resolved.timeout);
                self.set(
                    name,
                    ClusterState::Failed,
                    Some("TimedOut"),
                    format!("{name} did not reach {target} within {limit} of its start (failurePolicy.timeout); its upgrade itself goes on"),
                );
                return;
            }
            _ => self.wake(deadline),
        }
        match &fact.state {
            State::Executing { progress, .. } => {
                let pct = u32::from(progress.percent());
                let message = format!("upgrading to {target}: {pct}% done");
                self.set(name, ClusterState::Upgrading, None, message);
                let expected = fact.last_duration;
                if let Some(e) = self.entry(name) {
                    e.progress = Some(pct);
                    e.eta = expected.map(|d| Time(after(started, d)));
                }
            }
            State::Blocked { .. } => {
                let (check, detail) = fact
                    .failing_check
                    .clone()
                    .unwrap_or_else(|| ("Preflight".to_owned(), "the request cannot start".to_owned()));
                match self.inputs.resolved.preflight_failure {
                    PreflightFailureAction::Wait => self.set(
                        name,
                        ClusterState::Blocked,
                        Some(&check),
                        format!("preflight check {check} fails: {detail}"),
                    ),
                    PreflightFailureAction::Skip => {
                        self.withdraw.push(name.to_owned());
                        self.set(name, ClusterState::Skipped, Some(&check), format!("skipped (preflightFailure: Skip): {check} fails: {detail}"));
                    }
                    PreflightFailureAction::Fail => {
                        self.withdraw.push(name.to_owned());
                        self.set(name, ClusterState::Failed, Some(&check), format!("preflight check {check} fails: {detail}"));
                    }
                }
            }
            State::Paused { .. } => self.set(
                name,
                ClusterState::Blocked,
                Some("ClusterPaused"),
                format!("spec.paused is set on ClusterVersionShadow {name}; unpause it to let the upgrade start"),
            ),
            State::Requested { .. } => self.set(
                name,
                ClusterState::Upgrading,
                None,
                format!("requested {target}; waiting for preflight checks or an upgrade slot"),
            ),
            State::Idle | State::Unknown => self.set(
                name,
                ClusterState::Skipped,
                Some("RequestWithdrawn"),
                format!("the request for {target} on ClusterVersionShadow {name} was withdrawn; the run leaves the cluster alone"),
            ),
            State::Stalled { .. } => {}
        }
    }

    /// Withdraws every request of the run that it no longer wants started: a cluster the run is done
    /// with (failed, timed out, skipped) whose cvsh still carries the run's request and has not begun
    /// executing it. Decided from the facts on every step, so a withdrawal lost to a crash or a failed
    /// write is made again.
    fn withdraw_unwanted(&mut self) {
        let target = self.target().to_owned();
        let unwanted: Vec<String> = self
            .status
            .clusters
            .iter()
            .filter(|e| matches!(e.state, ClusterState::Failed | ClusterState::Skipped))
            .filter(|e| {
                self.inputs.facts.get(&e.name).is_some_and(|f| {
                    f.requested_by_run.as_deref() == Some(self.inputs.run)
                        && f.requested.as_deref() == Some(target.as_str())
                        && !f.state.is_executing()
                })
            })
            .map(|e| e.name.clone())
            .collect();
        for name in unwanted {
            if !self.withdraw.contains(&name) {
                self.withdraw.push(name);
            }
        }
    }

    /// A halted or paused run starts nothing: a request it made that has not begun executing (waiting
    /// for preflight, a slot, or held by a failing check) is withdrawn and the cluster waits again for
    /// its turn. A cluster already executing goes on.
    fn take_back_waiting_requests(&mut self) {
        let names: Vec<String> = self
            .status
            .clusters
            .iter()
            .filter(|e| e.is_started() && !e.state.is_final())
            .map(|e| e.name.clone())
            .collect();
        for name in names {
            let Some(fact) = self.inputs.facts.get(&name) else {
                continue;
            };
            if fact.state.is_executing() || fact.requested_by_run.as_deref() != Some(self.inputs.run) {
                continue;
            }
            self.withdraw.push(name.clone());
            self.set(
                &name,
                ClusterState::Pending,
                Some("RequestTakenBack"),
                "the run stopped starting clusters before this one began executing; its request was withdrawn".to_owned(),
            );
            if let Some(e) = self.entry(&name) {
                e.started_at = None;
            }
        }
    }

    fn apply_skips(&mut self) {
        for name in &self.inputs.spec.skip {
            let Some(entry) = self.entry(name) else { continue };
            if entry.state.is_final() || entry.is_started() {
                continue;
            }
            self.set(
                name,
                ClusterState::Skipped,
                Some("SkippedByRequest"),
                format!("{name} is listed in spec.skip"),
            );
        }
    }

    /// Whether the run halts: sticky once halted. The reason names the cluster.
    fn halt(&self) -> Option<(String, String)> {
        if let Some(c) =
            conditions::find(&self.status.conditions, types::HALTED).filter(|c| c.status == "True")
        {
            return Some((c.reason.clone(), c.message.clone()));
        }
        let failed: Vec<&ClusterEntry> = self
            .status
            .clusters
            .iter()
            .filter(|e| e.state == ClusterState::Failed)
            .collect();
        let canaries = self.canary_names();
        if let Some(canary) = failed.iter().find(|e| canaries.contains(&e.name.as_str())) {
            return Some((
                "CanaryFailed".to_owned(),
                format!(
                    "canary {} failed: {}",
                    canary.name,
                    canary.message.as_deref().unwrap_or("")
                ),
            ));
        }
        let total = self.status.clusters.len();
        let allowed = self.inputs.resolved.max_failures.of(total);
        if failed.len() > allowed {
            let last = failed
                .last()
                .map(|e| format!("{}: {}", e.name, e.message.as_deref().unwrap_or("")))
                .unwrap_or_default();
            return Some((
                "TooManyFailures".to_owned(),
                format!(
                    "{} of {total} clusters failed, more than failurePolicy.maxFailures allows ({allowed}); last {last}",
                    failed.len()
                ),
            ));
        }
        let per_stage = self.inputs.resolved.max_failures_per_stage?;
        for stage in &self.inputs.plan.stages {
            let members = stage_members(stage);
            let failed_here: Vec<&&ClusterEntry> = failed
                .iter()
                .filter(|e| members.contains(&e.name.as_str()))
                .collect();
            let allowed = per_stage.of(members.len());
            if failed_here.len() > allowed {
                let last = failed_here
                    .last()
                    .map(|e| format!("{}: {}", e.name, e.message.as_deref().unwrap_or("")))
                    .unwrap_or_default();
                return Some((
                    "TooManyFailuresInStage".to_owned(),
                    format!(
                        "{} of {} clusters of stage {} failed, more than failurePolicy.maxFailuresPerStage allows ({allowed}); last {last}",
                        failed_here.len(),
                        members.len(),
                        stage.name
                    ),
                ));
            }
        }
        None
    }

    fn canary_names(&self) -> Vec<&str> {
        self.inputs
            .plan
            .stages
            .iter()
            .flat_map(|s| s.groups.iter())
            .flat_map(|g| g.batches.iter())
            .filter(|b| b.canary)
            .flat_map(|b| b.clusters.iter().map(String::as_str))
            .collect()
    }

    fn hold(&self, halt: Option<&(String, String)>) -> Option<Hold> {
        if halt.is_some() {
            Some(Hold::Halted)
        } else if self.inputs.spec.paused {
            Some(Hold::Paused)
        } else if let GlobalTier::Behind(why) = &self.inputs.global_tier {
            Some(Hold::GlobalTier(why.clone()))
        } else {
            None
        }
    }

    fn state_of(&self, name: &str) -> ClusterState {
        self.index
            .get(name)
            .and_then(|i| self.status.clusters.get(*i))
            .map_or(ClusterState::Skipped, |e| e.state)
    }

    fn all_final<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> bool {
        names.into_iter().all(|n| self.state_of(n).is_final())
    }

    /// Gates of `gates` not open yet, named `<stage>-<position>`.
    fn pending_gates(&mut self, gates: &[Gate], name: &str) -> Vec<PendingGate> {
        let mut pending = Vec::new();
        for gate in gates {
            let open = match gate.type_ {
                GateType::Approval => self.inputs.spec.approvals.iter().any(|a| a == name),
                GateType::ScheduledStart => gate.not_before.as_ref().is_none_or(|t| t.0 <= self.now()),
            };
            if !open {
                if let Some(at) = gate
                    .not_before
                    .as_ref()
                    .filter(|_| gate.type_ == GateType::ScheduledStart)
                {
                    self.wake(at.0);
                }
                pending.push(PendingGate {
                    name: name.to_owned(),
                    type_: gate.type_,
                    not_before: gate.not_before.clone(),
                });
            }
        }
        pending
    }

    /// Starts what the plan says starts now; returns a note on the current stage for the conditions.
    fn schedule(&mut self) -> Option<String> {
        let plan = self.inputs.plan;
        for (si, stage) in plan.stages.iter().enumerate() {
            let progress = &self
                .status
                .plan
                .as_ref()
                .and_then(|p| p.stages.get(si))
                .cloned()
                .unwrap_or_default();
            if progress.completed_at.is_some() {
                continue;
            }
            self.status.current_stage = Some(stage.name.clone());
            let members = stage_members(stage);
            let resolved = self.inputs.resolved.stage(&stage.name);
            if progress.started_at.is_none() {
                let gate = format!("{}-before", stage.name);
                let pending = resolved
                    .map(|r| self.pending_gates(&r.before_gates, &gate))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    for name in &members {
                        if matches!(self.state_of(name), ClusterState::Pending) {
                            self.set(
                                name,
                                ClusterState::WaitingForGate,
                                Some(&gate),
                                gate_message(self.inputs.run, &pending[0]),
                            );
                        }
                    }
                    let note = format!("stage {} waits for gate {}", stage.name, gate);
                    self.status.pending_gates = pending;
                    return Some(note);
                }
                self.stage_mut(si).started_at = time(self.now());
                // The gate is open: clusters whose batch has not come wait for their turn, not for it.
                for name in &members {
                    if let Some(e) = self
                        .entry(name)
                        .filter(|e| e.state == ClusterState::WaitingForGate)
                    {
                        e.state = ClusterState::Pending;
                        e.reason = None;
                        e.message = None;
                    }
                }
                self.transitions.push(Transition {
                    cluster: None,
                    reason: "StageStarted".to_owned(),
                    message: format!("stage {} started: {} clusters", stage.name, members.len()),
                    warning: false,
                });
            }
            let canaries: Vec<&str> = stage
                .groups
                .iter()
                .flat_map(|g| g.batches.iter().filter(|b| b.canary))
                .flat_map(|b| b.clusters.iter().map(String::as_str))
                .collect();
            let canaries_done = self.all_final(canaries.iter().copied());
            for group in &stage.groups {
                for batch in &group.batches {
                    if !batch.canary && !canaries_done {
                        break;
                    }
                    if self.all_final(batch.clusters.iter().map(String::as_str)) {
                        continue;
                    }
                    for name in &batch.clusters {
                        self.try_start(name);
                    }
                    break;
                }
            }
            if !self.all_final(members.iter().copied()) {
                return None;
            }
            let finished = match progress.finished_at.as_ref() {
                Some(t) => t.0,
                None => {
                    self.stage_mut(si).finished_at = time(self.now());
                    self.now()
                }
            };
            let soak = resolved.map(|r| r.soak).unwrap_or_default();
            let soaked = after(finished, soak);
            if self.now() < soaked {
                self.wake(soaked);
                return Some(format!("stage {} is done and soaks until {soaked}", stage.name));
            }
            let gate = format!("{}-after", stage.name);
            let pending = resolved
                .map(|r| self.pending_gates(&r.after_gates, &gate))
                .unwrap_or_default();
            if !pending.is_empty() {
                let note = format!("stage {} is done and waits for gate {}", stage.name, gate);
                self.status.pending_gates = pending;
                return Some(note);
            }
            self.stage_mut(si).completed_at = time(self.now());
            self.transitions.push(Transition {
                cluster: None,
                reason: "StageCompleted".to_owned(),
                message: format!("stage {} completed", stage.name),
                warning: false,
            });
        }
        self.status.current_stage = None;
        None
    }

    fn stage_mut(&mut self, index: usize) -> &mut super::run::PlannedStage {
        let plan = self.status.plan.get_or_insert_with(|| self.inputs.plan.clone());
        &mut plan.stages[index]
    }

    /// A cluster's turn has come: start it, or say what holds it.
    fn try_start(&mut self, name: &str) {
        let Some(entry) = self.index.get(name).and_then(|i| self.status.clusters.get(*i)) else {
            return;
        };
        if entry.state.is_final() || entry.is_started() {
            return;
        }
        let Some(fact) = self.inputs.facts.get(name) else {
            return;
        };
        let target = self.target().to_owned();
        match &fact.window {
            WindowFact::Closed { opens_at, message } => {
                let message = message.clone();
                self.set(
                    name,
                    ClusterState::WaitingForWindow,
                    Some("MaintenanceWindowClosed"),
                    message,
                );
                if let Some(at) = opens_at {
                    self.wake(*at);
                    if let Some(e) = self.entry(name) {
                        e.window_opens_at = time(*at);
                    }
                }
                return;
            }
            WindowFact::Invalid { message } => {
                let message = message.clone();
                self.set(
                    name,
                    ClusterState::WaitingForWindow,
                    Some("MaintenanceWindowInvalid"),
                    message,
                );
                return;
            }
            WindowFact::Open => {}
        }
        if fact.state.is_executing() {
            let other = fact.state.target().unwrap_or("another version").to_owned();
            self.set(
                name,
                ClusterState::Blocked,
                Some("UpgradeInProgress"),
                format!("{name} is upgrading to {other}; its turn waits until that upgrade ends"),
            );
            return;
        }
        // A request the cluster already runs is a finished one (an earlier run's, or a person's), not a
        // competing one.
        if let Some(other) = fact
            .requested
            .as_deref()
            .filter(|r| *r != target && Some(*r) != fact.current_version.as_deref())
        {
            self.set(
                name,
                ClusterState::Blocked,
                Some("ConflictingRequest"),
                format!("ClusterVersionShadow {name} already asks for {other}; the run does not override it: clear spec.desiredUpdate or skip the cluster"),
            );
            return;
        }
        self.start.push(name.to_owned());
        let now = self.now();
        self.set(name, ClusterState::Upgrading, None, format!("requested {target}"));
        if let Some(e) = self.entry(name) {
            e.started_at = time(now);
        }
    }

    fn project(
        &mut self,
        previous: &UpgradeRunStatus,
        halt: Option<(String, String)>,
        held: Option<Hold>,
        note: Option<String>,
    ) {
        let now = self.now();
        let clock = FixedClock(now);
        let generation = self.inputs.generation;
        self.status.observed_generation = generation;
        if self.status.started_at.is_none() {
            self.status.started_at = time(now);
        }
        self.status.counts = counts(&self.status.clusters);
        let done = self.status.clusters.iter().all(|e| e.state.is_final())
            && self
                .status
                .plan
                .as_ref()
                .is_some_and(|p| p.stages.iter().all(|s| s.completed_at.is_some()));
        let run = self.inputs.run;
        let c = &self.status.counts;
        let summary = format!(
            "{} of {} clusters done ({} succeeded, {} skipped, {} failed), {} upgrading",
            c.succeeded + c.skipped + c.failed,
            c.total,
            c.succeeded,
            c.skipped,
            c.failed,
            c.upgrading + c.blocked
        );
        let (phase, progressing) = self.progressing(held.as_ref(), done, note.as_ref(), &summary);
        let was_halted = previous.phase == Some(RunPhase::Halted);
        if let Some(gate) = self.status.pending_gates.first()
            && previous.pending_gates.first().map(|g| &g.name) != Some(&gate.name)
        {
            self.transitions.push(Transition {
                cluster: None,
                reason: "GateWaiting".to_owned(),
                message: gate_message(run, gate),
                warning: false,
            });
        }
        conditions::set(
            &mut self.status.conditions,
            progressing.observed_generation(generation),
            &clock,
        );
        let halted = match &halt {
            Some((reason, message)) => {
                ConditionUpdate::new(types::HALTED, true, reason.clone(), message.clone())
            }
            None => ConditionUpdate::new(
                types::HALTED,
                false,
                "WithinFailureThreshold",
                "no more clusters failed than the failure policy allows",
            ),
        };
        conditions::set(
            &mut self.status.conditions,
            halted.observed_generation(generation),
            &clock,
        );
        let failed = self.status.counts.failed;
        let succeeded = if done && failed == 0 {
            ConditionUpdate::new(
                types::SUCCEEDED,
                true,
                "Completed",
                format!("every cluster of run {run} succeeded or was skipped"),
            )
        } else if done {
            ConditionUpdate::new(
                types::SUCCEEDED,
                true,
                "CompletedWithFailures",
                format!(
                    "run {run} completed with {failed} failed clusters, within its failure policy: {summary}; see `ac adm upgrade rollout status {run}` for each one's reason"
                ),
            )
        } else {
            ConditionUpdate::new(types::SUCCEEDED, false, "InProgress", summary.clone())
        };
        conditions::set(
            &mut self.status.conditions,
            succeeded.observed_generation(generation),
            &clock,
        );
        if phase == RunPhase::Halted && !was_halted {
            let (reason, message) = halt.clone().unwrap_or_default();
            self.transitions.push(Transition {
                cluster: None,
                reason: format!("RunHalted{reason}"),
                message,
                warning: true,
            });
        }
        if phase == RunPhase::Succeeded && previous.phase != Some(RunPhase::Succeeded) {
            self.transitions.push(Transition {
                cluster: None,
                reason: "RunSucceeded".to_owned(),
                message: format!("run {run} completed: {summary}"),
                warning: false,
            });
        }
        if matches!(phase, RunPhase::Halted | RunPhase::Succeeded) {
            if self.status.completed_at.is_none() {
                self.status.completed_at = time(now);
            }
            self.wake_at = None;
        }
        self.status.phase = Some(phase);
        self.status.eta = if phase == RunPhase::Succeeded {
            None
        } else {
            self.eta().map(Time)
        };
    }

    /// The run's phase and its Progressing condition: why nothing starts, or how far it got.
    fn progressing(
        &self,
        held: Option<&Hold>,
        done: bool,
        note: Option<&String>,
        summary: &str,
    ) -> (RunPhase, ConditionUpdate) {
        let run = self.inputs.run;
        match (held, done) {
            (Some(Hold::Halted), _) => (
                RunPhase::Halted,
                ConditionUpdate::new(
                    types::PROGRESSING,
                    false,
                    "Halted",
                    format!(
                        "run {run} halted: no cluster starts; clusters already upgrading finish. {summary}"
                    ),
                ),
            ),
            (_, true) => (
                RunPhase::Succeeded,
                ConditionUpdate::new(
                    types::PROGRESSING,
                    false,
                    "Completed",
                    format!("run {run} completed: {summary}"),
                ),
            ),
            (Some(Hold::Paused), _) => (
                RunPhase::Paused,
                ConditionUpdate::new(
                    types::PROGRESSING,
                    false,
                    "Paused",
                    format!(
                        "run {run} is paused: no cluster starts until `ac adm upgrade rollout resume {run}`. {summary}"
                    ),
                ),
            ),
            (Some(Hold::GlobalTier(why)), _) => (
                RunPhase::Running,
                ConditionUpdate::new(
                    types::PROGRESSING,
                    false,
                    "WaitingForGlobalTier",
                    format!(
                        "no workload cluster starts before the global tier runs {}: {why}",
                        self.inputs.spec.target_version
                    ),
                ),
            ),
            (None, false) => (
                RunPhase::Running,
                match note {
                    Some(note) if !self.status.pending_gates.is_empty() => ConditionUpdate::new(
                        types::PROGRESSING,
                        false,
                        "WaitingForGate",
                        format!(
                            "{note}; approve it with `ac adm upgrade rollout approve {run} {}`. {summary}",
                            self.status.pending_gates[0].name
                        ),
                    ),
                    Some(note) => ConditionUpdate::new(
                        types::PROGRESSING,
                        true,
                        "Soaking",
                        format!("{note}. {summary}"),
                    ),
                    None => ConditionUpdate::new(
                        types::PROGRESSING,
                        true,
                        "Running",
                        format!(
                            "stage {}: {summary}",
                            self.status.current_stage.as_deref().unwrap_or("-")
                        ),
                    ),
                },
            ),
        }
    }

    /// When the run should finish: remaining batches one after another per group, groups in parallel,
    /// plus the soaks still ahead; each cluster expected to take its last upgrade's duration (or this
    /// run's mean).
    fn eta(&self) -> Option<Timestamp> {
        let now = self.now();
        let finished: Vec<Duration> = self
            .status
            .clusters
            .iter()
            .filter(|e| e.state == ClusterState::Succeeded)
            .filter_map(|e| Some((e.started_at.as_ref()?.0, e.finished_at.as_ref()?.0)))
            .filter_map(|(s, f)| Duration::try_from(f.duration_since(s)).ok())
            .collect();
        let mean = (!finished.is_empty()).then(|| finished.iter().sum::<Duration>() / finished.len() as u32);
        let expected = |name: &str| self.inputs.facts.get(name).and_then(|f| f.last_duration).or(mean);
        let mut total = Duration::ZERO;
        let stages = self.status.plan.as_ref()?;
        for (stage, progress) in self.inputs.plan.stages.iter().zip(&stages.stages) {
            if progress.completed_at.is_some() {
                continue;
            }
            let mut longest_group = Duration::ZERO;
            for group in &stage.groups {
                let mut group_time = Duration::ZERO;
                for batch in &group.batches {
                    let mut batch_time = Duration::ZERO;
                    for name in &batch.clusters {
                        let Some(i) = self.index.get(name) else { continue };
                        let entry = &self.status.clusters[*i];
                        if entry.state.is_final() {
                            continue;
                        }
                        let took = expected(name)?;
                        let left = match entry.started_at.as_ref() {
                            Some(s) => {
                                Duration::try_from(after(s.0, took).duration_since(now)).unwrap_or_default()
                            }
                            None => took,
                        };
                        batch_time = batch_time.max(left);
                    }
                    group_time += batch_time;
                }
                longest_group = longest_group.max(group_time);
            }
            total += longest_group;
            let soak = self
                .inputs
                .resolved
                .stage(&stage.name)
                .map(|s| s.soak)
                .unwrap_or_default();
            total += match progress.finished_at.as_ref() {
                None => soak,
                // A soaking stage: what is left of its soak.
                Some(finished) => {
                    Duration::try_from(after(finished.0, soak).duration_since(now)).unwrap_or_default()
                }
            };
        }
        Some(after(now, total))
    }
}

fn gate_message(run: &str, gate: &PendingGate) -> String {
    match gate.type_ {
        GateType::Approval => format!(
            "waits for approval gate {}: `ac adm upgrade rollout approve {run} {}`",
            gate.name, gate.name
        ),
        GateType::ScheduledStart => format!(
            "waits for gate {} to open at {}",
            gate.name,
            gate.not_before
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default()
        ),
    }
}

/// The cluster runs a version newer than the target (both read as platform versions).
fn runs_newer(fact: &ClusterFact, target: &str) -> bool {
    let current = fact
        .current_version
        .as_deref()
        .map(str::parse::<acp_policy::AcpVersion>);
    match (current, target.parse::<acp_policy::AcpVersion>()) {
        (Some(Ok(current)), Ok(target)) => current > target,
        _ => false,
    }
}

/// Every cluster of a planned stage.
pub fn stage_members(stage: &super::run::PlannedStage) -> Vec<&str> {
    stage
        .groups
        .iter()
        .flat_map(|g| g.batches.iter())
        .flat_map(|b| b.clusters.iter().map(String::as_str))
        .collect()
}

/// Clusters by state.
pub fn counts(entries: &[ClusterEntry]) -> Counts {
    let mut c = Counts {
        total: u32::try_from(entries.len()).unwrap_or(u32::MAX),
        ..Counts::default()
    };
    for e in entries {
        let slot = match e.state {
            ClusterState::Pending => &mut c.pending,
            ClusterState::WaitingForGate | ClusterState::WaitingForWindow => &mut c.waiting,
            ClusterState::Blocked => &mut c.blocked,
            ClusterState::Upgrading => &mut c.upgrading,
            ClusterState::Succeeded => &mut c.succeeded,
            ClusterState::Failed => &mut c.failed,
            ClusterState::Skipped => &mut c.skipped,
        };
        *slot += 1;
    }
    c
}
