//! ModuleInfoStable: ACP ModuleInfo objects (when that CRD exists) are neither upgrading nor failed.

use serde_json::Value;

use super::name_list;
use crate::cvsh::preflight::sources::{CustomObjectFact, PlatformSource};
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::MODULE_INFO_STABLE;

pub const KIND: &str = "ModuleInfo";

/// Phases of a settled module.
const STABLE_PHASES: [&str; 5] = ["Running", "Ready", "Succeeded", "Installed", "Healthy"];

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    match cx.cluster.custom_objects(KIND).await {
        Ok(None) => Outcome::passed(
            "NoModuleInfoCRD",
            "no ModuleInfo CRD is installed: nothing to check",
        ),
        Ok(Some(objects)) => decide(&objects),
        Err(err) => Outcome::unanswered(&err),
    }
}

/// Why a ModuleInfo is not stable, if it is not.
fn instability(status: &Value) -> Option<String> {
    if let Some(phase) = status.get("phase").and_then(Value::as_str) {
        return (!STABLE_PHASES.contains(&phase)).then(|| format!("phase {phase}"));
    }
    let ready = status.get("conditions").and_then(Value::as_array).and_then(|cs| {
        cs.iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
    });
    match ready.and_then(|c| c.get("status")).and_then(Value::as_str) {
        Some("True") | None => None,
        Some(other) => Some(format!("Ready={other}")),
    }
}

pub fn decide(objects: &[CustomObjectFact]) -> Outcome {
    let unstable: Vec<String> = objects
        .iter()
        .filter_map(|o| instability(&o.status).map(|why| format!("`{}` ({why})", o.name)))
        .collect();
    if unstable.is_empty() {
        return Outcome::passed(
            "ModuleInfosStable",
            format!("{} ModuleInfo object(s), all stable", objects.len()),
        );
    }
    Outcome::failed(
        "ModuleInfosUnstable",
        format!(
            "ModuleInfo {} is not stable: wait for it to settle or repair it first",
            name_list(&unstable)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;
    use serde_json::json;

    fn info(name: &str, status: Value) -> CustomObjectFact {
        CustomObjectFact {
            namespace: None,
            name: name.into(),
            annotations: Default::default(),
            status,
        }
    }

    #[test]
    fn phases_and_ready_conditions_decide_stability() {
        let table = [
            (info("a", json!({"phase": "Running"})), CheckState::Passed),
            (info("a", json!({"phase": "Upgrading"})), CheckState::Failed),
            (
                info("a", json!({"conditions": [{"type": "Ready", "status": "False"}]})),
                CheckState::Failed,
            ),
            (info("a", Value::Null), CheckState::Passed),
        ];
        for (object, state) in table {
            assert_eq!(decide(std::slice::from_ref(&object)).state, state, "{object:?}");
        }
        assert!(
            decide(&[info("logging", json!({"phase": "Failed"}))])
                .message
                .contains("`logging` (phase Failed)")
        );
    }
}
