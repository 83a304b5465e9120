//! The ClusterAPI driver: performs a hop by moving the version fields of the cluster's Cluster API
//! objects in the global cluster, one object at a time, and waits for the machines and the workload
//! cluster itself to report the hop's version.
//!
//! - A topology-managed Cluster: `spec.topology.version` (Cluster API then upgrades the control plane
//!   and the workers in order, honouring its own hold/defer annotations and lifecycle hooks).
//! - Otherwise: the KubeadmControlPlane's `spec.version`, then each MachineDeployment's
//!   `spec.template.spec.version` in name order, one at a time; a MachineDeployment annotated
//!   `topology.cluster.x-k8s.io/hold-upgrade-sequence` holds itself and those after it,
//!   `topology.cluster.x-k8s.io/defer-upgrade` only itself.
//!
//! The driver writes a field only while it still holds the version the hop starts from; a field with
//! any other version was changed by someone else, and the hop stops with a message naming the object,
//! the field, the version found and the one expected — it never writes over such a change. Each write
//! is a merge patch fenced on the resourceVersion it was decided on.

use acp_api::cvsh::{ClusterApiClusterRef, Operation};
use acp_api::k8s::Time;
use acp_policy::{KubeHop, KubeMinor, KubeVersion};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use super::super::{Execution, Step};
use crate::clusters::cluster_api::{
    CONTROL_PLANE_LABEL, ClusterApiObjects, DEFER_UPGRADE, DEPLOYMENT_NAME_LABEL, HOLD_UPGRADE_SEQUENCE,
    Kind, PAUSED_ANNOTATION, VersionWrite,
};
use crate::cvsh::insights;

/// What the driver works on: the global cluster's Cluster API objects and the cvsh's reference.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub objects: &'a dyn ClusterApiObjects,
    /// `spec.clusterAPI.clusterRef`; `None` when the cvsh names no Cluster.
    pub cluster: Option<&'a ClusterApiClusterRef>,
}

/// The Cluster API objects of one cluster, as read for one decision.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    pub cluster: Value,
    /// The KubeadmControlPlane (Clusters without topology), `None` when it does not exist.
    pub control_plane: Option<Value>,
    pub deployments: Vec<Value>,
    pub machines: Vec<Value>,
}

/// What a hop does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Write(VersionWrite),
    Wait(String),
    Done(String),
    /// The hop cannot go on without a person (a version changed by hand, a missing object).
    Stop(String),
}

/// The version a hop starts from, as its operation records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Before {
    Exact(KubeVersion),
    /// An earlier hop planned by minor only: any patch of it.
    Minor(KubeMinor),
    /// The cluster's version was not known when the upgrade was planned: anything older than the hop.
    Unknown,
}

impl Before {
    pub fn of(op: &Operation) -> Self {
        let Some(text) = op.current_version.as_deref() else {
            return Before::Unknown;
        };
        if let Ok(version) = text.parse() {
            Before::Exact(version)
        } else if let Ok(minor) = text.parse() {
            Before::Minor(minor)
        } else {
            Before::Unknown
        }
    }

    fn matches(self, found: KubeVersion, hop: KubeVersion) -> bool {
        match self {
            Before::Exact(v) => found == v,
            Before::Minor(m) => found.minor_line() == m,
            Before::Unknown => found < hop,
        }
    }

