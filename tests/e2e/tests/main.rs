//! The end-to-end suites, as one test binary: one module per area, each a file in this directory (an area
//! with several files has a directory of the same name). What several areas need lives in the `acp_e2e`
//! library: `acp_e2e::operator` (the operator as a process, polling its status), `acp_e2e::cli` (`ac` as a
//! process), `acp_e2e::bundles` (a registry and release bundles).
//!
//! - One area: `cargo test -p acp-e2e --test e2e hostile::`; one test: add its name to the filter.
//! - The measurements (ignored tests): `cargo test -p acp-e2e --test e2e operator_bench:: -- --ignored
//!   --nocapture --test-threads 1`, and `cli_bench::` likewise with `--release`. `operator_bench::scale`
//!   (thousands of clusters, half an hour) runs the release build `ACP_OPERATOR_BIN` names, see its module.
//! - A new area is a file here and a `mod` line below; `layout::every_file_here_is_compiled` fails when
//!   the line is missing.
//!
//! All areas run in one process, so a test must not change what the others share: no environment
//! variables set, no working directory changed, no global subscriber or crypto provider installed unless
//! that is idempotent, no fixed ports or paths (use free ports and the test's own `TestEnv::dir()`). Each
//! test starts its own clusters, whose objects are therefore its own.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_bench;
mod cli_bundle;
mod cli_cluster;
mod cli_operator;
mod cli_release;
mod cli_rollout;
mod cli_upgrade;
mod cluster_api;
mod console;
mod console_http;
mod container;
mod crds;
mod faults;
mod harness_lifecycle;
mod harness_process;
mod harness_versions;
mod harness_workloads;
mod hostile;
mod insights;
mod layout;
mod maintenance_windows;
mod notifications;
mod operator_bad_input;
mod operator_bench;
mod operator_bundle;
mod operator_concurrency;
mod operator_failover;
mod operator_fencing;
mod operator_install;
mod operator_resume;
mod operator_rules;
mod operator_upgrade;
mod packaging;
mod packaging_rbac;
mod preflight_failures;
mod risks;
mod rollouts;
mod workflow;
