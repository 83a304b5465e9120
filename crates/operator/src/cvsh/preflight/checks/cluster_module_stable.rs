//! ClusterModuleStable: the modules of the current release are not upgrading and not failed.

use super::name_list;
use crate::clusters::objects::Readiness;
use crate::cvsh::preflight::sources::{ModuleObjectFact, PlatformSource};
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::CLUSTER_MODULE_STABLE;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    let Some(release) = cx.inputs.current_release() else {
        return Outcome::passed(
            "NoCurrentRelease",
            "the current release is unknown, so there are no modules of it to check",
        );
    };
    match cx.cluster.module_objects(release).await {
        Ok(objects) => decide(&objects),
        Err(err) => Outcome::unanswered(&err),
    }
}

pub fn decide(objects: &[ModuleObjectFact]) -> Outcome {
    let mut unstable = Vec::new();
    let mut failed = false;
    let mut installed = 0;
    for object in objects {
        match &object.readiness {
            None => {}
            Some(Readiness::Ready) => installed += 1,
            Some(Readiness::Waiting(why)) => {
                installed += 1;
                unstable.push(format!("module `{}` is rolling out ({why})", object.module));
            }
            Some(Readiness::Failed(why)) => {
                installed += 1;
                failed = true;
                unstable.push(format!("module `{}` failed ({why})", object.module));
            }
        }
    }
    if unstable.is_empty() {
        return Outcome::passed(
            "ModulesStable",
            format!("{installed} module workload(s) of the current release are rolled out and available"),
        );
    }
    let reason = if failed {
        "ModulesFailed"
    } else {
        "ModulesUpgrading"
    };
    Outcome::failed(
        reason,
        format!(
            "{}: wait for the rollout to finish or repair the module first",
            name_list(&unstable)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clusters::objects::ObjectKey;
    use acp_api::cvsh::CheckState;

    fn object(module: &str, readiness: Option<Readiness>) -> ModuleObjectFact {
        ModuleObjectFact {
            module: module.into(),
            key: ObjectKey {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: Some("cpaas-system".into()),
                name: module.into(),
            },
            readiness,
        }
    }

    #[test]
    fn rolling_or_failed_modules_block_and_absent_ones_do_not() {
        let table = [
            (
                vec![object("a", Some(Readiness::Ready)), object("b", None)],
                CheckState::Passed,
                "ModulesStable",
            ),
            (
                vec![object("a", Some(Readiness::Waiting("1 of 2".into())))],
                CheckState::Failed,
                "ModulesUpgrading",
            ),
            (
                vec![object("a", Some(Readiness::Failed("deadline".into())))],
                CheckState::Failed,
                "ModulesFailed",
            ),
        ];
        for (objects, state, reason) in table {
            let outcome = decide(&objects);
            assert_eq!(
                (outcome.state, outcome.reason.as_str()),
                (state, reason),
                "{}",
                outcome.message
            );
        }
    }
}