    fn describe(self, hop: KubeVersion) -> String {
        match self {
            Before::Exact(v) => format!("{v} (before this hop) or {hop}"),
            Before::Minor(m) => format!("a {m} patch (before this hop) or {hop}"),
            Before::Unknown => format!("a version older than {hop}, or {hop}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agreement {
    AtHop,
    Before,
}

/// Where an object's version field stands against the plan; `Err` is the stop message.
fn agreement(object: &Value, kind: Kind, hop: KubeVersion, before: Before) -> Result<Agreement, String> {
    let found = object
        .pointer(kind.version_field())
        .and_then(Value::as_str)
        .unwrap_or("");
    let parsed = found.parse::<KubeVersion>();
    // Cluster API's webhook refuses to lower a topology version: such an edit can only go up.
    let remedy = match parsed {
        Ok(version) if kind == Kind::Cluster && version > hop => format!(
            "Cluster API does not lower spec.topology.version: let it finish rolling out {version}, then retarget \
             the upgrade to a release whose Kubernetes version is {version} or later"
        ),
        Ok(_) if kind == Kind::Cluster => format!(
            "Cluster API does not lower spec.topology.version: set it to {hop} to let the upgrade continue, or \
             finish the change by hand and retarget the upgrade"
        ),
        _ => "Set it back to the expected version to let the upgrade continue, or finish the change by hand and \
              retarget the upgrade"
            .to_string(),
    };
    match parsed {
        Ok(version) if version == hop => Ok(Agreement::AtHop),
        Ok(version) if before.matches(version, hop) => Ok(Agreement::Before),
        _ => Err(format!(
            "{kind} {} {} is {}, expected {}: it was changed outside this upgrade, and acp-cvo does not \
             write over it. {remedy}",
            key(object),
            kind.version_path(),
            if found.is_empty() {
                "unset".to_string()
            } else {
                found.to_string()
            },
            before.describe(hop)
        )),
    }
}

fn text<'v>(object: &'v Value, pointer: &str) -> Option<&'v str> {
    object.pointer(pointer).and_then(Value::as_str)
}

fn name(object: &Value) -> &str {
    text(object, "/metadata/name").unwrap_or("")
}

fn key(object: &Value) -> String {
    format!(
        "{}/{}",
        text(object, "/metadata/namespace").unwrap_or(""),
        name(object)
    )
}

fn annotated(object: &Value, annotation: &str) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key(annotation))
}

fn labelled<'v>(object: &'v Value, label: &str) -> Option<&'v str> {
    object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(label))
        .and_then(Value::as_str)
}

fn write(object: &Value, kind: Kind, hop: KubeVersion) -> Decision {
    Decision::Write(VersionWrite {
        kind,
        namespace: text(object, "/metadata/namespace").unwrap_or("").to_string(),
        name: name(object).to_string(),
        resource_version: text(object, "/metadata/resourceVersion")
            .unwrap_or("")
            .to_string(),
        version: hop.to_string(),
    })
}

/// Machines that are not being deleted, and how many of them run the hop's version.
fn at_version<'m>(machines: impl Iterator<Item = &'m Value>, hop: KubeVersion) -> (usize, usize) {
    let live: Vec<&Value> = machines
        .filter(|m| m.pointer("/metadata/deletionTimestamp").is_none())
        .collect();
    let done = live
        .iter()
        .filter(|m| {
            text(m, "/spec/version").and_then(|v| v.parse::<KubeVersion>().ok()) == Some(hop)
                && text(m, "/status/phase") == Some("Running")
        })
        .count();
    (done, live.len())
}

fn is_control_plane(machine: &Value) -> bool {
    labelled(machine, CONTROL_PLANE_LABEL).is_some()
}

/// "control plane 2/3 machines at v1.33.7, workers 0/4, the cluster reports v1.32.7".
fn progress(facts: &Facts, hop: KubeVersion, reported: Option<KubeVersion>) -> String {
    let (cp, cp_total) = at_version(facts.machines.iter().filter(|m| is_control_plane(m)), hop);
    let (workers, workers_total) = at_version(facts.machines.iter().filter(|m| !is_control_plane(m)), hop);
    format!(
        "control plane {cp}/{cp_total} machines at {hop}, workers {workers}/{workers_total}, the cluster reports {}",
        reported.map_or_else(|| "no version yet".to_string(), |r| r.to_string())
    )
}

/// Cluster API's own word on a held topology upgrade (TopologyReconciled False), if it gives one.
fn topology_note(cluster: &Value) -> String {
    let Some(condition) = cluster
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("TopologyReconciled"))
        })
    else {
        return String::new();
    };
    if condition.get("status").and_then(Value::as_str) != Some("False") {
        return String::new();
    }
    let reason = condition.get("reason").and_then(Value::as_str).unwrap_or("");
    let message: String = condition
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    format!(" (Cluster API: TopologyReconciled {reason}: {message})")
}

fn is_topology(cluster: &Value) -> bool {
    text(cluster, "/spec/topology/version").is_some_and(|v| !v.is_empty())
}

