//! Values the cluster-version tests share.

use acp_api::ClusterVersionShadowStatus;
use acp_api::conditions::{Clock, FixedClock};
use acp_api::cvsh::{
    HistoryEntry, HistoryState, Operation, OperationAction, OperationPhase, Release, Stage, StagePhase,
};
use acp_api::k8s::{Time, Timestamp};
use acp_policy::AcpVersion;

use super::project::{Pins, started_entry};

/// A clock `seconds` after a fixed instant.
pub fn clock(seconds: i64) -> FixedClock {
    FixedClock(Timestamp::from_second(1_800_000_000 + seconds).unwrap())
}

pub fn v(text: &str) -> AcpVersion {
    text.parse().unwrap()
}

/// A history entry started at the epoch, pinned to `identity` if given.
pub fn entry(version: &str, state: HistoryState, identity: Option<&str>) -> HistoryEntry {
    HistoryEntry {
        version: Some(version.into()),
        image: String::new(),
        state,
        started_time: Time(Timestamp::UNIX_EPOCH),
        completion_time: None,
        accepted_risks: None,
        release_digest: None,
        cluster_identity: identity.map(String::from),
    }
}

/// An upgrade to 4.3.1 under way: one Running stage with `done` of `total` operations Succeeded.
pub fn executing_status(done: usize, total: usize) -> ClusterVersionShadowStatus {
    let operations = (0..total)
        .map(|i| Operation {
            phase: Some(if i < done {
                OperationPhase::Succeeded
            } else {
                OperationPhase::Pending
            }),
            ..Operation::pending(format!("op{i}"), OperationAction::Upgrade)
        })
        .collect();
    ClusterVersionShadowStatus {
        desired: Some(Release::version("4.3.1")),
        history: vec![started_entry(
            &v("4.3.1"),
            None,
            &[],
            Pins::default(),
            clock(0).time(),
        )],
        stages: vec![Stage {
            name: "Core".into(),
            priority: 30,
            phase: StagePhase::Running,
            operations,
        }],
        ..Default::default()
    }
}
