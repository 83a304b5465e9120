//! Command-line flags and environment of the `acp-cvo` binary.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use k8s_openapi::jiff::SignedDuration;

use crate::cvsh::insights::DEFAULT_INSIGHT_AFTER;

/// How the operator is run. Every flag can also be set through the environment variable shown in `--help`.
#[derive(Debug, Clone, Parser)]
#[command(name = "acp-cvo", version, about = "The ACP cluster version operator")]
pub struct Config {
    /// Kubeconfig of the global cluster; defaults to $KUBECONFIG, ~/.kube/config, then the in-cluster
    /// service account.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,

    /// Namespace holding ClusterVersionShadows, kubeconfig Secrets, the Lease and the operator's ConfigMaps.
    #[arg(long, env = "ACP_CVO_NAMESPACE", default_value = "cpaas-system")]
    pub namespace: String,

    /// The ACP version the global cluster was installed at; the `global` cluster starts its history there.
    #[arg(long, env = "ACP_CVO_INSTALL_VERSION")]
    pub install_version: Option<String>,

    /// How many workload clusters may run upgrade stages at the same time.
    #[arg(long, env = "ACP_CVO_MAX_CONCURRENT_UPGRADES", default_value_t = 20)]
    pub max_concurrent_upgrades: usize,

    /// OCI repository holding release bundles (`<repository>:<version>`); without it the built-in
    /// catalogue is used.
    #[arg(long, env = "ACP_CVO_RELEASE_REPOSITORY")]
    pub release_repository: Option<String>,

    /// Public key (PEM, as `cosign.pub`) that release bundles from registries must be signed with, in
    /// cosign's format; repeatable, and a file may hold several keys. A bundle signed by none of them is
    /// refused (ProductManifest Ready=False, SignatureInvalid). Without any, signatures are not checked
    /// and every registry ProductManifest says so. Built-in releases are trusted as shipped.
    #[arg(
        long = "release-verification-key",
        env = "ACP_CVO_RELEASE_VERIFICATION_KEYS",
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub release_verification_keys: Vec<PathBuf>,

    /// Registries (`host[:port]`) reached over plain HTTP; loopback registries always are.
    #[arg(
        long = "insecure-registry",
        env = "ACP_CVO_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,

    /// Docker config JSON (`~/.docker/config.json` format) with registry credentials; anonymous without it.
    #[arg(long, env = "ACP_CVO_REGISTRY_AUTH_FILE")]
    pub registry_auth_file: Option<PathBuf>,

