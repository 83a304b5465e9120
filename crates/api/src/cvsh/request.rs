//! A person's request to upgrade (or to cancel an upgrade of) one cluster: the client-side guards and
//! the merge patch of `spec.desiredUpdate` they lead to. `ac adm upgrade --to/--to-latest/--clear` and the
//! web console both decide here, so a guard never differs between them.
//!
//! Pure: takes the ClusterVersionShadow as read and the request, returns the patch to send or the
//! refusal to show. The guards only protect people from mistakes (an explicit version and an unhealthy
//! cluster need the request to say so); the operator's preflight still decides. Messages name the `ac`
//! flags, the console shows the same choices as controls.

use acp_policy::AcpVersion;
use kube::ResourceExt;
use serde_json::{Value, json};

use super::ClusterVersionShadow;
use crate::conditions::types;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub kind: RequestKind,
    pub force: bool,
    /// `--ignore-maintenance-window`.
    pub ignore_window: bool,
    pub allow_explicit: bool,
    pub allow_with_warnings: bool,
    /// Known risks accepted by name (`spec.desiredUpdate.acceptRisks`).
    pub accept: Vec<String>,
    pub allow_not_recommended: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    To(AcpVersion),
    ToLatest,
    Clear,
}

/// What to do about a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this JSON merge patch, then print `message` (and `warnings` on stderr first).
    Patch {
        body: Value,
        message: String,
        warnings: Vec<String>,
    },
    /// Nothing to change; print `message`.
    Nothing { message: String },
}

/// Why a request is refused; the message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Decides what `request` does to `cvsh`.
pub fn decide(cvsh: &ClusterVersionShadow, request: &Request) -> Result<Action, Refusal> {
    match &request.kind {
        RequestKind::Clear => clear(cvsh),
        RequestKind::To(version) => upgrade(cvsh, request, Some(version)),
        RequestKind::ToLatest => upgrade(cvsh, request, None),
    }
}

/// `--clear`: withdraw a request that has not started executing.
fn clear(cvsh: &ClusterVersionShadow) -> Result<Action, Refusal> {
    let cluster = cvsh.name_any();
    let status = cvsh.status_or_default();
    let Some(requested) = cvsh.spec.desired_update.as_ref() else {
        return Ok(Action::Nothing {
            message: format!("No upgrade is requested for cluster {cluster}; nothing to clear."),
        });
    };
    let what = requested
        .version
        .as_deref()
        .or(requested.image.as_deref())
        .unwrap_or("an unnamed release");
    let state = cvsh.reading().state;
    if state.is_executing() {
        let running = state.target().unwrap_or(what);
        let stage = status
            .running_stage()
            .map(|s| format!(" (stage {}, {}% done)", s.name, status.progress().percent()))
            .unwrap_or_default();
        return Err(Refusal(format!(
            "the upgrade of cluster {cluster} to {running} is executing{stage} and cannot be cancelled; \
             follow it with `ac adm upgrade status --cluster {cluster} --watch`"
        )));
    }
    Ok(Action::Patch {
        body: json!({"spec": {"desiredUpdate": null}}),
        message: format!("Cancelled the requested upgrade of cluster {cluster} to {what}."),
        warnings: Vec::new(),
    })
}

/// `--to VERSION` (`to` is Some) or `--to-latest`.
fn upgrade(
    cvsh: &ClusterVersionShadow,
    request: &Request,
    to: Option<&AcpVersion>,
) -> Result<Action, Refusal> {
    let cluster = cvsh.name_any();
    let status = cvsh.status_or_default();
    let requested = cvsh.spec.desired_update.as_ref();
    let available = status.available_acp_versions().map_err(|e| {
        Refusal(format!(
            "cluster {cluster} lists an available update that is not a version ({e}); check the acp-cvo operator"
        ))
    })?;
    // The version as written in availableUpdates, so the operator sees exactly what it offered.
    let (target, listed) = match to {
        Some(version) => {
            let listed = available.iter().position(|v| v == version);
            match listed {
                Some(i) => (
                    version.clone(),
                    status.available_versions().nth(i).map(str::to_owned),
                ),
                None if request.allow_explicit => (version.clone(), None),
                None => return Err(Refusal(not_available(&cluster, version, &available))),
            }
        }
        None => {
            let Some(newest) = available.iter().max() else {
                return Err(Refusal(format!(
                    "no updates are available for cluster {cluster}, so there is no latest to upgrade to. \
                     An update is offered only once a Ready ProductManifest exists for it: import one with \
                     `ac adm release import-manifest --version=V`"
                )));
            };
            let i = available.iter().position(|v| v == newest);
            (
                newest.clone(),
                i.and_then(|i| status.available_versions().nth(i).map(str::to_owned)),
            )
        }
    };
    let version_text = listed.unwrap_or_else(|| target.to_string());

    if let Ok(Some(current)) = status.current_acp_version()
        && current == target
    {
        return Err(Refusal(format!(
            "cluster {cluster} already runs {current}; pick a newer version (`ac adm upgrade --cluster {cluster}` lists them)"
        )));
    }

    let mut warnings = risk_warnings(&cluster, &status, request, &target)?;

    let already = requested.is_some_and(|r| {
        r.image.is_none()
            && r.force == request.force
            && r.accept_risks == request.accept
            && r.acp_version().ok().as_ref() == Some(&target)
    });
    if already {
        return Ok(Action::Nothing {
            message: format!(
                "The upgrade of cluster {cluster} to {version_text} is already requested; follow it with \
                 `ac adm upgrade status --cluster {cluster}`."
            ),
        });
    }

    warnings.extend(health_warning(cvsh, &cluster, request)?);
    if !available.contains(&target) {
        warnings.push(format!(
            "{target} is not an available update of cluster {cluster}; requesting it anyway \
             (--allow-explicit-upgrade). The operator's preflight still decides whether it may start"
        ));
    }
    if request.force {
        let never: Vec<&str> = crate::checks::unforceable().collect();
        warnings.push(format!(
            "--force: the upgrade of cluster {cluster} will go past failed preflight checks (all but {}); \
             each one is recorded in the history as an accepted risk",
            never.join(", ")
        ));
    }

    // `image: null` replaces a request by image; `force: null` withdraws an earlier --force, and
    // `ignoreMaintenanceWindow: null` an earlier --ignore-maintenance-window.
    let body = json!({"spec": {"desiredUpdate": {
        "version": version_text,
        "image": null,
        "force": if request.force { json!(true) } else { Value::Null },
        "ignoreMaintenanceWindow": if request.ignore_window { json!(true) } else { Value::Null },
        "acceptRisks": if request.accept.is_empty() { Value::Null } else { json!(request.accept) },
    }}});
    let current = status.current_version().unwrap_or("an unknown version");
    Ok(Action::Patch {
        body,
        message: format!(
            "Requested upgrade of cluster {cluster} from {current} to {version_text}{}{}.\n\
             Follow it with `ac adm upgrade status --cluster {cluster} --watch`.",
            match (request.force, request.ignore_window) {
                (true, true) => " (forced, outside its maintenance window)",
                (true, false) => " (forced)",
                (false, true) => " (outside its maintenance window)",
                (false, false) => "",
            },
            if request.accept.is_empty() {
                String::new()
            } else {
                format!(", accepting {}", request.accept.join(", "))
            }
        ),
        warnings,
    })
}

