//! The order of a fleet's upgrade to one target, from wherever the fleet stands (REFERENCE §3): the
//! standby global cluster, then the primary, then the workload clusters. A cluster already at the
//! target is done; every other one could start now, waits for an earlier step of the plan, or is
//! blocked, and then the verdict names what blocks it.
//!
//! Workload clusters are judged against the global tier's *effective* version: the target when every
//! step of the tier is done or may go ahead, its current version when a step of the tier is blocked.

use std::fmt;

use serde::Serialize;
use serde::ser::SerializeStruct;

use crate::catalogue::Catalogue;
use crate::cluster::{GlobalTier, WorkloadCluster};
use crate::global_gate::global_gate;
use crate::global_tier::standby_gate;
use crate::upgrade_path::upgrade_path;
use crate::verdict::{Finding, Reason, Severity, Verdict};
use crate::version::AcpVersion;
use crate::workload_gate::{global_tier_reached, workload_kubernetes};

/// Where a cluster stands in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum StepState {
    /// It already runs the target.
    Done,
    /// Nothing holds it back: it could start now.
    CouldStartNow,
    /// It may go once an earlier step of the plan is done (the standby before the primary, the
    /// global tier before the workload clusters).
    Pending,
    /// Something the plan cannot do by itself holds it back; the verdict says what.
    Blocked,
}

impl fmt::Display for StepState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepState::Done => "Done",
            StepState::CouldStartNow => "CouldStartNow",
            StepState::Pending => "Pending",
            StepState::Blocked => "Blocked",
        })
    }
}

/// One cluster's step: its state and the verdict behind it (for `Pending`, the reason names what it
/// waits for). Serializes as `{state, reason, message}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub state: StepState,
    pub verdict: Verdict,
}

impl Step {
    fn done(message: String) -> Step {
        Step {
            state: StepState::Done,
            verdict: Verdict::allowed(Reason::AlreadyAtTarget, message),
        }
    }

    fn blocked(verdict: Verdict) -> Step {
        Step {
            state: StepState::Blocked,
            verdict,
        }
    }

    /// Blocked when `verdict` refuses; otherwise `state`, keeping the verdict's warnings.
    fn unless_refused(verdict: Verdict, state: StepState) -> Step {
        let state = if verdict.is_refused() {
            StepState::Blocked
        } else {
            state
        };
        Step { state, verdict }
    }

    fn pending(reason: Reason, message: String) -> Step {
        Step {
            state: StepState::Pending,
            verdict: Verdict::allowed(reason, message),
        }
    }

    pub fn is_blocked(&self) -> bool {
        self.state == StepState::Blocked
    }
}

impl Serialize for Step {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Step", 3)?;
        s.serialize_field("state", &self.state)?;
        s.serialize_field("reason", &self.verdict.reason())?;
        s.serialize_field("message", self.verdict.message())?;
        s.end()
    }
}

/// A member of the global tier: its name (for messages) and its ACP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierMember<'a> {
    pub name: &'a str,
    pub version: &'a AcpVersion,
}

/// The global tier's part of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierPlan {
    pub primary: Step,
    pub standby: Option<Step>,
    /// KubernetesVersionSupported for the member that still moves (the primary, or only the standby
    /// when the primary already runs the target); `None` once the whole tier runs the target.
    pub kubernetes: Option<Verdict>,
    /// The tier as it runs now.
    pub now: GlobalTier,
    /// The tier once its steps are done: the target for a member that is done or may go ahead, its
    /// current version for a blocked one.
    pub effective: GlobalTier,
}

impl TierPlan {
    /// Every member of the tier already runs the target.
    pub fn is_done(&self) -> bool {
        [Some(&self.primary), self.standby.as_ref()]
            .into_iter()
            .flatten()
            .all(|step| step.state == StepState::Done)
    }

    /// No step of the tier is blocked.
    pub fn may_proceed(&self) -> bool {
        !self.primary.is_blocked() && !self.standby.as_ref().is_some_and(Step::is_blocked)
    }
}

