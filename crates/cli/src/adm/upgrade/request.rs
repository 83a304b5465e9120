//! `ac adm upgrade --to/--to-latest/--clear`: the client-side guards and the merge patch they lead to.
//!
//! The flags become an [`acp_api::cvsh::request::Request`]; the guards themselves live in acp-api, shared
//! with the web console.

use acp_policy::AcpVersion;
use clap::Args;

pub use acp_api::cvsh::request::{Action, Refusal, Request, RequestKind, decide};

/// The flags that ask for (or cancel) an upgrade.
#[derive(Debug, Clone, Default, Args)]
pub struct RequestArgs {
    /// Upgrade to this version; it must be one of the available updates unless
    /// --allow-explicit-upgrade is given.
    #[arg(long, value_name = "VERSION", conflicts_with_all = ["to_latest", "clear"])]
    pub to: Option<AcpVersion>,

    /// Upgrade to the newest available update.
    #[arg(long, conflicts_with = "clear")]
    pub to_latest: bool,

    /// Cancel a requested upgrade that has not started executing.
    #[arg(long)]
    pub clear: bool,

    /// Request --to VERSION even when it is not an available update (the operator's preflight
    /// still decides).
    // clap skips `requires` when the required flag conflicts with one given, hence the conflicts too.
    #[arg(long, requires = "to", conflicts_with_all = ["to_latest", "clear"])]
    pub allow_explicit_upgrade: bool,

    /// Let the upgrade go past failed preflight checks (all but VersionUpgradePath); each one is
    /// recorded in the history as an accepted risk. A closed maintenance window is not a failed check:
    /// see --ignore-maintenance-window.
    #[arg(long, requires = "target", conflicts_with = "clear")]
    pub force: bool,

    /// Start the upgrade even while the cluster's maintenance window is closed; recorded in the
    /// history as an accepted risk.
    #[arg(long, requires = "target", conflicts_with = "clear")]
    pub ignore_maintenance_window: bool,

    /// Request the upgrade even while the cluster is Degraded, Reconciling or Stalled.
    #[arg(long, requires = "target", conflicts_with = "clear")]
    pub allow_upgrade_with_warnings: bool,

    /// Accept these known risks of the target (names from `ac adm upgrade`), comma-separated: the
    /// upgrade may then go past them, and each is recorded in the history with its evidence.
    #[arg(
        long,
        value_name = "RISK[,RISK]",
        value_delimiter = ',',
        requires = "target",
        conflicts_with = "clear"
    )]
    pub accept: Vec<String>,

    /// Request a target that is not recommended for this cluster (a known risk applies or is Unknown).
    #[arg(long, requires = "target", conflicts_with = "clear")]
    pub allow_not_recommended: bool,
}

impl RequestArgs {
    /// The request the flags make, if any.
    pub fn request(&self) -> Option<Request> {
        let kind = if let Some(version) = &self.to {
            RequestKind::To(version.clone())
        } else if self.to_latest {
            RequestKind::ToLatest
        } else if self.clear {
            RequestKind::Clear
        } else {
            return None;
        };
        Some(Request {
            kind,
            force: self.force,
            ignore_window: self.ignore_maintenance_window,
            allow_explicit: self.allow_explicit_upgrade,
            allow_with_warnings: self.allow_upgrade_with_warnings,
            accept: self
                .accept
                .iter()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect(),
            allow_not_recommended: self.allow_not_recommended,
        })
    }
}
