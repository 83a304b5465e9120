//! Known risks (conditional updates): for each release a cluster may upgrade to, the cluster's exposure
//! to every risk the release declares. This module only reads: one fact per matching rule, from the
//! observation gathered already (nodes, `/version`) or from the cluster (`ObjectPresent` lookups, the
//! API server's `/metrics`); `acp_policy::risks` decides. Rules are tried in order and reading stops at
//! the first that can be evaluated; a rule met twice in one reconcile (the same risk on several
//! releases) is read once.

use std::collections::BTreeMap;

use acp_api::risks::{ConditionalUpdate, ConditionalUpdateRisk};
use acp_policy::risks::rules::{self, NodeInfoFact};
use acp_policy::risks::{Exposure, MatchingRule, Risk, RuleFact, exposure};
use acp_policy::{AcpVersion, ProductRelease};

use super::preflight::sources::{MetricsSource, ObjectPresenceSource};
use crate::clusters::observe::Observation;

/// What a cluster is read through for its risks.
pub trait RiskSources: ObjectPresenceSource + MetricsSource + Sync {}
impl<T: ObjectPresenceSource + MetricsSource + Sync> RiskSources for T {}

/// One risk of a release and the cluster's exposure to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluated {
    pub risk: Risk,
    pub exposure: Exposure,
}

/// The risks of one release a cluster may upgrade to, evaluated upgrading from `from`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReleaseRisks {
    pub version: AcpVersion,
    pub from: Option<AcpVersion>,
    pub risks: Vec<Evaluated>,
}

impl ReleaseRisks {
    /// The status entry for this release (none when it declares no risks).
    pub fn conditional_update(&self) -> Option<ConditionalUpdate> {
        let risks = self
            .risks
            .iter()
            .map(|e| ConditionalUpdateRisk::new(&e.risk, &e.exposure))
            .collect();
        ConditionalUpdate::new(&self.version, risks)
    }
}

/// Evaluates the risks of every release in `releases` (those declaring none are left out) for the
/// cluster named `cluster`, upgrading from `current`.
pub async fn evaluate(
    cluster: &str,
    source: &impl RiskSources,
    observation: &Observation,
    current: Option<&AcpVersion>,
    releases: &[&ProductRelease],
) -> Vec<ReleaseRisks> {
    let mut reader = Reader {
        cluster,
        source,
        observation,
        metrics: None,
        memo: BTreeMap::new(),
    };
    let mut out = Vec::new();
    for release in releases.iter().filter(|r| !r.risks.is_empty()) {
        let mut risks = Vec::with_capacity(release.risks.len());
        for risk in &release.risks {
            let facts = match current {
                // Outside appliesFrom (or from an unknown version) no rule is read: the decision does
                // not need them.
                Some(c) if risk.applies_from_version(c) => reader.facts(risk).await,
                _ => Vec::new(),
            };
            risks.push(Evaluated {
                exposure: exposure(risk, current, &facts),
                risk: risk.clone(),
            });
        }
        out.push(ReleaseRisks {
            version: release.version.clone(),
            from: current.cloned(),
            risks,
        });
    }
    out
}

struct Reader<'a, S> {
    cluster: &'a str,
    source: &'a S,
    observation: &'a Observation,
    /// `/metrics`, read at most once per reconcile.
    metrics: Option<Result<String, String>>,
    /// Facts by rule, so a rule several releases share is read once.
    memo: BTreeMap<String, RuleFact>,
}

