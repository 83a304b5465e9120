//! Whether a cluster is exposed to a risk, from one fact per matching rule.

use super::Risk;
use crate::AcpVersion;

/// What one matching rule found on a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleFact {
    /// The rule could be evaluated: it matches or not, and the evidence says what was seen (the
    /// object, node or value).
    Evaluated { matches: bool, evidence: String },
    /// The rule could not be evaluated (cluster unreachable, access forbidden, …): why.
    Unevaluable { why: String },
}

impl RuleFact {
    pub fn matched(evidence: impl Into<String>) -> Self {
        RuleFact::Evaluated {
            matches: true,
            evidence: evidence.into(),
        }
    }

    pub fn not_matched(evidence: impl Into<String>) -> Self {
        RuleFact::Evaluated {
            matches: false,
            evidence: evidence.into(),
        }
    }

    pub fn unevaluable(why: impl Into<String>) -> Self {
        RuleFact::Unevaluable { why: why.into() }
    }
}

/// How a cluster stands towards one risk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exposure {
    /// The cluster is exposed; the evidence names what matched.
    Applies { evidence: String },
    /// The cluster is not exposed; the evidence says why.
    DoesNotApply { evidence: String },
    /// No rule could be evaluated: treated as applying until one can.
    Unknown { why: String },
}

impl Exposure {
    /// Applies or Unknown: the update is not recommended and an upgrade needs the risk accepted.
    pub fn is_exposed(&self) -> bool {
        !matches!(self, Exposure::DoesNotApply { .. })
    }

    /// `Applies`, `DoesNotApply` or `Unknown`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Exposure::Applies { .. } => "Applies",
            Exposure::DoesNotApply { .. } => "DoesNotApply",
            Exposure::Unknown { .. } => "Unknown",
        }
    }

    /// The evidence, or why it is unknown.
    pub fn evidence(&self) -> &str {
        match self {
            Exposure::Applies { evidence } | Exposure::DoesNotApply { evidence } => evidence,
            Exposure::Unknown { why } => why,
        }
    }
}

/// The exposure of a cluster upgrading from `current` to `risk`, given one fact per matching rule (in
/// the rules' order). Outside `appliesFrom` the risk does not apply whatever the rules say; with the
/// current version unknown it is Unknown. Otherwise the first rule that could be evaluated decides.
pub fn exposure(risk: &Risk, current: Option<&AcpVersion>, facts: &[RuleFact]) -> Exposure {
    if !risk.applies_from.is_empty() {
        let Some(current) = current else {
            return Exposure::Unknown {
                why: format!(
                    "the cluster's current version is unknown, and the risk applies only upgrading from {}",
                    risk.applies_from_text()
                ),
            };
        };
        if !risk.applies_from_version(current) {
            return Exposure::DoesNotApply {
                evidence: format!(
                    "upgrading from {current}, and the risk applies only upgrading from {}",
                    risk.applies_from_text()
                ),
            };
        }
    }
    let mut whys = Vec::new();
    for fact in facts.iter().take(risk.matching_rules.len()) {
        match fact {
            RuleFact::Evaluated {
                matches: true,
                evidence,
            } => {
                return Exposure::Applies {
                    evidence: evidence.clone(),
                };
            }
            RuleFact::Evaluated {
                matches: false,
                evidence,
            } => {
                return Exposure::DoesNotApply {
                    evidence: evidence.clone(),
                };
            }
            RuleFact::Unevaluable { why } => whys.push(why.clone()),
        }
    }
    if whys.is_empty() {
        whys.push("no matching rule was evaluated".into());
    }
    whys.dedup();
    Exposure::Unknown {
        why: format!("no rule could be evaluated: {}", whys.join("; ")),
    }
}
