//! `ac adm upgrade status`: how an upgrade is going — assessment, completion, ETA, preflight, stages,
//! operations, history.
//!
//! The page is a pure function of the ClusterVersionShadow and the current time ([`render`]);
//! `--watch` redraws it until the upgrade completes or stalls.

use acp_api::ClusterVersionShadow;
use acp_api::conditions::types;
use acp_api::cvsh::{ClusterVersionShadowStatus, HistoryState, Reachability, StagePhase, State};
use acp_api::k8s::Timestamp;
use acp_policy::AcpVersion;
use kube::ResourceExt;

use super::show;
use crate::humanize;
use crate::output::{Cell, Style, Table};

/// How many history entries the page shows without `--verbose`.
pub const HISTORY_SHORT: usize = 5;

pub use acp_api::cvsh::summary::{Summary, summarize};

/// How the assessment is coloured.
fn style(summary: &Summary) -> Style {
    match summary.reading.state {
        _ if summary.reading.reachability == Reachability::Unreachable => Style::Bad,
        State::Idle => Style::Good,
        State::Requested { .. } => Style::Plain,
        State::Executing { .. } if summary.slow => Style::Warn,
        State::Executing { .. } => Style::Plain,
        State::Unknown | State::Paused { .. } => Style::Warn,
        State::Blocked { .. } | State::Stalled { .. } => Style::Bad,
    }
}

/// The whole status page; `window` is the cluster's maintenance window line, if it names one.
pub fn render(
    cvsh: &ClusterVersionShadow,
    now: Timestamp,
    verbose: bool,
    wide: bool,
    colour: bool,
    window: Option<&str>,
) -> String {
    let status = cvsh.status_or_default();
    let summary = summarize(cvsh, now);
    let cluster = cvsh.name_any();
    let mut out = String::new();
    let mut field = |label: &str, value: &str| out.push_str(&format!("{label:<13}{value}\n"));

    let current = status.current_version().unwrap_or("unknown");
    let state = &summary.reading.state;
    field("Cluster:", &cluster);
    match summary.target() {
        Some(target) => field("Upgrade:", &format!("{current} → {target}")),
        None => field("Version:", current),
    }
    field(
        "Assessment:",
        &Cell::styled(summary.assessment_text(), style(&summary)).paint(colour),
    );
    if *state == State::Unknown {
        field(
            "Note:",
            "the cluster's platform version is not known yet, so it is not upgraded; acp-cvo reads it from \
             ConfigMap cpaas-system/acp-version in the cluster (`ac adm cluster register --version`)",
        );
    } else if *state != State::Idle {
        let total = if summary.total == 0 {
            "no operations planned yet".to_owned()
        } else {
            format!("{} of {} operations done", summary.done, summary.total)
        };
        field("Completion:", &format!("{}% ({total})", summary.percent));
    }
    if let (Some(elapsed), Some(entry)) = (summary.elapsed, status.running_upgrade()) {
        field(
            "Duration:",
            &format!(
                "{} (started {})",
                humanize::duration(elapsed),
                humanize::timestamp(&entry.started_time)
            ),
        );
        let eta = match (summary.remaining(), summary.estimate) {
            (Some(left), Some(estimate)) if !left.is_zero() => format!(
                "about {} (the last upgrade took {})",
                humanize::duration(left),
                humanize::duration(estimate)
            ),
            (Some(_), Some(estimate)) => format!(
                "overdue: the last upgrade took {}, this one {}",
                humanize::duration(estimate),
                humanize::duration(elapsed)
            ),
            _ => "unknown: no completed upgrade to compare with".to_owned(),
        };
        field("ETA:", &eta);
    }
    for type_ in [types::STALLED, types::DEGRADED] {
        if let Some(c) = cvsh.condition(type_).filter(|c| c.status == "True") {
            field(&format!("{type_}:"), &format!("{}: {}", c.reason, c.message));
        }
    }
    let pending = matches!(
        state,
        State::Requested { .. } | State::Blocked { .. } | State::Paused { .. }
    );
    if pending && let Some(target) = summary.target().and_then(|t| t.parse::<AcpVersion>().ok()) {
        field("Preflight:", &show::preflight_verdict(&status, &target));
    }
    if let Some(window) = window {
        field("Window:", window);
    }

    out.push('\n');
    out.push_str(&preflight_section(&status, now, wide, colour));
    out.push('\n');
    out.push_str(&stages_section(&status, now, wide, colour));
    out.push('\n');
    out.push_str(&history_section(&status, verbose, colour));
    out
}

