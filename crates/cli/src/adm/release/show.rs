//! `ac adm release show REF`: what a published release bundle supports and applies.
//!
//! Rendering is pure (a pulled bundle in, text out) so it is tested on the sample bundle.

use std::io::Write;
use std::time::Duration;

use acp_bundle::{BundleRef, PulledBundle};
use acp_policy::release::minors_text;
use acp_policy::{GlobalUpgradeRule, ProductRelease};
use anyhow::Context;
use clap::{Args, ValueEnum};

use super::registry::{self, RegistryArgs};
use crate::Outcome;
use crate::humanize;
use crate::output::{self, Table};

/// `-o` values of `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ShowFormat {
    /// The release summarised for people.
    #[default]
    Table,
    /// The bundle document exactly as published.
    Yaml,
    /// The release as JSON.
    Json,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The bundle: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST.
    #[arg(value_name = "REF", value_parser = BundleRef::parse)]
    reference: BundleRef,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: ShowFormat,

    /// Deadline of each registry operation (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = humanize::parse_duration, default_value = "30s")]
    timeout: Duration,

    #[command(flatten)]
    registry: RegistryArgs,
}

pub async fn run(args: ShowArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let client = args.registry.client(args.timeout)?;
    let bundle = acp_bundle::pull(&client, &args.reference)
        .await
        .map_err(|e| registry::explain(e, &client))?;
    match args.output {
        ShowFormat::Table => out.write_all(render(&bundle, output::colour_enabled()).as_bytes())?,
        // Verbatim: what a registry holds is what its author wrote, comments included.
        ShowFormat::Yaml => out.write_all(bundle.yaml.as_bytes())?,
        ShowFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &bundle.release).context("cannot write JSON")?;
            writeln!(out)?;
        }
    }
    Ok(Outcome::Success)
}

/// The summary page: where the bundle is, its Kubernetes support, upgrade sources, admin gates and
/// modules. Pure.
pub fn render(bundle: &PulledBundle, colour: bool) -> String {
    let release = &bundle.release;
    let kubernetes = &release.kubernetes;
    let field = |label: &str, value: &str| format!("{label:<22}{value}\n");
    let mut out = String::new();

    out += &field("Release bundle:", &bundle.reference.to_string());
    out += &field("Digest:", &bundle.digest);
    out += &field("Version:", &format!("ACP {}", release.version));
    out += &field("Kubernetes:", &kubernetes_text(release));
    out += &field("Compatible minors:", &kubernetes.compatible_text());
    out += &field(
        "Third-party range:",
        &kubernetes.third_party_range.as_ref().map_or_else(
            || "none published: imported clusters must run a compatible minor".to_owned(),
            ToString::to_string,
        ),
    );
    out += &field("Global upgrade rule:", &rule_text(release));
    out += &field("Upgrade from:", &release.upgrade_from_text());
    if let Some(end) = &release.end_of_support {
        out += &field("End of support:", end);
    }

    out += "\n";
    if release.admin_gates.is_empty() {
        out += "Admin gates: none\n";
    } else {
        out += "Admin gates (acknowledged in ConfigMap cpaas-system/admin-acks with \"<gate>\": \"true\"):\n";
        let mut table = Table::new(&["NAME", "MESSAGE"]);
        for gate in &release.admin_gates {
            table.row(vec![gate.name.clone().into(), gate.message.clone().into()]);
        }
        out += &table.to_text(colour);
    }

    out += "\n";
    if release.modules.is_empty() {
        out += "Modules: none (a support-only release: upgrading to it applies nothing)\n";
    } else {
        out += "Modules:\n";
        let mut table = Table::new(&["NAME", "LIFECYCLE", "VERSION", "DEPENDS-ON", "OBJECTS"]);
        for module in &release.modules {
            let depends_on = if module.depends_on.is_empty() {
                "-".to_owned()
            } else {
                module.depends_on.join(", ")
            };
            table.row(vec![
                module.name.clone().into(),
                format!("{:?}", module.lifecycle).into(),
                module.version.clone().into(),
                depends_on.into(),
                module.manifests.len().to_string().into(),
            ]);
        }
        out += &table.to_text(colour);
    }
    out
}

/// `v1.34.5; new clusters on 1.34`, or `patch not stated; new clusters on 1.35`.
fn kubernetes_text(release: &ProductRelease) -> String {
    let kubernetes = &release.kubernetes;
    let version = kubernetes
        .version
        .as_ref()
        .map_or_else(|| "patch not stated".to_owned(), ToString::to_string);
    if kubernetes.creation.is_empty() {
        version
    } else {
        format!("{version}; new clusters on {}", minors_text(&kubernetes.creation))
    }
}

/// The rule and what it asks of workload clusters, saying when the version implies it.
fn rule_text(release: &ProductRelease) -> String {
    let rule = release.global_upgrade_rule();
    let meaning = match rule {
        GlobalUpgradeRule::WithinCompatibleRange => "workload clusters may run any compatible minor",
        GlobalUpgradeRule::LatestCompatibleRequired => {
            "workload clusters must first run the newest minor both releases accept"
        }
    };
    let implied = if release.kubernetes.global_upgrade_rule.is_none() {
        ", implied by the version"
    } else {
        ""
    };
    format!("{rule} ({meaning}{implied})")
}
