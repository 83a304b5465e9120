//! `ac adm upgrade` without flags: where a cluster stands and what it could upgrade to.
//!
//! Rendering is pure (a ClusterVersionShadow and the current time in, text out) so it is tested on
//! fixtures.

use std::fmt::Write as _;

use acp_api::ClusterVersionShadow;
use acp_api::conditions::types;
use acp_api::cvsh::{ClusterVersionShadowStatus, describe_checks};
use acp_api::k8s::{Condition, Timestamp};
use acp_api::risks::RiskExposure;
use acp_policy::AcpVersion;
use kube::ResourceExt;

use crate::humanize;
use crate::output::{Cell, Style, Table};

/// The condition types in the order people read them; others follow in status order.
const CONDITION_ORDER: [&str; 5] = [
    types::READY,
    types::RECONCILING,
    types::DEGRADED,
    types::PREFLIGHT_READY,
    types::STALLED,
];

/// The whole `ac adm upgrade` page; `window` is the cluster's maintenance window line
/// ([`super::window::line`]), if it names one.
pub fn render(
    cvsh: &ClusterVersionShadow,
    now: Timestamp,
    wide: bool,
    colour: bool,
    window: Option<&str>,
) -> String {
    let status = cvsh.status_or_default();
    let mut out = String::new();
    let cluster = cvsh.name_any();
    let field = |label: &str, value: &str| format!("{label:<20}{value}\n");

    out += &field(
        "Cluster:",
        &format!("{cluster} ({:?}, {:?})", cvsh.tier(), cvsh.provisioning()),
    );
    out += &field(
        "Current version:",
        status.current_version().unwrap_or("unknown (not recorded yet)"),
    );
    out += &field("Desired version:", &desired_text(cvsh, &status));
    out += &field("Kubernetes version:", &kubernetes_text(&status, now));
    if let Some(window) = window {
        out += &field("Maintenance window:", window);
    }
    if cvsh.is_paused() {
        out += &field(
            "Paused:",
            "yes: the running operation finishes, nothing new starts (unset spec.paused to resume)",
        );
    }

    out += "\nConditions:\n";
    out += &conditions_table(&status.conditions, now, colour);

    out += "\n";
    if status.available_updates.is_empty() {
        out += "No updates available. An update is offered once a Ready ProductManifest exists for it: \
                `ac adm release import-manifest --version=V`.\n";
    } else {
        out += "Available updates:\n";
        // The RECOMMENDED column appears once a release declares known risks.
        let risky = !status.conditional_updates.is_empty();
        let headers: &[&'static str] = match (wide, risky) {
            (true, true) => &["VERSION", "RECOMMENDED", "IMAGE"],
            (false, true) => &["VERSION", "RECOMMENDED"],
            (true, false) => &["VERSION", "IMAGE"],
            (false, false) => &["VERSION"],
        };
        let mut table = Table::new(headers);
        for update in &status.available_updates {
            let mut row = vec![Cell::from(update.version.as_deref().unwrap_or("-"))];
            if risky {
                row.push(recommended_cell(&status, update.version.as_deref()));
            }
            if wide {
                row.push(update.image.as_deref().unwrap_or("-").into());
            }
            table.row(row);
        }
        out += &table.to_text(colour);
        out += &known_risks(&cluster, &status, colour);
    }

    if let Some(line) = upgrade_line(cvsh, &status) {
        out += "\n";
        out += &line;
    }
    out
}

/// `yes`, or `no (FlannelRemoved)` naming the risks it is exposed to.
fn recommended_cell(status: &ClusterVersionShadowStatus, version: Option<&str>) -> Cell {
    let update = version
        .and_then(|v| v.parse::<AcpVersion>().ok())
        .and_then(|v| status.conditional_update(&v).cloned());
    match update {
        Some(update) if !update.recommended => {
            let names: Vec<&str> = update.exposed().map(|r| r.name.as_str()).collect();
            Cell::styled(format!("no ({})", names.join(", ")), Style::Bad)
        }
        _ => Cell::styled("yes", Style::Good),
    }
}

/// Every known risk of the available updates: how this cluster stands, the evidence, what to do and
/// where to read more, and how to accept the ones that apply.
fn known_risks(cluster: &str, status: &ClusterVersionShadowStatus, colour: bool) -> String {
    if status.conditional_updates.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nKnown risks:\n");
    let mut table = Table::new(&["VERSION", "RISK", "EXPOSURE", "EVIDENCE"]);
    let mut explained: Vec<&acp_api::risks::ConditionalUpdateRisk> = Vec::new();
    for update in &status.conditional_updates {
        for risk in &update.risks {
            let style = match risk.exposure {
                RiskExposure::Applies => Style::Bad,
                RiskExposure::Unknown => Style::Warn,
                RiskExposure::DoesNotApply => Style::Good,
            };
            table.row(vec![
                update.release.version.as_deref().unwrap_or("-").into(),
                risk.name.clone().into(),
                Cell::styled(risk.exposure.as_str(), style),
                risk.evidence.clone().into(),
            ]);
            if risk.exposure.is_exposed() && !explained.iter().any(|r| r.name == risk.name) {
                explained.push(risk);
            }
        }
    }
    out += &table.to_text(colour);
    for risk in &explained {
        let _ = writeln!(out, "  {}: {}", risk.name, risk.message);
        if let Some(url) = &risk.url {
            let _ = writeln!(out, "    {url}");
        }
    }
    if let Some(update) = status.conditional_updates.iter().find(|u| !u.recommended) {
        let names: Vec<&str> = update.exposed().map(|r| r.name.as_str()).collect();
        let version = update.release.version.as_deref().unwrap_or("V");
        let _ = writeln!(
            out,
            "A risk that applies or is Unknown makes its update not recommended. After doing what it says, or to \
             upgrade anyway on record: `ac adm upgrade --cluster {cluster} --to {version} --allow-not-recommended \
             --accept {}`.",
            names.join(",")
        );
    }
    out
}

