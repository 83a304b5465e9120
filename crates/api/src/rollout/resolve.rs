//! A strategy checked and turned into what planning and scheduling use: selectors parsed, counts and
//! percentages, durations. Every refusal names the field and says what to write instead.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::Selector;

use super::strategy::{Gate, PreflightFailureAction, UpgradeStrategySpec};

/// How long one cluster may take when the strategy does not say (OpenShift TALM's default too).
pub const DEFAULT_CLUSTER_TIMEOUT: Duration = Duration::from_secs(4 * 3600);
/// The longest soak or timeout a strategy may ask for.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// A strategy field that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StrategyError {
    /// Path of the field, e.g. `stages[1].maxConcurrency`.
    pub field: String,
    pub message: String,
}

impl StrategyError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A count or a share of a total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Amount {
    Count(u32),
    Percent(u32),
}

impl Amount {
    /// The amount of `total`: a percentage is rounded down.
    pub fn of(self, total: usize) -> usize {
        match self {
            Amount::Count(n) => n as usize,
            Amount::Percent(p) => total * p as usize / 100,
        }
    }

    fn parse(value: &IntOrString, field: &str) -> Result<Self, StrategyError> {
        match value {
            IntOrString::Int(n) => u32::try_from(*n).map(Amount::Count).map_err(|_| {
                StrategyError::new(
                    field,
                    format!("{n} is negative; write a count like 3 or a percentage like \"10%\""),
                )
            }),
            IntOrString::String(text) => {
                let trimmed = text.trim();
                let parsed = match trimmed.strip_suffix('%') {
                    Some(number) => number
                        .trim()
                        .parse::<u32>()
                        .ok()
                        .filter(|p| *p <= 100)
                        .map(Amount::Percent),
                    None => trimmed.parse::<u32>().ok().map(Amount::Count),
                };
                parsed.ok_or_else(|| {
                    StrategyError::new(
                        field,
                        format!("{text:?} is neither a count nor a percentage from 0% to 100%; write e.g. 3 or \"10%\""),
                    )
                })
            }
        }
    }
}

/// A checked stage.
#[derive(Clone, Debug)]
pub struct ResolvedStage {
    pub name: String,
    pub selector: Option<Selector>,
    pub groups: Vec<ResolvedGroup>,
    pub max_concurrency: Amount,
    pub canaries: u32,
    pub soak: Duration,
    pub before_gates: Vec<Gate>,
    pub after_gates: Vec<Gate>,
}

/// A checked group.
#[derive(Clone, Debug)]
pub struct ResolvedGroup {
    pub name: String,
    pub selector: Selector,
    pub max_concurrency: Option<Amount>,
}

/// A checked strategy.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub stages: Vec<ResolvedStage>,
    pub max_failures: Amount,
    /// None: a stage has no limit of its own, only the run's applies.
    pub max_failures_per_stage: Option<Amount>,
    pub timeout: Duration,
    pub preflight_failure: PreflightFailureAction,
}