/// The next step of `hop` for Cluster `cluster` given its objects and the version the workload cluster
/// reports.
pub fn decide(hop: KubeVersion, before: Before, facts: &Facts, reported: Option<KubeVersion>) -> Decision {
    let cluster = &facts.cluster;
    let cluster_key = key(cluster);
    if cluster.pointer("/spec/paused").and_then(Value::as_bool) == Some(true)
        || annotated(cluster, PAUSED_ANNOTATION)
    {
        return Decision::Wait(format!(
            "Cluster {cluster_key} is paused (spec.paused or annotation {PAUSED_ANNOTATION}): Cluster API changes \
             nothing until it is unpaused; unpause it and the hop to {hop} continues"
        ));
    }
    let reached = reported.is_some_and(|r| r >= hop);
    if is_topology(cluster) {
        match agreement(cluster, Kind::Cluster, hop, before) {
            Err(stop) => return Decision::Stop(stop),
            Ok(Agreement::Before) => return write(cluster, Kind::Cluster, hop),
            Ok(Agreement::AtHop) => {}
        }
        let progress = progress(facts, hop, reported);
        let (cp, cp_total) = at_version(facts.machines.iter().filter(|m| is_control_plane(m)), hop);
        let (w, w_total) = at_version(facts.machines.iter().filter(|m| !is_control_plane(m)), hop);
        return if cp == cp_total && w == w_total && reached {
            Decision::Done(format!("Cluster {cluster_key} at {hop}: {progress}"))
        } else {
            Decision::Wait(format!(
                "Cluster {cluster_key} spec.topology.version is {hop}: {progress}{}",
                topology_note(cluster)
            ))
        };
    }

    let Some(control_plane) = &facts.control_plane else {
        return Decision::Stop(format!(
            "Cluster {cluster_key} has no spec.topology.version and its spec.controlPlaneRef names no \
             KubeadmControlPlane that exists: the ClusterAPI driver moves either; fix the Cluster, or use \
             kubernetesDriver External"
        ));
    };
    let mut deployments: Vec<&Value> = facts.deployments.iter().collect();
    deployments.sort_by(|a, b| name(a).cmp(name(b)));
    // Nothing is written while any object disagrees with the plan.
    let control_plane_at = match agreement(control_plane, Kind::KubeadmControlPlane, hop, before) {
        Ok(at) => at,
        Err(stop) => return Decision::Stop(stop),
    };
    let mut deployment_at = Vec::with_capacity(deployments.len());
    for deployment in &deployments {
        match agreement(deployment, Kind::MachineDeployment, hop, before) {
            Ok(at) => deployment_at.push(at),
            Err(stop) => return Decision::Stop(stop),
        }
    }
    if control_plane_at == Agreement::Before {
        return write(control_plane, Kind::KubeadmControlPlane, hop);
    }
    let (cp, cp_total) = at_version(facts.machines.iter().filter(|m| is_control_plane(m)), hop);
    if cp < cp_total || !reached {
        return Decision::Wait(format!(
            "KubeadmControlPlane {} spec.version is {hop}: {}",
            key(control_plane),
            progress(facts, hop, reported)
        ));
    }
    let mut deferred = Vec::new();
    for (deployment, at) in deployments.iter().zip(deployment_at) {
        let md = name(deployment);
        if at == Agreement::Before {
            if annotated(deployment, HOLD_UPGRADE_SEQUENCE) {
                return Decision::Wait(format!(
                    "MachineDeployment {} holds the worker upgrade sequence (annotation {HOLD_UPGRADE_SEQUENCE}): \
                     remove the annotation and the workers continue to {hop}; {}",
                    key(deployment),
                    progress(facts, hop, reported)
                ));
            }
            if annotated(deployment, DEFER_UPGRADE) {
                deferred.push(key(deployment));
                continue;
            }
            return write(deployment, Kind::MachineDeployment, hop);
        }
        let (done, total) = at_version(
            facts
                .machines
                .iter()
                .filter(|m| labelled(m, DEPLOYMENT_NAME_LABEL) == Some(md)),
            hop,
        );
        if done < total {
            return Decision::Wait(format!(
                "MachineDeployment {} spec.template.spec.version is {hop}: {done}/{total} of its machines at \
                 {hop}; {}",
                key(deployment),
                progress(facts, hop, reported)
            ));
        }
    }
    if !deferred.is_empty() {
        return Decision::Wait(format!(
            "MachineDeployment {} defers its upgrade (annotation {DEFER_UPGRADE}): remove the annotation and \
             it moves to {hop}; {}",
            deferred.join(", "),
            progress(facts, hop, reported)
        ));
    }
    Decision::Done(format!(
        "Cluster {cluster_key} at {hop}: {}",
        progress(facts, hop, reported)
    ))
}

