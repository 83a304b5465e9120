//! Project: the status a reconcile writes, computed from the previous status, the facts, the phase and
//! what applying the stages achieved. Each status field has one writer here, and each condition one
//! function in [`conditions`].

pub mod conditions;

use std::time::Duration;

use acp_api::ClusterVersionShadowStatus;
use acp_api::conditions::Clock;
use acp_api::cvsh::{HistoryEntry, HistoryState, NodeSummary, Observed, Preflight, Release, Stage};
use acp_api::k8s::Time;
use acp_policy::{AcpVersion, available_updates, prune_history};

use super::gather::Facts;
use super::phase::{Evaluated, Phase};
use super::stages::{self, Advance, PlanInputs};
use crate::clusters::observe::Observation;

/// What applying the stages of a running upgrade achieved this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct Stepped {
    pub stages: Vec<Stage>,
    pub advance: Advance,
}

/// Everything the projection reads besides the previous status.
pub struct Projection<'a> {
    pub facts: &'a Facts,
    pub phase: &'a Phase,
    /// Preflight evaluated this reconcile, if any.
    pub preflight: Option<&'a Evaluated>,
    pub stepped: Option<&'a Stepped>,
    /// Versions of the Ready ProductManifests: the updates offered beyond the built-in catalogue.
    pub ready: &'a [AcpVersion],
    pub driver: acp_api::cvsh::KubernetesDriver,
    pub generation: Option<i64>,
    pub stall_after: Duration,
}

impl Projection<'_> {
    /// Whether the upgrade completed in this reconcile.
    pub fn completed(&self) -> bool {
        self.stepped.is_some_and(|s| s.advance.finished)
    }
}

/// The status after this reconcile.
pub fn status(
    previous: &ClusterVersionShadowStatus,
    p: &Projection<'_>,
    clock: &dyn Clock,
) -> ClusterVersionShadowStatus {
    let now = clock.time();
    let facts = p.facts;
    let mut status = previous.clone();
    status.observed = Some(observed(
        &facts.observation,
        previous.observed.as_ref(),
        now.clone(),
    ));
    status.history = history(previous, p, now);
    status.current = current(&status, p);
    status.available_updates = available(&status, p);
    status.conditional_updates = conditional_updates(previous, &status, p);
    status.desired = desired(previous, p);
    status.preflight = preflight(previous, p, clock);
    status.stages = stage_list(previous, p);
    conditions::set_all(&mut status, p, clock);
    status.observed_generation = p.generation;
    status.clip_to_bounds();
    status
}

/// The history: a first entry for a version learnt rather than upgraded to, the Partial entry of a
/// started upgrade, the completion of a finished one; pruned to the documented length.
fn history(previous: &ClusterVersionShadowStatus, p: &Projection<'_>, now: Time) -> Vec<HistoryEntry> {
    let mut history = previous.history.clone();
    if let Some(bootstrap) = &p.facts.current.bootstrap {
        history.insert(0, bootstrap_entry(&bootstrap.version, now.clone()));
    }
    if let Phase::Start { target, image, risks } = p.phase {
        let pins = Pins {
            release_digest: p.facts.origins.get(target).cloned(),
            cluster_identity: p.facts.observation.identity.clone(),
        };
        history.insert(
            0,
            started_entry(target, image.as_deref(), risks, pins, now.clone()),
        );
    }
    if p.completed()
        && let Some(entry) = history.first_mut()
    {
        entry.state = HistoryState::Completed;
        entry.completion_time = Some(now);
    }
    prune_history(history)
}

/// The release the cluster runs: the last completed entry's, or the version learnt from the cluster.
fn current(status: &ClusterVersionShadowStatus, p: &Projection<'_>) -> Option<Release> {
    let version = match p.phase {
        Phase::Execute { target, .. } if p.completed() => Some(target),
        _ => p.facts.current.version.as_ref(),
    };
    let image = status
        .last_completed()
        .map(|e| e.image.clone())
        .filter(|i| !i.is_empty());
    version.map(|v| release_of(v, image.as_deref()))
}

