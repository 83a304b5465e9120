//! `ac adm ...`: administrative commands.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::Outcome;

pub mod cluster;
pub mod objects;
pub mod release;
pub mod upgrade;

#[derive(Debug, Args)]
pub struct AdmArgs {
    #[command(subcommand)]
    command: AdmCommand,
}

#[derive(Debug, Subcommand)]
enum AdmCommand {
    /// Show a cluster's version and available updates; request, force or cancel an upgrade.
    Upgrade(upgrade::UpgradeArgs),
    /// Publish and inspect release bundles; make releases available (ProductManifest) and list them.
    Release(release::ReleaseArgs),
    /// Register managed clusters and list them.
    Cluster(cluster::ClusterArgs),
}

pub async fn run(args: AdmArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match args.command {
        AdmCommand::Upgrade(args) => upgrade::run(args, out).await,
        AdmCommand::Release(args) => release::run(args, out).await,
        AdmCommand::Cluster(args) => cluster::run(args, out).await,
    }
}
