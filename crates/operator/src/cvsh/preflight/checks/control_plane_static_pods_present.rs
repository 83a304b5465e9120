//! ControlPlaneStaticPodsPresent: every control-plane node of a platform-managed cluster has the
//! mirror pods of its static control-plane components (etcd's too, unless kubeadm-config declares an
//! external etcd).

use acp_api::cvsh::Provisioning;

use super::name_list;
use crate::clusters::observe::Observation;
use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::CONTROL_PLANE_STATIC_PODS_PRESENT;

/// Static pods each control-plane node runs, named `<component>-<node>`.
pub const COMPONENTS: [&str; 4] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
];

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(cx.inputs.provisioning, cx.inputs.observation)
}

pub fn decide(provisioning: Provisioning, observation: &Observation) -> Outcome {
    if provisioning == Provisioning::ThirdParty {
        return Outcome::passed(
            "NotPlatformManaged",
            "third-party cluster: its control plane is not managed by the platform",
        );
    }
    let control_plane: Vec<&str> = observation
        .nodes
        .iter()
        .filter(|n| n.control_plane)
        .map(|n| n.name.as_str())
        .collect();
    if control_plane.is_empty() {
        return Outcome::passed(
            "NoControlPlaneNodes",
            "no node carries the node-role.kubernetes.io/control-plane label (hosted control plane): nothing to check",
        );
    }
    // An external etcd runs outside the nodes: kubeadm makes no etcd static pod then.
    let components: Vec<&str> = COMPONENTS
        .into_iter()
        .filter(|c| !(observation.external_etcd && *c == "etcd"))
        .collect();
    let missing: Vec<String> = control_plane
        .iter()
        .flat_map(|node| {
            components
                .iter()
                .map(move |component| format!("{component}-{node}"))
        })
        .filter(|pod| !observation.static_pods.iter().any(|p| &p.name == pod))
        .map(|pod| format!("`kube-system/{pod}`"))
        .collect();
    if missing.is_empty() {
        return Outcome::passed(
            "StaticPodsPresent",
            format!(
                "all control-plane static pods present on {} node(s){}",
                control_plane.len(),
                if observation.external_etcd {
                    " (etcd is external, as kubeadm-config declares: no etcd pod expected)"
                } else {
                    ""
                }
            ),
        );
    }
    // Only etcd's pods missing is what a cluster with an external etcd looks like when its
    // kubeadm-config could not be read.
    let only_etcd = missing.iter().all(|pod| pod.starts_with("`kube-system/etcd-"));
    Outcome::failed(
        "StaticPodsMissing",
        format!(
            "mirror pod {} missing: the upgrade replaces static pod manifests on each control-plane node; restore \
             them (check /etc/kubernetes/manifests and the kubelet) first{}",
            name_list(&missing),
            if only_etcd {
                ". If this cluster's etcd is external, let acp-cvo read ConfigMap kube-system/kubeadm-config, \
                 which declares it"
            } else {
                ""
            }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clusters::observe::StaticPodFact;
    use crate::cvsh::preflight::checks::fixtures::{Case, node};
    use acp_api::cvsh::CheckState;

    #[test]
    fn each_control_plane_node_needs_all_four_components() {
        let mut cp = node("cp-1", "v1.33.1");
        cp.control_plane = true;
        let pod = |name: &str| StaticPodFact {
            name: name.into(),
            node: Some("cp-1".into()),
            phase: "Running".into(),
        };
        let mut observation = Case::new().observation;
        observation.nodes = vec![cp, node("worker", "v1.33.1")];
        observation.static_pods = [
            "kube-apiserver-cp-1",
            "kube-controller-manager-cp-1",
            "kube-scheduler-cp-1",
        ]
        .into_iter()
        .map(pod)
        .collect();
        let outcome = decide(Provisioning::PlatformManaged, &observation);
        assert_eq!(outcome.state, CheckState::Failed);
        assert!(
            outcome.message.contains("`kube-system/etcd-cp-1`")
                && outcome.message.contains("If this cluster's etcd is external"),
            "{}",
            outcome.message
        );

        // With an external etcd, kubeadm runs no etcd pod.
        observation.external_etcd = true;
        let outcome = decide(Provisioning::PlatformManaged, &observation);
        assert_eq!(outcome.state, CheckState::Passed, "{}", outcome.message);
        assert!(outcome.message.contains("etcd is external"), "{}", outcome.message);
        observation.external_etcd = false;

        observation.static_pods.push(pod("etcd-cp-1"));
        assert_eq!(
            decide(Provisioning::PlatformManaged, &observation).state,
            CheckState::Passed
        );
        observation.static_pods.clear();
        assert_eq!(
            decide(Provisioning::ThirdParty, &observation).state,
            CheckState::Passed
        );
    }

    #[test]
    fn clusters_without_control_plane_nodes_pass_saying_why() {
        let outcome = decide(Provisioning::PlatformManaged, &Case::new().observation);
        assert_eq!(
            (outcome.state, outcome.reason.as_str()),
            (CheckState::Passed, "NoControlPlaneNodes")
        );
    }
}