/// Reads the Cluster API objects of `cluster`; `None` when the Cluster does not exist.
pub async fn gather(
    objects: &dyn ClusterApiObjects,
    cluster: &ClusterApiClusterRef,
) -> Result<Option<Facts>, crate::clusters::ClusterError> {
    let (namespace, name) = (cluster.namespace.as_str(), cluster.name.as_str());
    let Some(object) = objects.get(Kind::Cluster, namespace, name).await? else {
        return Ok(None);
    };
    let machines = objects.list_of_cluster(Kind::Machine, namespace, name).await?;
    if is_topology(&object) {
        return Ok(Some(Facts {
            cluster: object,
            machines,
            ..Facts::default()
        }));
    }
    let control_plane = match (
        text(&object, "/spec/controlPlaneRef/kind"),
        text(&object, "/spec/controlPlaneRef/name"),
    ) {
        (Some("KubeadmControlPlane"), Some(cp)) => {
            let cp_namespace = text(&object, "/spec/controlPlaneRef/namespace").unwrap_or(namespace);
            objects.get(Kind::KubeadmControlPlane, cp_namespace, cp).await?
        }
        _ => None,
    };
    let deployments = objects
        .list_of_cluster(Kind::MachineDeployment, namespace, name)
        .await?;
    Ok(Some(Facts {
        cluster: object,
        control_plane,
        deployments,
        machines,
    }))
}

/// The version a machine's owner asks for, and the field that asks it: the Cluster's topology, the
/// KubeadmControlPlane, or the machine's MachineDeployment.
fn wanted(facts: &Facts, machine: &Value) -> Option<(String, String)> {
    let cluster = &facts.cluster;
    if is_topology(cluster) {
        return text(cluster, "/spec/topology/version").map(|v| {
            (
                v.to_string(),
                format!("Cluster {} spec.topology.version", key(cluster)),
            )
        });
    }
    if is_control_plane(machine) {
        let cp = facts.control_plane.as_ref()?;
        return text(cp, "/spec/version").map(|v| {
            (
                v.to_string(),
                format!("KubeadmControlPlane {} spec.version", key(cp)),
            )
        });
    }
    let md = labelled(machine, DEPLOYMENT_NAME_LABEL)?;
    let deployment = facts.deployments.iter().find(|d| name(d) == md)?;
    text(deployment, "/spec/template/spec/version").map(|v| {
        (
            v.to_string(),
            format!("MachineDeployment {} spec.template.spec.version", key(deployment)),
        )
    })
}

/// Why Cluster API is not settled on this cluster, if it is not: paused, or a rollout under way (a
/// machine not Running or being deleted, or on another version than its owner asks for).
pub fn unsettled(facts: &Facts) -> Option<String> {
    let cluster = &facts.cluster;
    let cluster_key = key(cluster);
    if cluster.pointer("/spec/paused").and_then(Value::as_bool) == Some(true)
        || annotated(cluster, PAUSED_ANNOTATION)
    {
        return Some(format!(
            "Cluster {cluster_key} is paused (spec.paused or annotation {PAUSED_ANNOTATION}): unpause it, then \
             the upgrade can start"
        ));
    }
    let mut busy = Vec::new();
    for machine in &facts.machines {
        let machine_name = name(machine);
        if machine.pointer("/metadata/deletionTimestamp").is_some() {
            busy.push(format!("Machine {machine_name} is being deleted"));
            continue;
        }
        let phase = text(machine, "/status/phase").unwrap_or("unknown");
        if phase != "Running" {
            busy.push(format!("Machine {machine_name} is {phase}"));
            continue;
        }
        let found = text(machine, "/spec/version").unwrap_or("");
        if let Some((wanted, field)) = wanted(facts, machine)
            && found != wanted
        {
            busy.push(format!(
                "Machine {machine_name} runs {found}, {field} is {wanted}"
            ));
        }
    }
    if busy.is_empty() {
        return None;
    }
    let shown: Vec<String> = busy.iter().take(5).cloned().collect();
    Some(format!(
        "Cluster API is rolling out Cluster {cluster_key}: {}{}; wait for the rollout to finish (or repair it) \
         before upgrading",
        shown.join("; "),
        if busy.len() > shown.len() {
            format!(" and {} more", busy.len() - shown.len())
        } else {
            String::new()
        }
    ))
}

