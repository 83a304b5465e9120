//! KubernetesVersionSupported: the Kubernetes versions concerned fit the target (REFERENCE §2).
//!
//! For the global tier that is every registered workload cluster under the target's rule ("within
//! range" from 4.3, "latest required" up to 4.2); for a workload cluster, its own version against the
//! target's compatible list (platform-managed) or third-party range.

use acp_api::cvsh::Tier;
use acp_policy::{WorkloadCluster, global_gate, workload_kubernetes};

use super::name_list;
use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Inputs, Outcome, Sources};


pub const NAME: &str = acp_api::checks::KUBERNETES_VERSION_SUPPORTED;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    decide(cx.inputs)
}

pub fn decide(inputs: &Inputs<'_>) -> Outcome {
    if inputs.target_release().is_none() {
        return Outcome::retry(
            "UnknownRelease",
            format!(
                "ACP {} is not a known release yet, so its Kubernetes range is unknown",
                inputs.target
            ),
        );
    }
    match inputs.tier {
        Tier::Global | Tier::GlobalStandby => global(inputs),
        Tier::Workload => workload(inputs),
    }
}

fn global(inputs: &Inputs<'_>) -> Outcome {
    let Some(current) = inputs.current else {
        return Outcome::failed(
            "UnknownCurrentVersion",
            format!(
                "the platform version of cluster {} is unknown; see ClusterVersionUpgradeable",
                inputs.cluster
            ),
        );
    };
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for workload in &inputs.fleet.workloads {
        match (workload.reachable, workload.kube_version) {
            (true, Some(version)) => known.push(WorkloadCluster::new(
                &workload.name,
                version,
                workload.provisioning,
            )),
            _ => unknown.push(format!("`{}`", workload.name)),
        }
    }
    let verdict = global_gate(inputs.catalogue, current, inputs.target, &known);
    if verdict.is_refused() || unknown.is_empty() {
        let mut outcome = Outcome::from_verdict(&verdict);
        if !unknown.is_empty() {
            outcome.message.push_str(&format!(
                "; not judged yet (unreachable): {}",
                name_list(&unknown)
            ));
        }
        return outcome;
    }
    Outcome::retry(
        "ClusterUnreachable",
        format!(
            "the Kubernetes version of workload cluster {} is not known (unreachable or not observed yet); the \
             check runs again when it answers, or remove its ClusterVersionShadow if it is gone",
            name_list(&unknown)
        ),
    )
}

fn workload(inputs: &Inputs<'_>) -> Outcome {
    let Some(version) = inputs.observation.kubernetes_version else {
        return Outcome::retry(
            "ClusterUnreachable",
            format!(
                "the Kubernetes version of cluster {} is not known yet; the check runs again",
                inputs.cluster
            ),
        );
    };
    let cluster = WorkloadCluster::new(inputs.cluster, version, inputs.provisioning.into());
    Outcome::from_verdict(&workload_kubernetes(inputs.catalogue, inputs.target, &cluster))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clusters::ClusterError;
    use crate::clusters::observe::Observation;
    use crate::cvsh::fleet::WorkloadView;
    use crate::cvsh::preflight::checks::fixtures::Case;
    use acp_api::cvsh::CheckState;
    use acp_policy::{AcpVersion, Provisioning};

    fn workload(name: &str, kube: Option<&str>) -> WorkloadView {
        WorkloadView {
            name: name.into(),
            provisioning: Provisioning::PlatformManaged,
            kube_version: kube.map(|k| k.parse().unwrap()),
            reachable: kube.is_some(),
            executing: false,
        }
    }

    fn global_case(current: &str, target: &str, workloads: Vec<WorkloadView>) -> Outcome {
        let mut case = Case::new();
        case.tier = Tier::Global;
        case.current = Some(current.parse().unwrap());
        case.target = target.parse().unwrap();
        case.fleet.workloads = workloads;
        decide(&case.inputs())
    }

    #[test]
    fn the_global_tier_is_judged_on_every_workload_cluster() {
        let blocked = global_case(
            "4.2.3",
            "4.3.1",
            vec![workload("old", Some("v1.30.2")), workload("new", Some("v1.33.1"))],
        );
        assert_eq!(blocked.state, CheckState::Failed);
        assert!(blocked.message.contains("`old`"), "{}", blocked.message);
        assert!(!blocked.message.contains("`new`"), "{}", blocked.message);

        let fine = global_case(
            "4.2.3",
            "4.3.1",
            vec![workload("a", Some("v1.31.9")), workload("b", Some("v1.33.1"))],
        );
        assert_eq!(fine.state, CheckState::Passed, "{}", fine.message);
    }

    #[test]
    fn up_to_4_2_every_workload_must_be_on_the_latest_common_minor() {
        let refused = global_case("4.1.5", "4.2.5", vec![workload("w", Some("v1.31.4"))]);
        assert_eq!(
            (refused.state, refused.reason.as_str()),
            (CheckState::Failed, "KubernetesNotLatestCompatible")
        );
        let allowed = global_case("4.1.5", "4.2.5", vec![workload("w", Some("v1.32.3"))]);
        assert_eq!(allowed.state, CheckState::Passed, "{}", allowed.message);
    }

    #[test]
    fn an_unreachable_workload_makes_the_global_check_wait_unless_another_already_fails() {
        let waiting = global_case(
            "4.2.3",
            "4.3.1",
            vec![workload("gone", None), workload("b", Some("v1.33.1"))],
        );
        assert_eq!(waiting.state, CheckState::Retry);
        assert!(waiting.message.contains("`gone`"));
        let failing = global_case(
            "4.2.3",
            "4.3.1",
            vec![workload("gone", None), workload("old", Some("v1.30.1"))],
        );
        assert_eq!(failing.state, CheckState::Failed);
        assert!(failing.message.contains("not judged yet"), "{}", failing.message);
    }

    #[test]
    fn a_workload_cluster_is_judged_on_its_own_version() {
        let mut case = Case::new();
        case.observation.kubernetes_version = Some("v1.30.4".parse().unwrap());
        let outcome = decide(&case.inputs());
        assert_eq!(
            (outcome.state, outcome.reason.as_str()),
            (CheckState::Failed, "KubernetesBelowCompatibleRange")
        );
        assert!(outcome.message.contains("`east`"), "{}", outcome.message);

        case.observation.kubernetes_version = Some("v1.33.7".parse().unwrap());
        assert_eq!(decide(&case.inputs()).state, CheckState::Passed);

        case.observation = Observation::unreachable(&ClusterError::Unreachable {
            cluster: "east".into(),
            message: "connection refused".into(),
        });
        assert_eq!(decide(&case.inputs()).state, CheckState::Retry);
    }

    #[test]
    fn an_unknown_target_waits_for_its_release() {
        let mut case = Case::new();
        case.target = AcpVersion::new(4, 9, 0);
        assert_eq!(decide(&case.inputs()).state, CheckState::Retry);
    }
}
