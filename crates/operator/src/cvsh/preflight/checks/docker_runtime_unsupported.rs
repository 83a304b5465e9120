//! DockerRuntimeUnsupported: no node runs the Docker runtime.

use super::name_list;
use crate::clusters::observe::NodeFact;
use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::DOCKER_RUNTIME_UNSUPPORTED;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(&cx.inputs.observation.nodes)
}

pub fn decide(nodes: &[NodeFact]) -> Outcome {
    let docker: Vec<String> = nodes
        .iter()
        .filter(|n| n.container_runtime.starts_with("docker://"))
        .map(|n| format!("`{}` ({})", n.name, n.container_runtime))
        .collect();
    if docker.is_empty() {
        return Outcome::passed(
            "NoDockerRuntime",
            format!("none of {} nodes runs Docker", nodes.len()),
        );
    }
    Outcome::failed(
        "DockerRuntimeFound",
        format!(
            "node {} runs the Docker runtime, which the target release no longer supports: migrate those nodes to \
             containerd first",
            name_list(&docker)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::preflight::checks::fixtures::node;
    use acp_api::cvsh::CheckState;

    #[test]
    fn docker_nodes_are_named() {
        let mut docker = node("old-worker", "v1.31.1");
        docker.container_runtime = "docker://24.0.7".into();
        let outcome = decide(&[node("a", "v1.31.1"), docker]);
        assert_eq!(outcome.state, CheckState::Failed);
        assert!(
            outcome.message.contains("`old-worker` (docker://24.0.7)"),
            "{}",
            outcome.message
        );
        assert_eq!(decide(&[node("a", "v1.31.1")]).state, CheckState::Passed);
        assert_eq!(decide(&[]).state, CheckState::Passed);
    }
}
