//! `ac adm upgrade rollout …`: fleet rollouts. `plan` previews what a run would do now, writing
//! nothing; `start` creates an UpgradeRun; `status`, `list` read runs; `approve`, `pause`, `resume`,
//! `skip` change a run's spec. The acp-cvo operator does the rollout itself.

use std::io::Write;

use acp_api::k8s::Timestamp;
use acp_api::rollout::{UpgradeRun, UpgradeRunSpec};
use acp_policy::AcpVersion;
use clap::{Args, Subcommand};
use futures::StreamExt;
use kube::ResourceExt;
use kube::api::ObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;

use crate::Outcome;
use crate::adm::objects;
use crate::connect::{Connection, ConnectionArgs};
use crate::output::{self, Format};

pub mod api;
pub mod edit;
pub mod page;
pub mod preview;

#[derive(Debug, Args)]
pub struct RolloutArgs {
    #[command(subcommand)]
    command: RolloutCommand,
}

#[derive(Debug, Subcommand)]
enum RolloutCommand {
    /// Dry run: the plan a run would freeze now, and for every cluster whether it could start now or
    /// what holds it. Writes nothing.
    Plan(PlanArgs),
    /// Create an UpgradeRun that rolls a release over the fleet.
    Start(StartArgs),
    /// Where a run stands: stages, batches and clusters with progress, ETA, blockers and gates.
    Status(StatusArgs),
    /// Open a pending approval gate of a run.
    Approve(ApproveArgs),
    /// Start no further cluster (clusters already upgrading finish).
    Pause(RunArgs),
    /// Let a paused run start clusters again.
    Resume(RunArgs),
    /// Leave a cluster of a run's plan alone.
    Skip(SkipArgs),
    /// List the runs with their target, phase, stage and progress.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The version to roll out.
    #[arg(long, value_name = "VERSION")]
    to: AcpVersion,

    #[command(flatten)]
    strategy: api::StrategyArgs,

    /// Name of the run (default: upgrade-<version with dashes>), as the hints print it.
    #[arg(long, value_name = "RUN")]
    name: Option<String>,

    #[command(flatten)]
    connection: ConnectionArgs,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// The version to roll out.
    #[arg(long, value_name = "VERSION")]
    to: AcpVersion,

    #[command(flatten)]
    strategy: api::StrategyArgs,

    /// Name of the UpgradeRun (default: upgrade-<version with dashes>, e.g. upgrade-4-3-1).
    #[arg(long, value_name = "RUN")]
    name: Option<String>,

    /// Create the run paused: it freezes its plan and starts nothing until resumed.
    #[arg(long)]
    paused: bool,

    #[command(flatten)]
    connection: ConnectionArgs,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Name of the UpgradeRun.
    name: String,

    /// Print the run again on every change until it succeeds, halts, or Ctrl-C.
    #[arg(short, long)]
    watch: bool,

    #[command(flatten)]
    connection: ConnectionArgs,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// Name of the UpgradeRun.
    name: String,

    /// The gate: `<stage>-before` or `<stage>-after`, as `status` lists it.
    gate: String,

    #[command(flatten)]
    connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Name of the UpgradeRun.
    name: String,

