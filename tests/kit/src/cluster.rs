//! One Kubernetes cluster for a test: started locally from the harness binaries, or given by a kubeconfig.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ServiceAccount;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;

use crate::binaries::{self, ETCD, KUBE_APISERVER, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER, KWOK};
use crate::error::{Error, Result};
use crate::kubeconfig;
use crate::pki::{FRONT_PROXY_CLIENT, Pki};
use crate::ports::Ports;
use crate::process::{ChildProcess, ProcessSpec, tail};
use crate::version;
use crate::wait::wait_for;

/// Lines of a component's log quoted in errors.
const ERROR_LOG_LINES: usize = 30;
/// How often a cluster start is retried when another process took one of its ports first.
const PORT_RETRIES: usize = 3;
/// How long components get to exit after SIGTERM before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// kwok's configuration: the built-in node stages (Ready nodes), the built-in pod lifecycle and a crash
/// loop for pods labelled [`CRASH_LOOP_LABEL`]; nothing from `~/.kwok`.
const KWOK_CONFIG: &str = include_str!("kwok-stages.yaml");

/// A pod labelled so crash-loops on a kwok node instead of running: its containers wait in
/// CrashLoopBackOff after exiting with code 1, as a kubelet reports them.
pub const CRASH_LOOP_LABEL: (&str, &str) = ("kwok.acp-cvo.test/crash-loop", "true");

/// Annotation kwok selects the nodes it manages by; [`crate::NodeSpec`] nodes carry it.
pub const KWOK_NODE_ANNOTATION: (&str, &str) = ("kwok.x-k8s.io/node", "fake");

/// What cluster to start: its name, the Kubernetes version it reports, and which components run.
///
/// By default only etcd and kube-apiserver run (enough for CRDs, the operator's own objects and `/version`).
/// [`with_workloads`](Self::with_workloads) adds kube-controller-manager, kube-scheduler and kwok, so
/// Deployments roll out onto fake nodes.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    pub(crate) name: String,
    pub(crate) kube_version: String,
    pub(crate) controller_manager: bool,
    pub(crate) scheduler: bool,
    pub(crate) kwok: bool,
    pub(crate) ready_timeout: Duration,
}

impl ClusterSpec {
    /// A cluster called `name` (used in messages, kubeconfig context names and [`crate::TestEnv::cluster`])
    /// reporting Kubernetes `kube_version` (`"1.31"`, `"v1.31.9"`, …; a missing patch means `.0`).
    /// Versions 1.30 to 1.34 can be played: 1.31–1.34 by the Kubernetes 1.34 build emulating the chosen
    /// minor, 1.30 by a Kubernetes 1.30 build.
    pub fn new(name: impl Into<String>, kube_version: impl Into<String>) -> Self {
        ClusterSpec {
            name: name.into(),
            kube_version: kube_version.into(),
            controller_manager: false,
            scheduler: false,
            kwok: false,
            ready_timeout: Duration::from_secs(90),
        }
    }

    /// Runs kube-controller-manager, kube-scheduler and kwok too: workloads get scheduled onto kwok nodes
    /// and reach Running/Available.
    pub fn with_workloads(self) -> Self {
        self.controller_manager(true).scheduler(true).kwok(true)
    }

    /// Runs kube-controller-manager (Deployments, ReplicaSets, garbage collection, service accounts, …).
    pub fn controller_manager(mut self, on: bool) -> Self {
        self.controller_manager = on;
        self
    }

    /// Runs kube-scheduler.
    pub fn scheduler(mut self, on: bool) -> Self {
        self.scheduler = on;
        self
    }

    /// Runs kwok, which keeps nodes made with [`crate::Cluster::create_node`] Ready and runs their pods.
    pub fn kwok(mut self, on: bool) -> Self {
        self.kwok = on;
        self
    }