impl<S: RiskSources> Reader<'_, S> {
    /// Facts for the risk's rules in order, up to the first that could be evaluated.
    async fn facts(&mut self, risk: &Risk) -> Vec<RuleFact> {
        let mut facts = Vec::new();
        for rule in &risk.matching_rules {
            let fact = self.fact(rule).await;
            let decided = matches!(fact, RuleFact::Evaluated { .. });
            facts.push(fact);
            if decided {
                break;
            }
        }
        facts
    }

    async fn fact(&mut self, rule: &MatchingRule) -> RuleFact {
        let key = serde_json::to_string(rule).unwrap_or_default();
        if let Some(fact) = self.memo.get(&key) {
            return fact.clone();
        }
        let fact = self.read(rule).await;
        self.memo.insert(key, fact.clone());
        fact
    }

    /// Why the cluster could not be read this reconcile, if it could not.
    fn unreachable(&self) -> Option<String> {
        (!self.observation.reachable).then(|| {
            format!(
                "cluster {} is unreachable ({})",
                self.cluster,
                self.observation.error.as_deref().unwrap_or("no answer")
            )
        })
    }

    async fn read(&mut self, rule: &MatchingRule) -> RuleFact {
        if let MatchingRule::Always = rule {
            return RuleFact::matched("the release declares this risk for every cluster");
        }
        if let Some(why) = self.unreachable() {
            return RuleFact::unevaluable(why);
        }
        match rule {
            MatchingRule::Always => RuleFact::matched("the release declares this risk for every cluster"),
            MatchingRule::ObjectPresent { object_present } => {
                let lookup = self.source.find_objects(object_present).await;
                rules::object_present(object_present, &lookup)
            }
            MatchingRule::NodeInfo { node_info } => {
                let nodes: Vec<NodeInfoFact> = self
                    .observation
                    .nodes
                    .iter()
                    .map(|n| NodeInfoFact {
                        name: n.name.clone(),
                        container_runtime_version: n.container_runtime.clone(),
                        kubelet_version: n.kubelet_version.clone(),
                        os_image: n.os_image.clone(),
                    })
                    .collect();
                rules::node_info(node_info, Ok(&nodes))
            }
            MatchingRule::KubernetesVersion { kubernetes_version } => rules::kubernetes_version(
                kubernetes_version,
                self.observation
                    .kubernetes_version
                    .ok_or("the cluster did not report it"),
            ),
            MatchingRule::Metric { metric } => {
                if self.metrics.is_none() {
                    let read = self.source.apiserver_metrics().await.map_err(|e| e.to_string());
                    self.metrics = Some(read);
                }
                let text = match &self.metrics {
                    Some(Ok(text)) => Ok(text.as_str()),
                    Some(Err(why)) => Err(why.as_str()),
                    None => Err("not read"),
                };
                rules::metric(metric, text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::clusters::ClusterError;
    use crate::cvsh::preflight::checks::fixtures::{Case, node};
    use acp_policy::risks::rules::ObjectLookup;

    /// A cluster answering lookups from a table, counting what it was asked.
    #[derive(Default)]
    struct FakeCluster {
        objects: BTreeMap<String, ObjectLookup>,
        metrics: Option<String>,
        asked: Mutex<Vec<String>>,
    }

    impl ObjectPresenceSource for FakeCluster {
        async fn find_objects(&self, rule: &acp_policy::risks::ObjectPresent) -> ObjectLookup {
            let what = rule.describe();
            self.asked.lock().unwrap().push(what.clone());
            self.objects
                .get(&what)
                .cloned()
                .unwrap_or(ObjectLookup::Found(vec![]))
        }
    }

    impl MetricsSource for FakeCluster {
        async fn apiserver_metrics(&self) -> Result<String, ClusterError> {
            self.asked.lock().unwrap().push("/metrics".into());
            self.metrics.clone().ok_or(ClusterError::Refused {
                cluster: "east".into(),
                what: "get /metrics".into(),
                code: 403,
                message: "forbidden".into(),
            })
        }
    }

    fn forbidden(what: &str) -> ObjectLookup {
        ObjectLookup::Failed(format!("cluster east refused get {what}: forbidden"))
    }

    fn v(s: &str) -> AcpVersion {
        s.parse().unwrap()
    }

    const FLANNEL: &str = "DaemonSet kube-system/kube-flannel-ds";

    fn exposures(evaluated: &[ReleaseRisks]) -> Vec<(String, String, &'static str)> {
        evaluated
            .iter()
            .flat_map(|r| {
                r.risks
                    .iter()
                    .map(|e| (r.version.to_string(), e.risk.name.clone(), e.exposure.as_str()))
            })
            .collect()
    }

    #[tokio::test]
    async fn the_builtin_risks_are_read_off_the_cluster_once_per_rule() {
        let case = Case::new();
        let catalogue = &case.catalogue;
        let releases: Vec<&ProductRelease> = ["4.1.5", "4.2.5", "4.3.0", "4.3.1"]
            .iter()
            .map(|s| catalogue.release(&v(s)).unwrap())
            .collect();
        let mut observation = case.observation.clone();
        let mut old = node("worker-2", "v1.32.11");
        old.container_runtime = "containerd://1.7".into();
        observation.nodes.push(old);
        let cluster = FakeCluster {
            objects: BTreeMap::from([(
                FLANNEL.to_string(),
                ObjectLookup::Found(vec!["kube-system/kube-flannel-ds".into()]),
            )]),
            ..FakeCluster::default()
        };
        let evaluated = evaluate("east", &cluster, &observation, Some(&v("4.1.5")), &releases).await;
        // 4.1.5 declares no risks and is left out.
        let got = exposures(&evaluated);
        let want = [
            ("4.2.5", "FlannelRemoved", "Applies"),
            ("4.3.0", "FlannelRemoved", "Applies"),
            ("4.3.0", "Containerd2Baseline", "Applies"),
            ("4.3.1", "FlannelRemoved", "Applies"),
            ("4.3.1", "Containerd2Baseline", "Applies"),
        ];
        assert_eq!(got, want.map(|(a, b, c)| (a.to_string(), b.to_string(), c)));
        assert_eq!(
            *cluster.asked.lock().unwrap(),
            [FLANNEL],
            "one lookup for three releases"
        );
        let flannel = &evaluated[0].risks[0].exposure;
        assert!(
            flannel
                .evidence()
                .contains("DaemonSet kube-system/kube-flannel-ds is present")
        );
        let containerd = &evaluated[1].risks[1].exposure;
        assert!(
            containerd
                .evidence()
                .contains("node worker-2 reports containerRuntimeVersion containerd://1.7"),
            "{containerd:?}"
        );

        // From 4.2.3 the Flannel risk no longer applies and nothing is looked up for it.
        let cluster = FakeCluster::default();
        let evaluated = evaluate("east", &cluster, &observation, Some(&v("4.2.3")), &releases[2..]).await;
        assert_eq!(
            exposures(&evaluated)[..2],
            [
                ("4.3.0".to_string(), "FlannelRemoved".to_string(), "DoesNotApply"),
                ("4.3.0".to_string(), "Containerd2Baseline".to_string(), "Applies"),
            ]
        );
        assert!(cluster.asked.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_unreachable_or_forbidding_cluster_leaves_the_risk_unknown() {
        let case = Case::new();
        let release = case.catalogue.release(&v("4.3.1")).unwrap();
        let unreachable = Observation::unreachable(&ClusterError::Unreachable {
            cluster: "east".into(),
            message: "connection refused".into(),
        });
        let cluster = FakeCluster::default();
        let evaluated = evaluate("east", &cluster, &unreachable, Some(&v("4.1.5")), &[release]).await;
        for e in &evaluated[0].risks {
            assert_eq!(e.exposure.as_str(), "Unknown", "{e:?}");
            assert!(
                e.exposure.evidence().contains("cluster east is unreachable"),
                "{e:?}"
            );
        }
        assert!(
            cluster.asked.lock().unwrap().is_empty(),
            "an unreachable cluster is not asked"
        );

        let cluster = FakeCluster {
            objects: BTreeMap::from([(FLANNEL.to_string(), forbidden(FLANNEL))]),
            ..FakeCluster::default()
        };
        let evaluated = evaluate("east", &cluster, &case.observation, Some(&v("4.1.5")), &[release]).await;
        let flannel = &evaluated[0].risks[0].exposure;
        assert_eq!(flannel.as_str(), "Unknown");
        assert!(flannel.evidence().contains("forbidden"), "{flannel:?}");
        // The containerd rule still decides from the observed nodes.
        assert_eq!(evaluated[0].risks[1].exposure.as_str(), "DoesNotApply");
        let update = evaluated[0].conditional_update().unwrap();
        assert!(!update.recommended);
    }

    #[tokio::test]
    async fn metric_rules_read_metrics_once_and_a_refusal_is_unknown() {
        let case = Case::new();
        let risk: Risk = serde_saphyr::from_str(
            r#"
name: RemovedAPIs
message: move clients off the removed APIs
matchingRules:
  - type: Metric
    metric: {name: apiserver_requested_deprecated_apis, labels: {removed_release: "1.32"}, comparison: GreaterThan, value: 0}
  - type: Metric
    metric: {name: apiserver_requested_deprecated_apis, labels: {removed_release: "1.33"}, comparison: GreaterThan, value: 0}
"#,
        )
        .unwrap();
        let mut release = case.catalogue.release(&v("4.3.1")).unwrap().clone();
        release.risks = vec![risk];
        let metrics = "apiserver_requested_deprecated_apis{group=\"flowcontrol.apiserver.k8s.io\",removed_release=\"1.32\",resource=\"flowschemas\",version=\"v1beta3\"} 1\n";
        let cluster = FakeCluster {
            metrics: Some(metrics.into()),
            ..FakeCluster::default()
        };
        let evaluated = evaluate(
            "east",
            &cluster,
            &case.observation,
            Some(&v("4.2.3")),
            &[&release],
        )
        .await;
        assert_eq!(evaluated[0].risks[0].exposure.as_str(), "Applies");
        assert!(evaluated[0].risks[0].exposure.evidence().contains("flowschemas"));

        let refusing = FakeCluster::default();
        let evaluated = evaluate(
            "east",
            &refusing,
            &case.observation,
            Some(&v("4.2.3")),
            &[&release],
        )
        .await;
        let exposure = &evaluated[0].risks[0].exposure;
        assert_eq!(exposure.as_str(), "Unknown");
        assert!(exposure.evidence().contains("403") || exposure.evidence().contains("forbidden"));
        assert_eq!(
            *refusing.asked.lock().unwrap(),
            ["/metrics"],
            "read once for both rules"
        );
    }
}
