//! The reads and writes of UpgradeRun and UpgradeStrategy objects, and where a strategy comes from
//! (`--strategy NAME` or `-f FILE`), with errors that say what to do next.

use std::path::{Path, PathBuf};

use acp_api::names;
use acp_api::rollout::resolve::{Resolved, resolve};
use acp_api::rollout::{UpgradeRun, UpgradeStrategy, UpgradeStrategySpec};
use anyhow::Context;
use clap::{ArgGroup, Args};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::Value;

use crate::connect::Connection;
use crate::errors::{Kind, Request};

/// `--strategy NAME` or `-f FILE`: the strategy a plan or a run uses.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("strategy_source").args(["strategy", "file"]).required(true)))]
pub struct StrategyArgs {
    /// Name of an UpgradeStrategy in the namespace.
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,

    /// A strategy file: an UpgradeStrategy object, or just its spec (YAML or JSON).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// A strategy read and checked.
pub struct Strategy {
    /// `UpgradeStrategy x` or `strategy file F`, for messages.
    pub origin: String,
    /// The UpgradeStrategy's name when it came from the cluster.
    pub name: Option<String>,
    /// `--strategy NAME` or `-f FILE`: how to name the same strategy again.
    pub flag: String,
    pub spec: UpgradeStrategySpec,
    pub resolved: Resolved,
}

impl StrategyArgs {
    /// Reads the strategy and checks it; a refusal names the field and says how to fix it.
    pub async fn load(&self, conn: &Connection) -> anyhow::Result<Strategy> {
        match (&self.strategy, &self.file) {
            (Some(name), _) => {
                let object = get_strategy(conn, name).await?;
                let origin = format!("UpgradeStrategy `{name}`");
                let resolved = resolve(&object.spec, "spec").map_err(|e| {
                    anyhow::anyhow!(
                        "{origin} in namespace {} cannot be used: {e}; fix it with `kubectl edit upgradestrategy {name} -n {}`",
                        conn.namespace,
                        conn.namespace
                    )
                })?;
                Ok(Strategy {
                    origin,
                    name: Some(name.clone()),
                    flag: format!("--strategy {name}"),
                    spec: object.spec,
                    resolved,
                })
            }
            (None, Some(path)) => load_file(path),
            (None, None) => anyhow::bail!("give the strategy with --strategy NAME or -f FILE"),
        }
    }
}

/// A strategy file: a whole UpgradeStrategy object (fields under `spec`) or a bare spec.
pub fn load_file(path: &Path) -> anyhow::Result<Strategy> {
    let origin = format!("strategy file {}", path.display());
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {origin}; check the path given to -f"))?;
    let (spec, prefix) =
        parse_strategy(&text).with_context(|| format!("{origin} is not an UpgradeStrategy"))?;
    let resolved = resolve(&spec, prefix).map_err(|e| anyhow::anyhow!("{origin} cannot be used: {e}"))?;
    Ok(Strategy {
        origin,
        name: None,
        flag: format!("-f {}", path.display()),
        spec,
        resolved,
    })
}

/// The spec in a strategy document, and the prefix refusals put before its fields.
pub fn parse_strategy(text: &str) -> anyhow::Result<(UpgradeStrategySpec, &'static str)> {
    let document: Value = serde_saphyr::from_str(text).context("not YAML or JSON")?;
    let is_object = document.get("kind").is_some() || document.get("spec").is_some();
    if let Some(kind) = document.get("kind").and_then(Value::as_str)
        && kind != "UpgradeStrategy"
    {
        anyhow::bail!(
            "its kind is {kind}; write an UpgradeStrategy (apiVersion {})",
            names::ROLLOUT_API_VERSION
        );
    }
    let (spec, prefix) = if is_object {
        (document.get("spec").cloned().unwrap_or(Value::Null), "spec")
    } else {
        (document, "strategy")
    };
    let spec: UpgradeStrategySpec =
        serde_json::from_value(spec).map_err(|e| anyhow::anyhow!("{prefix}: {e}"))?;
    Ok((spec, prefix))
}

fn request<'a>(conn: &'a Connection, kind: Kind, verb: &'static str, name: &'a str) -> Request<'a> {
    Request {
        server: &conn.server,
        verb,
        kind,
        name,
        namespace: Some(&conn.namespace),
    }
}

pub fn runs(conn: &Connection) -> Api<UpgradeRun> {
    Api::namespaced(conn.client.clone(), &conn.namespace)
}

