//! `ac adm upgrade plan --inventory FILE --to VERSION`: the upgrade policy evaluated offline.
//!
//! Answers "may the platform move to VERSION, and what holds it back?" from an inventory file,
//! with the same rules the operator's preflight applies, so an administrator can plan before
//! touching a cluster — also part-way through, when some clusters already run VERSION. The decisions
//! are `acp_policy::fleet_plan`'s; this module gathers the inventory and prints them.

use std::io::Write;
use std::path::PathBuf;

use acp_api::checks::{KUBERNETES_VERSION_SUPPORTED, VERSION_UPGRADE_PATH};
use acp_policy::risks::{Exposure, Risk, exposure, unaccepted};
use acp_policy::{
    AcpVersion, Catalogue, Decision, GlobalUpgradeRule, KubeMinor, KubeVersion, Provisioning, Reason, Step,
    StepState, TierMember, TierPlan, Verdict, WorkloadCluster, global_gate, hold_for_risks, import_gate,
    kubernetes_hops, name_list, tier_plan, upgrade_path, workload_step,
};
use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::inventory::{GlobalCluster, Inventory, InventoryWorkload, RiskFacts};
use crate::Outcome;
use crate::output::{Cell, OutputFormat, Style, Table, colour_enabled};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Inventory YAML: the global cluster, an optional DR standby, and the workload clusters.
    #[arg(long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// ACP version to plan the upgrade to, e.g. 4.3.1.
    #[arg(long, value_name = "VERSION")]
    pub to: AcpVersion,
    /// Release description (ProductRelease YAML) adding to or overriding the built-in catalogue;
    /// repeatable.
    #[arg(long = "release", value_name = "FILE")]
    pub releases: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

/// The evaluated plan; `-o json` prints it as is.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub current: AcpVersion,
    pub target: AcpVersion,
    /// True when the plan's next step may go ahead: while the global tier still moves, every gate of
    /// the tier passes; once it runs the target, a workload cluster could start now or every one is done.
    pub proceed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_upgrade_rule: Option<GlobalUpgradeRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible: Option<String>,
    pub gates: Vec<Gate>,
    /// In the order the plan moves them: the standby, the primary, then the workload clusters.
    pub clusters: Vec<ClusterPlan>,
}

/// A gate of the global tier, named like the preflight check that applies it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gate {
    pub name: &'static str,
    pub cluster: String,
    pub verdict: Verdict,
}

/// One cluster's part in the plan.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterPlan {
    pub name: String,
    pub tier: &'static str,
    pub provisioning: Provisioning,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<KubeVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<AcpVersion>,
    /// Global tier: its upgrade path (`AlreadyAtTarget` once it runs the target). Workload clusters,
    /// while the global tier still moves: whether they hold it back; once it runs the target: whether
    /// they may move.
    pub verdict: Verdict,
    /// Where the cluster stands: `Done`, `CouldStartNow`, `Pending` (after an earlier step) or `Blocked`,
    /// with the reason.
    pub step: Step,
    /// Control-plane minors the cluster passes through to reach the target's Kubernetes.
    pub kubernetes_hops: Vec<KubeMinor>,
    /// More about the cluster's step (a third-party cluster's management range, the risks accepted).
    pub notes: Vec<String>,
    /// The known risks of the target and the cluster's exposure to each, for a cluster that still
    /// moves; an exposed risk not accepted holds it (`RisksNotAccepted`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub risks: Vec<RiskPlan>,
}

/// A known risk of the target as it stands for one cluster.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskPlan {
    pub name: String,
    /// `Applies`, `DoesNotApply` or `Unknown` (counted as applying).
    pub exposure: &'static str,
    pub evidence: String,
    /// Named in the cluster's `acceptRisks`.
    pub accepted: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A cluster's exposure to the target's risks, upgrading from `current`, and the refusal when an exposed
/// one is not accepted.
struct Exposures<'a> {
    evaluated: Vec<(&'a Risk, Exposure)>,
    hold: Option<Verdict>,
}

