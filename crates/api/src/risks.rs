//! Known risks on the wire: as a release declares them (`productmanifest.status.release.risks`, the
//! same shape as a bundle's `risks`) and as one cluster is exposed to them
//! (`cvsh.status.conditionalUpdates`). The decisions are `acp_policy::risks`; this is what the operator
//! writes and every reader (`ac`, rollouts, the console) reads.

use std::collections::BTreeMap;

use acp_policy::risks::{self as policy, Exposure};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cvsh::bounds::{MAX_RISK_TEXT_CHARS, clip};
use crate::cvsh::{ClusterVersionShadowStatus, Release};

/// The most entries of `status.conditionalUpdates` (one per available update at most).
pub const MAX_CONDITIONAL_UPDATES: usize = 16;

/// A known risk of upgrading to a release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRisk {
    /// CamelCase name, the one `spec.desiredUpdate.acceptRisks` names.
    #[schemars(length(max = 63))]
    pub name: String,

    /// What the risk is and what to do about it.
    #[schemars(length(max = 1024))]
    pub message: String,

    /// Where the release documentation explains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub url: Option<String>,

    /// Versions upgrading from which the risk applies, as semver ranges. Empty: from every version.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub applies_from: Vec<String>,

    /// Tried in order; the first that can be evaluated decides.
    #[schemars(length(max = 8))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub matching_rules: Vec<RiskMatchingRule>,
}

/// One way to tell whether a cluster is exposed: `type` and the member of that name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RiskMatchingRule {
    #[serde(rename = "type")]
    pub type_: RiskRuleType,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_present: Option<ObjectPresentRule>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_info: Option<NodeInfoRule>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<KubernetesVersionRule>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricRule>,
}

/// The rule types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RiskRuleType {
    /// Every cluster is exposed.
    Always,
    /// An object exists in the cluster.
    ObjectPresent,
    /// A node's `status.nodeInfo` field matches.
    NodeInfo,
    /// The API server's version is in a range.
    KubernetesVersion,
    /// A sample of the API server's `/metrics` compares true.
    Metric,
}

/// An object by apiVersion and kind, and by name or label selector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPresentRule {
    #[schemars(length(max = 253))]
    pub api_version: String,
    #[schemars(length(max = 253))]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub label_selector: Option<String>,
}

/// A node field (`containerRuntimeVersion`, `kubeletVersion`, `osImage`) matched by a glob pattern or a
/// semver range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfoRule {
    pub field: NodeInfoField,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub range: Option<String>,
}

/// A field of `node.status.nodeInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NodeInfoField {
    ContainerRuntimeVersion,
    KubeletVersion,
    OsImage,
}

/// The API server's version in a semver range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesVersionRule {
    #[schemars(length(max = 253))]
    pub range: String,
}

/// A sample of a Prometheus-format metric of the API server compared with a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricRule {
    #[schemars(length(max = 253))]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub comparison: MetricComparison,
    pub value: f64,
}

/// How a sample is compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MetricComparison {
    GreaterThan,
    GreaterOrEqual,
    LessThan,
    LessOrEqual,
    Equal,
    NotEqual,
}

impl From<&policy::Risk> for ReleaseRisk {
    fn from(risk: &policy::Risk) -> Self {
        ReleaseRisk {
            name: risk.name.clone(),
            message: risk.message.clone(),
            url: risk.url.clone(),
            applies_from: risk.applies_from.iter().map(ToString::to_string).collect(),
            matching_rules: risk.matching_rules.iter().map(RiskMatchingRule::from).collect(),
        }
    }
}

