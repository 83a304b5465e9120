//! Real Kubernetes control planes for tests.
//!
//! The kit starts clusters from binaries built by `tests/harness/build.sh` (kube-apiserver,
//! kube-controller-manager, kube-scheduler, an embedded etcd, kwok and kubectl, one Kubernetes release):
//! each cluster has its own loopback ports, certificates and data directory, reports the Kubernetes version
//! the test chooses (1.31 to 1.34 from one build), and is torn down when dropped, even on panic.
//!
//! - [`TestEnv::start`] starts several clusters at once; [`TestEnv::cluster`] gets one by name.
//! - [`Cluster`] gives clients ([`Cluster::client`]), kubeconfigs ([`Cluster::kubeconfig_path`],
//!   [`Cluster::kubeconfig_yaml`] — embedded certificates, 127.0.0.1), `kubectl`, manifests
//!   ([`Cluster::apply_yaml`]), fake nodes ([`Cluster::create_node`]), and upgrades/outages
//!   ([`Cluster::restart_at`], [`Cluster::stop`], [`Cluster::start_again`]).
//! - [`ChildProcess`] runs any program (e.g. the operator, found with [`workspace_binary`]) as a process
//!   killed on drop, logging to a file printed when the test panics.
//! - [`wait_for`] / [`wait_for_some`] poll a condition with a deadline.
//!
//! Environment variables: `ACP_HARNESS_BIN` (directory of prebuilt harness binaries), `ACP_E2E_KUBECONFIGS`
//! (`name=/path,...`: use existing clusters such as kind instead of starting any), `ACP_E2E_KEEP=1` (keep
//! cluster directories after the test), `ACP_BIN_DIR` (prebuilt workspace binaries).
//!
//! Each cluster costs about 300–450 MiB of memory and a few seconds to start.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod binaries;
mod cluster;
mod env;
mod error;
mod kubeconfig;
mod nodes;
mod pki;
mod ports;
mod process;
mod version;
mod wait;

pub use binaries::{
    HARNESS_BIN_ENV, cluster_api_binary, harness_bin_dir, kubectl_path, repo_root, workspace_binary,
    workspace_binary_from_env,
};
pub use cluster::{CRASH_LOOP_LABEL, Cluster, ClusterSpec, KWOK_NODE_ANNOTATION};
pub use env::{KUBECONFIGS_ENV, TestEnv};
pub use error::{Error, Result};
pub use nodes::{CONTROL_PLANE_LABEL, NodeSpec, is_ready};
pub use process::{ChildProcess, ProcessSpec};
pub use wait::{POLL_INTERVAL, wait_for, wait_for_some};