/// The Cluster `spec.clusterAPI.clusterRef` names is not in the global cluster: what to do.
pub fn missing_cluster(cluster: &ClusterApiClusterRef) -> String {
    format!(
        "Cluster {cluster} (spec.clusterAPI.clusterRef) does not exist in the global cluster: create it, or \
         point spec.clusterAPI.clusterRef at the cluster's Cluster object"
    )
}

pub async fn perform(op: &mut Operation, hop: KubeHop, exec: &Execution<'_>) -> Step {
    let Some(Target {
        objects,
        cluster: Some(cluster),
    }) = exec.cluster_api
    else {
        return Step::Failed(
            "kubernetesDriver ClusterAPI needs spec.clusterAPI.clusterRef {namespace, name}: set it to the \
             cluster's Cluster object in the global cluster"
                .into(),
        );
    };
    let Some(version) = hop.version else {
        return Step::Failed(format!(
            "the release data names no Kubernetes patch of {}, and the ClusterAPI driver sets exact versions: \
             add kubernetes.version to the release, or upgrade this hop yourself with kubernetesDriver External",
            hop.minor
        ));
    };
    let facts = match gather(objects, cluster).await {
        Ok(Some(facts)) => facts,
        Ok(None) => return Step::Failed(missing_cluster(cluster)),
        Err(err) => return Step::from_error(&err),
    };
    let decision = decide(version, Before::of(op), &facts, exec.kubernetes);
    if !matches!(decision, Decision::Wait(_)) {
        // Machines explain a wait, not a write or a hand edit.
        op.insights.clear();
        op.insights_time = None;
    }
    match decision {
        Decision::Done(message) => Step::Done(message),
        Decision::Wait(message) => explain(op, message, &facts, version, exec),
        Decision::Stop(message) => Step::Failed(message),
        Decision::Write(write) => match objects.set_version(&write).await {
            Ok(()) => Step::Waiting(format!(
                "set {} of {} {}/{} to {}; waiting for Cluster API to roll it out",
                write.kind.version_path(),
                write.kind,
                write.namespace,
                write.name,
                write.version
            )),
            Err(err) if err.code() == Some(409) => Step::Waiting(format!(
                "{} {}/{} changed while its version was being set; reading it again",
                write.kind, write.namespace, write.name
            )),
            Err(err) => Step::from_error(&err),
        },
    }
}

/// A hop that waits names the machines that are stuck (see [`stuck_machines`]) and Cluster API's word on
/// why, from the objects just read: no request of its own, so it looks on every wait.
fn explain(
    op: &mut Operation,
    message: String,
    facts: &Facts,
    hop: KubeVersion,
    exec: &Execution<'_>,
) -> Step {
    op.insights = insights::diagnose(&insights::Facts {
        machines: stuck_machines(facts, hop, exec.now, exec.insight_after),
        ..insights::Facts::default()
    });
    op.insights_time = (!op.insights.is_empty()).then_some(Time(exec.now));
    Step::Waiting(insights::with_culprit(op, message))
}

/// Machine conditions that say why a machine is not up, in the order a machine comes up: Cluster API
/// v1beta2's names, then v1beta1's where they differ.
const MACHINE_CONDITIONS: [&str; 7] = [
    "InfrastructureReady",
    "BootstrapConfigReady",
    "BootstrapReady",
    "NodeReady",
    "NodeHealthy",
    "Ready",
    "UpToDate",
];

/// Conditions that say what holds a machine being deleted (v1beta2, v1beta1).
const DELETION_CONDITIONS: [&str; 2] = ["Deleting", "DrainingSucceeded"];

/// A machine's conditions, from `status.conditions` and, for a v1beta1 object, `status.v1beta2.conditions`.
fn conditions(machine: &Value) -> Vec<&Value> {
    ["/status/conditions", "/status/v1beta2/conditions"]
        .iter()
        .filter_map(|p| machine.pointer(p).and_then(Value::as_array))
        .flatten()
        .collect()
}

