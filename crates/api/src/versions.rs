//! The API's version strings read with the policy crate's types. Versions stay strings on the wire
//! (exactly as ACP writes them); code compares them only after parsing here.

use acp_policy::{AcpVersion, GlobalTier, HistoryRecord, KubeVersion, VersionError, WorkloadCluster};
use kube::ResourceExt;

use crate::cvsh::{
    ClusterVersionShadow, ClusterVersionShadowStatus, DesiredUpdate, HistoryEntry, HistoryState, NodeSummary,
    Observed, Provisioning, Release, Tier,
};

/// A version field that is missing or does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    #[error("{field} is not set; set it to a version such as 4.3.1")]
    Missing { field: &'static str },
    #[error("{field}: {source}")]
    Invalid {
        field: &'static str,
        #[source]
        source: VersionError,
    },
}

fn acp(field: &'static str, value: Option<&str>) -> Result<AcpVersion, FieldError> {
    let value = value.ok_or(FieldError::Missing { field })?;
    value
        .parse()
        .map_err(|source| FieldError::Invalid { field, source })
}

fn optional_acp(field: &'static str, value: Option<&str>) -> Result<Option<AcpVersion>, FieldError> {
    value.map(|v| acp(field, Some(v))).transpose()
}

fn kube(field: &'static str, value: &str) -> Result<KubeVersion, FieldError> {
    value
        .parse()
        .map_err(|source| FieldError::Invalid { field, source })
}

impl DesiredUpdate {
    /// The requested version; `Missing` when the update is requested by image only.
    pub fn acp_version(&self) -> Result<AcpVersion, FieldError> {
        acp("spec.desiredUpdate.version", self.version.as_deref())
    }
}

impl Release {
    /// The release's version; `Missing` when it is known by image only.
    pub fn acp_version(&self) -> Result<AcpVersion, FieldError> {
        acp("version", self.version.as_deref())
    }
}

impl HistoryEntry {
    /// The version upgraded to; `Missing` when the entry names an image only.
    pub fn acp_version(&self) -> Result<AcpVersion, FieldError> {
        acp("status.history[].version", self.version.as_deref())
    }
}

/// Lets `acp_policy::prune_history` bound `status.history` directly.
impl HistoryRecord for HistoryEntry {
    fn acp_version(&self) -> Option<AcpVersion> {
        HistoryEntry::acp_version(self).ok()
    }

    fn is_completed(&self) -> bool {
        self.state == HistoryState::Completed
    }
}

impl ClusterVersionShadowStatus {
    /// `current.version`, parsed; `Ok(None)` when the version is unknown.
    pub fn current_acp_version(&self) -> Result<Option<AcpVersion>, FieldError> {
        optional_acp("status.current.version", self.current_version())
    }

    /// `desired.version`, parsed; `Ok(None)` when nothing is desired.
    pub fn desired_acp_version(&self) -> Result<Option<AcpVersion>, FieldError> {
        optional_acp("status.desired.version", self.desired_version())
    }

    /// Versions of `availableUpdates`, parsed, in status order (newest first).
    pub fn available_acp_versions(&self) -> Result<Vec<AcpVersion>, FieldError> {
        self.available_versions()
            .map(|v| acp("status.availableUpdates[].version", Some(v)))
            .collect()
    }
}

impl ClusterVersionShadow {
    /// `spec.desiredUpdate.version`, parsed; `Ok(None)` when no update is requested by version.
    pub fn requested_acp_version(&self) -> Result<Option<AcpVersion>, FieldError> {
        optional_acp("spec.desiredUpdate.version", self.requested_version())
    }

    /// `status.current.version`, parsed; `Ok(None)` when the version is unknown.
    pub fn current_acp_version(&self) -> Result<Option<AcpVersion>, FieldError> {
        optional_acp("status.current.version", self.current_version())
    }

    /// The cluster as the global gate judges it: name, observed Kubernetes version, provisioning.
    /// `Ok(None)` until the cluster's Kubernetes version has been observed.
    pub fn workload_cluster(&self) -> Result<Option<WorkloadCluster>, FieldError> {
        let observed = self.status.as_ref().and_then(|s| s.observed.as_ref());
        let Some(kube_version) = observed.map(Observed::kube_version).transpose()?.flatten() else {
            return Ok(None);
        };
        Ok(Some(WorkloadCluster::new(
            self.name_any(),
            kube_version,
            self.provisioning().into(),
        )))
    }
}