impl From<&policy::MatchingRule> for RiskMatchingRule {
    fn from(rule: &policy::MatchingRule) -> Self {
        let mut out = RiskMatchingRule {
            type_: RiskRuleType::Always,
            object_present: None,
            node_info: None,
            kubernetes_version: None,
            metric: None,
        };
        match rule {
            policy::MatchingRule::Always => {}
            policy::MatchingRule::ObjectPresent { object_present: o } => {
                out.type_ = RiskRuleType::ObjectPresent;
                out.object_present = Some(ObjectPresentRule {
                    api_version: o.api_version.clone(),
                    kind: o.kind.clone(),
                    namespace: o.namespace.clone(),
                    name: o.name.clone(),
                    label_selector: o.label_selector.clone(),
                });
            }
            policy::MatchingRule::NodeInfo { node_info: n } => {
                out.type_ = RiskRuleType::NodeInfo;
                out.node_info = Some(NodeInfoRule {
                    field: match n.field {
                        policy::NodeField::ContainerRuntimeVersion => NodeInfoField::ContainerRuntimeVersion,
                        policy::NodeField::KubeletVersion => NodeInfoField::KubeletVersion,
                        policy::NodeField::OsImage => NodeInfoField::OsImage,
                    },
                    pattern: n.pattern.clone(),
                    range: n.range.as_ref().map(ToString::to_string),
                });
            }
            policy::MatchingRule::KubernetesVersion {
                kubernetes_version: k,
            } => {
                out.type_ = RiskRuleType::KubernetesVersion;
                out.kubernetes_version = Some(KubernetesVersionRule {
                    range: k.range.to_string(),
                });
            }
            policy::MatchingRule::Metric { metric: m } => {
                out.type_ = RiskRuleType::Metric;
                out.metric = Some(MetricRule {
                    name: m.name.clone(),
                    labels: m.labels.clone(),
                    comparison: match m.comparison {
                        policy::Comparison::GreaterThan => MetricComparison::GreaterThan,
                        policy::Comparison::GreaterOrEqual => MetricComparison::GreaterOrEqual,
                        policy::Comparison::LessThan => MetricComparison::LessThan,
                        policy::Comparison::LessOrEqual => MetricComparison::LessOrEqual,
                        policy::Comparison::Equal => MetricComparison::Equal,
                        policy::Comparison::NotEqual => MetricComparison::NotEqual,
                    },
                    value: m.value,
                });
            }
        }
        out
    }
}

/// An available update that declares risks, with how this cluster stands towards each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalUpdate {
    /// The update, as in availableUpdates.
    pub release: Release,

    /// False when a risk applies or is Unknown: the update needs `acceptRisks` (or `force`).
    pub recommended: bool,

    /// Every risk the release declares, in its order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub risks: Vec<ConditionalUpdateRisk>,
}

/// One risk of an update, evaluated on this cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConditionalUpdateRisk {
    /// Risk name, the one `spec.desiredUpdate.acceptRisks` names.
    #[schemars(length(max = 63))]
    pub name: String,

    /// Applies, DoesNotApply or Unknown (no rule could be evaluated; treated as applying).
    pub exposure: RiskExposure,

    /// What was seen: the object, node or value that matched or did not, or why nothing could be
    /// evaluated.
    #[schemars(length(max = MAX_RISK_TEXT_CHARS))]
    pub evidence: String,

    /// What the risk is and what to do about it.
    #[schemars(length(max = MAX_RISK_TEXT_CHARS))]
    pub message: String,

    /// Where the release documentation explains it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub url: Option<String>,
}

/// How a cluster stands towards a risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RiskExposure {
    Applies,
    DoesNotApply,
    Unknown,
}

impl RiskExposure {
    /// Applies or Unknown.
    pub fn is_exposed(self) -> bool {
        self != RiskExposure::DoesNotApply
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RiskExposure::Applies => "Applies",
            RiskExposure::DoesNotApply => "DoesNotApply",
            RiskExposure::Unknown => "Unknown",
        }
    }
}

impl ConditionalUpdateRisk {
    /// A risk of a release and the cluster's exposure to it, clipped to the status bounds.
    pub fn new(risk: &policy::Risk, exposure: &Exposure) -> Self {
        ConditionalUpdateRisk {
            name: risk.name.clone(),
            exposure: match exposure {
                Exposure::Applies { .. } => RiskExposure::Applies,
                Exposure::DoesNotApply { .. } => RiskExposure::DoesNotApply,
                Exposure::Unknown { .. } => RiskExposure::Unknown,
            },
            evidence: clip(exposure.evidence(), MAX_RISK_TEXT_CHARS).into_owned(),
            message: clip(&risk.message, MAX_RISK_TEXT_CHARS).into_owned(),
            url: risk.url.clone(),
        }
    }

    /// `FlannelRemoved (Applies: DaemonSet kube-system/kube-flannel-ds is present)`.
    pub fn line(&self) -> String {
        format!("{} ({}: {})", self.name, self.exposure.as_str(), self.evidence)
    }
}