impl<'a> Exposures<'a> {
    fn evaluate(
        risks: &'a [Risk],
        facts: &RiskFacts<'_>,
        current: Option<&AcpVersion>,
        target: &AcpVersion,
        accepted: &[String],
    ) -> Self {
        let evaluated: Vec<(&Risk, Exposure)> = risks
            .iter()
            .map(|risk| {
                let facts = match current {
                    Some(c) if risk.applies_from_version(c) => facts.facts(risk),
                    _ => Vec::new(),
                };
                (risk, exposure(risk, current, &facts))
            })
            .collect();
        let pairs: Vec<(&Risk, &Exposure)> = evaluated.iter().map(|(r, e)| (*r, e)).collect();
        let hold = unaccepted(facts.cluster, target, &pairs, accepted);
        Exposures { evaluated, hold }
    }

    fn none() -> Self {
        Exposures {
            evaluated: Vec::new(),
            hold: None,
        }
    }

    /// The risks as the plan shows them, for a cluster that still moves, and a note per accepted one.
    fn shown(self, step: &Step, accepted: &[String], notes: &mut Vec<String>) -> Vec<RiskPlan> {
        if step.state == StepState::Done {
            return Vec::new();
        }
        self.evaluated
            .into_iter()
            .map(|(risk, exposure)| {
                let accepted = accepted.contains(&risk.name);
                if accepted && exposure.is_exposed() {
                    notes.push(format!(
                        "accepted known risk {} ({}: {})",
                        risk.name,
                        exposure.as_str(),
                        exposure.evidence()
                    ));
                }
                RiskPlan {
                    name: risk.name.clone(),
                    exposure: exposure.as_str(),
                    evidence: exposure.evidence().to_owned(),
                    accepted,
                    message: risk.message.clone(),
                    url: risk.url.clone(),
                }
            })
            .collect()
    }
}

pub fn run(args: &PlanArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut catalogue = Catalogue::builtin();
    for path in &args.releases {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read release description {}", path.display()))?;
        let extra = Catalogue::from_yaml(&text)
            .with_context(|| format!("release description {} is invalid", path.display()))?;
        catalogue.merge(extra);
    }
    let inventory = Inventory::load(&args.inventory)?;
    let plan = evaluate(&catalogue, &inventory, &args.to);
    match args.output {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &plan).context("cannot write the plan")?;
            writeln!(out)?;
        }
        OutputFormat::Table => render(&plan, out, colour_enabled()).context("cannot write the plan")?,
    }
    Ok(if plan.proceed {
        Outcome::Success
    } else {
        Outcome::Refused
    })
}

const GLOBAL: &str = "global";
const STANDBY: &str = "global-standby";

