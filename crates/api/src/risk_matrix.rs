//! One release's known risks across the fleet: every cluster × every risk the release declares (Applies /
//! DoesNotApply / Unknown with the evidence, or why it is not evaluated), as each cluster's
//! `status.conditionalUpdates` reports it, and a count per risk. `ac adm release risks` prints it, the web
//! console shows it: one reading. Pure.

use acp_policy::AcpVersion;
use kube::ResourceExt;
use serde::Serialize;

use crate::ClusterVersionShadow;
use crate::risks::RiskExposure;

/// The matrix for one release.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Matrix {
    pub version: String,
    /// The risks the release declares, with how many clusters stand how towards each.
    pub risks: Vec<RiskCount>,
    pub clusters: Vec<ClusterRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskCount {
    pub name: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    pub applies: usize,
    pub unknown: usize,
    pub does_not_apply: usize,
    /// Clusters for which the release is not an evaluated update (not offered, or not evaluated yet).
    pub not_evaluated: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRow {
    pub cluster: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    pub risks: Vec<RiskCell>,
}

/// One cluster × one risk.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskCell {
    pub name: String,
    /// Applies, DoesNotApply, Unknown, or NotEvaluated.
    pub exposure: String,
    pub evidence: String,
}

/// The matrix of `clusters` against the risks `declared` by release `version` (name, message, url).
pub fn matrix(
    version: &AcpVersion,
    declared: &[(String, String, Option<String>)],
    clusters: &[ClusterVersionShadow],
) -> Matrix {
    let mut counts: Vec<RiskCount> = declared
        .iter()
        .map(|(name, message, url)| RiskCount {
            name: name.clone(),
            message: message.clone(),
            url: url.clone(),
            applies: 0,
            unknown: 0,
            does_not_apply: 0,
            not_evaluated: 0,
        })
        .collect();
    let rows = clusters
        .iter()
        .map(|cvsh| {
            let status = cvsh.status_or_default();
            let update = status.conditional_update(version);
            let not_evaluated = match (status.current_version(), update) {
                (Some(current), None) if current.parse::<AcpVersion>().ok().as_ref() >= Some(version) => {
                    format!("runs {current}")
                }
                (_, None)
                    if !status
                        .available_acp_versions()
                        .unwrap_or_default()
                        .contains(version) =>
                {
                    format!("{version} is not an available update of this cluster")
                }
                _ => "not evaluated yet".to_owned(),
            };
            let risks = counts
                .iter_mut()
                .map(|count| {
                    let found = update.and_then(|u| u.risks.iter().find(|r| r.name == count.name));
                    let (exposure, evidence) = match found {
                        Some(r) => {
                            match r.exposure {
                                RiskExposure::Applies => count.applies += 1,
                                RiskExposure::Unknown => count.unknown += 1,
                                RiskExposure::DoesNotApply => count.does_not_apply += 1,
                            }
                            (r.exposure.as_str().to_owned(), r.evidence.clone())
                        }
                        None => {
                            count.not_evaluated += 1;
                            ("NotEvaluated".to_owned(), not_evaluated.clone())
                        }
                    };
                    RiskCell {
                        name: count.name.clone(),
                        exposure,
                        evidence,
                    }
                })
                .collect();
            ClusterRow {
                cluster: cvsh.name_any(),
                current: status.current_version().map(str::to_owned),
                risks,
            }
        })
        .collect();
    Matrix {
        version: version.to_string(),
        risks: counts,
        clusters: rows,
    }
}
