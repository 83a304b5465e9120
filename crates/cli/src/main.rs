//! `ac`: the ACP command line (also usable as the kubectl plugin `kubectl-ac`).
//!
//! Exit codes follow kubectl: 0 success, 1 failure (including "the upgrade is blocked"), 2 usage.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod adm;
mod output;

/// Govern ACP platform versions: plan, run and inspect upgrades.
#[derive(Debug, Parser)]
#[command(name = "ac", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Administrative commands: upgrades, releases, clusters.
    Adm(adm::AdmArgs),
}

/// What a command reports back to `main`, beyond errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command did what was asked (exit 0).
    Success,
    /// The command ran but the answer is "no" (e.g. the upgrade is blocked) (exit 1).
    Refused,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut stdout = std::io::stdout().lock();
    let result = match cli.command {
        Command::Adm(args) => adm::run(args, &mut stdout),
    };
    let _ = stdout.flush();
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
