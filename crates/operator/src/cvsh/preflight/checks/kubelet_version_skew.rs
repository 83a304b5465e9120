//! KubeletVersionSkew: every kubelet stays within the supported skew of every control-plane version the
//! upgrade passes through (never newer than the API server, at most three minors older).

use acp_api::cvsh::KubernetesDriver;
use acp_policy::{KubeVersion, Kubelet, kubelet_skew, kubernetes_hops};

use super::name_list;
use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Inputs, Outcome, Sources};


pub const NAME: &str = acp_api::checks::KUBELET_VERSION_SKEW;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(cx.inputs)
}

pub fn decide(inputs: &Inputs<'_>) -> Outcome {
    let Some(apiserver) = inputs.observation.kubernetes_version else {
        return Outcome::retry(
            "ApiServerVersionUnknown",
            "the API server version is not known yet",
        );
    };
    let current = apiserver.minor_line();
    let target_minor = inputs.target_release().and_then(|r| r.kubernetes.target_minor());
    let mut apiservers = vec![current];
    if inputs.driver != KubernetesDriver::None
        && let Some(target_minor) = target_minor
    {
        apiservers.extend(kubernetes_hops(current, target_minor));
    }
    let mut kubelets = Vec::new();
    let mut unreadable = Vec::new();
    for node in &inputs.observation.nodes {
        match node.kubelet_version.parse::<KubeVersion>() {
            Ok(version) => kubelets.push(Kubelet {
                node: node.name.clone(),
                version,
            }),
            Err(_) => unreadable.push(format!("`{}` ({:?})", node.name, node.kubelet_version)),
        }
    }
    if !unreadable.is_empty() {
        return Outcome::failed(
            "KubeletVersionUnreadable",
            format!(
                "node {} reports a kubelet version that cannot be read",
                name_list(&unreadable)
            ),
        );
    }
    Outcome::from_verdict(&kubelet_skew(&apiservers, &kubelets))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::preflight::checks::fixtures::{Case, node};
    use acp_api::cvsh::CheckState;

    #[test]
    fn kubelets_are_checked_against_each_hop() {
        // 1.33 control plane going to 1.34: a 1.30 kubelet is fine now but four minors behind 1.34.
        let mut case = Case::new();
        case.observation.nodes = vec![node("old", "v1.30.2"), node("new", "v1.33.7")];
        let outcome = decide(&case.inputs());
        assert_eq!(outcome.state, CheckState::Failed);
        assert!(outcome.message.contains("old"), "{}", outcome.message);

        case.observation.nodes = vec![node("ok", "v1.31.2")];
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);

        // Without a Kubernetes driver the control plane stays where it is.
        case.driver = KubernetesDriver::None;
        case.observation.nodes = vec![node("old", "v1.30.2")];
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);
    }

    #[test]
    fn a_kubelet_newer_than_the_api_server_fails() {
        let mut case = Case::new();
        case.observation.nodes = vec![node("ahead", "v1.34.1")];
        assert_eq!(decide(&case.inputs()).state, CheckState::Failed);
    }
}
