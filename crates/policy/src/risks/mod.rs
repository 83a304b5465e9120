//! Known risks of a release (conditional updates): what a release declares about the clusters it may
//! break, and how a cluster is judged against each risk.
//!
//! A risk is release data: `name`, `message` (what to do), an optional `url`, the versions upgrading
//! from which it applies (`appliesFrom`) and `matchingRules`, tried in order. The operator gathers one
//! [`RuleFact`] per rule from the cluster; [`exposure`] decides, the first rule that can be evaluated
//! deciding. A risk no rule can evaluate is [`Exposure::Unknown`] and counts as applying, as OpenShift
//! treats it, until it can be evaluated or an administrator accepts it.

mod acceptance;
mod exposure;
pub mod rules;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use acceptance::unaccepted;
pub use exposure::{Exposure, RuleFact, exposure};

/// The most risks one release declares.
pub const MAX_RISKS: usize = 16;
/// The most matching rules of one risk.
pub const MAX_RULES: usize = 8;
/// The most `appliesFrom` ranges of one risk.
pub const MAX_APPLIES_FROM: usize = 8;
/// The most characters of a risk's name: a name an administrator types in `acceptRisks`.
pub const MAX_NAME_CHARS: usize = 63;
/// The most characters of a risk's message.
pub const MAX_MESSAGE_CHARS: usize = 1024;
/// The most characters of a risk's URL.
pub const MAX_URL_CHARS: usize = 512;
/// The most characters of any other text in a rule (kinds, names, selectors, patterns, labels).
pub const MAX_TEXT_CHARS: usize = 253;
/// The most labels a Metric rule matches on.
pub const MAX_LABELS: usize = 8;

/// A known risk of upgrading to a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    /// CamelCase name, unique in the release: what `spec.desiredUpdate.acceptRisks` names.
    pub name: String,
    /// What the risk is and what to do about it.
    pub message: String,
    /// Where the release documentation explains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Versions upgrading from which the risk applies (semver ranges). Empty: from every version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applies_from: Vec<semver::VersionReq>,
    /// Tried in order; the first that can be evaluated decides.
    pub matching_rules: Vec<MatchingRule>,
}

/// One way to tell whether a cluster is exposed to a risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum MatchingRule {
    /// Every cluster is exposed.
    Always,
    /// Exposed when an object exists in the cluster.
    ObjectPresent { object_present: ObjectPresent },
    /// Exposed when a node's `status.nodeInfo` field matches.
    NodeInfo { node_info: NodeInfo },
    /// Exposed when the API server's version is in a range.
    KubernetesVersion { kubernetes_version: KubernetesVersion },
    /// Exposed when a sample of a metric of the cluster's API server (`/metrics`) compares true.
    Metric { metric: Metric },
}

impl MatchingRule {
    /// The rule's type as written in `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            MatchingRule::Always => "Always",
            MatchingRule::ObjectPresent { .. } => "ObjectPresent",
            MatchingRule::NodeInfo { .. } => "NodeInfo",
            MatchingRule::KubernetesVersion { .. } => "KubernetesVersion",
            MatchingRule::Metric { .. } => "Metric",
        }
    }
}

/// An object by apiVersion and kind, and by name or label selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPresent {
    /// e.g. `apps/v1`, `v1`.
    pub api_version: String,
    /// e.g. `DaemonSet`.
    pub kind: String,
    /// Absent: every namespace (or a cluster-scoped kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Exactly one of `name` and `labelSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A label selector as kubectl writes it, e.g. `app=flannel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

impl ObjectPresent {
    /// `DaemonSet kube-system/kube-flannel-ds`, `DaemonSet with labels app=flannel in kube-system`.
    pub fn describe(&self) -> String {
        match (&self.name, &self.namespace) {
            (Some(name), Some(ns)) => format!("{} {ns}/{name}", self.kind),
            (Some(name), None) => format!("{} {name}", self.kind),
            (None, ns) => {
                let selector = self.label_selector.as_deref().unwrap_or_default();
                let scope = ns.as_ref().map(|n| format!(" in {n}")).unwrap_or_default();
                format!("{} with labels {selector}{scope}", self.kind)
            }
        }
    }
}

/// A node field matched by a pattern or a version range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub field: NodeField,
    /// A glob over the whole value (`*` any run of characters, `?` one), e.g. `containerd://1.*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// A semver range over the value's version (after `://`, without a leading `v`), e.g. `<2.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<semver::VersionReq>,
}

/// The fields of `node.status.nodeInfo` a rule can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NodeField {
    ContainerRuntimeVersion,
    KubeletVersion,
    OsImage,
}

impl NodeField {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeField::ContainerRuntimeVersion => "containerRuntimeVersion",
            NodeField::KubeletVersion => "kubeletVersion",
            NodeField::OsImage => "osImage",
        }
    }
}

/// The API server's version in a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesVersion {
    pub range: semver::VersionReq,
}

/// A sample of a Prometheus-format metric compared with a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    /// e.g. `apiserver_requested_deprecated_apis`.
    pub name: String,
    /// Labels a sample must carry with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub comparison: Comparison,
    pub value: f64,
}

/// How a sample is compared with a Metric rule's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Comparison {
    GreaterThan,
    GreaterOrEqual,
    LessThan,
    LessOrEqual,
    Equal,
    NotEqual,
}

