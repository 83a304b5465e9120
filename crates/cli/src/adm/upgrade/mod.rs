//! `ac adm upgrade [--to V | --to-latest | --clear]`, `ac adm upgrade status`, `ac adm upgrade plan`.

use std::io::Write;
use std::time::{Duration, Instant};

use acp_api::k8s::Timestamp;
use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use kube::ResourceExt;

use crate::Outcome;
use crate::adm::objects;
use crate::connect::{ClusterArgs, Connection, ConnectionArgs};
use crate::humanize;
use crate::output::{self, Format};

pub mod inventory;
pub mod plan;
pub mod request;
pub mod rollout;
pub mod show;
pub mod status;
pub mod window;

/// Without flags: the cluster's version, conditions, available updates, and whether the newest could
/// start now. With --to/--to-latest/--clear: request or cancel an upgrade.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    group(ArgGroup::new("target").args(["to", "to_latest"]))
)]
pub struct UpgradeArgs {
    #[command(subcommand)]
    command: Option<UpgradeCommand>,

    #[command(flatten)]
    request: request::RequestArgs,

    #[command(flatten)]
    connection: ConnectionArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// Output format (without --to/--to-latest/--clear).
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Debug, Subcommand)]
enum UpgradeCommand {
    /// How an upgrade is going: assessment, completion, ETA, preflight, stages, operations, history.
    Status(StatusArgs),
    /// Evaluate the upgrade policy offline over an inventory file: may the platform move to a
    /// version, and what holds it back?
    Plan(plan::PlanArgs),
    /// Roll a release over the fleet of workload clusters by a strategy: plan, start, status, approve,
    /// pause, resume, skip, list.
    Rollout(rollout::RolloutArgs),
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    connection: ConnectionArgs,

    #[command(flatten)]
    cluster: ClusterArgs,

    /// Show every history entry (default: the newest few) and full preflight messages.
    #[arg(short, long)]
    verbose: bool,

    /// Redraw until the upgrade completes or stalls.
    #[arg(short, long)]
    watch: bool,

    /// With --watch: give up after this long (e.g. 30m); exit 1 if the upgrade has not finished.
    #[arg(long, value_name = "DURATION", value_parser = humanize::parse_duration, requires = "watch")]
    timeout: Option<Duration>,