/// Plans the global tier's move to `target`: the standby goes first, in step with its primary
/// ([`standby_gate`]); the primary follows once the standby is done or may go ahead; both only when a
/// supported path leads to the target and every workload cluster's Kubernetes lets the tier move
/// ([`global_gate`]).
pub fn tier_plan(
    catalogue: &Catalogue,
    primary: TierMember<'_>,
    standby: Option<TierMember<'_>>,
    target: &AcpVersion,
    workloads: &[WorkloadCluster],
) -> TierPlan {
    let mover = if primary.version != target {
        Some(primary)
    } else {
        standby.filter(|s| s.version != target)
    };
    let kubernetes = mover.map(|m| global_gate(catalogue, m.version, target, workloads));
    let refusals = |path: Verdict, extra: Option<Verdict>| -> Verdict {
        let findings: Vec<Finding> = std::iter::once(&path)
            .chain(extra.as_ref())
            .chain(kubernetes.as_ref())
            .filter(|v| v.is_refused())
            .flat_map(|v| {
                v.findings()
                    .iter()
                    .filter(|f| f.severity == Severity::Blocking)
                    .cloned()
            })
            .collect();
        if findings.is_empty() {
            path
        } else {
            // Refused: the success reason and message are never used.
            Verdict::from_findings(findings, Reason::UpgradePathSupported, String::new)
        }
    };

    let standby_step = standby.map(|s| {
        if s.version == target {
            return Step::done(format!(
                "the standby global cluster `{}` already runs {target}",
                s.name
            ));
        }
        let in_step = standby_gate(s.name, s.version, primary.name, primary.version, target);
        let verdict = refusals(upgrade_path(catalogue, s.version, target), Some(in_step));
        Step::unless_refused(verdict, StepState::CouldStartNow)
    });

    let primary_step = if primary.version == target {
        Step::done(format!(
            "the global cluster `{}` already runs {target}",
            primary.name
        ))
    } else {
        let own = refusals(upgrade_path(catalogue, primary.version, target), None);
        match standby.zip(standby_step.as_ref()) {
            _ if own.is_refused() => Step::blocked(own),
            Some((s, step)) if step.is_blocked() => standby_cannot_move(s, target),
            Some((s, step)) if step.state != StepState::Done => Step::pending(
                Reason::GlobalStandbyBehind,
                format!(
                    "{}, once the standby global cluster `{}` runs {target}",
                    own.message(),
                    s.name
                ),
            ),
            _ => Step::unless_refused(own, StepState::CouldStartNow),
        }
    };

    TierPlan {
        effective: effective(primary, standby, &primary_step, standby_step.as_ref(), target),
        primary: primary_step,
        standby: standby_step,
        kubernetes,
        now: GlobalTier::new(primary.version.clone(), standby.map(|s| s.version.clone())),
    }
}

fn standby_cannot_move(standby: TierMember<'_>, target: &AcpVersion) -> Step {
    Step::blocked(Verdict::refused(
        Reason::GlobalStandbyBehind,
        format!(
            "the standby global cluster `{}` runs {} and cannot move yet: it goes to {target} before the primary",
            standby.name, standby.version
        ),
    ))
}

/// The tier once its steps are done: the target for a member that is done or may go ahead, its current
/// version for a blocked one.
fn effective(
    primary: TierMember<'_>,
    standby: Option<TierMember<'_>>,
    primary_step: &Step,
    standby_step: Option<&Step>,
    target: &AcpVersion,
) -> GlobalTier {
    let reaches = |member: TierMember<'_>, step: &Step| {
        if step.is_blocked() {
            member.version.clone()
        } else {
            target.clone()
        }
    };
    GlobalTier::new(
        reaches(primary, primary_step),
        standby.zip(standby_step).map(|(s, step)| reaches(s, step)),
    )
}

