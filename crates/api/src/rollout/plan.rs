//! The plan a run freezes when it starts: which stage, group and batch each workload cluster is in.
//! Ordering inside a stage is by name, so the plan a person saw in `ac adm upgrade rollout plan` is the
//! plan that runs.

use std::collections::BTreeMap;

use kube::core::SelectorExt;

use super::resolve::{Resolved, ResolvedStage};
use super::run::{Batch, ClusterEntry, ClusterState, MAX_CLUSTERS, Plan, PlannedGroup, PlannedStage};
use super::strategy::UpgradeStrategySpec;

/// Name of the group of a stage's clusters that no group selector matched (and of the only group of a
/// stage without groups).
pub const DEFAULT_GROUP: &str = "default";

/// A workload cluster the plan may take.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub current_version: Option<&'a str>,
}

/// Why no plan could be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "no workload cluster matches any stage of the strategy; label the ClusterVersionShadows or change the stage selectors"
    )]
    Empty,
    #[error(
        "the strategy selects {count} clusters; one run moves at most {MAX_CLUSTERS}: split the fleet into several runs by label"
    )]
    TooMany { count: usize },
}

/// The frozen plan and one Pending (or Skipped) entry per cluster, in plan order. Clusters listed in
/// `skip` stay in the plan as Skipped, so the plan shows them.
pub fn freeze<'a>(
    strategy: &UpgradeStrategySpec,
    resolved: &Resolved,
    candidates: impl IntoIterator<Item = Candidate<'a>>,
    skip: &[String],
) -> Result<(Plan, Vec<ClusterEntry>), PlanError> {
    let mut candidates: Vec<Candidate<'a>> = candidates.into_iter().collect();
    candidates.sort_by(|a, b| a.name.cmp(b.name));
    candidates.dedup_by(|a, b| a.name == b.name);
    let mut taken = vec![false; candidates.len()];
    let mut stages = Vec::with_capacity(resolved.stages.len());
    let mut entries = Vec::new();
    for stage in &resolved.stages {
        let members: Vec<&Candidate<'a>> = candidates
            .iter()
            .zip(taken.iter_mut())
            .filter_map(|(c, taken)| {
                let matches = stage.selector.as_ref().is_none_or(|s| s.matches(c.labels));
                (!*taken && matches).then(|| {
                    *taken = true;
                    c
                })
            })
            .collect();
        if entries.len() + members.len() > MAX_CLUSTERS {
            return Err(PlanError::TooMany {
                count: entries.len() + members.len(),
            });
        }
        let (planned, order) = plan_stage(stage, &members, skip);
        for name in order {
            let candidate = members.iter().find(|c| c.name == name);
            let skipped = skip.iter().any(|s| s == name);
            entries.push(ClusterEntry {
                name: name.to_owned(),
                state: if skipped {
                    ClusterState::Skipped
                } else {
                    ClusterState::Pending
                },
                from_version: candidate.and_then(|c| c.current_version).map(str::to_owned),
                reason: skipped.then(|| "SkippedByRequest".to_owned()),
                message: skipped.then(|| format!("{name} is listed in spec.skip")),
                ..ClusterEntry::default()
            });
        }
        stages.push(planned);
    }
    if entries.is_empty() {
        return Err(PlanError::Empty);
    }
    Ok((
        Plan {
            strategy: strategy.clone(),
            stages,
        },
        entries,
    ))
}

