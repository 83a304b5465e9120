//! `ac adm release push --file BUNDLE.yaml --to REF`: publish a release bundle to a registry.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use acp_bundle::{Bundle, BundleError, BundleRef};
use anyhow::Context;
use clap::Args;

use super::registry::{self, RegistryArgs};
use crate::Outcome;
use crate::humanize;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The release bundle: one `kind: ProductRelease` YAML document.
    #[arg(long, value_name = "BUNDLE.yaml")]
    file: PathBuf,

    /// Where to publish: REGISTRY/REPOSITORY (tagged with the bundle's version) or
    /// REGISTRY/REPOSITORY:TAG.
    #[arg(long, value_name = "REF", value_parser = registry::parse_destination)]
    to: String,

    /// Deadline of each registry operation (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = humanize::parse_duration, default_value = "30s")]
    timeout: Duration,

    #[command(flatten)]
    registry: RegistryArgs,
}

pub async fn run(args: PushArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let file = args.file.display();
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read release bundle {file}; check the path given to --file"))?;
    let bundle = Bundle::from_yaml(text).with_context(|| format!("cannot publish {file}"))?;
    let to = BundleRef::for_push(&args.to, bundle.version()).map_err(BundleError::from)?;
    let client = args.registry.client(args.timeout)?;
    let digest = acp_bundle::push(&client, &bundle, &to)
        .await
        .map_err(|e| registry::explain(e, &client))?;
    let pinned = to.pinned(&digest);
    writeln!(out, "Pushed ACP {} to {pinned}", bundle.version())?;
    writeln!(
        out,
        "Next, offer it to the platform: ac adm release import-manifest --image {pinned}"
    )?;
    Ok(Outcome::Success)
}