    /// Extra PEM CA certificates to trust for registries.
    #[arg(
        long = "registry-ca-file",
        env = "ACP_CVO_REGISTRY_CA_FILES",
        value_delimiter = ','
    )]
    pub registry_ca_files: Vec<PathBuf>,

    /// Accept `exec` credential plugins in kubeconfig Secrets. RISK: whoever may write a kubeconfig Secret
    /// then runs any command inside the operator, with its service account and every cluster's credentials.
    #[arg(long, env = "ACP_CVO_ALLOW_KUBECONFIG_EXEC", default_value = "off", value_parser = parse_switch, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "on")]
    pub allow_kubeconfig_exec: bool,

    /// Accept `insecure-skip-tls-verify: true` in kubeconfig Secrets. RISK: anyone on the network path to
    /// such a cluster can impersonate its API server and read the credential the operator sends.
    #[arg(long, env = "ACP_CVO_ALLOW_INSECURE_KUBECONFIG_TLS", default_value = "off", value_parser = parse_switch, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "on")]
    pub allow_insecure_kubeconfig_tls: bool,

    /// Let release bundles from registries write into kube-system, kube-public and kube-node-lease,
    /// install admission webhooks and admission policies, and bind or grant cluster-admin. RISK: anyone
    /// who can publish a release the operator resolves then controls every managed cluster's control
    /// plane. Off by default: such a release is refused when it is resolved (`ReleaseContentRefused`).
    #[arg(
        long,
        env = "ACP_CVO_ALLOW_PRIVILEGED_RELEASE_CONTENT",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub allow_privileged_release_content: bool,

    /// Address of the HTTP server for /metrics, /healthz and /readyz.
    #[arg(long, env = "ACP_CVO_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,

    /// Elect a leader through a Lease so that only one replica writes (`on` or `off`).
    #[arg(long, env = "ACP_CVO_LEADER_ELECTION", default_value = "on", value_parser = parse_switch, action = clap::ArgAction::Set)]
    pub leader_election: bool,

    /// Name of the Lease used for leader election.
    #[arg(long, env = "ACP_CVO_LEASE_NAME", default_value = "acp-cvo")]
    pub lease_name: String,

    /// Identity of this replica in the Lease; defaults to the pod name (POD_NAME) or the host name.
    #[arg(long, env = "ACP_CVO_IDENTITY")]
    pub identity: Option<String>,

    /// Seconds a Lease stays valid without renewal; a new leader takes over at most this long after
    /// the old one stopped renewing.
    #[arg(long = "lease-duration", env = "ACP_CVO_LEASE_DURATION", default_value_t = 15)]
    pub lease_duration_seconds: u64,

    /// Time limit of every request to a managed cluster, in seconds.
    #[arg(
        long = "request-timeout",
        env = "ACP_CVO_REQUEST_TIMEOUT",
        default_value_t = 10
    )]
    pub request_timeout_seconds: u64,

    /// Most requests in flight to one workload cluster at a time; more wait for a slot, and the wait
    /// counts against --request-timeout.
    #[arg(
        long,
        env = "ACP_CVO_MAX_REQUESTS_PER_CLUSTER",
        default_value_t = 4,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub max_requests_per_cluster: u16,

    /// Most requests in flight to all workload clusters together; more wait for a slot, and the wait
    /// counts against --request-timeout.
    #[arg(
        long,
        env = "ACP_CVO_MAX_REQUESTS_TOTAL",
        default_value_t = 64,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub max_requests_total: u16,

    /// How long an operation may keep failing (Degraded) before the cluster is marked Stalled, in seconds.
    #[arg(long = "stall-after", env = "ACP_CVO_STALL_AFTER", default_value_t = 600)]
    pub stall_after_seconds: u64,

    /// How long an operation may wait before the operator names its culprits in the status, in seconds:
    /// for a module, its pods and their nodes (a failed rollout is looked at at once); for a ClusterAPI
    /// hop, machines made for the hop, or deleting, for longer than this.
    #[arg(long = "insight-after", env = "ACP_CVO_INSIGHT_AFTER", default_value_t = DEFAULT_INSIGHT_AFTER.as_secs().unsigned_abs())]
    pub insight_after_seconds: u64,

    /// Log format: `text` for people, `json` for log collectors. Levels come from RUST_LOG.
    #[arg(long, env = "ACP_CVO_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,

    /// How often an idle cluster is observed again at first, in seconds. A cluster where nothing changes
    /// is observed less and less often, up to --resync-max; any change brings it back to this.
    #[arg(long = "resync", env = "ACP_CVO_RESYNC", default_value_t = 30)]
    pub resync_seconds: u64,

    /// The longest an idle cluster goes without being observed again, in seconds (never below --resync).
    #[arg(long = "resync-max", env = "ACP_CVO_RESYNC_MAX", default_value_t = 300)]
    pub resync_max_seconds: u64,

    /// How many clusters are reconciled at once.
    #[arg(
        long = "reconcile-workers",
        env = "ACP_CVO_RECONCILE_WORKERS",
        default_value_t = 32
    )]
    pub reconcile_workers: usize,

    /// Secret in --namespace holding the webhook that upgrade notifications (CloudEvents) are posted to:
    /// key `url`, optional key `token` (a bearer token). Without it no notifications are sent.
    #[arg(long, env = "ACP_CVO_NOTIFICATION_SECRET")]
    pub notification_secret: Option<String>,
}

impl Config {
    /// The identity written into the Lease: the flag, then POD_NAME, then the host name.
    pub fn identity(&self) -> String {
        if let Some(id) = self.identity.as_ref().filter(|id| !id.is_empty()) {
            return id.clone();
        }
        if let Ok(pod) = std::env::var("POD_NAME")
            && !pod.is_empty()
        {
            return pod;
        }
        if let Ok(host) = std::env::var("HOSTNAME")
            && !host.is_empty()
        {
            return host;
        }
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| format!("acp-cvo-{}", std::process::id()))
    }

    /// The kubeconfig policy these flags ask for.
    pub fn kubeconfig_policy(&self) -> acp_api::kubeconfig::Policy {
        acp_api::kubeconfig::Policy {
            allow_exec: self.allow_kubeconfig_exec,
            allow_insecure_tls: self.allow_insecure_kubeconfig_tls,
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds.max(1))
    }

    pub fn stall_after(&self) -> Duration {
        Duration::from_secs(self.stall_after_seconds)
    }

    pub fn insight_after(&self) -> SignedDuration {
        SignedDuration::from_secs(i64::try_from(self.insight_after_seconds).unwrap_or(i64::MAX))
    }

    pub fn resync(&self) -> Duration {
        Duration::from_secs(self.resync_seconds.max(1))
    }

    pub fn resync_max(&self) -> Duration {
        Duration::from_secs(self.resync_max_seconds).max(self.resync())
    }

    pub fn reconcile_workers(&self) -> usize {
        self.reconcile_workers.max(1)
    }
}