/// The global tier from its members' tiers and current versions: the primary (tier Global) and, with
/// disaster recovery, the standby (tier GlobalStandby); the first member of each tier counts. None while
/// the primary is missing or a member's version is unknown: the tier has reached no version yet.
pub fn global_tier(members: impl IntoIterator<Item = (Tier, Option<AcpVersion>)>) -> Option<GlobalTier> {
    let mut primary = None;
    let mut standby = None;
    for (tier, version) in members {
        let slot = match tier {
            Tier::Global => &mut primary,
            Tier::GlobalStandby => &mut standby,
            Tier::Workload => continue,
        };
        if slot.is_none() {
            *slot = Some(version);
        }
    }
    let primary = primary.flatten()?;
    let standby = match standby {
        None => None,
        Some(version) => Some(version?),
    };
    Some(GlobalTier::new(primary, standby))
}

/// The global tier of the cvsh objects, each in the tier it claims (see [`global_tier`]).
pub fn global_tier_of<'a>(
    objects: impl IntoIterator<Item = &'a ClusterVersionShadow>,
) -> Result<Option<GlobalTier>, FieldError> {
    let members = objects
        .into_iter()
        .map(|cvsh| Ok((cvsh.tier(), cvsh.current_acp_version()?)))
        .collect::<Result<Vec<_>, FieldError>>()?;
    Ok(global_tier(members))
}

impl Observed {
    /// `kubernetesVersion`, parsed; `Ok(None)` when not observed yet.
    pub fn kube_version(&self) -> Result<Option<KubeVersion>, FieldError> {
        self.kubernetes_version
            .as_deref()
            .map(|v| kube("status.observed.kubernetesVersion", v))
            .transpose()
    }
}

impl NodeSummary {
    /// The distinct kubelet versions, parsed.
    pub fn kubelet_kube_versions(&self) -> Result<Vec<KubeVersion>, FieldError> {
        self.kubelet_versions
            .iter()
            .map(|v| kube("status.observed.nodes.kubeletVersions[]", v))
            .collect()
    }
}

