//! ClusterAPIClusterReady: with kubernetesDriver ClusterAPI, the Cluster object `spec.clusterAPI.clusterRef`
//! names exists in the global cluster, is not paused and is not mid-rollout, so the upgrade starts from a
//! settled cluster and its first version write is the only change in flight.

use acp_api::cvsh::KubernetesDriver;

use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};
use crate::cvsh::stages::kubernetes::cluster_api::{Facts, gather, missing_cluster, unsettled};

pub const NAME: &str = acp_api::checks::CLUSTER_API_CLUSTER_READY;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    if cx.inputs.driver != KubernetesDriver::ClusterAPI {
        return Outcome::passed(
            "NotClusterAPI",
            "the cluster's Kubernetes is not driven through Cluster API: nothing to check",
        );
    }
    let Some(cluster) = cx.inputs.cluster_api else {
        return Outcome::failed(
            "ClusterRefMissing",
            "kubernetesDriver ClusterAPI needs spec.clusterAPI.clusterRef {namespace, name}: set it to the \
             cluster's Cluster object in the global cluster",
        );
    };
    let Some(objects) = cx.platform.cluster_api() else {
        return Outcome::retry(
            "ClusterAPIUnreadable",
            "the global cluster's Cluster API objects cannot be read from here; the check runs again",
        );
    };
    match gather(objects, cluster).await {
        Ok(None) => Outcome::failed("ClusterNotFound", missing_cluster(cluster)),
        Ok(Some(facts)) => decide(&facts),
        Err(err) => Outcome::unanswered(&err),
    }
}

pub fn decide(facts: &Facts) -> Outcome {
    match unsettled(facts) {
        Some(why) if why.contains(" is paused ") => Outcome::failed("ClusterPaused", why),
        Some(why) => Outcome::failed("ClusterRollingOut", why),
        None => Outcome::passed(
            "ClusterSettled",
            format!(
                "Cluster API Cluster {}/{} is settled: {} machine(s), none rolling out",
                facts
                    .cluster
                    .pointer("/metadata/namespace")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(""),
                facts
                    .cluster
                    .pointer("/metadata/name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(""),
                facts.machines.len()
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;
    use serde_json::{Value, json};

    fn machine(name: &str, version: &str, phase: &str) -> Value {
        json!({
            "metadata": {"namespace": "fleet", "name": name,
                         "labels": {"cluster.x-k8s.io/control-plane": ""}},
            "spec": {"version": version},
            "status": {"phase": phase}
        })
    }

    fn facts(cluster_spec: Value, machines: Vec<Value>) -> Facts {
        Facts {
            cluster: json!({"metadata": {"namespace": "fleet", "name": "east"}, "spec": cluster_spec}),
            machines,
            ..Facts::default()
        }
    }

    #[test]
    fn a_paused_or_rolling_cluster_is_refused_with_its_name_and_what_to_do() {
        let topology = json!({"topology": {"version": "v1.32.7"}});
        let settled = facts(topology.clone(), vec![machine("cp-1", "v1.32.7", "Running")]);
        assert_eq!(decide(&settled).state, CheckState::Passed);

        let mut paused_spec = topology.clone();
        paused_spec["paused"] = json!(true);
        let paused = decide(&facts(paused_spec, vec![]));
        assert_eq!((paused.state, paused.reason.as_str()), (CheckState::Failed, "ClusterPaused"));
        assert!(paused.message.contains("Cluster fleet/east is paused"), "{}", paused.message);
        assert!(paused.message.contains("unpause it"), "{}", paused.message);

        for busy in [
            machine("cp-2", "v1.32.4", "Running"),
            machine("cp-2", "v1.32.7", "Provisioning"),
        ] {
            let rolling = decide(&facts(
                topology.clone(),
                vec![machine("cp-1", "v1.32.7", "Running"), busy],
            ));
            assert_eq!(rolling.reason, "ClusterRollingOut", "{}", rolling.message);
            assert!(rolling.message.contains("Machine cp-2"), "{}", rolling.message);
            assert!(rolling.message.contains("wait for the rollout to finish"), "{}", rolling.message);
        }
    }
}