    /// With --watch: how often to read the cluster.
    #[arg(long, value_name = "DURATION", value_parser = humanize::parse_duration, default_value = "2s")]
    interval: Duration,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(args: UpgradeArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match args.command {
        Some(UpgradeCommand::Plan(plan)) => plan::run(&plan, out),
        Some(UpgradeCommand::Status(status)) => run_status(status, out).await,
        Some(UpgradeCommand::Rollout(rollout)) => rollout::run(rollout, out).await,
        None => run_upgrade(args, out).await,
    }
}

async fn run_upgrade(args: UpgradeArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let cvsh = objects::get_cvsh(&conn, &args.cluster.cluster).await?;
    let Some(request) = args.request.request() else {
        if args.output.is_human() {
            let now = Timestamp::now();
            let window = window::read(&conn, &cvsh).await.map(|w| window::line(&w, now));
            let page = show::render(
                &cvsh,
                now,
                args.output == Format::Wide,
                output::colour_enabled(),
                window.as_deref(),
            );
            out.write_all(page.as_bytes())?;
        } else {
            output::write_machine(out, args.output, &cvsh)?;
        }
        return Ok(Outcome::Success);
    };
    match request::decide(&cvsh, &request)? {
        request::Action::Nothing { message } => writeln!(out, "{message}")?,
        request::Action::Patch {
            body,
            message,
            warnings,
        } => {
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            objects::merge_patch_cvsh(&conn, &cvsh.name_any(), &body).await?;
            writeln!(out, "{message}")?;
        }
    }
    Ok(Outcome::Success)
}

/// How long `--watch` keeps retrying an API server that does not answer before it gives up.
const MAX_OUTAGE: Duration = Duration::from_secs(300);

async fn run_status(args: StatusArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let name = &args.cluster.cluster;
    if !args.watch {
        let cvsh = objects::get_cvsh(&conn, name).await?;
        let window = window::read(&conn, &cvsh).await;
        write_status(out, &args, &cvsh, window.as_ref(), false)?;
        return Ok(Outcome::Success);
    }

    let started = Instant::now();
    let terminal = output::stdout_is_terminal() && args.output.is_human();
    let mut last_version: Option<String> = None;
    let mut outage: Option<Instant> = None;
    loop {
        let cvsh = match objects::watch_cvsh(&conn, name).await? {
            objects::Watched::Seen(cvsh) => {
                if outage.take().is_some() {
                    eprintln!("reached the API server again; following the upgrade of cluster {name}");
                }
                *cvsh
            }
            objects::Watched::Unreachable(message) => {
                // The global cluster's own API server restarts during its Kubernetes hop: keep following.
                let since = *outage.get_or_insert_with(|| {
                    eprintln!(
                        "{message}; retrying (the API server may be restarting as part of the upgrade)"
                    );
                    Instant::now()
                });
                let timed_out = args.timeout.filter(|t| started.elapsed() >= *t);
                if since.elapsed() >= MAX_OUTAGE || timed_out.is_some() {
                    let why = match timed_out {
                        Some(t) => format!("--timeout {} ran out", humanize::duration(t)),
                        None => format!("no answer for {}", humanize::duration(MAX_OUTAGE)),
                    };
                    anyhow::bail!(
                        "{message}; {why}, so the watch gave up: check that the API server is up, then run \
                         `ac adm upgrade status --cluster {name} --watch` again"
                    );
                }
                tokio::time::sleep(args.interval).await;
                continue;
            }
        };
        let summary = status::summarize(&cvsh, Timestamp::now());
        // Off a terminal, print a page only when the object changed; on one, redraw every time so ages
        // and the ETA stay current.
        let version = cvsh.resource_version();
        if terminal || version != last_version {
            let window = window::read(&conn, &cvsh).await;
            write_status(out, &args, &cvsh, window.as_ref(), terminal)?;
            out.flush()?;
            last_version = version;
        }
        if summary.is_final() {
            return Ok(match summary.reading.state {
                acp_api::cvsh::State::Stalled { .. } => Outcome::Refused,
                _ => Outcome::Success,
            });
        }
        if let Some(timeout) = args.timeout
            && started.elapsed() >= timeout
        {
            anyhow::bail!(
                "gave up after {} waiting for the upgrade of cluster {name}: it is still {} ({}% done); \
                 run `ac adm upgrade status --cluster {name} --watch` again to keep following it",
                humanize::duration(timeout),
                summary.assessment(),
                summary.percent
            );
        }
        tokio::time::sleep(args.interval).await;
    }
}

/// One page of `status`; `redraw` clears the terminal first and adds a progress bar.
fn write_status(
    out: &mut dyn Write,
    args: &StatusArgs,
    cvsh: &acp_api::ClusterVersionShadow,
    window: Option<&window::WindowFact>,
    redraw: bool,
) -> anyhow::Result<()> {
    if !args.output.is_human() {
        return output::write_machine(out, args.output, cvsh);
    }
    let now = Timestamp::now();
    let window = window.map(|w| window::line(w, now));
    let page = status::render(
        cvsh,
        now,
        args.verbose,
        args.output == Format::Wide || args.verbose,
        output::colour_enabled(),
        window.as_deref(),
    );
    if redraw {
        // Home the cursor and clear the screen, then draw the page and the bar below it.
        write!(out, "\x1b[H\x1b[2J")?;
        out.write_all(page.as_bytes())?;
        let summary = status::summarize(cvsh, now);
        writeln!(
            out,
            "\n{} {}",
            status::progress_bar(summary.percent, 40),
            summary.assessment()
        )
        .context("cannot write to the terminal")?;
    } else {
        if args.watch {
            writeln!(out, "---")?;
        }
        out.write_all(page.as_bytes())?;
    }
    Ok(())
}