impl Comparison {
    pub fn holds(self, sample: f64, value: f64) -> bool {
        match self {
            Comparison::GreaterThan => sample > value,
            Comparison::GreaterOrEqual => sample >= value,
            Comparison::LessThan => sample < value,
            Comparison::LessOrEqual => sample <= value,
            Comparison::Equal => sample == value,
            Comparison::NotEqual => sample != value,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::GreaterThan => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::LessThan => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Equal => "==",
            Comparison::NotEqual => "!=",
        }
    }
}

impl Risk {
    /// Whether upgrading from `current` is in `appliesFrom` (an empty list: from every version).
    pub fn applies_from_version(&self, current: &crate::AcpVersion) -> bool {
        self.applies_from.is_empty()
            || self
                .applies_from
                .iter()
                .any(|range| range.matches(current.as_semver()))
    }

    /// `appliesFrom` as people read it.
    pub fn applies_from_text(&self) -> String {
        if self.applies_from.is_empty() {
            return "any version".into();
        }
        self.applies_from
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// Refuses risks the operator could not evaluate or show within its bounds, naming the field.
pub fn validate(risks: &[Risk]) -> Result<(), String> {
    if risks.len() > MAX_RISKS {
        return Err(format!("risks lists {} risks; at most {MAX_RISKS}", risks.len()));
    }
    for (i, risk) in risks.iter().enumerate() {
        let at = |field: &str| format!("risks[{i}] ({}).{field}", risk.name);
        if risk.name.is_empty()
            || risk.name.chars().count() > MAX_NAME_CHARS
            || !risk
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "risks[{i}].name {:?} must be 1–{MAX_NAME_CHARS} letters, digits, '-' or '_'",
                clip(&risk.name)
            ));
        }
        if risks[..i].iter().any(|r| r.name == risk.name) {
            return Err(format!("risks[{i}].name {} is declared twice", risk.name));
        }
        if risk.message.trim().is_empty() || risk.message.chars().count() > MAX_MESSAGE_CHARS {
            return Err(format!(
                "{} must say what to do, in 1–{MAX_MESSAGE_CHARS} characters",
                at("message")
            ));
        }
        if let Some(url) = &risk.url
            && (!url.starts_with("https://")
                || url.chars().count() > MAX_URL_CHARS
                || url.contains(char::is_whitespace))
        {
            return Err(format!(
                "{} must be an https:// address of at most {MAX_URL_CHARS} characters",
                at("url")
            ));
        }
        if risk.applies_from.len() > MAX_APPLIES_FROM {
            return Err(format!(
                "{} lists more than {MAX_APPLIES_FROM} ranges",
                at("appliesFrom")
            ));
        }
        if risk.matching_rules.is_empty() || risk.matching_rules.len() > MAX_RULES {
            return Err(format!(
                "{} needs 1–{MAX_RULES} rules (`- type: Always` for a risk of every cluster)",
                at("matchingRules")
            ));
        }
        for (j, rule) in risk.matching_rules.iter().enumerate() {
            validate_rule(rule)
                .map_err(|problem| format!("{}: {problem}", at(&format!("matchingRules[{j}]"))))?;
        }
    }
    Ok(())
}

fn validate_rule(rule: &MatchingRule) -> Result<(), String> {
    let text = |field: &str, value: &str| {
        if value.is_empty() || value.chars().count() > MAX_TEXT_CHARS {
            Err(format!("{field} must be 1–{MAX_TEXT_CHARS} characters"))
        } else {
            Ok(())
        }
    };
    match rule {
        MatchingRule::Always => Ok(()),
        MatchingRule::ObjectPresent { object_present: o } => {
            text("objectPresent.apiVersion", &o.api_version)?;
            text("objectPresent.kind", &o.kind)?;
            if let Some(ns) = &o.namespace {
                text("objectPresent.namespace", ns)?;
            }
            match (&o.name, &o.label_selector) {
                (Some(name), None) => text("objectPresent.name", name),
                (None, Some(selector)) => text("objectPresent.labelSelector", selector),
                _ => Err("set exactly one of objectPresent.name and objectPresent.labelSelector".into()),
            }
        }
        MatchingRule::NodeInfo { node_info: n } => match (&n.pattern, &n.range) {
            (Some(pattern), None) => text("nodeInfo.pattern", pattern),
            (None, Some(_)) => Ok(()),
            _ => Err("set exactly one of nodeInfo.pattern and nodeInfo.range".into()),
        },
        MatchingRule::KubernetesVersion { .. } => Ok(()),
        MatchingRule::Metric { metric: m } => {
            text("metric.name", &m.name)?;
            if m.labels.len() > MAX_LABELS {
                return Err(format!("metric.labels lists more than {MAX_LABELS} labels"));
            }
            for (key, value) in &m.labels {
                text("metric.labels key", key)?;
                if value.chars().count() > MAX_TEXT_CHARS {
                    return Err(format!(
                        "metric.labels.{key} is longer than {MAX_TEXT_CHARS} characters"
                    ));
                }
            }
            if !m.value.is_finite() {
                return Err("metric.value must be a finite number".into());
            }
            Ok(())
        }
    }
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_NAME_CHARS + 1) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
