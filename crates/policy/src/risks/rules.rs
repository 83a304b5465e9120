//! One pure decision per rule type: from what the operator read off a cluster to a [`RuleFact`]. The
//! operator only reads (objects, nodes, `/version`, `/metrics`); whether that matches is decided here.

use super::{Comparison, KubernetesVersion, Metric, NodeField, NodeInfo, ObjectPresent, RuleFact};
use crate::{KubeVersion, name_list};

/// What looking an object up found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectLookup {
    /// The objects found (`namespace/name` or `name`); empty when none.
    Found(Vec<String>),
    /// The cluster serves no such apiVersion/kind: no such object can exist.
    KindNotServed,
    /// The lookup failed (unreachable, forbidden): why.
    Failed(String),
}

pub fn object_present(rule: &ObjectPresent, lookup: &ObjectLookup) -> RuleFact {
    let what = rule.describe();
    match lookup {
        ObjectLookup::Found(found) if found.is_empty() => {
            RuleFact::not_matched(format!("no {what} in the cluster"))
        }
        ObjectLookup::Found(found) => {
            let named: Vec<String> = found.iter().map(|n| format!("{} {n}", rule.kind)).collect();
            RuleFact::matched(format!("{} is present", name_list(&named, named.len())))
        }
        ObjectLookup::KindNotServed => RuleFact::not_matched(format!(
            "the cluster serves no {} {}, so no {what} exists",
            rule.api_version, rule.kind
        )),
        ObjectLookup::Failed(why) => RuleFact::unevaluable(format!("cannot look up {what}: {why}")),
    }
}

/// The `status.nodeInfo` fields of one node a rule can read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeInfoFact {
    pub name: String,
    pub container_runtime_version: String,
    pub kubelet_version: String,
    pub os_image: String,
}

impl NodeInfoFact {
    fn field(&self, field: NodeField) -> &str {
        match field {
            NodeField::ContainerRuntimeVersion => &self.container_runtime_version,
            NodeField::KubeletVersion => &self.kubelet_version,
            NodeField::OsImage => &self.os_image,
        }
    }
}

/// Matches when any node's field matches. `nodes` is `Err(why)` when they could not be read.
pub fn node_info(rule: &NodeInfo, nodes: Result<&[NodeInfoFact], &str>) -> RuleFact {
    let nodes = match nodes {
        Ok(nodes) => nodes,
        Err(why) => return RuleFact::unevaluable(format!("cannot read the nodes: {why}")),
    };
    let field = rule.field.as_str();
    let wanted = match (&rule.pattern, &rule.range) {
        (Some(pattern), _) => format!("{field} matching {pattern}"),
        (None, Some(range)) => format!("{field} in {range}"),
        (None, None) => {
            return RuleFact::unevaluable(format!("the rule names no pattern or range for {field}"));
        }
    };
    if nodes.is_empty() {
        return RuleFact::not_matched(format!("the cluster has no nodes, so none has {wanted}"));
    }
    let matching: Vec<String> = nodes
        .iter()
        .filter(|node| {
            let value = node.field(rule.field);
            match (&rule.pattern, &rule.range) {
                (Some(pattern), _) => glob(pattern, value),
                (None, Some(range)) => loose_version(value).is_some_and(|v| range.matches(&v)),
                (None, None) => false,
            }
        })
        .map(|node| format!("node {} reports {field} {}", node.name, node.field(rule.field)))
        .collect();
    if matching.is_empty() {
        let mut seen: Vec<&str> = nodes.iter().map(|n| n.field(rule.field)).collect();
        seen.sort_unstable();
        seen.dedup();
        let seen: Vec<String> = seen.iter().map(|s| format!("{s:?}")).collect();
        return RuleFact::not_matched(format!(
            "none of {} node(s) has {wanted} (seen: {})",
            nodes.len(),
            name_list(&seen, seen.len())
        ));
    }
    RuleFact::matched(name_list(&matching, matching.len()))
}

