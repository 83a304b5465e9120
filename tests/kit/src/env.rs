//! A set of clusters for one test, started together and torn down together.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::cluster::{Cluster, ClusterSpec};
use crate::error::{Error, Result};
use crate::process::{ChildProcess, ProcessSpec};

/// Environment variable listing existing clusters to use instead of starting local ones:
/// `global=/path/global.kubeconfig,workload-1=/path/w1.kubeconfig` (see `scripts/kind-up.sh`).
pub const KUBECONFIGS_ENV: &str = "ACP_E2E_KUBECONFIGS";

/// The clusters (and processes) of one test. Dropping it kills every process it started and removes its
/// directory — also when the test panics (the directory is then kept and its path printed).
///
/// ```no_run
/// use acp_testkit::{ClusterSpec, NodeSpec, TestEnv};
/// # async fn demo() -> acp_testkit::Result<()> {
/// let env = TestEnv::start([
///     ClusterSpec::new("global", "1.34"),
///     ClusterSpec::new("workload-1", "v1.31.9").with_workloads(),
/// ])
/// .await?;
/// let workload = env.cluster("workload-1");
/// workload.create_node(NodeSpec::new("w1-cp").control_plane().container_runtime("docker://24.0.7")).await?;
/// let client = workload.client().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TestEnv {
    // Clusters are declared before the directory so they stop before it is removed.
    clusters: Vec<Cluster>,
    dir: Option<TempDir>,
    path: PathBuf,
    external: bool,
}

impl TestEnv {
    /// Starts every cluster concurrently, each with its own ports, certificates and data directory.
    ///
    /// When `ACP_E2E_KUBECONFIGS` is set, no cluster is started: each spec's name is looked up there
    /// instead (the versions and components of the specs are then not enforced; see
    /// [`is_external`](Self::is_external)).
    pub async fn start(specs: impl IntoIterator<Item = ClusterSpec>) -> Result<TestEnv> {
        let specs: Vec<ClusterSpec> = specs.into_iter().collect();
        let dir = tempfile::Builder::new()
            .prefix("acp-e2e-")
            .tempdir()
            .map_err(|e| Error::io("create the test's temporary directory", e))?;
        let path = dir.path().to_path_buf();
        if let Some(list) = std::env::var_os(KUBECONFIGS_ENV) {
            let list = list.to_string_lossy().into_owned();
            let given = parse_kubeconfigs(&list)?;
            let mut clusters = Vec::with_capacity(specs.len());
            for spec in &specs {
                let Some((_, kubeconfig)) = given.iter().find(|(n, _)| n == spec.name()) else {
                    return Err(Error::Usage(format!(
                        "{KUBECONFIGS_ENV} has no kubeconfig for cluster {}; add {}=/path/to/kubeconfig",
                        spec.name(),
                        spec.name()
                    )));
                };
                clusters.push(Cluster::external(spec.name(), kubeconfig).await?);
            }
            return Ok(TestEnv {
                clusters,
                dir: Some(dir),
                path,
                external: true,
            });
        }
        let starts = specs.into_iter().map(|spec| Cluster::start(spec, Some(&path)));
        let clusters = futures::future::try_join_all(starts).await?;
        Ok(TestEnv {
            clusters,
            dir: Some(dir),
            path,
            external: false,
        })
    }

    /// The cluster called `name`.
    ///
    /// # Panics
    /// When no cluster of that name was started: a mistake in the test itself.
    pub fn cluster(&self, name: &str) -> &Cluster {
        match self.get(name) {
            Some(c) => c,
            None => panic!(
                "no cluster {name} in this test environment (have: {})",
                self.clusters
                    .iter()
                    .map(Cluster::name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The cluster called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name() == name)
    }

    /// Every cluster, in the order of the specs.
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// Whether the clusters came from `ACP_E2E_KUBECONFIGS` (versions fixed, no stop/restart, no kwok).
    pub fn is_external(&self) -> bool {
        self.external
    }

    /// The test's temporary directory (clusters' directories, process logs).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// Starts a process owned by this environment, logging to `<dir>/processes/<name>.log`.
    pub fn spawn(&self, spec: ProcessSpec) -> Result<ChildProcess> {
        let log = self
            .path
            .join("processes")
            .join(format!("{}.log", spec.process_name()));
        ChildProcess::spawn(spec, log)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.clusters.clear();
        let keep = std::thread::panicking() || std::env::var_os("ACP_E2E_KEEP").is_some();
        if keep && let Some(dir) = self.dir.take() {
            eprintln!("test environment kept in {}", dir.keep().display());
        }
    }
}

/// Parses `name=path,name=path`.
fn parse_kubeconfigs(list: &str) -> Result<Vec<(String, PathBuf)>> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let (name, path) = item.split_once('=').ok_or_else(|| {
                Error::Usage(format!(
                    "{KUBECONFIGS_ENV} entry {item:?} is not name=/path/to/kubeconfig"
                ))
            })?;
            Ok((name.trim().to_owned(), PathBuf::from(path.trim())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_kubeconfigs;

    #[test]
    fn parses_named_kubeconfigs() {
        let got = parse_kubeconfigs("global=/k/g, workload-1=/k/w1,").unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "global");
        assert_eq!(got[1].1.to_str(), Some("/k/w1"));
    }

    #[test]
    fn rejects_entries_without_a_name() {
        assert!(parse_kubeconfigs("/k/g").is_err());
    }
}