/// Applies every rule of the policy to the inventory, from wherever the fleet stands.
pub fn evaluate(catalogue: &Catalogue, inventory: &Inventory, target: &AcpVersion) -> Plan {
    let current = &inventory.global.version;
    let release = catalogue.release(target);
    let risks = release.map_or(&[][..], |r| r.risks.as_slice());
    let global_risks = || {
        Exposures::evaluate(
            risks,
            &inventory.global.risk_facts(GLOBAL),
            Some(current),
            target,
            &inventory.global.accept_risks,
        )
    };
    let standby_risks = || {
        inventory.standby.as_ref().map_or_else(Exposures::none, |s| {
            Exposures::evaluate(
                risks,
                &s.risk_facts(STANDBY),
                Some(&s.version),
                target,
                &s.accept_risks,
            )
        })
    };
    let (primary_exposures, standby_exposures) = (global_risks(), standby_risks());
    let target_minor = release.and_then(|r| r.kubernetes.target_minor());
    let workloads: Vec<WorkloadCluster> = inventory
        .workloads
        .iter()
        .map(InventoryWorkload::cluster)
        .collect();
    let primary_member = TierMember {
        name: GLOBAL,
        version: current,
    };
    let standby_member = inventory.standby.as_ref().map(|s| TierMember {
        name: STANDBY,
        version: &s.version,
    });
    let tier = tier_plan(catalogue, primary_member, standby_member, target, &workloads).hold_for_risks(
        primary_member,
        standby_member,
        target,
        primary_exposures.hold.as_ref(),
        standby_exposures.hold.as_ref(),
    );

    // A member at the target is done; the path gate only concerns one that still moves.
    let path_gate = |member: &GlobalCluster, step: &Step| {
        if step.state == StepState::Done {
            step.verdict.clone()
        } else {
            upgrade_path(catalogue, &member.version, target)
        }
    };
    let mut gates = vec![Gate {
        name: VERSION_UPGRADE_PATH,
        cluster: GLOBAL.into(),
        verdict: path_gate(&inventory.global, &tier.primary),
    }];
    if let Some((standby, step)) = inventory.standby.as_ref().zip(tier.standby.as_ref()) {
        gates.push(Gate {
            name: VERSION_UPGRADE_PATH,
            cluster: STANDBY.into(),
            verdict: path_gate(standby, step),
        });
    }
    gates.push(Gate {
        name: KUBERNETES_VERSION_SUPPORTED,
        cluster: if tier.primary.state == StepState::Done && !tier.is_done() {
            STANDBY.into()
        } else {
            GLOBAL.into()
        },
        verdict: tier.kubernetes.clone().unwrap_or_else(|| {
            Verdict::allowed(
                Reason::AlreadyAtTarget,
                format!(
                    "the global tier already runs {target}: each workload cluster's Kubernetes is judged on its own"
                ),
            )
        }),
    });

    let mut clusters = Vec::new();
    if let Some((standby, step)) = inventory.standby.as_ref().zip(tier.standby.as_ref()) {
        clusters.push(global_plan(
            STANDBY,
            "GlobalStandby",
            standby,
            path_gate(standby, step),
            step.clone(),
            target_minor,
            standby_exposures,
        ));
    }
    clusters.push(global_plan(
        GLOBAL,
        "Global",
        &inventory.global,
        path_gate(&inventory.global, &tier.primary),
        tier.primary.clone(),
        target_minor,
        primary_exposures,
    ));
    for (entry, cluster) in inventory.workloads.iter().zip(&workloads) {
        let exposures = Exposures::evaluate(
            risks,
            &entry.risk_facts(),
            entry.version.as_ref(),
            target,
            &entry.accept_risks,
        );
        clusters.push(workload_plan(
            catalogue,
            &tier,
            entry,
            cluster,
            target,
            target_minor,
            exposures,
        ));
    }

    let proceed = if tier.is_done() {
        let steps = || clusters.iter().map(|c| c.step.state);
        steps().any(|s| s == StepState::CouldStartNow) || steps().all(|s| s == StepState::Done)
    } else {
        gates.iter().all(|g| g.verdict.passed()) && tier.may_proceed()
    };
    Plan {
        current: current.clone(),
        target: target.clone(),
        proceed,
        global_upgrade_rule: release.map(|r| r.global_upgrade_rule()),
        compatible: release.map(|r| r.kubernetes.compatible_text()),
        gates,
        clusters,
    }
}

fn global_plan(
    name: &str,
    tier: &'static str,
    cluster: &GlobalCluster,
    verdict: Verdict,
    step: Step,
    target_minor: Option<KubeMinor>,
    exposures: Exposures<'_>,
) -> ClusterPlan {
    let mut notes = Vec::new();
    let risks = exposures.shown(&step, &cluster.accept_risks, &mut notes);
    ClusterPlan {
        name: name.into(),
        tier,
        provisioning: Provisioning::PlatformManaged,
        kubernetes_version: cluster.kubernetes_version,
        version: Some(cluster.version.clone()),
        verdict,
        step,
        kubernetes_hops: hops(cluster.kubernetes_version, target_minor),
        notes,
        risks,
    }
}