/// Holds a step that would move when `risks` refuses (the known risks of the target the cluster is
/// exposed to and has not accepted, [`crate::risks::unaccepted`]); a step already blocked names them
/// too; a cluster at the target has nothing left to accept.
pub fn hold_for_risks(step: Step, risks: Option<&Verdict>) -> Step {
    let Some(risks) = risks.filter(|r| r.is_refused()) else {
        return step;
    };
    match step.state {
        StepState::Done => step,
        StepState::Blocked => {
            let findings = step
                .verdict
                .findings()
                .iter()
                .chain(risks.findings())
                .cloned()
                .collect();
            Step::blocked(Verdict::from_findings(
                findings,
                Reason::RisksNotAccepted,
                String::new,
            ))
        }
        StepState::CouldStartNow | StepState::Pending => Step::blocked(risks.clone()),
    }
}

impl TierPlan {
    /// The tier with each member held for its unaccepted risks ([`hold_for_risks`]): a held standby
    /// keeps the primary back too, and a held member stays at its version.
    pub fn hold_for_risks(
        self,
        primary: TierMember<'_>,
        standby: Option<TierMember<'_>>,
        target: &AcpVersion,
        primary_risks: Option<&Verdict>,
        standby_risks: Option<&Verdict>,
    ) -> TierPlan {
        let standby_step = self.standby.map(|step| hold_for_risks(step, standby_risks));
        let mut primary_step = hold_for_risks(self.primary, primary_risks);
        if let Some((s, step)) = standby.zip(standby_step.as_ref())
            && step.is_blocked()
            && primary_step.state == StepState::Pending
        {
            primary_step = standby_cannot_move(s, target);
        }
        TierPlan {
            effective: effective(primary, standby, &primary_step, standby_step.as_ref(), target),
            primary: primary_step,
            standby: standby_step,
            ..self
        }
    }
}