impl From<Provisioning> for acp_policy::Provisioning {
    fn from(value: Provisioning) -> Self {
        match value {
            Provisioning::PlatformManaged => Self::PlatformManaged,
            Provisioning::ThirdParty => Self::ThirdParty,
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::cvsh::ClusterVersionShadowSpec;

    #[test]
    fn a_requested_version_parses_with_or_without_v() {
        assert_eq!(
            DesiredUpdate::version("4.3.1").acp_version(),
            Ok(AcpVersion::new(4, 3, 1))
        );
        assert_eq!(
            DesiredUpdate::version("v4.3.1").acp_version(),
            Ok(AcpVersion::new(4, 3, 1))
        );
    }

    #[test]
    fn a_bad_or_missing_version_names_the_field() {
        let by_image = DesiredUpdate {
            image: Some("registry/acp:4.3.1".into()),
            ..Default::default()
        };
        let missing = by_image.acp_version().unwrap_err();
        assert_eq!(
            missing,
            FieldError::Missing {
                field: "spec.desiredUpdate.version"
            }
        );
        assert!(
            missing
                .to_string()
                .contains("spec.desiredUpdate.version is not set")
        );

        let invalid = DesiredUpdate::version("four").acp_version().unwrap_err();
        let message = invalid.to_string();
        assert!(message.starts_with("spec.desiredUpdate.version: "), "{message}");
        assert!(message.contains("\"four\""), "{message}");
    }

    #[test]
    fn status_versions_parse_and_absent_ones_are_none() {
        let mut status = ClusterVersionShadowStatus::default();
        assert_eq!(status.current_acp_version(), Ok(None));
        status.current = Some(Release::version("4.2.5"));
        status.available_updates = vec![Release::version("4.3.1"), Release::version("4.3.0")];
        assert_eq!(status.current_acp_version(), Ok(Some(AcpVersion::new(4, 2, 5))));
        assert_eq!(
            status.available_acp_versions(),
            Ok(vec![AcpVersion::new(4, 3, 1), AcpVersion::new(4, 3, 0)])
        );
        status.available_updates.push(Release::version("latest"));
        assert!(status.available_acp_versions().is_err());
    }

    #[test]
    fn a_cvsh_becomes_a_workload_cluster_once_observed() {
        let spec = ClusterVersionShadowSpec {
            provisioning: Some(Provisioning::ThirdParty),
            ..Default::default()
        };
        let mut cvsh = ClusterVersionShadow::new("eks-1", spec);
        assert_eq!(cvsh.workload_cluster(), Ok(None));
        cvsh.status = Some(ClusterVersionShadowStatus {
            observed: Some(Observed {
                kubernetes_version: Some("v1.32.3-eks-4f3a2b1".into()),
                nodes: Some(NodeSummary {
                    kubelet_versions: vec!["v1.31.9".into(), "v1.32.3-eks-4f3a2b1".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let cluster = cvsh.workload_cluster().unwrap().unwrap();
        assert_eq!(cluster.name, "eks-1");
        assert_eq!(cluster.kube_version, "v1.32.3".parse().unwrap());
        assert_eq!(cluster.provisioning, acp_policy::Provisioning::ThirdParty);
        let nodes = cvsh
            .status
            .as_ref()
            .unwrap()
            .observed
            .as_ref()
            .unwrap()
            .nodes
            .as_ref()
            .unwrap();
        assert_eq!(nodes.kubelet_kube_versions().unwrap().len(), 2);
    }

    fn at_version(name: &str, tier: Option<Tier>, version: &str) -> ClusterVersionShadow {
        let mut cvsh = ClusterVersionShadow::new(
            name,
            ClusterVersionShadowSpec {
                tier,
                ..Default::default()
            },
        );
        cvsh.status = Some(ClusterVersionShadowStatus {
            current: Some(Release::version(version)),
            ..Default::default()
        });
        cvsh
    }

    #[test]
    fn the_global_tier_is_read_from_the_global_and_standby_objects() {
        let objects = [
            at_version("business-1", None, "4.2.5"),
            at_version("global-dr", Some(Tier::GlobalStandby), "4.3.1"),
            at_version("global", None, "4.3.0"),
        ];
        let tier = global_tier_of(&objects).unwrap().unwrap();
        assert_eq!(tier.primary, AcpVersion::new(4, 3, 0));
        assert_eq!(tier.standby, Some(AcpVersion::new(4, 3, 1)));
        assert_eq!(tier.reached(), &AcpVersion::new(4, 3, 0));
        assert_eq!(
            global_tier_of(&objects[..2]).unwrap(),
            None,
            "no primary, no tier"
        );
        let bad = [at_version("global", None, "four")];
        assert!(global_tier_of(&bad).is_err());
        let v = |s: &str| Some(s.parse::<AcpVersion>().unwrap());
        assert_eq!(
            global_tier([(Tier::Global, v("4.3.1")), (Tier::GlobalStandby, None)]),
            None,
            "a standby of unknown version: the tier has reached nothing yet"
        );
        let first_wins = global_tier([
            (Tier::Global, v("4.3.1")),
            (Tier::GlobalStandby, v("4.2.5")),
            (Tier::GlobalStandby, v("4.3.1")),
        ]);
        assert_eq!(first_wins.unwrap().reached(), &AcpVersion::new(4, 2, 5));
    }

    #[test]
    fn history_is_pruned_by_the_policy_with_the_api_type() {
        let entry = |version: &str, state| HistoryEntry {
            version: Some(version.into()),
            image: String::new(),
            state,
            started_time: Time("2026-01-01T00:00:00Z".parse().unwrap()),
            completion_time: None,
            accepted_risks: None,
            release_digest: None,
            cluster_identity: None,
        };
        let mut history: Vec<HistoryEntry> = (0..150)
            .map(|i| entry(&format!("4.0.{i}"), HistoryState::Completed))
            .collect();
        history.insert(0, entry("4.3.1", HistoryState::Partial));
        let installed = history.last().cloned();
        let pruned = acp_policy::prune_history(history);
        assert_eq!(pruned.len(), acp_policy::MAX_HISTORY);
        assert_eq!(pruned[0].state, HistoryState::Partial);
        assert_eq!(pruned.last().cloned(), installed);
    }
}