/// Describes a failed request on an UpgradeRun.
pub fn run_request<'a>(conn: &'a Connection, verb: &'static str, name: &'a str) -> Request<'a> {
    request(conn, Kind::UpgradeRun, verb, name)
}

pub async fn get_strategy(conn: &Connection, name: &str) -> anyhow::Result<UpgradeStrategy> {
    Api::<UpgradeStrategy>::namespaced(conn.client.clone(), &conn.namespace)
        .get(name)
        .await
        .map_err(|e| request(conn, Kind::UpgradeStrategy, "read", name).explain(e))
}

pub async fn get_run(conn: &Connection, name: &str) -> anyhow::Result<UpgradeRun> {
    runs(conn)
        .get(name)
        .await
        .map_err(|e| run_request(conn, "read", name).explain(e))
}

pub async fn list_runs(conn: &Connection) -> anyhow::Result<Vec<UpgradeRun>> {
    runs(conn)
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .map_err(|e| run_request(conn, "list", "").explain(e))
}

/// Creates the run; an existing one of the same name is named, not overwritten.
pub async fn create_run(conn: &Connection, run: &UpgradeRun) -> anyhow::Result<UpgradeRun> {
    let name = run.metadata.name.as_deref().unwrap_or_default();
    let params = PostParams {
        field_manager: Some(names::CLI_FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    runs(conn).create(&params, run).await.map_err(|e| match &e {
        kube::Error::Api(s) if s.code == 409 => anyhow::anyhow!(
            "UpgradeRun `{name}` already exists in namespace {}; follow it with `ac adm upgrade rollout status {name}`, or start another with --name",
            conn.namespace
        ),
        _ => run_request(conn, "create", name).explain(e),
    })
}

pub use super::edit::Edit;

/// How often an edit is retried when someone else changed the run in between.
const EDIT_ATTEMPTS: usize = 5;

/// Read-modify-write of a run's spec: the merge patch carries the resourceVersion it was computed from,
/// so an edit made at the same time (another approval, another skip) is re-read, not overwritten.
pub async fn edit_run(
    conn: &Connection,
    name: &str,
    decide: impl Fn(&UpgradeRun) -> Result<Edit, super::edit::Refusal>,
) -> anyhow::Result<String> {
    let params = PatchParams {
        field_manager: Some(names::CLI_FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    for _ in 0..EDIT_ATTEMPTS {
        let run = get_run(conn, name).await?;
        let (spec, message) = match decide(&run)? {
            Edit::Nothing(message) => return Ok(message),
            Edit::Patch { spec, message } => (spec, message),
        };
        let body = serde_json::json!({
            "metadata": {"resourceVersion": run.metadata.resource_version},
            "spec": spec,
        });
        match runs(conn).patch(name, &params, &Patch::Merge(&body)).await {
            Ok(_) => return Ok(message),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(run_request(conn, "update", name).explain(e)),
        }
    }
    anyhow::bail!(
        "UpgradeRun `{name}` changed {EDIT_ATTEMPTS} times while this command tried to change it; run the command again"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strategy_file_is_an_object_or_a_bare_spec() {
        let object = "apiVersion: cvo.alauda.io/v1alpha1\nkind: UpgradeStrategy\nmetadata: {name: s}\nspec:\n  stages:\n  - name: all\n";
        let (spec, prefix) = parse_strategy(object).unwrap();
        assert_eq!((spec.stages[0].name.as_str(), prefix), ("all", "spec"));
        let bare = "{\"stages\": [{\"name\": \"a\", \"maxConcurrency\": \"10%\"}]}";
        let (spec, prefix) = parse_strategy(bare).unwrap();
        assert_eq!((spec.stages[0].name.as_str(), prefix), ("a", "strategy"));
        let wrong = parse_strategy("kind: UpgradeRun\nspec: {}\n").unwrap_err();
        assert!(wrong.to_string().contains("its kind is UpgradeRun"), "{wrong}");
        let typo = parse_strategy("stages:\n- name: a\n  canaries: many\n").unwrap_err();
        assert!(format!("{typo:#}").contains("strategy: invalid type"), "{typo:#}");
    }

    #[test]
    fn a_refused_file_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(
            &path,
            "spec:\n  stages:\n  - name: all\n    maxConcurrency: lots\n",
        )
        .unwrap();
        let err = load_file(&path).err().unwrap().to_string();
        assert!(
            err.contains("cannot be used: spec.stages[0].maxConcurrency: \"lots\""),
            "{err}"
        );
    }
}
