//! `ac adm ...`: administrative commands.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::Outcome;

pub mod upgrade;

#[derive(Debug, Args)]
pub struct AdmArgs {
    #[command(subcommand)]
    command: AdmCommand,
}

#[derive(Debug, Subcommand)]
enum AdmCommand {
    /// Plan and run platform upgrades.
    Upgrade(upgrade::UpgradeArgs),
}

pub fn run(args: AdmArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match args.command {
        AdmCommand::Upgrade(args) => upgrade::run(args, out),
    }
}