    #[command(flatten)]
    connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct SkipArgs {
    /// Name of the UpgradeRun.
    name: String,

    /// The cluster (name of its ClusterVersionShadow) the run must not start.
    cluster: String,

    #[command(flatten)]
    connection: ConnectionArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connection: ConnectionArgs,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(args: RolloutArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match args.command {
        RolloutCommand::Plan(args) => plan(args, out).await,
        RolloutCommand::Start(args) => start(args, out).await,
        RolloutCommand::Status(args) => status(args, out).await,
        RolloutCommand::Approve(args) => {
            let conn = Connection::open(&args.connection).await?;
            let message = api::edit_run(&conn, &args.name, |run| edit::approve(run, &args.gate)).await?;
            writeln!(out, "{message}")?;
            Ok(Outcome::Success)
        }
        RolloutCommand::Pause(args) => simple_edit(args, out, edit::pause).await,
        RolloutCommand::Resume(args) => simple_edit(args, out, edit::resume).await,
        RolloutCommand::Skip(args) => {
            let conn = Connection::open(&args.connection).await?;
            let message = api::edit_run(&conn, &args.name, |run| edit::skip(run, &args.cluster)).await?;
            writeln!(out, "{message}")?;
            Ok(Outcome::Success)
        }
        RolloutCommand::List(args) => list(args, out).await,
    }
}

async fn simple_edit(
    args: RunArgs,
    out: &mut dyn Write,
    decide: fn(&UpgradeRun) -> edit::Edit,
) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let message = api::edit_run(&conn, &args.name, |run| Ok(decide(run))).await?;
    writeln!(out, "{message}")?;
    Ok(Outcome::Success)
}

/// `upgrade-4-3-1` for 4.3.1.
pub fn default_run_name(version: &AcpVersion) -> String {
    format!("upgrade-{}", version.to_string().replace(['.', '+'], "-"))
}

async fn plan(args: PlanArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let strategy = args.strategy.load(&conn).await?;
    let shadows = objects::list_cvsh(&conn).await?;
    let name = args.name.unwrap_or_else(|| default_run_name(&args.to));
    let windows = maintenance_windows(&conn).await;
    let preview = preview::compute(&name, &args.to, &strategy, &shadows, &windows, Timestamp::now())?;
    if args.output.is_human() {
        out.write_all(preview::render(&preview, output::colour_enabled()).as_bytes())?;
    } else {
        output::write_machine(out, args.output, &preview)?;
    }
    Ok(Outcome::Success)
}

/// The MaintenanceWindows the clusters may name; a failure to read them holds the labelled clusters
/// in the preview (as it holds them in a run), it does not fail the command.
async fn maintenance_windows(conn: &Connection) -> preview::Windows {
    let api: kube::Api<acp_api::maintenance_window::MaintenanceWindow> =
        kube::Api::namespaced(conn.client.clone(), &conn.namespace);
    match api.list(&kube::api::ListParams::default()).await {
        Ok(list) => Ok(list
            .items
            .into_iter()
            .map(|w| (w.metadata.name.unwrap_or_default(), w.spec))
            .collect()),
        Err(err) => Err(err.to_string()),
    }
}

/// The UpgradeRun `start` creates.
fn new_run(
    name: &str,
    namespace: &str,
    target: &AcpVersion,
    strategy: &api::Strategy,
    paused: bool,
) -> UpgradeRun {
    UpgradeRun {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        spec: UpgradeRunSpec {
            target_version: target.to_string(),
            strategy_ref: strategy.name.clone(),
            strategy: strategy.name.is_none().then(|| strategy.spec.clone()),
            paused,
            ..UpgradeRunSpec::default()
        },
        status: None,
    }
}

async fn start(args: StartArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    // A strategy that does not resolve is refused here, before anything is created.
    let strategy = args.strategy.load(&conn).await?;
    let name = args.name.clone().unwrap_or_else(|| default_run_name(&args.to));
    let run = new_run(&name, &conn.namespace, &args.to, &strategy, args.paused);
    let created = api::create_run(&conn, &run).await?;
    if !args.output.is_human() {
        output::write_machine(out, args.output, &created)?;
        return Ok(Outcome::Success);
    }
    let paused = if args.paused {
        format!(" It is paused: it starts no cluster until `ac adm upgrade rollout resume {name}`.")
    } else {
        String::new()
    };
    writeln!(
        out,
        "UpgradeRun {name} created: rolls {} over the fleet by {}.{paused} Follow it with `ac adm upgrade rollout status {name} --watch`.",
        args.to, strategy.origin
    )?;
    Ok(Outcome::Success)
}

fn write_run(out: &mut dyn Write, format: Format, run: &UpgradeRun) -> anyhow::Result<()> {
    if format.is_human() {
        out.write_all(page::render(run, Timestamp::now(), output::colour_enabled()).as_bytes())?;
        Ok(())
    } else {
        output::write_machine(out, format, run)
    }
}

/// Halted and Invalid runs need a person: exit 1, like a stalled upgrade.
fn outcome(run: &UpgradeRun) -> Outcome {
    match page::phase(run) {
        acp_api::rollout::RunPhase::Halted | acp_api::rollout::RunPhase::Invalid => Outcome::Refused,
        _ => Outcome::Success,
    }
}

async fn status(args: StatusArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let name = &args.name;
    let first = api::get_run(&conn, name).await?;
    write_run(out, args.output, &first)?;
    if !args.watch || page::is_final(&first) {
        return Ok(if args.watch {
            outcome(&first)
        } else {
            Outcome::Success
        });
    }
    out.flush()?;
    // One watch on the one object: a page per change, no polling.
    let mut last = first.resource_version();
    let stream = watcher::watch_object(api::runs(&conn), name).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let mut outage = false;
    loop {
        let item = tokio::select! {
            _ = &mut ctrl_c => return Ok(Outcome::Success),
            item = stream.next() => item,
        };
        match item {
            None => anyhow::bail!("the watch of UpgradeRun `{name}` ended; run the command again"),
            Some(Ok(None)) => anyhow::bail!(
                "UpgradeRun `{name}` was deleted; clusters it started go on upgrading, see `ac adm cluster list`"
            ),
            Some(Ok(Some(run))) => {
                outage = false;
                if run.resource_version() == last {
                    continue;
                }
                last = run.resource_version();
                // Pages (and YAML documents) are separated by `---`; JSON documents simply follow each other.
                if args.output != Format::Json {
                    writeln!(out, "---")?;
                }
                write_run(out, args.output, &run)?;
                out.flush()?;
                if page::is_final(&run) {
                    return Ok(outcome(&run));
                }
            }
            Some(Err(e)) => {
                let request = api::run_request(&conn, "watch", name);
                let inner = match &e {
                    watcher::Error::InitialListFailed(e)
                    | watcher::Error::WatchStartFailed(e)
                    | watcher::Error::WatchFailed(e) => Some(e),
                    _ => None,
                };
                if let Some(inner) = inner
                    && matches!(inner, kube::Error::Api(s) if matches!(s.code, 401 | 403 | 404))
                {
                    return Err(anyhow::anyhow!(request.message(inner)));
                }
                if !outage {
                    let message = inner.map_or_else(|| e.to_string(), |e| request.message(e));
                    eprintln!("{message}; retrying");
                    outage = true;
                }
            }
        }
    }
}

async fn list(args: ListArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let mut runs = api::list_runs(&conn).await?;
    runs.sort_by_key(|r| r.name_any());
    if !args.output.is_human() {
        return output::write_machine(out, args.output, &output::list_of(&runs)?).map(|()| Outcome::Success);
    }
    if runs.is_empty() {
        writeln!(
            out,
            "No UpgradeRuns in namespace {}. Preview one with `ac adm upgrade rollout plan --to VERSION --strategy NAME`.",
            conn.namespace
        )?;
    } else {
        out.write_all(page::list(&runs, Timestamp::now(), output::colour_enabled()).as_bytes())?;
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: RolloutCommand,
    }

    fn parse(args: &[&str]) -> Result<RolloutCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("rollout").chain(args.iter().copied())).map(|c| c.command)
    }

    #[test]
    fn a_strategy_is_named_or_given_as_a_file_never_both() {
        let Ok(RolloutCommand::Plan(plan)) = parse(&["plan", "--to", "4.3.1", "--strategy", "waves"]) else {
            panic!()
        };
        assert_eq!(plan.strategy.strategy.as_deref(), Some("waves"));
        assert_eq!(plan.connection.namespace, "cpaas-system");
        assert!(
            matches!(parse(&["start", "--to", "4.3.1", "-f", "s.yaml", "--paused"]), Ok(RolloutCommand::Start(s)) if s.paused)
        );
        let both = parse(&["plan", "--to", "4.3.1", "--strategy", "w", "-f", "s.yaml"]).unwrap_err();
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
        let neither = parse(&["start", "--to", "4.3.1"]).unwrap_err();
        assert_eq!(neither.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        let bad = parse(&["plan", "--to", "4.x", "--strategy", "w"]).unwrap_err();
        assert_eq!(bad.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn a_run_is_named_after_its_version_and_takes_the_strategy_by_reference_or_inline() {
        let version: AcpVersion = "4.3.1".parse().unwrap();
        assert_eq!(default_run_name(&version), "upgrade-4-3-1");
        let spec: acp_api::rollout::UpgradeStrategySpec =
            serde_json::from_value(serde_json::json!({"stages": [{"name": "all"}]})).unwrap();
        let resolved = acp_api::rollout::resolve::resolve(&spec, "spec").unwrap();
        let mut strategy = api::Strategy {
            origin: "x".into(),
            name: Some("waves".into()),
            flag: String::new(),
            spec,
            resolved,
        };
        let by_name = new_run("r", "cpaas-system", &version, &strategy, false);
        assert_eq!(
            (
                by_name.spec.strategy_ref.as_deref(),
                by_name.spec.strategy.is_some()
            ),
            (Some("waves"), false)
        );
        strategy.name = None;
        let inline = new_run("r", "cpaas-system", &version, &strategy, true);
        assert_eq!(
            (
                inline.spec.strategy_ref.as_deref(),
                inline.spec.strategy.is_some(),
                inline.spec.paused
            ),
            (None, true, true)
        );
        assert_eq!(inline.spec.target_version, "4.3.1");
    }
}
