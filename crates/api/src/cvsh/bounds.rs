//! Size bounds of a cvsh status. Text in status often comes from elsewhere: a managed cluster's API
//! server (error bodies, `/readyz`), a release bundle, an administrator's spec. Unbounded, one hostile
//! answer could push the object past etcd's size limit and make every later status write fail, so
//! every message is clipped to a documented length before it is written, and the CRD refuses longer
//! ones (`maxLength`, `maxItems`) as a second line.
//!
//! The worst case the bounds allow stays well under etcd's 1.5 MiB request limit: 100 history entries ×
//! 4 KiB of accepted risks, 64 checks × 4 KiB, 16 conditions × 4 KiB, 16 stages of at most 256
//! operations whose messages are 512 characters (operations are many, so each says less). Only an
//! operation that waits carries insights, at most 3 of about 1.5 K characters each, and at most 8
//! operations of a status carry them.

use super::ClusterVersionShadowStatus;

/// The most characters of a condition message, a preflight check message, `status.observed.message`
/// or a history entry's `acceptedRisks`.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// The most characters of an operation's message.
pub const MAX_OPERATION_MESSAGE_CHARS: usize = 512;
/// The most characters of a short field read from a cluster (a version, a UID).
pub const MAX_SHORT_CHARS: usize = 256;
/// The most insights of one operation.
pub const MAX_INSIGHTS: usize = 3;
/// The most operations of a status that carry insights; the others' are dropped.
pub const MAX_OPERATIONS_WITH_INSIGHTS: usize = 8;
/// The most characters of an insight's message or action.
pub const MAX_INSIGHT_TEXT_CHARS: usize = 512;
/// The most entries of `status.conditions`.
pub const MAX_CONDITIONS: usize = 16;
/// The most entries of `status.preflight.checks`.
pub const MAX_CHECKS: usize = 64;
/// The most entries of `status.stages`.
pub const MAX_STAGES: usize = 16;
/// The most operations of one stage.
pub const MAX_OPERATIONS: usize = 256;
/// The most entries of `status.history` (the policy prunes to this many).
pub const MAX_HISTORY: usize = 100;
/// The most distinct kubelet or runtime versions `status.observed.nodes` lists.
pub const MAX_NODE_VERSIONS: usize = 32;
/// The most characters of a conditional update risk's evidence or message (16 updates × 16 risks).
pub const MAX_RISK_TEXT_CHARS: usize = 512;

/// What a clipped text ends with, so a reader knows there was more.
pub const TRUNCATION_MARKER: &str = "… (truncated)";

/// `text` cut to at most `max` characters (not bytes: the API server counts characters), ending with
/// [`TRUNCATION_MARKER`] when anything was cut. Never splits a character.
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let Some((cut, _)) = text.char_indices().nth(max) else {
        return std::borrow::Cow::Borrowed(text);
    };
    let marker = TRUNCATION_MARKER.chars().count();
    if max <= marker {
        return std::borrow::Cow::Owned(text[..cut].to_string());
    }
    let keep = text
        .char_indices()
        .nth(max - marker)
        .map_or(text.len(), |(i, _)| i);
    std::borrow::Cow::Owned(format!("{}{TRUNCATION_MARKER}", &text[..keep]))
}

fn clip_in_place(text: &mut String, max: usize) {
    if let std::borrow::Cow::Owned(clipped) = clip(text, max) {
        *text = clipped;
    }
}

fn clip_option(text: &mut Option<String>, max: usize) {
    if let Some(text) = text.as_mut() {
        clip_in_place(text, max);
    }
}