fn available(status: &ClusterVersionShadowStatus, p: &Projection<'_>) -> Vec<Release> {
    let Some(current) = status
        .current
        .as_ref()
        .and_then(|c| c.version.as_deref()?.parse::<AcpVersion>().ok())
    else {
        return Vec::new();
    };
    available_updates(&p.facts.catalogue, &current, p.ready)
        .iter()
        .map(|v| Release::version(v.to_string()))
        .collect()
}

/// The available updates that declare known risks, in availableUpdates' order, with the cluster's
/// exposure evaluated this reconcile from the version it runs. While an upgrade runs nothing is evaluated
/// and the last evaluation stays.
fn conditional_updates(
    previous: &ClusterVersionShadowStatus,
    status: &ClusterVersionShadowStatus,
    p: &Projection<'_>,
) -> Vec<acp_api::risks::ConditionalUpdate> {
    if status.running_upgrade().is_some() {
        return previous.conditional_updates.clone();
    }
    let current = status
        .current
        .as_ref()
        .and_then(|c| c.version.as_deref()?.parse::<AcpVersion>().ok());
    status
        .available_updates
        .iter()
        .filter_map(|update| {
            let version = update.version.as_deref()?.parse::<AcpVersion>().ok()?;
            let evaluated = p
                .facts
                .risks
                .iter()
                .find(|r| r.version == version && r.from == current)?;
            evaluated.conditional_update()
        })
        .collect()
}

/// The release being worked towards: the request the operator accepted (kept while an upgrade runs,
/// whatever the spec says since).
fn desired(previous: &ClusterVersionShadowStatus, p: &Projection<'_>) -> Option<Release> {
    use super::plan::Request;
    match p.phase {
        Phase::Idle { .. } => match &p.facts.request {
            Request::Version { target, image, .. } => Some(release_of(target, image.as_deref())),
            _ => None,
        },
        Phase::Rejected { .. } => None,
        Phase::Paused { target } | Phase::Blocked { target, .. } | Phase::Held { target, .. } => {
            Some(release_of(target, requested_image(p)))
        }
        Phase::Start { target, image, .. } => Some(release_of(target, image.as_deref())),
        Phase::Execute { .. } | Phase::Stopped { .. } => previous.desired.clone(),
    }
}

fn requested_image<'a>(p: &'a Projection<'_>) -> Option<&'a str> {
    match &p.facts.request {
        super::plan::Request::Version { image, .. } => image.as_deref(),
        _ => None,
    }
}

/// Preflight as evaluated this reconcile; kept while an upgrade runs or a request is refused; cleared
/// when there is nothing to check.
fn preflight(
    previous: &ClusterVersionShadowStatus,
    p: &Projection<'_>,
    clock: &dyn Clock,
) -> Option<Preflight> {
    match (p.phase, p.preflight) {
        (Phase::Idle { offer: None }, _) => None,
        (_, Some(evaluated)) => Some(Preflight {
            observed_at: Some(clock.time()),
            target_version: Some(evaluated.target.to_string()),
            checks: evaluated.checks.clone(),
        }),
        _ => previous.preflight.clone(),
    }
}

/// The stages: planned when an upgrade starts, advanced while it runs.
fn stage_list(previous: &ClusterVersionShadowStatus, p: &Projection<'_>) -> Vec<Stage> {
    match (p.phase, p.stepped) {
        (Phase::Start { target, .. }, _) => match p.facts.catalogue.release(target) {
            Some(release) => stages::plan(&PlanInputs {
                current: p
                    .facts
                    .current
                    .version
                    .as_ref()
                    .and_then(|c| p.facts.catalogue.release(c)),
                target: release,
                kubernetes: p.facts.kubernetes(),
                driver: p.driver,
                kubernetes_patches: stages::kubernetes::patches(&p.facts.catalogue, target),
            }),
            None => previous.stages.clone(),
        },
        (_, Some(stepped)) => stepped.stages.clone(),
        _ => previous.stages.clone(),
    }
}