/// Cluster API's word on one condition, without control characters (its messages are multi-line).
fn said(condition: &Value) -> String {
    let field = |p: &str| insights::text(condition, p).unwrap_or_default();
    let (type_, reason, message) = (field("/type"), field("/reason"), field("/message"));
    let head = format!("{type_} {reason}").trim().to_string();
    if message.trim().is_empty() {
        head
    } else {
        format!("{head}: {}", message.trim())
    }
}

/// How long ago `pointer` (a timestamp of `machine`) was, if it is one.
fn age(machine: &Value, pointer: &str, now: Timestamp) -> Option<SignedDuration> {
    let at: Timestamp = text(machine, pointer)?.parse().ok()?;
    Some(now.duration_since(at))
}

/// Why one machine is stuck, if it is: failed; being deleted for longer than `after` (a drain that does
/// not finish); or made for `hop` longer than `after` ago and still not Running. A machine on the old
/// version waiting its turn, or one moving along within `after`, is not stuck.
fn stuck_reason(machine: &Value, hop: KubeVersion, now: Timestamp, after: SignedDuration) -> Option<String> {
    let machine_name = name(machine);
    let all = conditions(machine);
    let first_of = |types: &[&str]| {
        types
            .iter()
            .find_map(|t| all.iter().find(|c| text(c, "/type") == Some(t)).copied())
    };
    let phase = text(machine, "/status/phase").unwrap_or("in no phase");
    if phase == "Failed" {
        let why = first_of(&MACHINE_CONDITIONS)
            .filter(|c| text(c, "/status") != Some("True"))
            .map_or_else(|| "no condition says why".to_string(), said);
        return Some(format!("Machine {machine_name} Failed: {why}"));
    }
    if let Some(deleting) = age(machine, "/metadata/deletionTimestamp", now) {
        if deleting < after {
            return None;
        }
        let holder = first_of(&DELETION_CONDITIONS)
            .filter(|c| text(c, "/message").is_some_and(|m| !m.trim().is_empty()))
            .map(|c| format!("; {}", said(c)))
            .unwrap_or_default();
        return Some(format!(
            "Machine {machine_name} has been deleting for {}{holder}",
            minutes(deleting)
        ));
    }
    let for_hop = text(machine, "/spec/version").and_then(|v| v.parse::<KubeVersion>().ok()) == Some(hop);
    if !for_hop || phase == "Running" {
        return None;
    }
    let waited = age(machine, "/metadata/creationTimestamp", now)?;
    if waited < after {
        return None;
    }
    let why = MACHINE_CONDITIONS
        .iter()
        .filter_map(|t| all.iter().find(|c| text(c, "/type") == Some(t)).copied())
        .find(|c| text(c, "/status") != Some("True"))
        .map_or_else(|| "no condition says why".to_string(), said);
    Some(format!(
        "Machine {machine_name} has been {phase} on {hop} for {}: {why}",
        minutes(waited)
    ))
}

/// "12m", "1h5m": how long, as messages say it.
fn minutes(duration: SignedDuration) -> String {
    let minutes = duration.as_secs().max(0) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// The stuck machines of the hop, counted per owner (the control plane, each MachineDeployment), with
/// why the first of them is stuck.
fn stuck_machines(
    facts: &Facts,
    hop: KubeVersion,
    now: Timestamp,
    after: SignedDuration,
) -> Vec<insights::MachineFacts> {
    let mut groups: Vec<insights::MachineFacts> = Vec::new();
    for machine in &facts.machines {
        let Some(reason) = stuck_reason(machine, hop, now, after) else {
            continue;
        };
        let owner = if is_control_plane(machine) {
            format!("control plane of Cluster {}", key(&facts.cluster))
        } else {
            match labelled(machine, DEPLOYMENT_NAME_LABEL) {
                Some(md) => format!(
                    "MachineDeployment {}/{md}",
                    text(machine, "/metadata/namespace").unwrap_or("")
                ),
                None => format!("workers of Cluster {}", key(&facts.cluster)),
            }
        };
        match groups.iter_mut().find(|g| g.name == owner) {
            Some(group) => group.not_updated += 1,
            None => groups.push(insights::MachineFacts {
                name: owner,
                not_updated: 1,
                reason,
            }),
        }
    }
    groups
}

#[cfg(test)]
mod tests;