/// The guard on an update that is not recommended for the cluster (`--allow-not-recommended`,
/// `--accept`): a refusal, or the warnings of a request that goes ahead.
fn risk_warnings(
    cluster: &str,
    status: &super::ClusterVersionShadowStatus,
    request: &Request,
    target: &AcpVersion,
) -> Result<Vec<String>, Refusal> {
    let mut warnings = Vec::new();
    if let Some(update) = status.conditional_update(target).filter(|u| !u.recommended) {
        let pending: Vec<&crate::risks::ConditionalUpdateRisk> = update
            .exposed()
            .filter(|r| !request.accept.contains(&r.name))
            .collect();
        let lines: Vec<String> = update.exposed().map(|r| r.line()).collect();
        if !request.allow_not_recommended {
            let names: Vec<&str> = update.exposed().map(|r| r.name.as_str()).collect();
            return Err(Refusal(format!(
                "{target} is not recommended for cluster {cluster}: it is exposed to {}. See what to do with \
                 `ac adm upgrade --cluster {cluster}`; to upgrade anyway, accept the risks on record: \
                 `ac adm upgrade --cluster {cluster} --to {target} --allow-not-recommended --accept {}`",
                lines.join("; "),
                names.join(",")
            )));
        }
        if !pending.is_empty() {
            let names: Vec<&str> = pending.iter().map(|r| r.name.as_str()).collect();
            warnings.push(format!(
                "{target} is not recommended for cluster {cluster}; requesting it anyway (--allow-not-recommended). \
                 The ConditionalUpdateRisksAccepted check holds it until {} is accepted (--accept {})",
                names.join(", "),
                names.join(",")
            ));
        }
    }
    let known: Vec<&str> = status
        .conditional_update(target)
        .map(|u| u.risks.iter().map(|r| r.name.as_str()).collect())
        .unwrap_or_default();
    for name in request.accept.iter().filter(|n| !known.contains(&n.as_str())) {
        warnings.push(format!(
            "--accept {name}: {target} declares no known risk {name} for cluster {cluster} (known: {}); it is \
             recorded in spec.desiredUpdate.acceptRisks anyway",
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        ));
    }

    Ok(warnings)
}

/// The guard on a cluster that is Degraded, Reconciling or Stalled (`--allow-upgrade-with-warnings`).
fn health_warning(
    cvsh: &ClusterVersionShadow,
    cluster: &str,
    request: &Request,
) -> Result<Option<String>, Refusal> {
    let unhealthy: Vec<String> = [types::DEGRADED, types::RECONCILING, types::STALLED]
        .into_iter()
        .filter_map(|t| cvsh.condition(t).filter(|c| c.status == "True"))
        .map(|c| {
            if c.message.is_empty() {
                c.type_.clone()
            } else {
                format!("{} ({})", c.type_, c.message)
            }
        })
        .collect();
    if !unhealthy.is_empty() {
        let list = unhealthy.join("; ");
        if !request.allow_with_warnings {
            return Err(Refusal(format!(
                "cluster {cluster} is {list}. Wait until it settles (`ac adm upgrade status --cluster {cluster}`), \
                 or pass --allow-upgrade-with-warnings to request the upgrade anyway"
            )));
        }
        return Ok(Some(format!(
            "cluster {cluster} is {list}; requesting the upgrade anyway (--allow-upgrade-with-warnings)"
        )));
    }
    Ok(None)
}

fn not_available(cluster: &str, version: &AcpVersion, available: &[AcpVersion]) -> String {
    let offered = if available.is_empty() {
        "no updates are available".to_owned()
    } else {
        let list: Vec<String> = available.iter().map(ToString::to_string).collect();
        format!("available updates: {}", list.join(", "))
    };
    format!(
        "{version} is not an available update of cluster {cluster} ({offered}). An update is offered once a \
         Ready ProductManifest exists for it (`ac adm release import-manifest --version={version}`) and \
         the cluster can reach it; pass --allow-explicit-upgrade to request it anyway"
    )
}
