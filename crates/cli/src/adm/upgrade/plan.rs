//! `ac adm upgrade plan --inventory FILE --to VERSION`: the upgrade policy evaluated offline.
//!
//! Answers "may the platform move to VERSION, and what holds it back?" from an inventory file,
//! with the same rules the operator's preflight applies, so an administrator can plan before
//! touching a cluster.

use std::io::Write;
use std::path::PathBuf;

use acp_api::checks::{KUBERNETES_VERSION_SUPPORTED, VERSION_UPGRADE_PATH};
use acp_policy::{
    AcpVersion, Catalogue, Decision, GlobalTier, GlobalUpgradeRule, KubeMinor, KubeVersion, Provisioning,
    Verdict, WorkloadCluster, global_gate, import_gate, kubernetes_hops, upgrade_path, workload_gate,
};
use anyhow::Context;
use clap::Args;
use serde::Serialize;

use super::inventory::{GlobalCluster, Inventory, InventoryWorkload};
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
    /// True when every gate of the global tier passes.
    pub proceed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global_upgrade_rule: Option<GlobalUpgradeRule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatible: Option<String>,
    pub gates: Vec<Gate>,
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
    /// Global tier: its upgrade path. Workload clusters: whether they hold the global tier back.
    pub verdict: Verdict,
    /// Control-plane minors the cluster passes through to reach the target's Kubernetes.
    pub kubernetes_hops: Vec<KubeMinor>,
    /// What happens to a workload cluster after the global tier moved.
    pub notes: Vec<String>,
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

/// Applies every rule of the policy to the inventory.
pub fn evaluate(catalogue: &Catalogue, inventory: &Inventory, target: &AcpVersion) -> Plan {
    let current = &inventory.global.version;
    let release = catalogue.release(target);
    let target_minor = release.and_then(|r| r.kubernetes.target_minor());
    let workloads: Vec<WorkloadCluster> = inventory
        .workloads
        .iter()
        .map(InventoryWorkload::cluster)
        .collect();

    let mut gates = vec![Gate {
        name: VERSION_UPGRADE_PATH,
        cluster: "global".into(),
        verdict: upgrade_path(catalogue, current, target),
    }];
    if let Some(standby) = &inventory.standby {
        gates.push(Gate {
            name: VERSION_UPGRADE_PATH,
            cluster: "global-standby".into(),
            verdict: upgrade_path(catalogue, &standby.version, target),
        });
    }
    gates.push(Gate {
        name: KUBERNETES_VERSION_SUPPORTED,
        cluster: "global".into(),
        verdict: global_gate(catalogue, current, target, &workloads),
    });
    let proceed = gates.iter().all(|g| g.verdict.passed());

    let mut clusters = vec![global_plan(
        catalogue,
        "global",
        "Global",
        &inventory.global,
        target,
        target_minor,
    )];
    if let Some(standby) = &inventory.standby {
        clusters.push(global_plan(
            catalogue,
            "global-standby",
            "GlobalStandby",
            standby,
            target,
            target_minor,
        ));
    }
    // Once the global tier moved, the whole tier runs the target.
    let moved = GlobalTier::new(target.clone(), inventory.standby.as_ref().map(|_| target.clone()));
    for (entry, cluster) in inventory.workloads.iter().zip(&workloads) {
        clusters.push(workload_plan(
            catalogue,
            entry,
            cluster,
            current,
            target,
            &moved,
            target_minor,
        ));
    }

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
    catalogue: &Catalogue,
    name: &str,
    tier: &'static str,
    cluster: &GlobalCluster,
    target: &AcpVersion,
    target_minor: Option<KubeMinor>,
) -> ClusterPlan {
    ClusterPlan {
        name: name.into(),
        tier,
        provisioning: Provisioning::PlatformManaged,
        kubernetes_version: cluster.kubernetes_version,
        version: Some(cluster.version.clone()),
        verdict: upgrade_path(catalogue, &cluster.version, target),
        kubernetes_hops: hops(cluster.kubernetes_version, target_minor),
        notes: Vec::new(),
    }
}

fn workload_plan(
    catalogue: &Catalogue,
    entry: &InventoryWorkload,
    cluster: &WorkloadCluster,
    global_current: &AcpVersion,
    target: &AcpVersion,
    moved: &GlobalTier,
    target_minor: Option<KubeMinor>,
) -> ClusterPlan {
    let verdict = global_gate(catalogue, global_current, target, std::slice::from_ref(cluster));
    let mut notes = Vec::new();
    if cluster.provisioning == Provisioning::ThirdParty && verdict.decision() == Decision::Allowed {
        notes.push(
            import_gate(catalogue, target, cluster.kube_version)
                .message()
                .to_owned(),
        );
    }
    match &entry.version {
        None => notes.push(format!(
            "ACP version unknown: `{}` is observed but never upgraded until its version is recorded \
             (`ac adm cluster register --version`)",
            cluster.name
        )),
        Some(version) => {
            let path = upgrade_path(catalogue, version, target);
            let after = if path.is_refused() {
                path
            } else {
                workload_gate(catalogue, moved, version, target, cluster)
            };
            if after.decision() == Decision::Allowed {
                notes.push(format!(
                    "upgradable from {version} once the global tier runs {target}"
                ));
            } else if after.reason() != verdict.reason() {
                notes.push(format!("after the global tier: {}", after.message()));
            }
        }
    }
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
        kubernetes_hops,
        notes,
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
    writeln!(out, "Upgrade plan: ACP {} → {}{rule}", plan.current, plan.target)?;
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
        "KUBERNETES-HOPS",
        "MESSAGE",
    ]);
    for c in &plan.clusters {
        let message = if c.verdict.decision() == Decision::Allowed && !c.notes.is_empty() {
            c.notes.join("; ")
        } else {
            std::iter::once(c.verdict.message().to_owned())
                .chain(c.notes.iter().cloned())
                .collect::<Vec<_>>()
                .join("; ")
        };
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
            hops_text(&c.kubernetes_hops).into(),
            message.into(),
        ]);
    }
    clusters.render(out, colour)?;
    writeln!(out)?;

    if plan.proceed {
        let order = if plan.clusters.iter().any(|c| c.tier == "GlobalStandby") {
            "the standby global cluster first, then the primary"
        } else {
            "the global cluster"
        };
        writeln!(
            out,
            "The upgrade to {} may proceed: upgrade {order}; workload clusters follow once the global tier runs {}.",
            plan.target, plan.target
        )
    } else {
        let blocked: Vec<String> = plan
            .gates
            .iter()
            .filter(|g| g.verdict.is_refused())
            .map(|g| format!("{} ({})", g.name, g.cluster))
            .collect();
        writeln!(
            out,
            "The upgrade to {} is blocked by {}: resolve the refusals above, then plan again.",
            plan.target,
            blocked.join(", ")
        )
    }
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