impl Resolved {
    /// The stage called `name`.
    pub fn stage(&self, name: &str) -> Option<&ResolvedStage> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// Checks a strategy; `prefix` is where it sits in its object (`spec` or `spec.strategy`).
pub fn resolve(spec: &UpgradeStrategySpec, prefix: &str) -> Result<Resolved, StrategyError> {
    if spec.stages.is_empty() {
        return Err(StrategyError::new(
            format!("{prefix}.stages"),
            "lists no stage; add at least one",
        ));
    }
    if spec.stages.len() > super::strategy::MAX_STAGES {
        return Err(StrategyError::new(
            format!("{prefix}.stages"),
            format!(
                "has {} stages; at most {} are allowed",
                spec.stages.len(),
                super::strategy::MAX_STAGES
            ),
        ));
    }
    let mut stages = Vec::with_capacity(spec.stages.len());
    for (i, stage) in spec.stages.iter().enumerate() {
        let at = format!("{prefix}.stages[{i}]");
        if !is_dns_label(&stage.name) {
            return Err(StrategyError::new(
                format!("{at}.name"),
                format!(
                    "{:?} is not a DNS label (lower-case letters, digits and '-', at most 63)",
                    stage.name
                ),
            ));
        }
        if stages.iter().any(|s: &ResolvedStage| s.name == stage.name) {
            return Err(StrategyError::new(
                format!("{at}.name"),
                format!(
                    "stage {:?} is named twice; give each stage its own name",
                    stage.name
                ),
            ));
        }
        let selector = stage
            .selector
            .clone()
            .map(|s| {
                Selector::try_from(s).map_err(|e| StrategyError::new(format!("{at}.selector"), e.to_string()))
            })
            .transpose()?;
        let mut groups: Vec<ResolvedGroup> = Vec::with_capacity(stage.groups.len());
        for (j, group) in stage.groups.iter().enumerate() {
            let gat = format!("{at}.groups[{j}]");
            if !is_dns_label(&group.name) || group.name == super::plan::DEFAULT_GROUP {
                return Err(StrategyError::new(
                    format!("{gat}.name"),
                    format!(
                        "{:?} is not a DNS label, or is the reserved name {:?}",
                        group.name,
                        super::plan::DEFAULT_GROUP
                    ),
                ));
            }
            if groups.iter().any(|g| g.name == group.name) {
                return Err(StrategyError::new(
                    format!("{gat}.name"),
                    format!("group {:?} is named twice in stage {:?}", group.name, stage.name),
                ));
            }
            groups.push(ResolvedGroup {
                name: group.name.clone(),
                selector: Selector::try_from(group.selector.clone())
                    .map_err(|e| StrategyError::new(format!("{gat}.selector"), e.to_string()))?,
                max_concurrency: group
                    .max_concurrency
                    .as_ref()
                    .map(|m| Amount::parse(m, &format!("{gat}.maxConcurrency")))
                    .transpose()?,
            });
        }
        let max_concurrency = stage
            .max_concurrency
            .as_ref()
            .map(|m| Amount::parse(m, &format!("{at}.maxConcurrency")))
            .transpose()?
            .unwrap_or(Amount::Count(1));
        let soak = stage
            .soak
            .as_deref()
            .map(|s| parse_duration(s, &format!("{at}.soak")))
            .transpose()?
            .unwrap_or_default();
        for (which, gates) in [
            ("beforeGates", &stage.before_gates),
            ("afterGates", &stage.after_gates),
        ] {
            for (k, gate) in gates.iter().enumerate() {
                if gate.type_ == super::strategy::GateType::ScheduledStart && gate.not_before.is_none() {
                    return Err(StrategyError::new(
                        format!("{at}.{which}[{k}].notBefore"),
                        "a ScheduledStart gate needs notBefore, an RFC 3339 time like 2026-12-05T22:00:00Z",
                    ));
                }
            }
        }
        stages.push(ResolvedStage {
            name: stage.name.clone(),
            selector,
            groups,
            max_concurrency,
            canaries: stage.canaries.unwrap_or(0),
            soak,
            before_gates: stage.before_gates.clone(),
            after_gates: stage.after_gates.clone(),
        });
    }
    let policy = &spec.failure_policy;
    let at = format!("{prefix}.failurePolicy");
    Ok(Resolved {
        stages,
        max_failures: policy
            .max_failures
            .as_ref()
            .map(|m| Amount::parse(m, &format!("{at}.maxFailures")))
            .transpose()?
            .unwrap_or(Amount::Count(0)),
        max_failures_per_stage: policy
            .max_failures_per_stage
            .as_ref()
            .map(|m| Amount::parse(m, &format!("{at}.maxFailuresPerStage")))
            .transpose()?,
        timeout: policy
            .timeout
            .as_deref()
            .map(|t| parse_duration(t, &format!("{at}.timeout")))
            .transpose()?
            .unwrap_or(DEFAULT_CLUSTER_TIMEOUT),
        preflight_failure: policy.preflight_failure.unwrap_or_default(),
    })
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= super::strategy::MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A duration as people write them: `45s`, `30m`, `2h`, `1h30m`, `7d`; at most 30 days.
pub fn parse_duration(text: &str, field: &str) -> Result<Duration, StrategyError> {
    crate::duration::parse(text)
        .filter(|d| *d <= MAX_DURATION && text.len() <= 32)
        .ok_or_else(|| {
            StrategyError::new(
                field,
                format!("{text:?} is not a duration; write e.g. 30m, 2h, 1h30m or 7d (at most 30d)"),
            )
        })
}

/// A duration the way [`parse_duration`] reads it: `4h`, `1h30m`, `45s`.
pub fn format_duration(duration: Duration) -> String {
    crate::duration::format(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::strategy::{GroupSpec, StageSpec};

    #[test]
    fn durations_read_as_people_write_them() {
        for (text, secs) in [
            ("45s", 45),
            ("30m", 1800),
            ("2h", 7200),
            ("1h30m", 5400),
            ("7d", 604_800),
            ("0s", 0),
        ] {
            assert_eq!(parse_duration(text, "f"), Ok(Duration::from_secs(secs)), "{text}");
        }
        for text in ["", "5", "h", "1x", "31d", "-1h", "1.5h", "99999999999999999999d"] {
            let err = parse_duration(text, "spec.stages[0].soak").unwrap_err();
            assert_eq!(err.field, "spec.stages[0].soak", "{text}");
        }
    }

    #[test]
    fn durations_print_as_they_are_read() {
        for text in ["4h", "1h30m", "45s", "1d2h3m4s", "0s"] {
            assert_eq!(format_duration(parse_duration(text, "f").unwrap()), text);
        }
    }

    #[test]
    fn amounts_are_counts_or_percentages_rounded_down() {
        let parse = |v: IntOrString| Amount::parse(&v, "f");
        assert_eq!(parse(IntOrString::Int(3)).unwrap().of(10), 3);
        assert_eq!(parse(IntOrString::String("10%".into())).unwrap().of(19), 1);
        assert_eq!(parse(IntOrString::String("10%".into())).unwrap().of(9), 0);
        assert_eq!(parse(IntOrString::String("4".into())).unwrap(), Amount::Count(4));
        assert!(parse(IntOrString::Int(-1)).is_err());
        assert!(parse(IntOrString::String("101%".into())).is_err());
        assert!(parse(IntOrString::String("ten".into())).is_err());
    }

    #[test]
    fn refusals_name_the_field() {
        let stage = |name: &str| StageSpec {
            name: name.into(),
            ..StageSpec::default()
        };
        let cases: Vec<(UpgradeStrategySpec, &str)> = vec![
            (UpgradeStrategySpec::default(), "spec.stages"),
            (
                UpgradeStrategySpec {
                    stages: vec![stage("a"), stage("a")],
                    ..Default::default()
                },
                "spec.stages[1].name",
            ),
            (
                UpgradeStrategySpec {
                    stages: vec![stage("Canary")],
                    ..Default::default()
                },
                "spec.stages[0].name",
            ),
            (
                UpgradeStrategySpec {
                    stages: vec![StageSpec {
                        max_concurrency: Some(IntOrString::String("lots".into())),
                        ..stage("a")
                    }],
                    ..Default::default()
                },
                "spec.stages[0].maxConcurrency",
            ),
            (
                UpgradeStrategySpec {
                    stages: vec![StageSpec {
                        groups: vec![GroupSpec {
                            name: "default".into(),
                            ..GroupSpec::default()
                        }],
                        ..stage("a")
                    }],
                    ..Default::default()
                },
                "spec.stages[0].groups[0].name",
            ),
            (
                UpgradeStrategySpec {
                    stages: vec![StageSpec {
                        before_gates: vec![Gate {
                            type_: super::super::strategy::GateType::ScheduledStart,
                            not_before: None,
                        }],
                        ..stage("a")
                    }],
                    ..Default::default()
                },
                "spec.stages[0].beforeGates[0].notBefore",
            ),
        ];
        for (spec, field) in cases {
            assert_eq!(resolve(&spec, "spec").unwrap_err().field, field);
        }
    }
}