fn preflight_section(
    status: &ClusterVersionShadowStatus,
    now: Timestamp,
    wide: bool,
    colour: bool,
) -> String {
    let Some(preflight) = status.preflight.as_ref().filter(|p| !p.checks.is_empty()) else {
        let version = |r: &Option<acp_api::cvsh::Release>| r.as_ref().and_then(|r| r.version.clone());
        let current = version(&status.current);
        let settled = current.is_some() && version(&status.desired).is_none_or(|d| Some(d) == current);
        if settled && status.available_updates.is_empty() {
            // Continuous preflight has no target: "no result yet" would promise one is coming.
            return "Preflight: nothing to check, no newer release is available \
                    (import one with `ac adm release import-manifest --version=V`)\n"
                .to_owned();
        }
        return "Preflight: no result yet\n".to_owned();
    };
    let target = preflight.target_version.as_deref().unwrap_or("an unnamed target");
    let when = preflight
        .observed_at
        .as_ref()
        .map(|t| format!(", evaluated {} ago", humanize::age(now, t)))
        .unwrap_or_default();
    let mut out = format!("Preflight (for {target}{when}):\n");
    let mut table = Table::new(&["CHECK", "POLICY", "STATE", "REASON", "MESSAGE"]);
    let mut checks: Vec<_> = preflight.checks.iter().collect();
    // Failed first, then Retry, then Passed; by name within a state.
    checks.sort_by_key(|c| (state_rank(c.state), c.name.clone()));
    for c in checks {
        let state = format!("{:?}", c.state);
        let style = match c.state {
            acp_api::cvsh::CheckState::Passed => Style::Good,
            acp_api::cvsh::CheckState::Retry => Style::Warn,
            acp_api::cvsh::CheckState::Failed => Style::Bad,
        };
        let message = c.message.clone().unwrap_or_default();
        let message = if wide { message } else { clip(&message, 100) };
        table.row(vec![
            c.name.clone().into(),
            c.policy
                .map(|p| format!("{p:?}"))
                .unwrap_or_else(|| "-".into())
                .into(),
            Cell::styled(state, style),
            c.reason.clone().unwrap_or_else(|| "-".into()).into(),
            message.into(),
        ]);
    }
    out.push_str(&table.to_text(colour));
    out
}

fn state_rank(state: acp_api::cvsh::CheckState) -> u8 {
    match state {
        acp_api::cvsh::CheckState::Failed => 0,
        acp_api::cvsh::CheckState::Retry => 1,
        acp_api::cvsh::CheckState::Passed => 2,
    }
}

fn stages_section(status: &ClusterVersionShadowStatus, now: Timestamp, wide: bool, colour: bool) -> String {
    let stages = status.stages_in_order();
    if stages.is_empty() {
        return "Stages: none planned yet\n".to_owned();
    }
    let mut out = String::from("Stages:\n");
    let mut table = Table::new(&["STAGE", "PRIORITY", "PHASE"]);
    for s in &stages {
        let style = match s.phase {
            StagePhase::Finished => Style::Good,
            StagePhase::Running => Style::Warn,
            StagePhase::Pending => Style::Plain,
        };
        table.row(vec![
            s.name.clone().into(),
            s.priority.to_string().into(),
            Cell::styled(format!("{:?}", s.phase), style),
        ]);
    }
    out.push_str(&table.to_text(colour));

    out.push_str("\nOperations:\n");
    let headers: &[&str] = if wide {
        &[
            "STAGE",
            "OPERATION",
            "ACTION",
            "CURRENT",
            "TARGET",
            "PHASE",
            "MESSAGE",
        ]
    } else {
        &["STAGE", "OPERATION", "ACTION", "CURRENT", "TARGET", "PHASE"]
    };
    let mut table = Table::new(headers);
    for s in &stages {
        for op in &s.operations {
            let phase = op.phase.as_ref().map_or("Pending", |p| p.as_str());
            let style = match phase {
                "Succeeded" | "Skipped" => Style::Good,
                "Failed" => Style::Bad,
                "Running" => Style::Warn,
                _ => Style::Plain,
            };
            let mut row = vec![
                s.name.clone().into(),
                op.name.clone().into(),
                format!("{:?}", op.action).into(),
                op.current_version.clone().unwrap_or_else(|| "-".into()).into(),
                op.target_version.clone().unwrap_or_else(|| "-".into()).into(),
                Cell::styled(phase, style),
            ];
            if wide {
                row.push(op.message.clone().unwrap_or_default().into());
            }
            table.row(row);
        }
    }
    if table.is_empty() {
        out.push_str("  (none)\n");
    } else {
        out.push_str(&table.to_text(colour));
    }
    out.push_str(&culprits(&stages, now));
    out
}