/// `4.3.1 (requested)`, `4.3.1 (executing)`, or `none requested`.
fn desired_text(cvsh: &ClusterVersionShadow, status: &ClusterVersionShadowStatus) -> String {
    let forced = if cvsh.is_forced() { ", forced" } else { "" };
    let reading = cvsh.reading();
    if let Some(target) = reading.state.target().filter(|_| reading.state.is_executing()) {
        let mut text = format!("{target} (executing{forced})");
        if let Some(next) = cvsh.requested_version()
            && Some(next) != status.desired_version()
        {
            let _ = write!(text, "; {next} requested next");
        }
        return text;
    }
    match &cvsh.spec.desired_update {
        Some(update) => {
            let what = update
                .version
                .as_deref()
                .or(update.image.as_deref())
                .unwrap_or("unnamed release");
            format!("{what} (requested{forced})")
        }
        None => "none requested".to_owned(),
    }
}

/// `v1.33.7, 3 of 3 nodes ready (observed 2m ago)`, or why it is not known.
pub fn kubernetes_text(status: &ClusterVersionShadowStatus, now: Timestamp) -> String {
    let Some(observed) = &status.observed else {
        return "not observed yet".to_owned();
    };
    let when = observed
        .observed_at
        .as_ref()
        .map(|t| format!(" (observed {} ago)", humanize::age(now, t)))
        .unwrap_or_default();
    if observed.reachable == Some(false) {
        let why = observed.message.as_deref().unwrap_or("no answer");
        let last = observed
            .kubernetes_version
            .as_deref()
            .map(|v| format!("; last seen at {v}"))
            .unwrap_or_default();
        return format!("unreachable: {why}{last}{when}");
    }
    let version = observed.kubernetes_version.as_deref().unwrap_or("unknown");
    let nodes = observed
        .nodes
        .as_ref()
        .map(|n| format!(", {} of {} nodes ready", n.ready, n.total))
        .unwrap_or_default();
    format!("{version}{nodes}{when}")
}

/// TYPE, STATUS, AGE, REASON, MESSAGE; `(none yet)` before the operator wrote any.
pub fn conditions_table(conditions: &[Condition], now: Timestamp, colour: bool) -> String {
    if conditions.is_empty() {
        return "  (none yet: the acp-cvo operator has not reported on this cluster)\n".to_owned();
    }
    let mut ordered: Vec<&Condition> = CONDITION_ORDER
        .iter()
        .filter_map(|t| conditions.iter().find(|c| c.type_ == *t))
        .collect();
    ordered.extend(
        conditions
            .iter()
            .filter(|c| !CONDITION_ORDER.contains(&c.type_.as_str())),
    );
    let mut table = Table::new(&["TYPE", "STATUS", "AGE", "REASON", "MESSAGE"]);
    for c in ordered {
        table.row(vec![
            c.type_.clone().into(),
            Cell::styled(c.status.clone(), condition_style(c)),
            humanize::age(now, &c.last_transition_time).into(),
            c.reason.clone().into(),
            c.message.clone().into(),
        ]);
    }
    table.to_text(colour)
}

/// Green when the condition says things are fine, red when it says they are not.
fn condition_style(c: &Condition) -> Style {
    let good_when_true = matches!(c.type_.as_str(), types::READY | types::PREFLIGHT_READY);
    let bad_when_true = matches!(c.type_.as_str(), types::DEGRADED | types::STALLED);
    match (c.status.as_str(), good_when_true, bad_when_true) {
        ("True", true, _) | ("False", _, true) => Style::Good,
        ("True", _, true) | ("False", true, _) => Style::Bad,
        ("Unknown", ..) => Style::Warn,
        _ => Style::Plain,
    }
}

/// The line about the upgrade a person would do next: the one running, the one requested, or the
/// newest available update and whether it could start now.
fn upgrade_line(cvsh: &ClusterVersionShadow, status: &ClusterVersionShadowStatus) -> Option<String> {
    let cluster = cvsh.name_any();
    let state = cvsh.reading().state;
    if let (true, Some(target), Some(progress)) = (state.is_executing(), state.target(), state.progress()) {
        return Some(format!(
            "Upgrade to {target} is executing: {}% done. Details: `ac adm upgrade status --cluster {cluster}`.\n",
            progress.percent()
        ));
    }
    if let Some(requested) = cvsh.requested_version() {
        let verdict = match requested.parse::<AcpVersion>() {
            Ok(target) => preflight_verdict(status, &target),
            Err(e) => format!("the requested version is not valid ({e}); request another with --to"),
        };
        return Some(format!("Requested upgrade: {verdict}\n"));
    }
    let newest = status.available_acp_versions().ok()?.into_iter().max()?;
    Some(format!("Newest update: {}\n", preflight_verdict(status, &newest)))
}

/// "4.3.1 could start now", "4.3.1 is blocked by KubernetesVersionSupported: …", "4.3.1 is waiting for
/// ClusterRunning: …", or "no preflight result for 4.3.1 yet".
pub fn preflight_verdict(status: &ClusterVersionShadowStatus, target: &AcpVersion) -> String {
    match status.preflight_for(target) {
        None => format!("no preflight result for {target} yet"),
        Some(summary) if !summary.failed.is_empty() => {
            format!("{target} is blocked by {}", describe_checks(&summary.failed))
        }
        Some(summary) if !summary.waiting.is_empty() => {
            format!("{target} is waiting for {}", describe_checks(&summary.waiting))
        }
        Some(_) => format!("{target} could start now"),
    }
}