fn parse_switch(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        other => Err(format!("expected `on` or `off`, got `{other}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let config = Config::try_parse_from(["acp-cvo"]).unwrap();
        assert_eq!(config.namespace, "cpaas-system");
        assert_eq!(config.max_concurrent_upgrades, 20);
        assert!(config.leader_election);
        assert_eq!(config.lease_name, "acp-cvo");
        assert_eq!(config.request_timeout(), Duration::from_secs(10));
        assert_eq!(config.resync(), Duration::from_secs(30));
        assert_eq!(config.resync_max(), Duration::from_secs(300));
        assert_eq!(config.reconcile_workers(), 32);
        assert_eq!(config.max_requests_per_cluster, 4);
        assert_eq!(config.max_requests_total, 64);
    }

    #[test]
    fn the_longest_resync_is_never_shorter_than_the_first() {
        let config = Config::try_parse_from(["acp-cvo", "--resync", "60", "--resync-max", "10"]).unwrap();
        assert_eq!(config.resync_max(), Duration::from_secs(60));
    }

    #[test]
    fn request_limits_are_at_least_one() {
        let config = Config::try_parse_from([
            "acp-cvo",
            "--max-requests-per-cluster",
            "2",
            "--max-requests-total",
            "10",
        ])
        .unwrap();
        assert_eq!(config.max_requests_per_cluster, 2);
        assert_eq!(config.max_requests_total, 10);
        assert!(Config::try_parse_from(["acp-cvo", "--max-requests-per-cluster", "0"]).is_err());
        assert!(Config::try_parse_from(["acp-cvo", "--max-requests-total", "0"]).is_err());
    }

    #[test]
    fn leader_election_can_be_switched_off() {
        let config = Config::try_parse_from(["acp-cvo", "--leader-election", "off"]).unwrap();
        assert!(!config.leader_election);
        let err = Config::try_parse_from(["acp-cvo", "--leader-election", "maybe"]).unwrap_err();
        assert!(err.to_string().contains("expected `on` or `off`"));
    }

    #[test]
    fn durations_are_given_in_seconds() {
        let config = Config::try_parse_from([
            "acp-cvo",
            "--lease-duration",
            "6",
            "--request-timeout",
            "3",
            "--stall-after",
            "60",
            "--resync",
            "5",
        ])
        .unwrap();
        assert_eq!(config.lease_duration_seconds, 6);
        assert_eq!(config.request_timeout(), Duration::from_secs(3));
        assert_eq!(config.stall_after(), Duration::from_secs(60));
        assert_eq!(config.resync(), Duration::from_secs(5));
    }

    #[test]
    fn verification_keys_repeat_or_come_comma_separated() {
        let config = Config::try_parse_from([
            "acp-cvo",
            "--release-verification-key",
            "/keys/a.pub",
            "--release-verification-key",
            "/keys/b.pub",
        ])
        .unwrap();
        assert_eq!(
            config.release_verification_keys,
            [PathBuf::from("/keys/a.pub"), PathBuf::from("/keys/b.pub")]
        );
        assert!(
            Config::try_parse_from(["acp-cvo"])
                .unwrap()
                .release_verification_keys
                .is_empty()
        );
    }

    #[test]
    fn kubeconfig_opt_ins_are_off_unless_asked() {
        let config = Config::try_parse_from(["acp-cvo"]).unwrap();
        assert_eq!(config.kubeconfig_policy(), acp_api::kubeconfig::Policy::default());
        let config = Config::try_parse_from([
            "acp-cvo",
            "--allow-kubeconfig-exec",
            "--allow-insecure-kubeconfig-tls=on",
        ])
        .unwrap();
        assert!(config.kubeconfig_policy().allow_exec);
        assert!(config.kubeconfig_policy().allow_insecure_tls);
        let config = Config::try_parse_from(["acp-cvo", "--allow-kubeconfig-exec=off"]).unwrap();
        assert!(!config.kubeconfig_policy().allow_exec);
    }

    #[test]
    fn privileged_release_content_is_refused_unless_allowed() {
        let default = Config::try_parse_from(["acp-cvo"]).unwrap();
        assert!(!default.allow_privileged_release_content);
        let allowed = Config::try_parse_from(["acp-cvo", "--allow-privileged-release-content"]).unwrap();
        assert!(allowed.allow_privileged_release_content);
    }

    #[test]
    fn explicit_identity_wins() {
        let config = Config::try_parse_from(["acp-cvo", "--identity", "replica-a"]).unwrap();
        assert_eq!(config.identity(), "replica-a");
    }
}
