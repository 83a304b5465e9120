//! The kit's error type: every variant says what failed and where to look next.

use std::path::PathBuf;
use std::time::Duration;

/// Result of the kit's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while preparing, starting, driving or stopping test clusters and processes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The Kubernetes binaries could not be found or built.
    #[error("Kubernetes test binaries are unavailable: {0}")]
    Binaries(String),

    /// A file-system or process operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What the kit was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// Certificates or keys could not be generated.
    #[error("generating certificates for cluster {cluster}: {message}")]
    Certificates {
        /// Cluster the certificates were for.
        cluster: String,
        /// What rcgen reported.
        message: String,
    },

    /// A control-plane component exited or never became ready.
    #[error(
        "cluster {cluster}: {component} {problem} (logs in {}):\n{log_tail}",
        log_dir.display()
    )]
    Component {
        /// Cluster name.
        cluster: String,
        /// Component name, e.g. `kube-apiserver`.
        component: String,
        /// What happened, e.g. "exited with status 1".
        problem: String,
        /// Directory holding every component's log.
        log_dir: PathBuf,
        /// Last lines of the component's log.
        log_tail: String,
    },

    /// A condition polled with [`crate::wait_for`] did not hold in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// Description of the awaited condition.
        what: String,
        /// How long the kit waited.
        after: Duration,
    },

    /// `kubectl` failed.
    #[error("kubectl {args} failed ({status}): {stderr}")]
    Kubectl {
        /// The arguments given.
        args: String,
        /// Exit status.
        status: String,
        /// What kubectl wrote to stderr.
        stderr: String,
    },

    /// A Kubernetes API call failed.
    #[error("cluster {cluster}: {context}: {source}")]
    Kube {
        /// Cluster name.
        cluster: String,
        /// What the kit was doing.
        context: String,
        /// The client error.
        #[source]
        source: kube::Error,
    },

    /// A kubeconfig could not be read or turned into a client.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// Path of the kubeconfig.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },

    /// The request does not fit the kit's configuration (unknown cluster, bad version, external cluster).
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
