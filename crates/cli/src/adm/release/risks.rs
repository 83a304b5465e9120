//! `ac adm release risks VERSION`: the fleet at a glance against one release's known risks — every
//! registered cluster × every risk (Applies / DoesNotApply / Unknown, with the evidence), as each
//! cluster's `status.conditionalUpdates` reports it, and a count per risk.

use std::io::Write;

use acp_api::ClusterVersionShadow;
use acp_api::risks::RiskExposure;
use acp_policy::AcpVersion;
use clap::Args;
use kube::ResourceExt;
use serde::Serialize;

use crate::Outcome;
use crate::connect::{Connection, ConnectionArgs};
use crate::output::{self, Cell, Format, Style, Table};

#[derive(Debug, Args)]
pub struct RisksArgs {
    /// The release, e.g. 4.3.1.
    #[arg(value_name = "VERSION")]
    version: AcpVersion,

    #[command(flatten)]
    connection: ConnectionArgs,

    /// Output format (json and yaml print the matrix and the counts).
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

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

pub async fn run(args: RisksArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let manifests = crate::adm::objects::list_manifests(&conn).await?;
    let known = acp_api::catalogue::from_manifests(&manifests);
    let Some(release) = known.catalogue.release(&args.version) else {
        anyhow::bail!(
            "release {} is not known: neither built in nor resolved by a Ready ProductManifest; import it with \
             `ac adm release import-manifest --version={}`",
            args.version,
            args.version
        );
    };
    let declared: Vec<(String, String, Option<String>)> = release
        .risks
        .iter()
        .map(|r| (r.name.clone(), r.message.clone(), r.url.clone()))
        .collect();
    let mut clusters = crate::adm::objects::list_cvsh(&conn).await?;
    clusters.sort_by_key(|c| c.name_any());
    let matrix = matrix(&args.version, &declared, &clusters);
    if args.output.is_human() {
        out.write_all(render(&matrix, output::colour_enabled()).as_bytes())?;
    } else {
        output::write_machine(out, args.output, &matrix)?;
    }
    Ok(Outcome::Success)
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

/// CLUSTER, CURRENT, RISK, EXPOSURE, EVIDENCE; then one line per risk with its counts. Pure.
pub fn render(matrix: &Matrix, colour: bool) -> String {
    if matrix.risks.is_empty() {
        return format!("ACP {} declares no known risks.\n", matrix.version);
    }
    let mut table = Table::new(&["CLUSTER", "CURRENT", "RISK", "EXPOSURE", "EVIDENCE"]);
    for row in &matrix.clusters {
        for cell in &row.risks {
            let style = match cell.exposure.as_str() {
                "Applies" => Style::Bad,
                "Unknown" => Style::Warn,
                "DoesNotApply" => Style::Good,
                _ => Style::Plain,
            };
            table.row(vec![
                row.cluster.clone().into(),
                row.current.clone().unwrap_or_else(|| "-".into()).into(),
                cell.name.clone().into(),
                Cell::styled(cell.exposure.clone(), style),
                cell.evidence.clone().into(),
            ]);
        }
    }
    let mut out = if matrix.clusters.is_empty() {
        "No clusters are registered.\n".to_owned()
    } else {
        table.to_text(colour)
    };
    out += "\n";
    for risk in &matrix.risks {
        out += &format!(
            "{}: {} applies, {} unknown, {} does not apply, {} not evaluated\n  {}\n",
            risk.name, risk.applies, risk.unknown, risk.does_not_apply, risk.not_evaluated, risk.message
        );
        if let Some(url) = &risk.url {
            out += &format!("  {url}\n");
        }
    }
    out
}
