//! Decide: the one state machine of a ClusterVersionShadow. From the previous status, what the spec asks
//! for and the facts gathered this reconcile, [`decide`] says what this reconcile does; everything else
//! (applying stages, projecting status, Events, requeueing) follows from the [`Phase`] it returns.

use std::collections::BTreeMap;

use acp_api::ClusterVersionShadowStatus;
use acp_api::cvsh::{HistoryEntry, PreflightCheck, PreflightSummary as Summary};
use acp_policy::{AcpVersion, Catalogue};

use super::pinning;
use super::plan::Request;
use super::slots::Reservation;

/// Preflight evaluated for one target this reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluated {
    pub target: AcpVersion,
    pub checks: Vec<PreflightCheck>,
    pub summary: Summary,
    /// Known risks of the target accepted in `spec.desiredUpdate.acceptRisks`, with their evidence: they
    /// are recorded in the history entry when the upgrade starts.
    pub accepted_risks: Vec<String>,
}

impl Evaluated {
    pub fn new(target: AcpVersion, checks: Vec<PreflightCheck>) -> Self {
        let summary = Summary::of(&checks);
        Self {
            target,
            checks,
            summary,
            accepted_risks: Vec::new(),
        }
    }

    pub fn with_accepted_risks(self, accepted_risks: Vec<String>) -> Self {
        Self {
            accepted_risks,
            ..self
        }
    }

    /// What a start records as accepted: the accepted known risks, and with `force` every failed check
    /// it goes past.
    pub fn risks_at_start(&self, force: bool) -> Vec<String> {
        let mut risks = self.accepted_risks.clone();
        if force {
            risks.extend(self.summary.failed_lines());
        }
        risks
    }
}

/// What one reconcile does for one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No upgrade wanted, or the cluster runs the requested version. `offer` is continuous preflight for
    /// the newest available update, if there is one.
    Idle { offer: Option<Evaluated> },
    /// The request cannot be acted on (or the running upgrade cannot be read).
    Rejected { reason: &'static str, message: String },
    /// A requested upgrade that `spec.paused` holds back.
    Paused { target: AcpVersion },
    /// A requested upgrade preflight does not (yet) allow.
    Blocked { target: AcpVersion, summary: Summary },
    /// A requested upgrade that passed preflight but may not start yet: no concurrent-upgrade slot is
    /// free, the cluster's identity is unknown, or another ClusterVersionShadow upgrades the same cluster.
    Held {
        target: AcpVersion,
        reason: &'static str,
        message: String,
    },
    /// The start of an upgrade: this reconcile records the Partial history entry and the planned stages
    /// and applies nothing, so an upgrade is always recorded before anything of it is applied.
    Start {
        target: AcpVersion,
        image: Option<String>,
        /// Failed checks `force` went past.
        risks: Vec<String>,
    },
    /// An upgrade under way: advance its stages. `note` explains a changed or cleared request.
    Execute {
        target: AcpVersion,
        note: Option<String>,
    },
    /// An upgrade under way that may take no step now (its cluster or release changed, or the release is
    /// not loaded).
    Stopped {
        target: AcpVersion,
        note: Option<String>,
        reason: &'static str,
        message: String,
    },
}

impl Phase {
    /// The upgrade this phase is about, if any.
    pub fn target(&self) -> Option<&AcpVersion> {
        match self {
            Phase::Idle { .. } | Phase::Rejected { .. } => None,
            Phase::Paused { target }
            | Phase::Blocked { target, .. }
            | Phase::Held { target, .. }
            | Phase::Start { target, .. }
            | Phase::Execute { target, .. }
            | Phase::Stopped { target, .. } => Some(target),
        }
    }

    /// Whether an upgrade is under way (started now or earlier).
    pub fn is_executing(&self) -> bool {
        matches!(
            self,
            Phase::Start { .. } | Phase::Execute { .. } | Phase::Stopped { .. }
        )
    }
}

/// What [`decide`] reads besides the previous status.
pub struct Inputs<'a> {
    pub request: &'a Request,
    /// The cluster's current platform version, when known.
    pub current: Option<&'a AcpVersion>,
    pub paused: bool,
    /// Preflight for [`preflight_target`], when there is one.
    pub preflight: Option<&'a Evaluated>,
    pub catalogue: &'a Catalogue,
    /// Where each release came from (its bundle digest), for the running upgrade's pins.
    pub origins: &'a BTreeMap<AcpVersion, String>,
    /// What the cluster answered this reconcile; `release_digest` is filled in by [`decide`].
    pub seen: pinning::Now<'a>,
}

