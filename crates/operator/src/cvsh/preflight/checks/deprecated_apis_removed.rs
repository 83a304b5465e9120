//! DeprecatedAPIsRemoved: nothing still calls an API the target's Kubernetes removes, judged by the API
//! server's own `apiserver_requested_deprecated_apis` metric (set for each deprecated API requested since
//! the server started).

use acp_api::cvsh::KubernetesDriver;
use acp_policy::KubeMinor;

use super::name_list;
use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::DEPRECATED_APIS_REMOVED;

const METRIC: &str = "apiserver_requested_deprecated_apis";

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    let inputs = cx.inputs;
    if inputs.driver == KubernetesDriver::None {
        return Outcome::passed(
            "KubernetesUnchanged",
            "the platform does not change this cluster's Kubernetes",
        );
    }
    let Some(target) = inputs.target_release().and_then(|r| r.kubernetes.target_minor()) else {
        return Outcome::passed(
            "NoKubernetesTarget",
            format!("ACP {} names no Kubernetes version", inputs.target),
        );
    };
    match cx.cluster.apiserver_metrics().await {
        Ok(text) => decide(&text, target),
        Err(err) if err.is_unreachable() => Outcome::unanswered(&err),
        // Not allowed to read /metrics: say so rather than block every upgrade.
        Err(err) => Outcome::passed(
            "MetricsUnavailable",
            format!(
                "deprecated API use was not checked: {err}; grant the operator `get` on the non-resource URL /metrics"
            ),
        ),
    }
}

/// A deprecated API some client requested.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Requested {
    api: String,
    removed: KubeMinor,
}

fn parse(text: &str) -> Vec<Requested> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(METRIC)?.strip_prefix('{')?;
            let (labels, value) = rest.rsplit_once('}')?;
            if value.trim().parse::<f64>().ok()? <= 0.0 {
                return None;
            }
            let label = |name: &str| {
                labels.split(',').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    (key.trim() == name).then(|| value.trim().trim_matches('"').to_string())
                })
            };
            let removed: KubeMinor = label("removed_release")?.parse().ok()?;
            let group = label("group")
                .filter(|g| !g.is_empty())
                .unwrap_or_else(|| "core".into());
            let api = format!("{} {group}/{}", label("resource")?, label("version")?);
            Some(Requested { api, removed })
        })
        .collect()
}

pub fn decide(metrics: &str, target: KubeMinor) -> Outcome {
    let mut removed: Vec<String> = parse(metrics)
        .into_iter()
        .filter(|r| r.removed <= target)
        .map(|r| format!("`{}` (removed in {})", r.api, r.removed))
        .collect();
    removed.sort();
    removed.dedup();
    if removed.is_empty() {
        return Outcome::passed(
            "NoRemovedAPIsInUse",
            format!("no client used an API that Kubernetes {target} removes since the API server started"),
        );
    }
    Outcome::failed(
        "RemovedAPIsInUse",
        format!(
            "clients still call {}, gone in Kubernetes {target}: move them to the replacement APIs first (the API \
             server's audit log names the callers)",
            name_list(&removed)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;

    const METRICS: &str = r#"# HELP apiserver_requested_deprecated_apis [STABLE] Gauge of deprecated APIs
# TYPE apiserver_requested_deprecated_apis gauge
apiserver_requested_deprecated_apis{group="flowcontrol.apiserver.k8s.io",removed_release="1.32",resource="flowschemas",subresource="",version="v1beta3"} 1
apiserver_requested_deprecated_apis{group="",removed_release="",resource="componentstatuses",subresource="",version="v1"} 1
apiserver_requested_deprecated_apis{group="example.io",removed_release="1.36",resource="widgets",subresource="",version="v1beta1"} 1
apiserver_request_total{code="200"} 5
"#;

    #[test]
    fn apis_removed_by_the_target_minor_fail() {
        let outcome = decide(METRICS, KubeMinor::new(1, 34));
        assert_eq!(outcome.state, CheckState::Failed);
        assert!(
            outcome
                .message
                .contains("`flowschemas flowcontrol.apiserver.k8s.io/v1beta3` (removed in 1.32)"),
            "{}",
            outcome.message
        );
        assert!(
            !outcome.message.contains("widgets"),
            "removed later than the target"
        );
        assert!(
            !outcome.message.contains("componentstatuses"),
            "deprecated but never removed"
        );
    }

    #[test]
    fn nothing_removed_in_time_passes() {
        assert_eq!(decide(METRICS, KubeMinor::new(1, 31)).state, CheckState::Passed);
        assert_eq!(decide("", KubeMinor::new(1, 34)).state, CheckState::Passed);
    }
}