impl ClusterVersionShadowStatus {
    /// Clips every message and list to the bounds above. The operator calls this on every status it
    /// writes, so no text from a cluster or a bundle reaches the API server unbounded.
    pub fn clip_to_bounds(&mut self) {
        self.conditions.truncate(MAX_CONDITIONS);
        for condition in &mut self.conditions {
            clip_in_place(&mut condition.message, MAX_MESSAGE_CHARS);
        }
        if let Some(preflight) = self.preflight.as_mut() {
            preflight.checks.truncate(MAX_CHECKS);
            for check in &mut preflight.checks {
                clip_option(&mut check.message, MAX_MESSAGE_CHARS);
            }
        }
        if let Some(observed) = self.observed.as_mut() {
            clip_option(&mut observed.message, MAX_MESSAGE_CHARS);
            clip_option(&mut observed.kubernetes_version, MAX_SHORT_CHARS);
            clip_option(&mut observed.cluster_identity, MAX_SHORT_CHARS);
            if let Some(nodes) = observed.nodes.as_mut() {
                for list in [&mut nodes.kubelet_versions, &mut nodes.runtimes] {
                    list.truncate(MAX_NODE_VERSIONS);
                    list.iter_mut().for_each(|v| clip_in_place(v, MAX_SHORT_CHARS));
                    // Clipping may make two entries equal; the list is a set.
                    list.dedup();
                }
            }
        }
        self.stages.truncate(MAX_STAGES);
        let mut with_insights = 0;
        for stage in &mut self.stages {
            stage.operations.truncate(MAX_OPERATIONS);
            for operation in &mut stage.operations {
                clip_option(&mut operation.message, MAX_OPERATION_MESSAGE_CHARS);
                clip_option(&mut operation.manifest_digest, MAX_SHORT_CHARS);
                operation.insights.truncate(MAX_INSIGHTS);
                if !operation.insights.is_empty() {
                    with_insights += 1;
                    if with_insights > MAX_OPERATIONS_WITH_INSIGHTS {
                        operation.insights.clear();
                    }
                }
                for insight in &mut operation.insights {
                    clip_in_place(&mut insight.object, MAX_SHORT_CHARS);
                    clip_in_place(&mut insight.reason, MAX_SHORT_CHARS);
                    clip_in_place(&mut insight.message, MAX_INSIGHT_TEXT_CHARS);
                    clip_in_place(&mut insight.action, MAX_INSIGHT_TEXT_CHARS);
                }
            }
        }
        self.conditional_updates
            .truncate(crate::risks::MAX_CONDITIONAL_UPDATES);
        for update in &mut self.conditional_updates {
            update.risks.truncate(acp_policy::risks::MAX_RISKS);
            for risk in &mut update.risks {
                clip_in_place(&mut risk.evidence, MAX_RISK_TEXT_CHARS);
                clip_in_place(&mut risk.message, MAX_RISK_TEXT_CHARS);
            }
        }
        self.history.truncate(MAX_HISTORY);
        for entry in &mut self.history {
            clip_option(&mut entry.accepted_risks, MAX_MESSAGE_CHARS);
            clip_option(&mut entry.cluster_identity, MAX_SHORT_CHARS);
            clip_option(&mut entry.release_digest, MAX_SHORT_CHARS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::{
        CheckState, HistoryEntry, HistoryState, NodeSummary, Observed, Preflight, PreflightCheck,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn clipping_keeps_short_text_and_marks_what_it_cut() {
        let table: [(&str, usize, &str); 6] = [
            ("", 20, ""),
            ("exactly twenty chars", 20, "exactly twenty chars"),
            ("exactly twenty chars!", 20, "exactly… (truncated)"),
            ("abcdefghijklmnopqrstuvwxyz", 14, "a… (truncated)"),
            // Too short for the marker: a plain cut.
            ("abcdefghijklmnopqrstuvwxyz", 5, "abcde"),
            // Multi-byte characters are counted as characters and never split.
            ("ééééééééééééééééééééé", 20, "ééééééé… (truncated)"),
        ];
        for (text, max, expected) in table {
            let clipped = clip(text, max);
            assert_eq!(clipped, expected, "{text:?} to {max}");
            assert!(clipped.chars().count() <= max, "{text:?} to {max}");
        }
        let emoji = "🦀".repeat(5000);
        let clipped = clip(&emoji, MAX_MESSAGE_CHARS);
        assert_eq!(clipped.chars().count(), MAX_MESSAGE_CHARS);
        assert!(clipped.ends_with(TRUNCATION_MARKER));
    }

    #[test]
    fn pins_and_identities_fit_the_crd() {
        let entry = |identity: &str, digest: &str| HistoryEntry {
            version: Some("4.3.1".into()),
            image: String::new(),
            state: HistoryState::Partial,
            started_time: Time(Timestamp::UNIX_EPOCH),
            completion_time: None,
            accepted_risks: None,
            release_digest: Some(digest.into()),
            cluster_identity: Some(identity.into()),
        };
        let uid = "6f1c2d3e-0a4b-4c5d-8e9f-0123456789ab";
        let digest = format!("sha256:{}", "a".repeat(64));
        // (identity, digest, identity kept as is, digest kept as is)
        let table: [(String, String, bool, bool); 4] = [
            (uid.into(), digest.clone(), true, true),
            ("u".repeat(MAX_SHORT_CHARS), digest.clone(), true, true),
            ("u".repeat(300), digest.clone(), false, true),
            (uid.into(), "d".repeat(300), true, false),
        ];
        for (identity, digest, identity_kept, digest_kept) in table {
            let mut status = ClusterVersionShadowStatus {
                history: vec![entry(&identity, &digest)],
                observed: Some(Observed {
                    cluster_identity: Some(identity.clone()),
                    ..Observed::default()
                }),
                ..ClusterVersionShadowStatus::default()
            };
            status.clip_to_bounds();
            let clipped = &status.history[0];
            let observed = status
                .observed
                .as_ref()
                .unwrap()
                .cluster_identity
                .as_ref()
                .unwrap();
            for text in [
                clipped.cluster_identity.as_ref().unwrap(),
                clipped.release_digest.as_ref().unwrap(),
                observed,
            ] {
                assert!(
                    text.chars().count() <= MAX_SHORT_CHARS,
                    "{} chars",
                    text.chars().count()
                );
            }
            assert_eq!(
                clipped.cluster_identity.as_ref() == Some(&identity),
                identity_kept,
                "{identity}"
            );
            assert_eq!(observed == &identity, identity_kept, "{identity}");
            assert_eq!(
                clipped.release_digest.as_ref() == Some(&digest),
                digest_kept,
                "{digest}"
            );
        }
    }

    #[test]
    fn every_message_of_a_status_is_bounded() {
        let huge = "x".repeat(3_000_000);
        let condition = Condition {
            type_: "Ready".into(),
            status: "False".into(),
            reason: "ClusterUnreachable".into(),
            message: huge.clone(),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
            observed_generation: None,
        };
        let mut status = ClusterVersionShadowStatus {
            conditions: vec![condition; 40],
            preflight: Some(Preflight {
                checks: vec![
                    PreflightCheck {
                        name: "ClusterRunning".into(),
                        policy: None,
                        state: CheckState::Retry,
                        reason: None,
                        message: Some(huge.clone()),
                    };
                    100
                ],
                ..Preflight::default()
            }),
            observed: Some(Observed {
                message: Some(huge.clone()),
                kubernetes_version: Some(huge.clone()),
                nodes: Some(NodeSummary {
                    kubelet_versions: (0..100).map(|i| format!("v1.{i}.0")).collect(),
                    ..NodeSummary::default()
                }),
                ..Observed::default()
            }),
            ..ClusterVersionShadowStatus::default()
        };
        status.clip_to_bounds();
        let size = serde_json::to_string(&status).unwrap().len();
        assert!(size < 400_000, "{size} bytes");
        assert_eq!(status.conditions.len(), MAX_CONDITIONS);
        assert!(status.conditions[0].message.ends_with(TRUNCATION_MARKER));
        let observed = status.observed.as_ref().unwrap();
        assert_eq!(
            observed.message.as_ref().unwrap().chars().count(),
            MAX_MESSAGE_CHARS
        );
        assert_eq!(
            observed.nodes.as_ref().unwrap().kubelet_versions.len(),
            MAX_NODE_VERSIONS
        );
        let checks = &status.preflight.as_ref().unwrap().checks;
        assert_eq!(checks.len(), MAX_CHECKS);
        assert!(checks[0].message.as_ref().unwrap().ends_with(TRUNCATION_MARKER));
    }

    #[test]
    fn only_a_few_operations_of_a_status_carry_insights() {
        use crate::cvsh::{Insight, InsightScope, Operation, OperationAction, Stage, StagePhase};
        let insight = Insight {
            scope: InsightScope::Workload,
            object: "o".repeat(1_000),
            reason: "CrashLoopBackOff".into(),
            message: "m".repeat(10_000),
            action: "a".repeat(10_000),
        };
        let op = |i: usize| Operation {
            insights: vec![insight.clone(); 10],
            ..Operation::pending(format!("module-{i}"), OperationAction::Upgrade)
        };
        let mut status = ClusterVersionShadowStatus {
            stages: vec![Stage {
                name: "Core".into(),
                priority: 30,
                phase: StagePhase::Running,
                operations: (0..MAX_OPERATIONS).map(op).collect(),
            }],
            ..ClusterVersionShadowStatus::default()
        };
        status.clip_to_bounds();
        let carrying: Vec<&Operation> = status.stages[0]
            .operations
            .iter()
            .filter(|o| !o.insights.is_empty())
            .collect();
        assert_eq!(carrying.len(), MAX_OPERATIONS_WITH_INSIGHTS);
        assert!(carrying.iter().all(|o| o.insights.len() == MAX_INSIGHTS));
        let insight = &carrying[0].insights[0];
        assert_eq!(insight.message.chars().count(), MAX_INSIGHT_TEXT_CHARS);
        assert_eq!(insight.object.chars().count(), MAX_SHORT_CHARS);
    }
}
