//! `ac adm upgrade ...`.

use std::io::Write;

use clap::{Args, Subcommand};

use crate::Outcome;

pub mod inventory;
pub mod plan;

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    #[command(subcommand)]
    command: UpgradeCommand,
}

#[derive(Debug, Subcommand)]
enum UpgradeCommand {
    /// Evaluate the upgrade policy offline over an inventory file: may the platform move to a
    /// version, and what holds it back?
    Plan(plan::PlanArgs),
}

pub fn run(args: UpgradeArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match args.command {
        UpgradeCommand::Plan(args) => plan::run(&args, out),
    }
}
