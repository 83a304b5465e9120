//! kubectl's connection flags and the one client a command uses.
//!
//! The client is built from the kubeconfig alone: no discovery, no API group listing, so a command costs
//! exactly the requests it makes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use acp_api::names;
use anyhow::Context;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

/// How long to wait for a TCP/TLS connection to an API server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for one response.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// `--kubeconfig`, `--context`, `-n`: which global cluster and namespace to talk to.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Kubeconfig of the global cluster (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,

    /// Namespace of the ClusterVersionShadow objects.
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = names::NAMESPACE)]
    pub namespace: String,
}

/// `--cluster`: which managed cluster a command is about.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// Managed cluster (name of its ClusterVersionShadow).
    #[arg(long, value_name = "NAME", default_value = names::GLOBAL_CLUSTER)]
    pub cluster: String,
}

/// A client and what error messages need to say about it.
#[derive(Clone)]
pub struct Connection {
    pub client: kube::Client,
    /// API server URL, for messages.
    pub server: String,
    /// Namespace of the ClusterVersionShadow objects.
    pub namespace: String,
}

impl Connection {
    /// Connects to the global cluster the flags name.
    pub async fn open(args: &ConnectionArgs) -> anyhow::Result<Connection> {
        let (client, server) = client(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        Ok(Connection {
            client,
            server,
            namespace: args.namespace.clone(),
        })
    }
}

/// A client for the cluster of a kubeconfig (`None`: $KUBECONFIG or ~/.kube/config) and its server URL.
pub async fn client(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<(kube::Client, String)> {
    let (mut config, which) = config(kubeconfig, context).await?;
    config.read_timeout = Some(READ_TIMEOUT);
    let server = config.cluster_url.to_string().trim_end_matches('/').to_owned();
    let client = kube::Client::try_from(config)
        .with_context(|| format!("cannot build a client for {server} from {which}"))?;
    Ok((client, server))
}

/// The connection settings of a kubeconfig (`None`: $KUBECONFIG or ~/.kube/config) with the connect
/// timeout set, and how to name the kubeconfig in messages. Long-lived watches set their own read timeout.
pub async fn config(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> anyhow::Result<(kube::Config, String)> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..Default::default()
    };
    let which = match kubeconfig {
        Some(path) => format!("kubeconfig {}", path.display()),
        None => "the default kubeconfig ($KUBECONFIG or ~/.kube/config)".to_owned(),
    };
    let mut config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("cannot read {which}; check the path given to --kubeconfig"))?;
            kube::Config::from_custom_kubeconfig(file, &options).await
        }
        None => kube::Config::from_kubeconfig(&options).await,
    }
    .with_context(|| match context {
        Some(ctx) => {
            format!("cannot use context {ctx:?} of {which}; list contexts with `kubectl config get-contexts`")
        }
        None => format!("cannot use {which}; pass --kubeconfig FILE or set KUBECONFIG"),
    })?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    Ok((config, which))
}
