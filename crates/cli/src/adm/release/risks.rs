//! `ac adm release risks VERSION`: the fleet at a glance against one release's known risks — every
//! registered cluster × every risk (Applies / DoesNotApply / Unknown, with the evidence), as each
//! cluster's `status.conditionalUpdates` reports it, and a count per risk.

use std::io::Write;

use acp_policy::AcpVersion;
use clap::Args;
use kube::ResourceExt;

pub use acp_api::risk_matrix::{ClusterRow, Matrix, RiskCell, RiskCount, matrix};

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
