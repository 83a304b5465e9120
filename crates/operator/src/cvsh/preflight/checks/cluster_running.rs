//! ClusterRunning: the API server is ready, nodes are Ready, control-plane static pods run.

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::name_list;
use crate::clusters::observe::Observation;
use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::CLUSTER_RUNNING;

/// A node NotReady for longer than this blocks; shorter is treated as a blip worth waiting for.
pub const NOT_READY_GRACE: SignedDuration = SignedDuration::from_mins(5);

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(cx.inputs.observation, cx.inputs.now)
}

pub fn decide(observation: &Observation, now: Timestamp) -> Outcome {
    if !observation.api_ready {
        return Outcome::failed(
            "ApiServerNotReady",
            format!(
                "the API server's /readyz does not report ok: {}",
                observation.api_ready_detail.as_deref().unwrap_or("no detail")
            ),
        );
    }
    let mut long_down = Vec::new();
    let mut never_ready = Vec::new();
    let mut recently_down = Vec::new();
    for node in observation.nodes.iter().filter(|n| !n.ready) {
        match node.ready_since {
            Some(since) if now.duration_since(since) < NOT_READY_GRACE => {
                recently_down.push(format!("`{}`", node.name))
            }
            Some(_) => long_down.push(format!("`{}`", node.name)),
            None => never_ready.push(format!("`{}`", node.name)),
        }
    }
    let stopped: Vec<String> = observation
        .static_pods
        .iter()
        .filter(|p| p.phase != "Running")
        .map(|p| format!("`kube-system/{}` ({})", p.name, p.phase))
        .collect();
    if !long_down.is_empty() || !never_ready.is_empty() || !stopped.is_empty() {
        let mut problems = Vec::new();
        if !long_down.is_empty() {
            problems.push(format!(
                "node {} NotReady for more than 5 minutes",
                name_list(&long_down)
            ));
        }
        if !never_ready.is_empty() {
            problems.push(format!(
                "node {} has not reported a Ready condition",
                name_list(&never_ready)
            ));
        }
        if !stopped.is_empty() {
            problems.push(format!("control-plane pod {} not Running", name_list(&stopped)));
        }
        return Outcome::failed(
            "ClusterUnhealthy",
            format!("{}: repair the cluster before upgrading", problems.join("; ")),
        );
    }
    if !recently_down.is_empty() {
        return Outcome::retry(
            "NodesNotReady",
            format!(
                "node {} became NotReady less than 5 minutes ago; waiting",
                name_list(&recently_down)
            ),
        );
    }
    let ready = observation.nodes.len();
    Outcome::passed(
        "ClusterHealthy",
        format!("API server ready, {ready} of {ready} nodes Ready"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clusters::observe::StaticPodFact;
    use crate::cvsh::preflight::checks::fixtures::{Case, node};
    use acp_api::cvsh::CheckState;

    #[test]
    fn health_table() {
        let now = Case::new().now;
        let minutes_ago = |m: i64| Some(now.checked_sub(SignedDuration::from_mins(m)).unwrap());
        let mut long = node("n1", "v1.33.1");
        long.ready = false;
        long.ready_since = minutes_ago(30);
        let mut blip = node("n2", "v1.33.1");
        blip.ready = false;
        blip.ready_since = minutes_ago(1);
        let pod = |phase: &str| StaticPodFact {
            name: "etcd-cp".into(),
            node: None,
            phase: phase.into(),
        };

        let base = Case::new().observation;
        let table = [
            (
                Observation {
                    api_ready: false,
                    ..base.clone()
                },
                CheckState::Failed,
                "ApiServerNotReady",
            ),
            (
                Observation {
                    nodes: vec![long],
                    ..base.clone()
                },
                CheckState::Failed,
                "ClusterUnhealthy",
            ),
            (
                Observation {
                    nodes: vec![blip],
                    ..base.clone()
                },
                CheckState::Retry,
                "NodesNotReady",
            ),
            (
                Observation {
                    static_pods: vec![pod("Pending")],
                    ..base.clone()
                },
                CheckState::Failed,
                "ClusterUnhealthy",
            ),
            (
                Observation {
                    static_pods: vec![pod("Running")],
                    ..base.clone()
                },
                CheckState::Passed,
                "ClusterHealthy",
            ),
        ];
        for (observation, state, reason) in table {
            let outcome = decide(&observation, now);
            assert_eq!(
                (outcome.state, outcome.reason.as_str()),
                (state, reason),
                "{}",
                outcome.message
            );
        }
    }

    #[test]
    fn the_message_names_the_node() {
        let mut down = node("worker-7", "v1.33.1");
        down.ready = false;
        let observation = Observation {
            nodes: vec![down],
            ..Case::new().observation
        };
        let message = decide(&observation, Case::new().now).message;
        assert!(message.contains("`worker-7`"), "{message}");
        // It never reported Ready: not said to have been NotReady for any time.
        assert!(message.contains("has not reported a Ready condition"), "{message}");
        assert!(!message.contains("5 minutes"), "{message}");
    }
}