/// One stage's groups and batches, and its clusters in plan order.
fn plan_stage<'s>(
    stage: &ResolvedStage,
    members: &[&Candidate<'s>],
    skip: &[String],
) -> (PlannedStage, Vec<&'s str>) {
    // Canaries are the first clusters of the stage by name that are not skipped; they run one at a
    // time in their own batches before any group starts.
    let canary_count = stage.canaries as usize;
    let canaries: Vec<&'s str> = members
        .iter()
        .map(|c| c.name)
        .filter(|n| !skip.iter().any(|s| s == n))
        .take(canary_count)
        .collect();
    let mut groups: Vec<(String, Option<super::resolve::Amount>, Vec<&'s str>)> = stage
        .groups
        .iter()
        .map(|g| (g.name.clone(), g.max_concurrency, Vec::new()))
        .collect();
    let mut rest: Vec<&'s str> = Vec::new();
    for member in members {
        if canaries.contains(&member.name) {
            continue;
        }
        match stage
            .groups
            .iter()
            .position(|g| g.selector.matches(member.labels))
        {
            Some(i) => groups[i].2.push(member.name),
            None => rest.push(member.name),
        }
    }
    if !rest.is_empty() || groups.is_empty() {
        groups.push((DEFAULT_GROUP.to_owned(), None, rest));
    }
    let mut order: Vec<&'s str> = canaries.clone();
    let mut planned_groups = Vec::with_capacity(groups.len());
    for (index, (name, own, clusters)) in groups.into_iter().enumerate() {
        let amount = own.unwrap_or(stage.max_concurrency);
        let size = amount.of(clusters.len()).max(1);
        let mut batches: Vec<Batch> = Vec::new();
        // Canaries go in the first group's batch list: they run before every group's first batch
        // because a group only starts once the stage's canaries are done.
        if index == 0 {
            batches.extend(canaries.iter().map(|c| Batch {
                clusters: vec![(*c).to_owned()],
                canary: true,
            }));
        }
        batches.extend(clusters.chunks(size).map(|chunk| Batch {
            clusters: chunk.iter().map(|c| (*c).to_owned()).collect(),
            canary: false,
        }));
        order.extend(clusters.iter().copied());
        planned_groups.push(PlannedGroup {
            name,
            max_concurrency: u32::try_from(size).unwrap_or(u32::MAX),
            batches,
        });
    }
    planned_groups.retain(|g| !g.batches.is_empty());
    (
        PlannedStage {
            name: stage.name.clone(),
            groups: planned_groups,
            ..PlannedStage::default()
        },
        order,
    )
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

    use super::*;
    use crate::rollout::resolve::resolve;
    use crate::rollout::strategy::{GroupSpec, StageSpec};

    fn selector(key: &str, value: &str) -> LabelSelector {
        LabelSelector {
            match_labels: Some([(key.to_owned(), value.to_owned())].into()),
            ..LabelSelector::default()
        }
    }

    fn fleet(
        n: usize,
        label: impl Fn(usize) -> Vec<(&'static str, &'static str)>,
    ) -> Vec<(String, BTreeMap<String, String>)> {
        (0..n)
            .map(|i| {
                let labels = label(i)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                (format!("c{i:02}"), labels)
            })
            .collect()
    }

    fn freeze_for(
        spec: &UpgradeStrategySpec,
        fleet: &[(String, BTreeMap<String, String>)],
        skip: &[&str],
    ) -> Result<(Plan, Vec<ClusterEntry>), PlanError> {
        let resolved = resolve(spec, "spec").unwrap();
        let skip: Vec<String> = skip.iter().map(|s| (*s).to_owned()).collect();
        freeze(
            spec,
            &resolved,
            fleet.iter().rev().map(|(name, labels)| Candidate {
                name,
                labels,
                current_version: Some("4.2.3"),
            }),
            &skip,
        )
    }

    fn batches(plan: &Plan) -> Vec<Vec<String>> {
        plan.stages
            .iter()
            .flat_map(|s| {
                s.groups
                    .iter()
                    .flat_map(|g| g.batches.iter().map(|b| b.clusters.clone()))
            })
            .collect()
    }

    #[test]
    fn canaries_then_batches_of_max_concurrency_by_name() {
        let spec = UpgradeStrategySpec {
            stages: vec![StageSpec {
                name: "all".into(),
                canaries: Some(1),
                max_concurrency: Some(IntOrString::Int(2)),
                ..StageSpec::default()
            }],
            ..Default::default()
        };
        let (plan, entries) = freeze_for(&spec, &fleet(6, |_| vec![]), &[]).unwrap();
        assert_eq!(
            batches(&plan),
            vec![vec!["c00"], vec!["c01", "c02"], vec!["c03", "c04"], vec!["c05"]]
        );
        assert!(plan.stages[0].groups[0].batches[0].canary);
        assert_eq!(
            entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["c00", "c01", "c02", "c03", "c04", "c05"]
        );
        assert_eq!(entries[0].from_version.as_deref(), Some("4.2.3"));
    }

    #[test]
    fn a_cluster_belongs_to_the_first_stage_that_selects_it_and_percentages_round_down_to_at_least_one() {
        let spec = UpgradeStrategySpec {
            stages: vec![
                StageSpec {
                    name: "canary".into(),
                    selector: Some(selector("ring", "0")),
                    ..StageSpec::default()
                },
                StageSpec {
                    name: "rest".into(),
                    max_concurrency: Some(IntOrString::String("10%".into())),
                    ..StageSpec::default()
                },
            ],
            ..Default::default()
        };
        let fleet = fleet(5, |i| if i == 3 { vec![("ring", "0")] } else { vec![] });
        let (plan, _) = freeze_for(&spec, &fleet, &[]).unwrap();
        assert_eq!(
            batches(&plan),
            vec![vec!["c03"], vec!["c00"], vec!["c01"], vec!["c02"], vec!["c04"]]
        );
        assert_eq!(plan.stages[1].groups[0].max_concurrency, 1);
    }

    #[test]
    fn groups_split_a_stage_and_the_unmatched_form_the_default_group() {
        let spec = UpgradeStrategySpec {
            stages: vec![StageSpec {
                name: "wave".into(),
                canaries: Some(1),
                max_concurrency: Some(IntOrString::Int(3)),
                groups: vec![GroupSpec {
                    name: "east".into(),
                    selector: selector("region", "east"),
                    max_concurrency: Some(IntOrString::Int(1)),
                }],
                ..StageSpec::default()
            }],
            ..Default::default()
        };
        let fleet = fleet(6, |i| {
            if i % 2 == 0 {
                vec![("region", "east")]
            } else {
                vec![]
            }
        });
        let (plan, _) = freeze_for(&spec, &fleet, &[]).unwrap();
        let groups = &plan.stages[0].groups;
        assert_eq!(
            groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["east", "default"]
        );
        // c00 is the canary (first by name), in the first group's list.
        assert_eq!(
            groups[0]
                .batches
                .iter()
                .map(|b| b.clusters.join(","))
                .collect::<Vec<_>>(),
            ["c00", "c02", "c04"]
        );
        assert_eq!(
            groups[1]
                .batches
                .iter()
                .map(|b| b.clusters.join(","))
                .collect::<Vec<_>>(),
            ["c01,c03,c05"]
        );
    }

    #[test]
    fn skipped_clusters_stay_in_the_plan_and_are_never_canaries() {
        let spec = UpgradeStrategySpec {
            stages: vec![StageSpec {
                name: "all".into(),
                canaries: Some(1),
                ..StageSpec::default()
            }],
            ..Default::default()
        };
        let (plan, entries) = freeze_for(&spec, &fleet(3, |_| vec![]), &["c00"]).unwrap();
        assert_eq!(batches(&plan)[0], vec!["c01"]);
        assert_eq!(
            entries.iter().find(|e| e.name == "c00").unwrap().state,
            ClusterState::Skipped
        );
    }

    #[test]
    fn an_empty_or_oversized_selection_is_refused() {
        let spec = UpgradeStrategySpec {
            stages: vec![StageSpec {
                name: "a".into(),
                selector: Some(selector("ring", "9")),
                ..StageSpec::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            freeze_for(&spec, &fleet(3, |_| vec![]), &[]).unwrap_err(),
            PlanError::Empty
        );
        let all = UpgradeStrategySpec {
            stages: vec![StageSpec {
                name: "a".into(),
                ..StageSpec::default()
            }],
            ..Default::default()
        };
        let big: Vec<(String, BTreeMap<String, String>)> = (0..MAX_CLUSTERS + 1)
            .map(|i| (format!("c{i}"), BTreeMap::new()))
            .collect();
        assert!(matches!(
            freeze_for(&all, &big, &[]),
            Err(PlanError::TooMany { .. })
        ));
    }
}