/// Matches when the API server's version is in the range. `version` is `Err(why)` when unknown.
pub fn kubernetes_version(rule: &KubernetesVersion, version: Result<KubeVersion, &str>) -> RuleFact {
    match version {
        Ok(version) if rule.range.matches(&version.to_semver()) => {
            RuleFact::matched(format!("the API server runs {version}, in {}", rule.range))
        }
        Ok(version) => {
            RuleFact::not_matched(format!("the API server runs {version}, outside {}", rule.range))
        }
        Err(why) => RuleFact::unevaluable(format!("the API server's version is unknown: {why}")),
    }
}

/// Matches when a sample of the metric carrying the rule's labels compares true. A metric the server
/// does not expose at all (no sample with those labels) does not match: many are only written once
/// something happened (e.g. `apiserver_requested_deprecated_apis`). `text` is `Err(why)` when
/// `/metrics` could not be read.
pub fn metric(rule: &Metric, text: Result<&str, &str>) -> RuleFact {
    let text = match text {
        Ok(text) => text,
        Err(why) => return RuleFact::unevaluable(format!("cannot read the API server's /metrics: {why}")),
    };
    let wanted = format!("{} {} {}", selector(rule), rule.comparison.symbol(), rule.value);
    let samples: Vec<(&str, f64)> = samples(text, rule).collect();
    if samples.is_empty() {
        return RuleFact::not_matched(format!("the API server reports no sample of {}", selector(rule)));
    }
    match samples
        .iter()
        .find(|(_, v)| rule.comparison.holds(*v, rule.value))
    {
        Some((series, value)) => RuleFact::matched(format!("{series} is {value} ({wanted})")),
        None => {
            let (series, value) = samples[0];
            RuleFact::not_matched(format!("{series} is {value}, and no sample has {wanted}"))
        }
    }
}

fn selector(rule: &Metric) -> String {
    if rule.labels.is_empty() {
        return rule.name.clone();
    }
    let labels: Vec<String> = rule.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{}{{{}}}", rule.name, labels.join(","))
}

/// The samples of `rule.name` carrying every label of the rule: (the series as written, its value).
fn samples<'a>(text: &'a str, rule: &'a Metric) -> impl Iterator<Item = (&'a str, f64)> + 'a {
    text.lines().filter_map(move |line| {
        let line = line.trim();
        let rest = line.strip_prefix(rule.name.as_str())?;
        let (labels, value) = match rest.strip_prefix('{') {
            Some(inner) => inner.rsplit_once('}')?,
            None if rest.starts_with(char::is_whitespace) => ("", rest),
            None => return None,
        };
        // A timestamp may follow the value.
        let value: f64 = value.split_whitespace().next()?.parse().ok()?;
        let has = |key: &str, wanted: &str| {
            labels.split(',').any(|pair| {
                pair.split_once('=')
                    .is_some_and(|(k, v)| k.trim() == key && v.trim().trim_matches('"') == wanted)
            })
        };
        if !rule.labels.iter().all(|(k, v)| has(k, v)) {
            return None;
        }
        let series = line
            .rsplit_once('}')
            .map_or(rule.name.as_str(), |(s, _)| &line[..s.len() + 1]);
        Some((series, value))
    })
}

/// A glob over the whole text: `*` any run of characters, `?` exactly one.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || *c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The version in a node field: after `://` (`containerd://1.7.27`), without a leading `v`, the
/// numeric core only; missing minor or patch read as 0 (`containerd://1.7` is 1.7.0).
pub fn loose_version(value: &str) -> Option<semver::Version> {
    let version = value.rsplit_once("://").map_or(value, |(_, v)| v);
    let version = version.strip_prefix('v').unwrap_or(version);
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().unwrap_or(Some(0))?;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some(semver::Version::new(major, minor, patch))
}

impl Comparison {
    /// Every comparison, for tables.
    pub const ALL: [Comparison; 6] = [
        Comparison::GreaterThan,
        Comparison::GreaterOrEqual,
        Comparison::LessThan,
        Comparison::LessOrEqual,
        Comparison::Equal,
        Comparison::NotEqual,
    ];
}