impl ConditionalUpdate {
    /// The update to `version` with its evaluated risks; `None` for a release that declares none.
    pub fn new(version: &acp_policy::AcpVersion, risks: Vec<ConditionalUpdateRisk>) -> Option<Self> {
        if risks.is_empty() {
            return None;
        }
        Some(ConditionalUpdate {
            release: Release::version(version.to_string()),
            recommended: !risks.iter().any(|r| r.exposure.is_exposed()),
            risks,
        })
    }

    /// The risks this cluster is exposed to (Applies or Unknown).
    pub fn exposed(&self) -> impl Iterator<Item = &ConditionalUpdateRisk> {
        self.risks.iter().filter(|r| r.exposure.is_exposed())
    }
}

impl ClusterVersionShadowStatus {
    /// The conditional update to `version`, when that release declares risks.
    pub fn conditional_update(&self, version: &acp_policy::AcpVersion) -> Option<&ConditionalUpdate> {
        self.conditional_updates.iter().find(|u| {
            u.release
                .version
                .as_deref()
                .and_then(|v| v.parse::<acp_policy::AcpVersion>().ok())
                .as_ref()
                == Some(version)
        })
    }

    /// False when the update to `version` is exposed to a risk (Applies or Unknown). An update without
    /// risks, or not evaluated, is recommended.
    pub fn is_recommended(&self, version: &acp_policy::AcpVersion) -> bool {
        self.conditional_update(version).is_none_or(|u| u.recommended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_policy::{AcpVersion, Catalogue};

    #[test]
    fn a_release_risk_reads_back_as_the_policy_declared_it() {
        let catalogue = Catalogue::builtin();
        let release = catalogue.release(&AcpVersion::new(4, 3, 1)).unwrap();
        for risk in &release.risks {
            let wire = ReleaseRisk::from(risk);
            let back: policy::Risk = serde_json::from_value(serde_json::to_value(&wire).unwrap()).unwrap();
            assert_eq!(&back, risk);
        }
        // What a ProductManifest shows is what the CLI's catalogue reads back.
        let shown = crate::product_manifest::ResolvedRelease::from(release);
        assert_eq!(shown.support_data().unwrap().risks, release.risks);
        let json = serde_json::to_value(ReleaseRisk::from(&release.risks[0])).unwrap();
        assert_eq!(json["matchingRules"][0]["type"], "ObjectPresent");
        assert_eq!(
            json["matchingRules"][0]["objectPresent"]["name"],
            "kube-flannel-ds"
        );
    }

    #[test]
    fn an_update_is_recommended_only_when_no_risk_applies_or_is_unknown() {
        let release = Catalogue::builtin()
            .release(&AcpVersion::new(4, 3, 1))
            .unwrap()
            .clone();
        let (flannel, containerd) = (&release.risks[0], &release.risks[1]);
        let not = Exposure::DoesNotApply {
            evidence: "no DaemonSet".into(),
        };
        let applies = Exposure::Applies {
            evidence: "node n1 reports containerRuntimeVersion containerd://1.7".into(),
        };
        let unknown = Exposure::Unknown {
            why: "unreachable".into(),
        };
        let version = AcpVersion::new(4, 3, 1);
        // (exposures, recommended)
        let table = [
            (vec![&not, &not], true),
            (vec![&not, &applies], false),
            (vec![&unknown, &not], false),
        ];
        for (exposures, recommended) in table {
            let risks = [flannel, containerd]
                .iter()
                .zip(&exposures)
                .map(|(r, e)| ConditionalUpdateRisk::new(r, e))
                .collect();
            let update = ConditionalUpdate::new(&version, risks).unwrap();
            assert_eq!(update.recommended, recommended, "{exposures:?}");
            let status = ClusterVersionShadowStatus {
                conditional_updates: vec![update],
                ..Default::default()
            };
            assert_eq!(status.is_recommended(&version), recommended);
            assert!(status.is_recommended(&AcpVersion::new(4, 3, 0)), "not evaluated");
        }
        assert!(ConditionalUpdate::new(&version, vec![]).is_none());
        let long = Exposure::Applies {
            evidence: "x".repeat(5000),
        };
        let risk = ConditionalUpdateRisk::new(flannel, &long);
        assert_eq!(risk.evidence.chars().count(), MAX_RISK_TEXT_CHARS);
        assert_eq!(
            ConditionalUpdateRisk::new(containerd, &applies).line(),
            "Containerd2Baseline (Applies: node n1 reports containerRuntimeVersion containerd://1.7)"
        );
    }
}