/// The version preflight is evaluated for this reconcile: the requested one, or without a request (or
/// when the cluster runs the requested version) the newest available update; none while an upgrade runs
/// or when the request cannot be read.
pub fn preflight_target(
    previous: &ClusterVersionShadowStatus,
    request: &Request,
    current: Option<&AcpVersion>,
    newest: Option<&AcpVersion>,
) -> Option<AcpVersion> {
    if previous.running_upgrade().is_some() {
        return None;
    }
    match request {
        Request::Version { target, .. } if Some(target) != current => Some(target.clone()),
        Request::None | Request::Version { .. } => newest.cloned(),
        Request::Invalid(_) | Request::Image(_) => None,
    }
}

/// This reconcile's phase. `reserve` is asked for a concurrent-upgrade slot and the cluster's identity
/// only when everything else allows the start.
pub fn decide(
    previous: &ClusterVersionShadowStatus,
    inputs: &Inputs<'_>,
    reserve: impl FnOnce(&AcpVersion) -> Reservation,
) -> Phase {
    if let Some(running) = previous.running_upgrade() {
        return resume(running, inputs);
    }
    match inputs.request {
        Request::Version { target, .. } if Some(target) == inputs.current => idle(inputs),
        Request::None => idle(inputs),
        Request::Version { target, force, image } => requested(target, *force, image, inputs, reserve),
        Request::Invalid(message) => Phase::Rejected {
            reason: "InvalidVersion",
            message: format!("{message}; set spec.desiredUpdate.version to a version from `ac adm upgrade`"),
        },
        Request::Image(image) => Phase::Rejected {
            reason: "ImageNotImported",
            message: format!(
                "no Ready ProductManifest has spec.image {image}: import it first (`ac adm release \
                 import-manifest --image {image}`) and wait until it is Ready, or request the version instead"
            ),
        },
    }
}

/// An upgrade recorded as running goes on, whatever the spec says now, while its cluster and release are
/// the ones it is pinned to.
fn resume(running: &HistoryEntry, inputs: &Inputs<'_>) -> Phase {
    let target = match running.acp_version() {
        Ok(target) => target,
        Err(err) => {
            return Phase::Rejected {
                reason: "UnreadableHistory",
                message: format!("the running upgrade in status.history has no usable version ({err})"),
            };
        }
    };
    let note = request_note(inputs.request, &target);
    let seen = pinning::Now {
        release_digest: inputs.origins.get(&target).map(String::as_str),
        ..inputs.seen.clone()
    };
    if let Err(stop) = pinning::check(running, &target, &seen) {
        return Phase::Stopped {
            target,
            note,
            reason: stop.reason,
            message: stop.message,
        };
    }
    if inputs.catalogue.release(&target).is_none() {
        let message = format!(
            "the release {target} being applied is not loaded: its ProductManifest is resolved again after a \
             restart, or was deleted (import it again to continue)"
        );
        return Phase::Stopped {
            target,
            note,
            reason: "ReleaseNotLoaded",
            message,
        };
    }
    Phase::Execute { target, note }
}

/// A version other than the current one is requested: it starts when preflight, the pause, the release
/// and a reservation all allow it.
fn requested(
    target: &AcpVersion,
    force: bool,
    image: &Option<String>,
    inputs: &Inputs<'_>,
    reserve: impl FnOnce(&AcpVersion) -> Reservation,
) -> Phase {
    let target = target.clone();
    let Some(preflight) = inputs.preflight.filter(|p| p.target == target) else {
        let summary = Summary {
            waiting: vec![PreflightCheck {
                name: "Preflight".into(),
                policy: None,
                state: acp_api::cvsh::CheckState::Retry,
                reason: Some("NotEvaluated".into()),
                message: Some(format!("preflight for {target} has not run yet")),
            }],
            ..Summary::default()
        };
        return Phase::Blocked { target, summary };
    };
    if inputs.paused {
        return Phase::Paused { target };
    }
    if !preflight.summary.may_start(force) {
        return Phase::Blocked {
            target,
            summary: preflight.summary.clone(),
        };
    }
    if inputs.catalogue.release(&target).is_none() {
        // Preflight may keep a pass of VersionUpgradePath reached while the release was loaded.
        return Phase::Held {
            message: format!(
                "the upgrade to {target} passed preflight but its release is no longer loaded: its \
                 ProductManifest is resolved again after a restart, or was deleted (import it again to continue)"
            ),
            target,
            reason: "ReleaseNotLoaded",
        };
    }
    match reserve(&target) {
        Reservation::Reserved => Phase::Start {
            risks: accepted_risks(preflight, force),
            target,
            image: image.clone(),
        },
        Reservation::NoSlot => Phase::Held {
            message: format!(
                "the upgrade to {target} passed preflight, but since then other workload clusters' upgrades \
                 took every concurrent-upgrade slot: it starts when one of them ends"
            ),
            target,
            reason: "ConcurrentUpgradeLimit",
        },
        Reservation::Held(stop) => Phase::Held {
            target,
            reason: stop.reason,
            message: stop.message,
        },
    }
}