/// A workload cluster's step towards `target`, from `current` (`None`: its ACP version is not
/// recorded, so it is never upgraded): done at the target; otherwise it needs a supported path, a
/// Kubernetes the target accepts, and the global tier at the target — now (could start now), or once
/// the tier's steps are done (pending).
pub fn workload_step(
    catalogue: &Catalogue,
    tier: &TierPlan,
    current: Option<&AcpVersion>,
    target: &AcpVersion,
    cluster: &WorkloadCluster,
) -> Step {
    let name = &cluster.name;
    let Some(current) = current else {
        return Step::blocked(Verdict::refused(
            Reason::UnknownCurrentVersion,
            format!(
                "ACP version unknown: `{name}` is observed but never upgraded until its version is recorded \
                 (`ac adm cluster register --version`)"
            ),
        ));
    };
    if current == target {
        return Step::done(format!("workload cluster `{name}` already runs {target}"));
    }
    let path = upgrade_path(catalogue, current, target);
    let reached = global_tier_reached(&tier.effective, name, current, target);
    // A tier that stays behind already says "upgrade the global cluster first".
    let tier_behind = reached
        .findings()
        .iter()
        .any(|f| matches!(f.reason, Reason::GlobalTierBehind | Reason::GlobalStandbyBehind));
    let findings: Vec<Finding> = path
        .findings()
        .iter()
        .chain(
            reached
                .findings()
                .iter()
                .filter(|f| !(tier_behind && f.reason == Reason::WorkloadNotBelowGlobal)),
        )
        .chain(workload_kubernetes(catalogue, target, cluster).findings())
        .cloned()
        .collect();
    let warnings: Vec<&str> = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .map(|f| f.message.as_str())
        .collect();
    let also = if warnings.is_empty() {
        String::new()
    } else {
        format!("; also: {}", warnings.join("; "))
    };
    let verdict = Verdict::from_findings(findings, Reason::GlobalTierReached, String::new);
    if verdict.is_refused() {
        return Step::blocked(verdict);
    }
    if global_tier_reached(&tier.now, name, current, target).passed() {
        let tier_text = if tier.now.standby.is_some() {
            "the global tier (primary and standby)"
        } else {
            "the global cluster"
        };
        let message =
            format!("could start now: upgradable from {current}; {tier_text} already runs {target}{also}");
        return Step {
            state: StepState::CouldStartNow,
            verdict: verdict.with_message(message),
        };
    }
    Step::pending(
        Reason::GlobalTierBehind,
        format!("upgradable from {current} once the global tier runs {target}{also}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::Provisioning;
    use crate::verdict::Decision;

    fn v(s: &str) -> AcpVersion {
        s.parse().unwrap()
    }

    fn pm(name: &str, kube: &str) -> WorkloadCluster {
        WorkloadCluster::new(name, kube.parse().unwrap(), Provisioning::PlatformManaged)
    }

    type Want = (StepState, Reason);
    type TierRow<'a> = (
        &'a str,
        Option<&'a str>,
        &'a [WorkloadCluster],
        Want,
        Option<Want>,
        &'a str,
        Option<&'a str>,
    );
    type WorkloadRow<'a> = (
        &'a str,
        Option<&'a str>,
        &'a [WorkloadCluster],
        &'a WorkloadCluster,
        Option<&'a str>,
        StepState,
        Reason,
    );

    type HeldRow<'a> = (
        &'a str,
        Option<&'a str>,
        &'a [WorkloadCluster],
        bool,
        bool,
        Want,
        Option<Want>,
        &'a str,
    );

    fn plan(primary: &str, standby: Option<&str>, workloads: &[WorkloadCluster]) -> TierPlan {
        let (primary, standby) = (v(primary), standby.map(v));
        tier_plan(
            &Catalogue::builtin(),
            TierMember {
                name: "global",
                version: &primary,
            },
            standby.as_ref().map(|version| TierMember { name: "dr", version }),
            &v("4.3.1"),
            workloads,
        )
    }

    #[test]
    fn the_tier_goes_standby_first_and_a_member_at_the_target_is_done() {
        use StepState::*;
        let fits = [pm("edge", "v1.32.7")];
        let too_old = [pm("edge-7", "v1.30.14")];
        // (primary, standby, workloads, primary step, standby step, effective primary, effective standby)
        let table: [TierRow; 11] = [
            (
                "4.2.5",
                None,
                &fits,
                (CouldStartNow, Reason::UpgradePathSupported),
                None,
                "4.3.1",
                None,
            ),
            (
                "4.2.5",
                Some("4.2.5"),
                &fits,
                (Pending, Reason::GlobalStandbyBehind),
                Some((CouldStartNow, Reason::UpgradePathSupported)),
                "4.3.1",
                Some("4.3.1"),
            ),
            // Part-way: the standby moved, the primary is next.
            (
                "4.2.5",
                Some("4.3.1"),
                &fits,
                (CouldStartNow, Reason::UpgradePathSupported),
                Some((Done, Reason::AlreadyAtTarget)),
                "4.3.1",
                Some("4.3.1"),
            ),
            // The whole tier moved: done, whatever a workload cluster's Kubernetes.
            (
                "4.3.1",
                None,
                &too_old,
                (Done, Reason::AlreadyAtTarget),
                None,
                "4.3.1",
                None,
            ),
            (
                "4.3.1",
                Some("4.3.1"),
                &too_old,
                (Done, Reason::AlreadyAtTarget),
                Some((Done, Reason::AlreadyAtTarget)),
                "4.3.1",
                Some("4.3.1"),
            ),
            // A standby left behind catches up to its primary.
            (
                "4.3.1",
                Some("4.2.5"),
                &fits,
                (Done, Reason::AlreadyAtTarget),
                Some((CouldStartNow, Reason::UpgradePathSupported)),
                "4.3.1",
                Some("4.3.1"),
            ),
            // A standby out of step holds its primary.
            (
                "4.2.5",
                Some("4.1.0"),
                &fits,
                (Blocked, Reason::GlobalStandbyBehind),
                Some((Blocked, Reason::GlobalTierOutOfStep)),
                "4.2.5",
                Some("4.1.0"),
            ),
            // A workload cluster's Kubernetes holds every member that still moves.
            (
                "4.2.5",
                Some("4.2.5"),
                &too_old,
                (Blocked, Reason::KubernetesBelowCompatibleRange),
                Some((Blocked, Reason::KubernetesBelowCompatibleRange)),
                "4.2.5",
                Some("4.2.5"),
            ),
            (
                "4.3.1",
                Some("4.2.5"),
                &too_old,
                (Done, Reason::AlreadyAtTarget),
                Some((Blocked, Reason::KubernetesBelowCompatibleRange)),
                "4.3.1",
                Some("4.2.5"),
            ),
            (
                "3.18.0",
                None,
                &fits,
                (Blocked, Reason::UnsupportedUpgradeSource),
                None,
                "3.18.0",
                None,
            ),
            (
                "4.3.2",
                None,
                &fits,
                (Blocked, Reason::Downgrade),
                None,
                "4.3.2",
                None,
            ),
        ];
        for (primary, standby, workloads, want_primary, want_standby, eff_primary, eff_standby) in table {
            let tier = plan(primary, standby, workloads);
            let case = format!("{primary}/{standby:?}: {tier:?}");
            let got = |step: &Step| (step.state, step.verdict.reason());
            assert_eq!(got(&tier.primary), want_primary, "{case}");
            assert_eq!(tier.standby.as_ref().map(got), want_standby, "{case}");
            assert_eq!(
                tier.effective,
                GlobalTier::new(v(eff_primary), eff_standby.map(v)),
                "{case}"
            );
            let done = want_primary.0 == Done && want_standby.is_none_or(|s| s.0 == Done);
            assert_eq!(tier.is_done(), done, "{case}");
            assert_eq!(tier.kubernetes.is_none(), done, "{case}");
        }
    }

    #[test]
    fn tier_steps_say_what_is_done_and_what_waits() {
        let tier = plan("4.3.1", Some("4.3.1"), &[]);
        assert_eq!(
            tier.primary.verdict.message(),
            "the global cluster `global` already runs 4.3.1"
        );
        assert_eq!(
            tier.standby.unwrap().verdict.message(),
            "the standby global cluster `dr` already runs 4.3.1"
        );
        let tier = plan("4.2.5", Some("4.2.5"), &[]);
        assert_eq!(
            tier.primary.verdict.message(),
            "4.2.5 → 4.3.1 is a supported upgrade, once the standby global cluster `dr` runs 4.3.1"
        );
        let tier = plan("4.2.5", Some("4.1.0"), &[]);
        assert!(
            tier.primary
                .verdict
                .message()
                .contains("the standby global cluster `dr` runs 4.1.0 and cannot move yet"),
            "{}",
            tier.primary.verdict
        );
        // Only the standby still moves: the Kubernetes gate is judged from its version.
        let tier = plan("4.3.1", Some("4.2.5"), &[]);
        assert!(tier.kubernetes.is_some_and(|k| k.passed()));
    }

    #[test]
    fn workload_clusters_follow_the_tiers_effective_version() {
        use StepState::*;
        let edge = pm("edge", "v1.32.7");
        let old_kube = pm("edge-7", "v1.30.14");
        let eks = WorkloadCluster::new("eks", "v1.29.15-eks-1".parse().unwrap(), Provisioning::ThirdParty);
        let fits = [edge.clone()];
        // (primary, standby, fleet, cluster, its version, step, reason)
        let table: [WorkloadRow; 12] = [
            // The tier already runs the target: could start now, not "once the tier runs it".
            (
                "4.3.1",
                Some("4.3.1"),
                &fits,
                &edge,
                Some("4.2.5"),
                CouldStartNow,
                Reason::GlobalTierReached,
            ),
            (
                "4.3.1",
                None,
                &fits,
                &edge,
                Some("4.0.10"),
                CouldStartNow,
                Reason::GlobalTierReached,
            ),
            (
                "4.3.1",
                None,
                &fits,
                &eks,
                Some("4.2.5"),
                CouldStartNow,
                Reason::ThirdPartyOutsideCompatibleList,
            ),
            (
                "4.3.1",
                Some("4.3.1"),
                &fits,
                &edge,
                Some("4.3.1"),
                Done,
                Reason::AlreadyAtTarget,
            ),
            // The tier may move first: pending.
            (
                "4.2.5",
                Some("4.2.5"),
                &fits,
                &edge,
                Some("4.2.5"),
                Pending,
                Reason::GlobalTierBehind,
            ),
            (
                "4.3.1",
                Some("4.2.5"),
                &fits,
                &edge,
                Some("4.2.5"),
                Pending,
                Reason::GlobalTierBehind,
            ),
            (
                "4.2.5",
                Some("4.3.1"),
                &fits,
                &edge,
                Some("4.1.5"),
                Pending,
                Reason::GlobalTierBehind,
            ),
            // Blocked by its own facts, whatever the tier does.
            (
                "4.3.1",
                None,
                &fits,
                &edge,
                None,
                Blocked,
                Reason::UnknownCurrentVersion,
            ),
            (
                "4.3.1",
                None,
                &fits,
                &edge,
                Some("3.18.0"),
                Blocked,
                Reason::UnsupportedUpgradeSource,
            ),
            (
                "4.3.1",
                None,
                &fits,
                &old_kube,
                Some("4.2.5"),
                Blocked,
                Reason::KubernetesBelowCompatibleRange,
            ),
            (
                "4.3.1",
                None,
                &fits,
                &edge,
                Some("4.3.2"),
                Blocked,
                Reason::Downgrade,
            ),
            // Blocked by a tier that cannot move.
            (
                "4.2.5",
                None,
                &[edge.clone(), old_kube.clone()],
                &edge,
                Some("4.2.5"),
                Blocked,
                Reason::GlobalTierBehind,
            ),
        ];
        for (primary, standby, fleet, cluster, current, state, reason) in table {
            let tier = plan(primary, standby, fleet);
            let current = current.map(v);
            let step = workload_step(
                &Catalogue::builtin(),
                &tier,
                current.as_ref(),
                &v("4.3.1"),
                cluster,
            );
            let case = format!(
                "{primary}/{standby:?} {} at {current:?}: {}",
                cluster.name, step.verdict
            );
            assert_eq!((step.state, step.verdict.reason()), (state, reason), "{case}");
            assert_eq!(step.is_blocked(), step.verdict.is_refused(), "{case}");
        }
    }

    #[test]
    fn workload_steps_name_what_they_wait_for() {
        let edge = pm("edge", "v1.32.7");
        let step = |primary, standby, current: &str, fleet: &[WorkloadCluster]| {
            let tier = plan(primary, standby, fleet);
            workload_step(
                &Catalogue::builtin(),
                &tier,
                Some(&v(current)),
                &v("4.3.1"),
                &edge,
            )
        };
        assert_eq!(
            step("4.3.1", Some("4.3.1"), "4.2.5", &[]).verdict.message(),
            "could start now: upgradable from 4.2.5; the global tier (primary and standby) already runs 4.3.1"
        );
        assert_eq!(
            step("4.2.5", None, "4.2.5", &[]).verdict.message(),
            "upgradable from 4.2.5 once the global tier runs 4.3.1"
        );
        assert_eq!(
            step("4.3.1", None, "4.3.1", &[]).verdict.message(),
            "workload cluster `edge` already runs 4.3.1"
        );
        // A tier held back says so once, not also "not below the global cluster".
        let held = step("4.2.5", None, "4.2.5", &[pm("edge-7", "v1.30.14")]);
        assert_eq!(held.verdict.findings().len(), 1, "{}", held.verdict);
        assert_eq!(
            held.verdict.message(),
            "the global cluster runs ACP 4.2.5: upgrade it to 4.3.1 before workload cluster `edge`"
        );
        let eks = WorkloadCluster::new("eks", "v1.29.15-eks-1".parse().unwrap(), Provisioning::ThirdParty);
        let tier = plan("4.3.1", None, &[]);
        let warned = workload_step(&Catalogue::builtin(), &tier, Some(&v("4.2.5")), &v("4.3.1"), &eks);
        assert_eq!(warned.verdict.decision(), Decision::AllowedWithWarnings);
        assert!(warned.verdict.message().starts_with("could start now: upgradable from 4.2.5; the global cluster already runs 4.3.1; also: third-party cluster `eks` runs Kubernetes v1.29.15, inside"), "{}", warned.verdict);
    }

    #[test]
    fn a_step_serializes_as_state_reason_message() {
        let tier = plan("4.3.1", None, &[]);
        assert_eq!(
            serde_json::to_value(&tier.primary).unwrap(),
            serde_json::json!({
                "state": "Done",
                "reason": "AlreadyAtTarget",
                "message": "the global cluster `global` already runs 4.3.1",
            })
        );
    }

    #[test]
    fn unaccepted_risks_hold_a_step_that_would_move_and_a_held_standby_holds_its_primary() {
        use StepState::*;
        let risks = Verdict::refused(
            Reason::RisksNotAccepted,
            "`x` is exposed to known risks of ACP 4.3.1",
        );
        let fits = [pm("edge", "v1.32.7")];
        let too_old = [pm("edge-7", "v1.30.14")];
        // (primary, standby, workloads, primary held, standby held, primary step, standby step, effective primary)
        let table: [HeldRow; 6] = [
            (
                "4.2.5",
                None,
                &fits,
                false,
                false,
                (CouldStartNow, Reason::UpgradePathSupported),
                None,
                "4.3.1",
            ),
            (
                "4.2.5",
                None,
                &fits,
                true,
                false,
                (Blocked, Reason::RisksNotAccepted),
                None,
                "4.2.5",
            ),
            // The standby goes first: held, it keeps the primary back.
            (
                "4.2.5",
                Some("4.2.5"),
                &fits,
                false,
                true,
                (Blocked, Reason::GlobalStandbyBehind),
                Some((Blocked, Reason::RisksNotAccepted)),
                "4.2.5",
            ),
            (
                "4.2.5",
                Some("4.2.5"),
                &fits,
                true,
                false,
                (Blocked, Reason::RisksNotAccepted),
                Some((CouldStartNow, Reason::UpgradePathSupported)),
                "4.2.5",
            ),
            // A member at the target has nothing left to accept.
            (
                "4.3.1",
                Some("4.2.5"),
                &fits,
                true,
                false,
                (Done, Reason::AlreadyAtTarget),
                Some((CouldStartNow, Reason::UpgradePathSupported)),
                "4.3.1",
            ),
            // A step blocked already keeps its first reason and names the risks too.
            (
                "4.2.5",
                None,
                &too_old,
                true,
                false,
                (Blocked, Reason::KubernetesBelowCompatibleRange),
                None,
                "4.2.5",
            ),
        ];
        for (
            primary,
            standby,
            workloads,
            held_primary,
            held_standby,
            want_primary,
            want_standby,
            effective,
        ) in table
        {
            let (p, s) = (v(primary), standby.map(v));
            let members = (
                TierMember {
                    name: "global",
                    version: &p,
                },
                s.as_ref().map(|version| TierMember { name: "dr", version }),
            );
            let tier = plan(primary, standby, workloads).hold_for_risks(
                members.0,
                members.1,
                &v("4.3.1"),
                held_primary.then_some(&risks),
                held_standby.then_some(&risks),
            );
            let row = format!("{primary} {standby:?} held {held_primary}/{held_standby}");
            assert_eq!(
                (tier.primary.state, tier.primary.verdict.reason()),
                want_primary,
                "{row}: {tier:?}"
            );
            assert_eq!(
                tier.standby.as_ref().map(|s| (s.state, s.verdict.reason())),
                want_standby,
                "{row}"
            );
            assert_eq!(tier.effective.primary, v(effective), "{row}");
            if held_primary && want_primary.0 == Blocked {
                assert!(
                    tier.primary.verdict.message().contains("exposed to known risks"),
                    "{row}: {tier:?}"
                );
            }
        }
    }
}