    /// How long a start may take before it fails (default 90 s, generous for a loaded 2-core machine).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A cluster owned by a test. Local clusters are torn down (processes killed, directory removed) on drop;
/// set `ACP_E2E_KEEP=1` to keep the directory (it is kept, and its path printed, when the test panics).
///
/// All methods take `&self`, so a test can hold several clusters of one [`crate::TestEnv`] at once.
#[derive(Debug)]
pub struct Cluster {
    name: String,
    kubeconfig_path: PathBuf,
    kubeconfig_yaml: String,
    server: String,
    local: Option<Local>,
    external_version: Option<String>,
}

#[derive(Debug)]
struct Local {
    spec: ClusterSpec,
    dir: Option<TempDir>,
    path: PathBuf,
    bins: PathBuf,
    pki: Pki,
    ports: Ports,
    version: Mutex<String>,
    procs: Mutex<Procs>,
}

#[derive(Debug, Default)]
struct Procs {
    etcd: Option<ChildProcess>,
    apiserver: Option<ChildProcess>,
    controller_manager: Option<ChildProcess>,
    scheduler: Option<ChildProcess>,
    kwok: Option<ChildProcess>,
}

impl Procs {
    /// Components in stop order (dependents first).
    fn take_all_but_etcd(&mut self) -> Vec<ChildProcess> {
        [
            self.kwok.take(),
            self.scheduler.take(),
            self.controller_manager.take(),
            self.apiserver.take(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    fn all(&self) -> impl Iterator<Item = &ChildProcess> {
        [
            &self.etcd,
            &self.apiserver,
            &self.controller_manager,
            &self.scheduler,
            &self.kwok,
        ]
        .into_iter()
        .flatten()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cluster {
    /// Starts a local cluster in a new directory under `parent` (the system temp dir when `None`): free
    /// loopback ports, fresh certificates, admin kubeconfig, `/readyz` awaited. Retries with other ports
    /// when one was taken in the meantime.
    pub async fn start(spec: ClusterSpec, parent: Option<&Path>) -> Result<Cluster> {
        let kube_version = version::normalize(&spec.kube_version)?;
        let bins = binaries::harness_bin_dir()?;
        binaries::control_plane_dir(version::minor(&kube_version)?)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let dir = match parent {
                Some(p) => tempfile::Builder::new()
                    .prefix(&format!("{}-", spec.name))
                    .tempdir_in(p),
                None => tempfile::Builder::new()
                    .prefix(&format!("acp-cluster-{}-", spec.name))
                    .tempdir(),
            }
            .map_err(|e| Error::io(format!("create a directory for cluster {}", spec.name), e))?;
            let path = dir.path().to_path_buf();
            let pki = Pki::generate(&spec.name, &path.join("pki"))?;
            let ports = Ports::pick()?;
            let server = format!("https://127.0.0.1:{}", ports.apiserver);
            let yaml = kubeconfig::render(
                &spec.name,
                &server,
                &pki.ca_pem,
                &pki.admin_cert_pem,
                &pki.admin_key_pem,
            );
            let kubeconfig_path = path.join("admin.kubeconfig");
            std::fs::write(&kubeconfig_path, &yaml)
                .map_err(|e| Error::io(format!("write {}", kubeconfig_path.display()), e))?;
            let cluster = Cluster {
                name: spec.name.clone(),
                kubeconfig_path,
                kubeconfig_yaml: yaml,
                server,
                local: Some(Local {
                    spec: spec.clone(),
                    dir: Some(dir),
                    path,
                    bins: bins.clone(),
                    pki,
                    ports,
                    version: Mutex::new(kube_version.clone()),
                    procs: Mutex::new(Procs::default()),
                }),
                external_version: None,
            };
            match cluster.run_components(true).await {
                Ok(()) => return Ok(cluster),
                Err(e) if attempt < PORT_RETRIES && is_port_conflict(&e) => {
                    tracing::info!(cluster = %spec.name, "a port was taken; starting again with new ports");
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A cluster given by an existing kubeconfig (e.g. a kind cluster). Its version cannot be chosen and it
    /// cannot be stopped, restarted or given kwok nodes by the kit.
    pub async fn external(name: impl Into<String>, kubeconfig_path: impl Into<PathBuf>) -> Result<Cluster> {
        let name = name.into();
        let kubeconfig_path = kubeconfig_path.into();
        let yaml = std::fs::read_to_string(&kubeconfig_path)
            .map_err(|e| Error::io(format!("read kubeconfig {}", kubeconfig_path.display()), e))?;
        let client = kubeconfig::client_from_yaml(&kubeconfig_path, &yaml).await?;
        let kc = kube::config::Kubeconfig::from_yaml(&yaml).map_err(|e| Error::Kubeconfig {
            path: kubeconfig_path.clone(),
            message: e.to_string(),
        })?;
        let server = current_server(&kc).unwrap_or_default();
        let info = client.apiserver_version().await.map_err(|source| Error::Kube {
            cluster: name.clone(),
            context: format!("read /version through {}", kubeconfig_path.display()),
            source,
        })?;
        Ok(Cluster {
            name,
            kubeconfig_path,
            kubeconfig_yaml: yaml,
            server,
            local: None,
            external_version: Some(info.git_version),
        })
    }

    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the kit started this cluster (false for clusters given by `ACP_E2E_KUBECONFIGS`).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The Kubernetes version the cluster was last started to report, e.g. `v1.31.9` (for an external
    /// cluster: what it reported when the kit connected).
    pub fn kube_version(&self) -> String {
        match &self.local {
            Some(l) => lock(&l.version).clone(),
            None => self.external_version.clone().unwrap_or_default(),
        }
    }

    /// Path of the admin kubeconfig (certificates embedded, server on 127.0.0.1).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// Text of the admin kubeconfig, e.g. to store in a Secret the operator reads; it holds its certificates
    /// as data and names the server by 127.0.0.1, so it works without other files.
    pub fn kubeconfig_yaml(&self) -> &str {
        &self.kubeconfig_yaml
    }

    /// The API server's URL, e.g. `https://127.0.0.1:40123`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The cluster's directory (data, certificates, logs); `None` for external clusters.
    pub fn dir(&self) -> Option<&Path> {
        self.local.as_ref().map(|l| l.path.as_path())
    }

    /// Directory holding one log file per component (`kube-apiserver.log`, `etcd.log`, …).
    pub fn log_dir(&self) -> Option<PathBuf> {
        self.dir().map(|d| d.join("logs"))
    }

    /// A new client with admin rights.
    pub async fn client(&self) -> Result<kube::Client> {
        kubeconfig::client_from_yaml(&self.kubeconfig_path, &self.kubeconfig_yaml).await
    }

    /// Whether the API server answers `/readyz` within `timeout`.
    pub async fn is_reachable(&self, timeout: Duration) -> bool {
        let Ok(client) = self.client().await else {
            return false;
        };
        matches!(tokio::time::timeout(timeout, readyz(&client)).await, Ok(true))
    }

    /// Runs the harness `kubectl` against this cluster and returns its stdout.
    ///
    /// ```no_run
    /// # async fn demo(cluster: &acp_testkit::Cluster) -> acp_testkit::Result<()> {
    /// let version = cluster.kubectl(["get", "--raw", "/version"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn kubectl<I, S>(&self, args: I) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.kubectl_with_stdin(args, None).await
    }

    /// Applies YAML manifests (one or more documents) with server-side apply.
    pub async fn apply_yaml(&self, yaml: &str) -> Result<()> {
        self.kubectl_with_stdin(
            ["apply", "--server-side", "--force-conflicts", "-f", "-"],
            Some(yaml),
        )
        .await
        .map(|_| ())
    }

    /// Runs `kubectl --kubeconfig=<admin> <args>` with `stdin`; returns stdout.
    pub async fn kubectl_with_stdin<I, S>(&self, args: I, stdin: Option<&str>) -> Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let args: Vec<String> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut cmd = tokio::process::Command::new(binaries::kubectl_path());
        cmd.arg(format!("--kubeconfig={}", self.kubeconfig_path.display()))
            .args(&args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io("start kubectl (build the harness or put kubectl on PATH)", e))?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes())
                .await
                .map_err(|e| Error::io("write kubectl's stdin", e))?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| Error::io("wait for kubectl", e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(Error::Kubectl {
                args: args.join(" "),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            })
        }
    }

    /// Stops every component (etcd too): the cluster becomes unreachable but keeps its data, ports and
    /// kubeconfig, so [`start_again`](Self::start_again) brings the same cluster back.
    pub async fn stop(&self) -> Result<()> {
        let local = self.local_or_err("stop")?;
        let mut procs = {
            let mut guard = lock(&local.procs);
            let mut all = guard.take_all_but_etcd();
            all.extend(guard.etcd.take());
            all
        };
        for p in procs.drain(..) {
            p.terminate(STOP_GRACE).await;
        }
        Ok(())
    }

    /// Starts a stopped cluster again with the same data, ports, kubeconfig and version.
    pub async fn start_again(&self) -> Result<()> {
        let local = self.local_or_err("start")?;
        if lock(&local.procs).all().any(ChildProcess::is_running) {
            return Err(Error::Usage(format!(
                "cluster {} is running; stop it before starting it again (or use restart_at)",
                self.name
            )));
        }
        self.run_components(true).await
    }

    /// Restarts the control plane reporting `kube_version`, keeping etcd and its data running: what a
    /// Kubernetes upgrade of the cluster looks like from outside. Objects survive; `/version` changes.
    pub async fn restart_at(&self, kube_version: &str) -> Result<()> {
        let local = self.local_or_err("restart")?;
        let v = version::normalize(kube_version)?;
        binaries::control_plane_dir(version::minor(&v)?)?;
        let old = {
            let mut guard = lock(&local.procs);
            guard.take_all_but_etcd()
        };
        for p in old {
            p.terminate(STOP_GRACE).await;
        }
        *lock(&local.version) = v;
        let etcd_running = lock(&local.procs)
            .etcd
            .as_ref()
            .is_some_and(ChildProcess::is_running);
        self.run_components(!etcd_running).await
    }

    /// Process id of a running component (`"etcd"`, `"kube-apiserver"`, `"kube-controller-manager"`,
    /// `"kube-scheduler"`, `"kwok"`), e.g. to read its memory use.
    pub fn component_pid(&self, component: &str) -> Option<u32> {
        let local = self.local.as_ref()?;
        let procs = lock(&local.procs);
        procs
            .all()
            .find(|p| p.name() == component)
            .and_then(ChildProcess::pid)
    }

    /// The last `lines` lines of a component's log (empty when unknown).
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        self.log_dir()
            .and_then(|d| std::fs::read(d.join(format!("{component}.log"))).ok())
            .map(|b| tail(&String::from_utf8_lossy(&b), lines))
            .unwrap_or_default()
    }

    pub(crate) fn runs_kwok(&self) -> bool {
        self.local.as_ref().is_some_and(|l| l.spec.kwok)
    }

    fn local_or_err(&self, what: &str) -> Result<&Local> {
        self.local.as_ref().ok_or_else(|| {
            Error::Usage(format!(
                "cannot {what} cluster {}: it was given by a kubeconfig (ACP_E2E_KUBECONFIGS), not started by the kit",
                self.name
            ))
        })
    }

    /// Starts etcd (when asked), the API server, waits for `/readyz`, then the optional components.
    async fn run_components(&self, with_etcd: bool) -> Result<()> {
        let local = self.local_or_err("start")?;
        let deadline = Instant::now() + local.spec.ready_timeout;
        let log_dir = local.path.join("logs");
        let version = lock(&local.version).clone();
        let cp = binaries::control_plane_dir(version::minor(&version)?)?;
        {
            let mut procs = lock(&local.procs);
            if with_etcd {
                procs.etcd = Some(ChildProcess::spawn(local.etcd_spec(), log_dir.join("etcd.log"))?);
            }
            procs.apiserver = Some(ChildProcess::spawn(
                local.apiserver_spec(&cp, &version),
                log_dir.join("kube-apiserver.log"),
            )?);
        }
        let client = self.client().await?;
        loop {
            {
                let procs = lock(&local.procs);
                for p in [&procs.etcd, &procs.apiserver].into_iter().flatten() {
                    if let Some(status) = p.exit_status() {
                        return Err(self.component_error(&p.name(), &format!("exited ({status})")));
                    }
                }
            }
            if readyz(&client).await {
                break;
            }
            if Instant::now() >= deadline {
                return Err(self.component_error(
                    KUBE_APISERVER,
                    &format!("was not ready within {:?}", local.spec.ready_timeout),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        {
            let mut procs = lock(&local.procs);
            if local.spec.controller_manager {
                procs.controller_manager = Some(ChildProcess::spawn(
                    local.controller_manager_spec(&cp, &version),
                    log_dir.join("kube-controller-manager.log"),
                )?);
            }
            if local.spec.scheduler {
                procs.scheduler = Some(ChildProcess::spawn(
                    local.scheduler_spec(&cp, &version),
                    log_dir.join("kube-scheduler.log"),
                )?);
            }
            if local.spec.kwok {
                let config = local.path.join("kwok.yaml");
                std::fs::write(&config, KWOK_CONFIG)
                    .map_err(|e| Error::io(format!("write {}", config.display()), e))?;
                procs.kwok = Some(ChildProcess::spawn(local.kwok_spec(), log_dir.join("kwok.log"))?);
            }
        }
        if local.spec.controller_manager {
            // Pods can only be created once the service-account controller made the namespace's account.
            let accounts: kube::Api<ServiceAccount> = kube::Api::namespaced(client, "default");
            let remaining = deadline.saturating_duration_since(Instant::now());
            let waited = wait_for(
                &format!(
                    "cluster {}: kube-controller-manager to create ServiceAccount default/default",
                    self.name
                ),
                remaining,
                || async {
                    if lock(&local.procs)
                        .controller_manager
                        .as_ref()
                        .and_then(ChildProcess::exit_status)
                        .is_some()
                    {
                        return true; // reported below
                    }
                    accounts.get_opt("default").await.ok().flatten().is_some()
                },
            )
            .await;
            let exited = lock(&local.procs)
                .controller_manager
                .as_ref()
                .and_then(ChildProcess::exit_status);
            if let Some(status) = exited {
                return Err(self.component_error(KUBE_CONTROLLER_MANAGER, &format!("exited ({status})")));
            }
            if waited.is_err() {
                return Err(self.component_error(
                    KUBE_CONTROLLER_MANAGER,
                    "did not create the default ServiceAccount in time",
                ));
            }
        }
        Ok(())
    }

    fn component_error(&self, component: &str, problem: &str) -> Error {
        Error::Component {
            cluster: self.name.clone(),
            component: component.to_owned(),
            problem: problem.to_owned(),
            log_dir: self.log_dir().unwrap_or_default(),
            log_tail: self.log_tail(component, ERROR_LOG_LINES),
        }
    }
}

impl Local {
    fn etcd_spec(&self) -> ProcessSpec {
        ProcessSpec::new(self.bins.join(ETCD)).args([
            format!("--data-dir={}", self.path.join("etcd").display()),
            format!("--listen-client-url=http://127.0.0.1:{}", self.ports.etcd_client),
            format!("--listen-peer-url=http://127.0.0.1:{}", self.ports.etcd_peer),
        ])
    }

    fn apiserver_spec(&self, bins: &Path, kube_version: &str) -> ProcessSpec {
        let p = &self.pki;
        let f = |path: &Path| path.display().to_string();
        ProcessSpec::new(bins.join(KUBE_APISERVER)).args([
            format!("--kube-version={kube_version}"),
            format!("--etcd-servers=http://127.0.0.1:{}", self.ports.etcd_client),
            "--bind-address=127.0.0.1".to_owned(),
            "--advertise-address=127.0.0.1".to_owned(),
            format!("--secure-port={}", self.ports.apiserver),
            // The `kubernetes` Endpoints object cannot hold a loopback address.
            "--endpoint-reconciler-type=none".to_owned(),
            format!("--cert-dir={}", self.path.join("apiserver-certs").display()),
            format!("--tls-cert-file={}", f(&p.serving_cert)),
            format!("--tls-private-key-file={}", f(&p.serving_key)),
            format!("--client-ca-file={}", f(&p.ca_cert)),
            "--authorization-mode=RBAC".to_owned(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
            format!("--service-account-key-file={}", f(&p.sa_public_key)),
            format!("--service-account-signing-key-file={}", f(&p.sa_private_key)),
            "--service-cluster-ip-range=10.96.0.0/16".to_owned(),
            // Without a front proxy the controller-manager keeps looking for the requestheader CA.
            format!("--requestheader-client-ca-file={}", f(&p.front_proxy_ca_cert)),
            format!("--requestheader-allowed-names={FRONT_PROXY_CLIENT}"),
            "--requestheader-extra-headers-prefix=X-Remote-Extra-".to_owned(),
            "--requestheader-group-headers=X-Remote-Group".to_owned(),
            "--requestheader-username-headers=X-Remote-User".to_owned(),
            format!("--proxy-client-cert-file={}", f(&p.front_proxy_client_cert)),
            format!("--proxy-client-key-file={}", f(&p.front_proxy_client_key)),
            "--allow-privileged=true".to_owned(),
            "--profiling=false".to_owned(),
        ])
    }

    fn kubeconfig(&self) -> String {
        self.path.join("admin.kubeconfig").display().to_string()
    }

    fn controller_manager_spec(&self, bins: &Path, kube_version: &str) -> ProcessSpec {
        let p = &self.pki;
        ProcessSpec::new(bins.join(KUBE_CONTROLLER_MANAGER)).args([
            format!("--kube-version={kube_version}"),
            format!("--kubeconfig={}", self.kubeconfig()),
            format!("--authentication-kubeconfig={}", self.kubeconfig()),
            format!("--authorization-kubeconfig={}", self.kubeconfig()),
            "--secure-port=0".to_owned(),
            "--leader-elect=false".to_owned(),
            "--controllers=*".to_owned(),
            format!("--root-ca-file={}", p.ca_cert.display()),
            format!(
                "--service-account-private-key-file={}",
                p.sa_private_key.display()
            ),
            format!("--cluster-signing-cert-file={}", p.ca_cert.display()),
            format!("--cluster-signing-key-file={}", p.ca_key.display()),
            "--cluster-name".to_owned(),
            self.spec.name.clone(),
            "--profiling=false".to_owned(),
        ])
    }

    fn scheduler_spec(&self, bins: &Path, kube_version: &str) -> ProcessSpec {
        ProcessSpec::new(bins.join(KUBE_SCHEDULER)).args([
            format!("--kube-version={kube_version}"),
            format!("--kubeconfig={}", self.kubeconfig()),
            format!("--authentication-kubeconfig={}", self.kubeconfig()),
            format!("--authorization-kubeconfig={}", self.kubeconfig()),
            "--secure-port=0".to_owned(),
            "--leader-elect=false".to_owned(),
            "--profiling=false".to_owned(),
        ])
    }

    fn kwok_spec(&self) -> ProcessSpec {
        let (key, value) = KWOK_NODE_ANNOTATION;
        ProcessSpec::new(self.bins.join(KWOK)).args([
            format!("--kubeconfig={}", self.kubeconfig()),
            format!("--config={}", self.path.join("kwok.yaml").display()),
            "--manage-all-nodes=false".to_owned(),
            format!("--manage-nodes-with-annotation-selector={key}={value}"),
            "--cidr=10.244.0.0/16".to_owned(),
            "--node-ip=127.0.0.1".to_owned(),
            "--node-lease-duration-seconds=40".to_owned(),
        ])
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let Some(local) = self.local.as_mut() else {
            return;
        };
        let procs = std::mem::take(&mut *lock(&local.procs));
        // Dependents first; each ChildProcess kills its process group on drop.
        drop(procs.kwok);
        drop(procs.scheduler);
        drop(procs.controller_manager);
        drop(procs.apiserver);
        drop(procs.etcd);
        let keep = std::thread::panicking() || std::env::var_os("ACP_E2E_KEEP").is_some();
        if keep && let Some(dir) = local.dir.take() {
            let path = dir.keep();
            eprintln!("cluster {}: kept its directory {}", self.name, path.display());
        }
    }
}

async fn readyz(client: &kube::Client) -> bool {
    let Ok(request) = http::Request::get("/readyz").body(Vec::new()) else {
        return false;
    };
    matches!(client.request_text(request).await, Ok(body) if body.trim() == "ok")
}

fn is_port_conflict(error: &Error) -> bool {
    matches!(error, Error::Component { log_tail, .. } if log_tail.contains("address already in use"))
}

fn current_server(kc: &kube::config::Kubeconfig) -> Option<String> {
    let ctx_name = kc.current_context.as_ref()?;
    let ctx = kc
        .contexts
        .iter()
        .find(|c| &c.name == ctx_name)?
        .context
        .as_ref()?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)?
        .cluster
        .as_ref()?;
    cluster.server.clone()
}