/// What a start accepts: the failed checks `force` goes past, and a closed maintenance window
/// `ignoreMaintenanceWindow` goes past.
fn accepted_risks(preflight: &Evaluated, force: bool) -> Vec<String> {
    let mut risks = preflight.risks_at_start(force);
    risks.extend(
        preflight
            .checks
            .iter()
            .filter(|c| c.reason.as_deref() == Some(acp_api::checks::REASON_MAINTENANCE_WINDOW_IGNORED))
            .map(|c| format!("{}: {}", c.name, c.message.as_deref().unwrap_or_default())),
    );
    risks
}

fn idle(inputs: &Inputs<'_>) -> Phase {
    Phase::Idle {
        offer: inputs.preflight.cloned(),
    }
}

/// Why the spec no longer matches a running upgrade, if it does not.
fn request_note(request: &Request, target: &AcpVersion) -> Option<String> {
    match request {
        Request::Version { target: asked, .. } if asked != target => Some(format!(
            "spec.desiredUpdate now asks for {asked}: it is considered once the upgrade to {target} completes"
        )),
        Request::None => Some(format!(
            "spec.desiredUpdate was cleared after the upgrade started: a started upgrade cannot be cancelled, so \
             the upgrade to {target} finishes"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::fixtures::{entry, v};
    use acp_api::cvsh::{CheckPolicy, CheckState, HistoryState};

    fn check(name: &str, state: CheckState) -> PreflightCheck {
        PreflightCheck {
            name: name.into(),
            policy: Some(CheckPolicy::Always),
            state,
            reason: Some("R".into()),
            message: Some("m".into()),
        }
    }

    fn catalogue() -> Catalogue {
        Catalogue::builtin()
    }

    fn seen() -> pinning::Now<'static> {
        pinning::Now {
            cluster: "edge",
            kubeconfig: None,
            reachable: true,
            error: None,
            identity: Some("uid-1"),
            identity_unknown: None,
            release_digest: None,
        }
    }

    fn request(target: &str, force: bool) -> Request {
        Request::Version {
            target: v(target),
            force,
            image: None,
        }
    }

    /// The phase for a request with preflight reporting `checks` for its target, reserving with `slot`.
    fn phase_of(
        previous: &ClusterVersionShadowStatus,
        request: &Request,
        paused: bool,
        checks: &[(&str, CheckState)],
        slot: Reservation,
    ) -> Phase {
        let catalogue = catalogue();
        let origins = BTreeMap::new();
        let current = v("4.2.3");
        let newest = v("4.3.1");
        let target = preflight_target(previous, request, Some(&current), Some(&newest));
        let evaluated = target.map(|t| {
            Evaluated::new(
                t,
                checks.iter().map(|(name, state)| check(name, *state)).collect(),
            )
        });
        let inputs = Inputs {
            request,
            current: Some(&current),
            paused,
            preflight: evaluated.as_ref(),
            catalogue: &catalogue,
            origins: &origins,
            seen: seen(),
        };
        decide(previous, &inputs, |_| slot)
    }

    const PASS: [(&str, CheckState); 1] = [("ClusterRunning", CheckState::Passed)];
    const FAIL: [(&str, CheckState); 1] = [("DockerRuntimeUnsupported", CheckState::Failed)];
    const NO_PATH: [(&str, CheckState); 1] = [("VersionUpgradePath", CheckState::Failed)];
    const RETRY: [(&str, CheckState); 1] = [("ClusterRunning", CheckState::Retry)];

    #[test]
    fn a_request_starts_only_when_preflight_the_pause_and_a_slot_all_allow_it() {
        let idle = ClusterVersionShadowStatus {
            history: vec![entry("4.2.3", HistoryState::Completed, None)],
            ..Default::default()
        };
        let held = |reason| {
            Reservation::Held(pinning::Stop {
                reason,
                message: "m".into(),
            })
        };
        // (request, paused, checks, reservation, expected phase name, accepted risks)
        type Row = (
            Request,
            bool,
            &'static [(&'static str, CheckState)],
            Reservation,
            &'static str,
            usize,
        );
        let table: Vec<Row> = vec![
            (
                request("4.3.1", false),
                false,
                &PASS,
                Reservation::Reserved,
                "Start",
                0,
            ),
            (
                request("4.3.1", false),
                true,
                &PASS,
                Reservation::Reserved,
                "Paused",
                0,
            ),
            (
                request("4.3.1", false),
                false,
                &FAIL,
                Reservation::Reserved,
                "Blocked",
                0,
            ),
            (
                request("4.3.1", true),
                false,
                &FAIL,
                Reservation::Reserved,
                "Start",
                1,
            ),
            (
                request("4.3.1", true),
                false,
                &NO_PATH,
                Reservation::Reserved,
                "Blocked",
                0,
            ),
            (
                request("4.3.1", true),
                false,
                &RETRY,
                Reservation::Reserved,
                "Blocked",
                0,
            ),
            (
                request("4.3.1", false),
                false,
                &PASS,
                Reservation::NoSlot,
                "Held",
                0,
            ),
            (
                request("4.3.1", false),
                false,
                &PASS,
                held("DuplicateCluster"),
                "Held",
                0,
            ),
            (
                request("4.2.3", false),
                false,
                &PASS,
                Reservation::Reserved,
                "Idle",
                0,
            ),
            (Request::None, false, &FAIL, Reservation::Reserved, "Idle", 0),
            (
                Request::Invalid("4.x".into()),
                false,
                &PASS,
                Reservation::Reserved,
                "Rejected",
                0,
            ),
            (
                Request::Image("r/x:1".into()),
                false,
                &PASS,
                Reservation::Reserved,
                "Rejected",
                0,
            ),
        ];
        for (request, paused, checks, slot, expected, risks) in table {
            let phase = phase_of(&idle, &request, paused, checks, slot);
            let name = format!("{phase:?}");
            assert!(
                name.starts_with(expected),
                "{request:?} paused={paused} {checks:?}: {name}"
            );
            if let Phase::Start { risks: accepted, .. } = &phase {
                assert_eq!(accepted.len(), risks, "{request:?}");
            }
        }
    }

    #[test]
    fn a_version_that_is_not_in_the_catalogue_never_starts() {
        let idle = ClusterVersionShadowStatus::default();
        let phase = phase_of(
            &idle,
            &request("4.9.0", true),
            false,
            &PASS,
            Reservation::Reserved,
        );
        assert!(
            matches!(
                phase,
                Phase::Held {
                    reason: "ReleaseNotLoaded",
                    ..
                }
            ),
            "{phase:?}"
        );
    }

    #[test]
    fn a_request_without_its_preflight_waits() {
        let catalogue = catalogue();
        let origins = BTreeMap::new();
        let current = v("4.2.3");
        let inputs = Inputs {
            request: &request("4.3.1", true),
            current: Some(&current),
            paused: false,
            preflight: None,
            catalogue: &catalogue,
            origins: &origins,
            seen: seen(),
        };
        let phase = decide(&ClusterVersionShadowStatus::default(), &inputs, |_| {
            Reservation::Reserved
        });
        let Phase::Blocked { summary, .. } = phase else {
            panic!("{phase:?}")
        };
        assert!(!summary.may_start(true), "{summary:?}");
    }

    #[test]
    fn the_newest_update_is_checked_without_a_request_and_kept_as_an_offer() {
        let idle = ClusterVersionShadowStatus::default();
        let phase = phase_of(&idle, &Request::None, false, &FAIL, Reservation::Reserved);
        let Phase::Idle { offer: Some(offer) } = phase else {
            panic!("{phase:?}")
        };
        assert_eq!((offer.target, offer.summary.failed.len()), (v("4.3.1"), 1));
        assert_eq!(
            preflight_target(&idle, &Request::Invalid("x".into()), None, Some(&v("4.3.1"))),
            None
        );
        assert_eq!(preflight_target(&idle, &Request::None, None, None), None);
    }

    #[test]
    fn a_started_upgrade_is_resumed_whatever_the_spec_says() {
        let running = ClusterVersionShadowStatus {
            history: vec![
                entry("4.3.1", HistoryState::Partial, Some("uid-1")),
                entry("4.2.3", HistoryState::Completed, None),
            ],
            ..Default::default()
        };
        assert_eq!(
            preflight_target(&running, &request("4.3.1", false), None, None),
            None
        );
        let phase = |request: &Request| phase_of(&running, request, true, &[], Reservation::NoSlot);
        assert_eq!(
            phase(&request("4.3.1", false)),
            Phase::Execute {
                target: v("4.3.1"),
                note: None
            }
        );
        for request in [Request::None, request("4.2.3", false)] {
            let Phase::Execute {
                target,
                note: Some(note),
            } = phase(&request)
            else {
                panic!("{request:?}")
            };
            assert_eq!(target, v("4.3.1"));
            assert!(note.contains("spec.desiredUpdate"), "{note}");
        }
    }

    #[test]
    fn a_running_upgrade_takes_no_step_on_another_cluster_or_without_its_release() {
        let on = |identity: &str, version: &str| ClusterVersionShadowStatus {
            history: vec![entry(version, HistoryState::Partial, Some(identity))],
            ..Default::default()
        };
        let stopped = |status: &ClusterVersionShadowStatus| match phase_of(
            status,
            &Request::None,
            false,
            &[],
            Reservation::Reserved,
        ) {
            Phase::Stopped { reason, .. } => Some(reason),
            _ => None,
        };
        assert_eq!(stopped(&on("uid-2", "4.3.1")), Some("ClusterIdentityChanged"));
        assert_eq!(stopped(&on("uid-1", "4.4.0")), Some("ReleaseNotLoaded"));
        assert_eq!(stopped(&on("uid-1", "4.3.1")), None);
        let mut unreadable = on("uid-1", "4.3.1");
        unreadable.history[0].version = Some("four".into());
        assert!(matches!(
            phase_of(&unreadable, &Request::None, false, &[], Reservation::Reserved),
            Phase::Rejected {
                reason: "UnreadableHistory",
                ..
            }
        ));
    }

    #[test]
    fn an_ignored_maintenance_window_is_an_accepted_risk_with_or_without_force() {
        let window = PreflightCheck {
            name: acp_api::checks::MAINTENANCE_WINDOW_OPEN.into(),
            policy: Some(CheckPolicy::Always),
            state: CheckState::Passed,
            reason: Some(acp_api::checks::REASON_MAINTENANCE_WINDOW_IGNORED.into()),
            message: Some("maintenance window w opens at 2026-12-04 22:00 UTC".into()),
        };
        let open = PreflightCheck {
            reason: Some("MaintenanceWindowOpen".into()),
            ..window.clone()
        };
        let failed = check("DockerRuntimeUnsupported", CheckState::Failed);
        let risks =
            |checks: Vec<PreflightCheck>, force| accepted_risks(&Evaluated::new(v("4.3.1"), checks), force);
        assert_eq!(
            risks(vec![window.clone()], false),
            ["MaintenanceWindowOpen: maintenance window w opens at 2026-12-04 22:00 UTC"]
        );
        assert!(risks(vec![open], false).is_empty());
        assert_eq!(
            risks(vec![failed.clone(), window], true),
            [
                "DockerRuntimeUnsupported: m",
                "MaintenanceWindowOpen: maintenance window w opens at 2026-12-04 22:00 UTC"
            ]
        );
        assert!(risks(vec![failed], false).is_empty());
    }

    #[test]
    fn a_start_records_accepted_known_risks_and_with_force_the_failed_checks() {
        let accepted = vec!["ConditionalUpdateRisksAccepted: accepted FlannelRemoved (Applies: DaemonSet kube-system/kube-flannel-ds is present)".to_string()];
        let evaluated = Evaluated::new(
            v("4.2.5"),
            vec![check("DockerRuntimeUnsupported", CheckState::Failed)],
        )
        .with_accepted_risks(accepted.clone());
        assert_eq!(evaluated.risks_at_start(false), accepted);
        let forced = evaluated.risks_at_start(true);
        assert_eq!(forced.len(), 2, "{forced:?}");
        assert_eq!(forced[1], "DockerRuntimeUnsupported: m");
    }
}