fn workload_plan(
    catalogue: &Catalogue,
    tier: &TierPlan,
    entry: &InventoryWorkload,
    cluster: &WorkloadCluster,
    target: &AcpVersion,
    target_minor: Option<KubeMinor>,
    exposures: Exposures<'_>,
) -> ClusterPlan {
    let step = workload_step(catalogue, tier, entry.version.as_ref(), target, cluster);
    // A cluster whose version is unknown is held for that already; its risks cannot be judged either.
    let step = if entry.version.is_some() {
        hold_for_risks(step, exposures.hold.as_ref())
    } else {
        step
    };
    let verdict = if tier.is_done() {
        step.verdict.clone()
    } else {
        global_gate(
            catalogue,
            &tier.now.primary,
            target,
            std::slice::from_ref(cluster),
        )
    };
    let mut notes = Vec::new();
    // Whether the target still manages it, for a third-party cluster that is to move.
    let moves = matches!(step.state, StepState::CouldStartNow | StepState::Pending);
    if cluster.provisioning == Provisioning::ThirdParty && moves && verdict.decision() == Decision::Allowed {
        notes.push(
            import_gate(catalogue, target, cluster.kube_version)
                .message()
                .to_owned(),
        );
    }
    let risks = exposures.shown(&step, &entry.accept_risks, &mut notes);
    let kubernetes_hops = match cluster.provisioning {
        Provisioning::PlatformManaged => hops(Some(cluster.kube_version), target_minor),
        Provisioning::ThirdParty => Vec::new(),
    };
    ClusterPlan {
        name: cluster.name.clone(),
        tier: "Workload",
        provisioning: cluster.provisioning,
        kubernetes_version: Some(cluster.kube_version),
        version: entry.version.clone(),
        verdict,
        step,
        kubernetes_hops,
        notes,
        risks,
    }
}

fn hops(kube: Option<KubeVersion>, target: Option<KubeMinor>) -> Vec<KubeMinor> {
    match (kube, target) {
        (Some(kube), Some(target)) => kubernetes_hops(kube.minor_line(), target),
        _ => Vec::new(),
    }
}

fn verdict_cell(verdict: &Verdict) -> Cell {
    let style = match verdict.decision() {
        Decision::Allowed => Style::Good,
        Decision::AllowedWithWarnings => Style::Warn,
        Decision::Refused => Style::Bad,
    };
    Cell::styled(verdict.decision().to_string(), style)
}

fn render(plan: &Plan, out: &mut dyn Write, colour: bool) -> std::io::Result<()> {
    let rule = match (&plan.global_upgrade_rule, &plan.compatible) {
        (Some(rule), Some(compatible)) => format!(" (rule {rule}; compatible Kubernetes {compatible})"),
        _ => String::new(),
    };
    if plan.current == plan.target {
        writeln!(
            out,
            "Upgrade plan: ACP {}, which the global cluster already runs{rule}",
            plan.target
        )?;
    } else {
        writeln!(out, "Upgrade plan: ACP {} → {}{rule}", plan.current, plan.target)?;
    }
    writeln!(out)?;

    let mut gates = Table::new(&["GATE", "CLUSTER", "VERDICT", "REASON", "MESSAGE"]);
    for gate in &plan.gates {
        gates.row(vec![
            gate.name.into(),
            gate.cluster.clone().into(),
            verdict_cell(&gate.verdict),
            gate.verdict.reason().as_str().into(),
            gate.verdict.message().into(),
        ]);
    }
    gates.render(out, colour)?;
    writeln!(out)?;

    let mut clusters = Table::new(&[
        "CLUSTER",
        "TIER",
        "PROVISIONING",
        "KUBERNETES",
        "ACP",
        "VERDICT",
        "STEP",
        "KUBERNETES-HOPS",
        "MESSAGE",
    ]);
    for c in &plan.clusters {
        clusters.row(vec![
            c.name.clone().into(),
            c.tier.into(),
            c.provisioning.to_string().into(),
            c.kubernetes_version
                .map_or_else(|| "-".to_owned(), |k| k.to_string())
                .into(),
            c.version
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string)
                .into(),
            verdict_cell(&c.verdict),
            step_cell(&c.step),
            hops_text(&c.kubernetes_hops).into(),
            message(c).into(),
        ]);
    }
    clusters.render(out, colour)?;
    writeln!(out)?;
    writeln!(out, "{}", summary(plan))
}

