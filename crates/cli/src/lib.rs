//! `ac`: the ACP command line (also installed as the kubectl plugin `kubectl-ac`).
//!
//! Exit codes follow kubectl: 0 success, 1 failure (including "refused" and "the upgrade is
//! blocked"), 2 usage. Every command that talks to a cluster builds one client from the kubeconfig and
//! makes only the requests it needs (no discovery), so `ac adm upgrade status` starts as fast as a
//! single `kubectl get`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub mod adm;
pub mod completion;
pub mod connect;
pub mod console;
pub mod errors;
pub mod humanize;
pub mod output;

/// Govern ACP platform versions: plan, run and inspect upgrades.
#[derive(Debug, Parser)]
#[command(name = "ac", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Administrative commands: upgrades, releases, clusters.
    Adm(adm::AdmArgs),
    /// Print a shell completion script: `source <(ac completion bash)`.
    Completion(completion::CompletionArgs),
    /// Serve the web console (the fleet, clusters, releases, rollouts) acting as you.
    Console(console::ConsoleArgs),
}

/// What a command reports back to `main`, beyond errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command did what was asked (exit 0).
    Success,
    /// The command ran but the answer is "no" (e.g. the upgrade is blocked) (exit 1).
    Refused,
}

/// True when started as `kubectl-ac` (by kubectl, as a plugin).
pub fn invoked_as_plugin() -> bool {
    let invoked = std::env::args_os().next().unwrap_or_default();
    std::path::Path::new(&invoked)
        .file_name()
        .is_some_and(|f| f.to_string_lossy().starts_with("kubectl-ac"))
}

/// The name help and usage lines show.
fn bin_name() -> &'static str {
    if invoked_as_plugin() { "kubectl ac" } else { "ac" }
}

/// The clap command, as completion scripts and help see it.
pub fn command() -> clap::Command {
    Cli::command().bin_name(bin_name())
}

/// Entry point of both binaries.
pub fn main() -> ExitCode {
    let matches = command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
    let mut stdout = std::io::stdout().lock();
    let result = match cli.command {
        Command::Adm(args) => run_async(adm::run(args, &mut stdout)),
        Command::Completion(args) => completion::run(&args, &mut stdout),
        // Serves many browsers at once: a multi-threaded runtime.
        Command::Console(args) => run_server(console::run(args, &mut stdout)),
    };
    let _ = stdout.flush();
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {}", error_text(&err));
            if is_usage_error(&err) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Errors that mean the command line itself is wrong, reported with clap's usage exit code (2): a
/// malformed release bundle reference found only once a command runs.
fn is_usage_error(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<acp_bundle::RefError>()
            || matches!(
                cause.downcast_ref::<acp_bundle::BundleError>(),
                Some(acp_bundle::BundleError::Reference(_))
            )
    })
}

/// The error and its causes joined by ": ", leaving out a cause its parent already quotes (many library
/// errors repeat their source in their own message).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// Runs a command on a single-threaded runtime: a CLI makes a handful of requests one after another,
/// and starting worker threads would only cost startup time.
fn run_async<F: std::future::Future<Output = anyhow::Result<Outcome>>>(future: F) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(future)
}

/// Runs a long-lived server on a multi-threaded runtime.
fn run_server<F: std::future::Future<Output = anyhow::Result<Outcome>>>(
    future: F,
) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    runtime.block_on(future)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_definitions_are_consistent() {
        // clap checks duplicate flags, bad groups and requirements only when asked (or at run time).
        super::command().debug_assert();
    }

    #[test]
    fn malformed_bundle_references_are_usage_errors_and_registry_failures_are_not() {
        let reference = || acp_bundle::BundleRef::parse("release:4.4.0").unwrap_err();
        let bundle_error = anyhow::Error::new(acp_bundle::BundleError::from(reference()));
        assert!(super::is_usage_error(&bundle_error));
        assert!(super::is_usage_error(
            &anyhow::Error::new(reference()).context("cannot publish")
        ));
        let missing = acp_bundle::BundleError::NotFound {
            reference: "registry.example.com/acp/release:4.4.0".into(),
        };
        assert!(!super::is_usage_error(&anyhow::Error::new(missing)));
    }

    #[test]
    fn repeated_causes_are_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let err = anyhow::Error::new(io)
            .context("failed to read x: No such file or directory")
            .context("cannot use x");
        assert_eq!(
            super::error_text(&err),
            "cannot use x: failed to read x: No such file or directory"
        );
    }
}