/// A release by version, with the image it was requested by, if any.
pub fn release_of(version: &AcpVersion, image: Option<&str>) -> Release {
    Release {
        version: Some(version.to_string()),
        image: image.map(String::from),
    }
}

/// `status.observed` from an observation. The cluster's identity is kept from `previous` until a new
/// one is read: a cluster that does not answer for a while is still the same cluster, and other
/// ClusterVersionShadows reaching it must keep seeing it as a duplicate.
pub fn observed(observation: &Observation, previous: Option<&Observed>, now: Time) -> Observed {
    let nodes = observation.reachable.then(|| {
        let mut kubelets: Vec<String> = observation
            .nodes
            .iter()
            .map(|n| n.kubelet_version.clone())
            .collect();
        kubelets.sort();
        kubelets.dedup();
        let mut runtimes: Vec<String> = observation
            .nodes
            .iter()
            .map(|n| n.container_runtime.clone())
            .collect();
        runtimes.sort();
        runtimes.dedup();
        NodeSummary {
            total: i32::try_from(observation.nodes.len()).unwrap_or(i32::MAX),
            ready: i32::try_from(observation.nodes.iter().filter(|n| n.ready).count()).unwrap_or(i32::MAX),
            kubelet_versions: kubelets,
            runtimes,
        }
    });
    Observed {
        kubernetes_version: observation.kubernetes_version.as_ref().map(ToString::to_string),
        nodes,
        reachable: Some(observation.reachable),
        observed_at: Some(now),
        message: observation.error.clone(),
        cluster_identity: observation
            .identity
            .clone()
            .or_else(|| previous.and_then(|p| p.cluster_identity.clone())),
    }
}

/// The first history entry of a cluster whose version was learnt rather than upgraded to.
pub fn bootstrap_entry(version: &AcpVersion, now: Time) -> HistoryEntry {
    HistoryEntry {
        version: Some(version.to_string()),
        image: String::new(),
        state: HistoryState::Completed,
        started_time: now.clone(),
        completion_time: Some(now),
        accepted_risks: None,
        release_digest: None,
        cluster_identity: None,
    }
}

/// What a started upgrade is pinned to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    /// Digest of the release bundle applied (`builtin` for the built-in catalogue).
    pub release_digest: Option<String>,
    /// UID of the cluster's `kube-system` namespace.
    pub cluster_identity: Option<String>,
}

/// The Partial entry written when execution starts.
pub fn started_entry(
    target: &AcpVersion,
    image: Option<&str>,
    accepted_risks: &[String],
    pins: Pins,
    now: Time,
) -> HistoryEntry {
    HistoryEntry {
        version: Some(target.to_string()),
        image: image.unwrap_or_default().to_string(),
        state: HistoryState::Partial,
        started_time: now,
        completion_time: None,
        accepted_risks: (!accepted_risks.is_empty()).then(|| accepted_risks.join("; ")),
        release_digest: pins.release_digest,
        cluster_identity: pins.cluster_identity,
    }
}

/// Whether `new` differs from `old` in anything but the observation timestamps.
pub fn changed(old: &ClusterVersionShadowStatus, new: &ClusterVersionShadowStatus) -> bool {
    let strip = |s: &ClusterVersionShadowStatus| {
        let mut s = s.clone();
        if let Some(o) = s.observed.as_mut() {
            o.observed_at = None;
        }
        if let Some(p) = s.preflight.as_mut() {
            p.observed_at = None;
        }
        s
    };
    strip(old) != strip(new)
}

/// Whether the written observation is `refresh` old or more (or missing), so the status should say again
/// that the cluster was observed.
pub fn observation_aged(
    old: &ClusterVersionShadowStatus,
    new: &ClusterVersionShadowStatus,
    refresh: Duration,
) -> bool {
    let at = |s: &ClusterVersionShadowStatus| s.observed.as_ref().and_then(|o| o.observed_at.clone());
    match (at(old), at(new)) {
        (Some(before), Some(now)) => {
            now.0.duration_since(before.0).as_secs() >= i64::try_from(refresh.as_secs()).unwrap_or(i64::MAX)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests;
