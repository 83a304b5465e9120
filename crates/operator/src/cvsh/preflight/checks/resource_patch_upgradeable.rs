//! ResourcePatchUpgradeable: every ResourcePatch was reviewed for the target version (annotation
//! `config.cpaas.io/exempt-for-ver=<target>`), since patches may not fit the new release.

use acp_api::checks::REASON_UNEXEMPT_RESOURCE_PATCHES;
use acp_api::names::annotations::EXEMPT_FOR_VERSION;
use acp_policy::AcpVersion;

use super::name_list;
use crate::cvsh::preflight::sources::{CustomObjectFact, PlatformSource};
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::RESOURCE_PATCH_UPGRADEABLE;

pub const KIND: &str = "ResourcePatch";

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    let target = cx.inputs.target;
    match cx.cluster.custom_objects(KIND).await {
        Ok(None) => Outcome::passed(
            "NoResourcePatchCRD",
            "no ResourcePatch CRD is installed: nothing to check",
        ),
        Ok(Some(patches)) => decide(target, &patches),
        Err(err) => Outcome::unanswered(&err),
    }
}

pub fn decide(target: &AcpVersion, patches: &[CustomObjectFact]) -> Outcome {
    let unexempt: Vec<String> = patches
        .iter()
        .filter(|p| {
            let exempt = p
                .annotations
                .get(EXEMPT_FOR_VERSION)
                .and_then(|v| v.trim().parse::<AcpVersion>().ok());
            exempt.as_ref() != Some(target)
        })
        .map(|p| match &p.namespace {
            Some(ns) => format!("`{ns}/{}`", p.name),
            None => format!("`{}`", p.name),
        })
        .collect();
    if unexempt.is_empty() {
        return Outcome::passed(
            "ResourcePatchesExempt",
            format!("{} ResourcePatch(es), all reviewed for {target}", patches.len()),
        );
    }
    Outcome::failed(
        REASON_UNEXEMPT_RESOURCE_PATCHES,
        format!(
            "ResourcePatch {} is not marked as reviewed for {target}: check that it still applies to {target}, then \
             annotate it `{EXEMPT_FOR_VERSION}={target}`",
            name_list(&unexempt)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;
    use serde_json::Value;
    use std::collections::BTreeMap;

    fn patch(exempt: Option<&str>) -> CustomObjectFact {
        CustomObjectFact {
            namespace: Some("cpaas-system".into()),
            name: "tune-apiserver".into(),
            annotations: exempt
                .map(|v| BTreeMap::from([(EXEMPT_FOR_VERSION.to_string(), v.to_string())]))
                .unwrap_or_default(),
            status: Value::Null,
        }
    }

    #[test]
    fn patches_need_the_exemption_for_exactly_the_target() {
        let target = AcpVersion::new(4, 3, 1);
        assert_eq!(decide(&target, &[patch(Some("4.3.1"))]).state, CheckState::Passed);
        assert_eq!(
            decide(&target, &[patch(Some("v4.3.1"))]).state,
            CheckState::Passed
        );
        let stale = decide(&target, &[patch(Some("4.3.0"))]);
        assert_eq!(
            (stale.state, stale.reason.as_str()),
            (CheckState::Failed, "UnexemptResourcePatches")
        );
        assert!(stale.message.contains("`cpaas-system/tune-apiserver`"));
        assert_eq!(decide(&target, &[patch(None)]).state, CheckState::Failed);
        assert_eq!(decide(&target, &[]).state, CheckState::Passed);
    }
}