/// The culprits the operator named for operations that have waited long, each with what to do.
fn culprits(stages: &[&acp_api::cvsh::Stage], now: Timestamp) -> String {
    let waiting: Vec<_> = stages
        .iter()
        .flat_map(|s| s.operations.iter().map(move |op| (s, op)))
        .filter(|(_, op)| !op.insights.is_empty())
        .collect();
    if waiting.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nWaiting on:\n");
    for (stage, op) in waiting {
        let seen = op
            .insights_time
            .as_ref()
            .map(|t| format!(" (looked {} ago)", humanize::age(now, t)))
            .unwrap_or_default();
        out.push_str(&format!("  {}/{}{seen}:\n", stage.name, op.name));
        for insight in &op.insights {
            out.push_str(&format!(
                "    {} ({}): {}\n      What to do: {}\n",
                insight.object, insight.reason, insight.message, insight.action
            ));
        }
    }
    out
}

fn history_section(status: &ClusterVersionShadowStatus, verbose: bool, colour: bool) -> String {
    if status.history.is_empty() {
        return "History: none yet\n".to_owned();
    }
    let shown = if verbose {
        status.history.len()
    } else {
        status.history.len().min(HISTORY_SHORT)
    };
    let mut out = if shown < status.history.len() {
        format!(
            "History (newest {shown} of {}; --verbose shows all):\n",
            status.history.len()
        )
    } else {
        "History:\n".to_owned()
    };
    let mut table = Table::new(&[
        "VERSION",
        "STATE",
        "STARTED",
        "COMPLETED",
        "DURATION",
        "ACCEPTED RISKS",
    ]);
    for entry in status.history.iter().take(shown) {
        let version = entry.version.clone().unwrap_or_else(|| {
            Some(entry.image.clone())
                .filter(|i| !i.is_empty())
                .unwrap_or("-".into())
        });
        let state_style = match entry.state {
            HistoryState::Completed => Style::Good,
            HistoryState::Partial => Style::Warn,
        };
        table.row(vec![
            version.into(),
            Cell::styled(format!("{:?}", entry.state), state_style),
            humanize::timestamp(&entry.started_time).into(),
            entry
                .completion_time
                .as_ref()
                .map_or_else(|| "-".to_owned(), humanize::timestamp)
                .into(),
            entry
                .duration()
                .map_or_else(|| "-".to_owned(), humanize::duration)
                .into(),
            entry.accepted_risks.clone().unwrap_or_else(|| "-".into()).into(),
        ]);
    }
    out.push_str(&table.to_text(colour));
    out
}

/// A progress bar for terminals: `[##########----------] 50%`.
pub fn progress_bar(percent: u8, width: usize) -> String {
    let percent = percent.min(100);
    let filled = usize::from(percent) * width / 100;
    format!(
        "[{}{}] {percent}%",
        "#".repeat(filled),
        "-".repeat(width - filled)
    )
}

/// At most `max` characters, ending in `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar_fills_with_the_percentage() {
        assert_eq!(progress_bar(0, 10), "[----------] 0%");
        assert_eq!(progress_bar(57, 10), "[#####-----] 57%");
        assert_eq!(progress_bar(100, 10), "[##########] 100%");
        assert_eq!(progress_bar(250, 10), "[##########] 100%");
    }

    #[test]
    fn a_request_by_image_is_requested_until_the_cluster_runs_that_image() {
        use acp_api::cvsh::{DesiredUpdate, Release};
        let mut cvsh = ClusterVersionShadow::new("global", Default::default());
        cvsh.spec.desired_update = Some(DesiredUpdate {
            version: None,
            image: Some("registry.example/acp:4.3.1".into()),
            ..Default::default()
        });
        cvsh.status = Some(ClusterVersionShadowStatus {
            current: Some(Release::version("4.3.0")),
            ..Default::default()
        });
        let now = "2026-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(summarize(&cvsh, now).assessment(), "Requested");
        cvsh.status.as_mut().unwrap().current = Some(Release {
            version: Some("4.3.1".into()),
            image: Some("registry.example/acp:4.3.1".into()),
        });
        assert_eq!(summarize(&cvsh, now).assessment(), "Idle");
    }

    #[test]
    fn long_messages_are_clipped_with_an_ellipsis() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("0123456789abc", 10), "012345678…");
    }
}