/// The step's message, then what the verdict adds (a warning, or why the cluster holds the global tier
/// back), then the notes.
fn message(c: &ClusterPlan) -> String {
    let step = c.step.verdict.message();
    let mut parts = vec![step.to_owned()];
    let verdict = c.verdict.message();
    if c.verdict.decision() != Decision::Allowed && !c.step.is_blocked() && !step.contains(verdict) {
        parts.push(verdict.to_owned());
    }
    parts.extend(c.notes.iter().cloned());
    parts.join("; ")
}

fn step_cell(step: &Step) -> Cell {
    let style = match step.state {
        StepState::Done | StepState::CouldStartNow => Style::Good,
        StepState::Pending => Style::Warn,
        StepState::Blocked => Style::Bad,
    };
    Cell::styled(step.state.to_string(), style)
}

fn summary(plan: &Plan) -> String {
    let target = &plan.target;
    let step = |name: &str| {
        plan.clusters
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.step.state)
    };
    let (primary, standby) = (step(GLOBAL), step(STANDBY));
    let done = |s: Option<StepState>| s.is_none_or(|s| s == StepState::Done);
    if primary == Some(StepState::Done) && done(standby) {
        let named = |state: StepState| {
            let names: Vec<String> = plan
                .clusters
                .iter()
                .filter(|c| c.step.state == state)
                .map(|c| format!("`{}`", c.name))
                .collect();
            name_list(&names, names.len())
        };
        let (could, blocked) = (named(StepState::CouldStartNow), named(StepState::Blocked));
        return match (could.is_empty(), blocked.is_empty()) {
            (true, true) => format!("The whole fleet already runs {target}: nothing to upgrade."),
            (false, true) => format!(
                "The global tier already runs {target}: upgrade the workload clusters that could start now ({could})."
            ),
            (false, false) => format!(
                "The global tier already runs {target}: upgrade the workload clusters that could start now ({could}); \
                 blocked: {blocked}."
            ),
            (true, false) => format!(
                "The global tier already runs {target}, but no workload cluster could start now; blocked: {blocked}: \
                 resolve the refusals above, then plan again."
            ),
        };
    }
    if plan.proceed {
        let order = match (primary, standby) {
            (_, None) => "upgrade the global cluster".to_owned(),
            (Some(StepState::Done), Some(_)) => {
                format!("the global cluster already runs {target}; upgrade its standby")
            }
            (_, Some(StepState::Done)) => {
                format!("the standby global cluster already runs {target}; upgrade the primary")
            }
            _ => "upgrade the standby global cluster first, then the primary".to_owned(),
        };
        return format!(
            "The upgrade to {target} may proceed: {order}; workload clusters follow once the global tier runs {target}."
        );
    }
    let mut blocked: Vec<String> = plan
        .gates
        .iter()
        .filter(|g| g.verdict.is_refused())
        .map(|g| format!("{} ({})", g.name, g.cluster))
        .collect();
    if blocked.is_empty() {
        blocked = plan
            .clusters
            .iter()
            .filter(|c| c.tier != "Workload" && c.step.is_blocked())
            .map(|c| format!("{} ({})", c.step.verdict.reason(), c.name))
            .collect();
    }
    format!(
        "The upgrade to {target} is blocked by {}: resolve the refusals above, then plan again.",
        blocked.join(", ")
    )
}

fn hops_text(hops: &[KubeMinor]) -> String {
    if hops.is_empty() {
        return "-".into();
    }
    hops.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}
