//! ConditionalUpdateRisksAccepted: every known risk of the target release that this cluster is exposed
//! to (Applies, or Unknown because no rule could be evaluated) is named in
//! `spec.desiredUpdate.acceptRisks`. The exposures are evaluated during gather (`cvsh::risks`); this
//! check only compares them with what was accepted.

use acp_policy::AcpVersion;

use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};
use crate::cvsh::risks::{Evaluated, ReleaseRisks};

pub const NAME: &str = acp_api::checks::CONDITIONAL_UPDATE_RISKS_ACCEPTED;

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    let inputs = cx.inputs;
    decide(inputs.cluster, inputs.target, inputs.risks, inputs.accept_risks)
}

/// `FlannelRemoved (Applies: DaemonSet kube-system/kube-flannel-ds is present)`.
fn line(e: &Evaluated) -> String {
    format!("{} ({}: {})", e.risk.name, e.exposure.as_str(), e.exposure.evidence())
}

fn exposed(risks: Option<&ReleaseRisks>) -> impl Iterator<Item = &Evaluated> {
    risks
        .into_iter()
        .flat_map(|r| &r.risks)
        .filter(|e| e.exposure.is_exposed())
}

pub fn decide(
    cluster: &str,
    target: &AcpVersion,
    risks: Option<&ReleaseRisks>,
    accepted: &[String],
) -> Outcome {
    if risks.is_none_or(|r| r.risks.is_empty()) {
        return Outcome::passed("NoKnownRisks", format!("ACP {target} declares no known risks"));
    }
    let exposed: Vec<&Evaluated> = exposed(risks).collect();
    if exposed.is_empty() {
        let lines: Vec<String> = risks.into_iter().flat_map(|r| &r.risks).map(line).collect();
        return Outcome::passed(
            "NotExposed",
            format!("cluster {cluster} is exposed to none of ACP {target}'s known risks: {}", lines.join("; ")),
        );
    }
    let (ok, pending): (Vec<&Evaluated>, Vec<&Evaluated>) =
        exposed.into_iter().partition(|e| accepted.contains(&e.risk.name));
    if pending.is_empty() {
        let lines: Vec<String> = ok.iter().map(|e| line(e)).collect();
        return Outcome::passed(
            "RisksAccepted",
            format!("accepted in spec.desiredUpdate.acceptRisks: {}", lines.join("; ")),
        );
    }
    let details: Vec<String> = pending
        .iter()
        .map(|e| {
            let url = e.risk.url.as_deref().map(|u| format!(" ({u})")).unwrap_or_default();
            format!("{}: {}{url}", line(e), e.risk.message)
        })
        .collect();
    let names: Vec<&str> = pending.iter().map(|e| e.risk.name.as_str()).collect();
    Outcome::failed(
        "RisksNotAccepted",
        format!(
            "cluster {cluster} is exposed to known risks of ACP {target}: {}. Do what each says; to upgrade \
             anyway, accept them on record: `ac adm upgrade --cluster {cluster} --to {target} --accept {}` \
             (spec.desiredUpdate.acceptRisks)",
            details.join("; "),
            names.join(",")
        ),
    )
}

/// The exposed risks `acceptRisks` accepts, as they are recorded in the history entry's acceptedRisks.
pub fn accepted_lines(risks: Option<&ReleaseRisks>, accepted: &[String]) -> Vec<String> {
    exposed(risks)
        .filter(|e| accepted.contains(&e.risk.name))
        .map(|e| format!("{NAME}: accepted {}", line(e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use acp_api::cvsh::CheckState;
    use acp_policy::{Catalogue, Exposure};

    use super::*;

    fn risks(exposures: &[Exposure]) -> ReleaseRisks {
        let release = Catalogue::builtin()
            .release(&AcpVersion::new(4, 3, 1))
            .unwrap()
            .clone();
        ReleaseRisks {
            version: release.version.clone(),
            from: Some(AcpVersion::new(4, 1, 5)),
            risks: release
                .risks
                .iter()
                .zip(exposures)
                .map(|(risk, exposure)| Evaluated {
                    risk: risk.clone(),
                    exposure: exposure.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn exposed_risks_must_be_accepted_by_name() {
        let flannel = Exposure::Applies {
            evidence: "DaemonSet kube-system/kube-flannel-ds is present".into(),
        };
        let not = Exposure::DoesNotApply {
            evidence: "none of 1 node(s) has containerRuntimeVersion matching containerd://1.*".into(),
        };
        let unknown = Exposure::Unknown {
            why: "no rule could be evaluated: forbidden".into(),
        };
        let target = AcpVersion::new(4, 3, 1);
        let accept = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // (exposures, accepted, state, reason, message contains, accepted lines)
        let table = [
            (vec![], accept(&[]), CheckState::Passed, "NoKnownRisks", "declares no known risks", 0),
            (
                vec![not.clone(), not.clone()],
                accept(&[]),
                CheckState::Passed,
                "NotExposed",
                "exposed to none",
                0,
            ),
            (
                vec![flannel.clone(), not.clone()],
                accept(&[]),
                CheckState::Failed,
                "RisksNotAccepted",
                "FlannelRemoved (Applies: DaemonSet kube-system/kube-flannel-ds is present): ACP 4.2 removes",
                0,
            ),
            (
                vec![flannel.clone(), not.clone()],
                accept(&["FlannelRemoved"]),
                CheckState::Passed,
                "RisksAccepted",
                "accepted in spec.desiredUpdate.acceptRisks: FlannelRemoved (Applies",
                1,
            ),
            // Unknown counts as applying.
            (
                vec![flannel.clone(), unknown.clone()],
                accept(&["FlannelRemoved"]),
                CheckState::Failed,
                "RisksNotAccepted",
                "Containerd2Baseline (Unknown: no rule could be evaluated: forbidden)",
                1,
            ),
            (
                vec![flannel.clone(), unknown.clone()],
                accept(&["Containerd2Baseline", "FlannelRemoved"]),
                CheckState::Passed,
                "RisksAccepted",
                "Containerd2Baseline (Unknown",
                2,
            ),
            // Accepting a risk that does not apply records nothing.
            (
                vec![not.clone(), not.clone()],
                accept(&["FlannelRemoved"]),
                CheckState::Passed,
                "NotExposed",
                "",
                0,
            ),
        ];
        for (exposures, accepted, state, reason, contains, lines) in table {
            let r = risks(&exposures);
            let given = (!exposures.is_empty()).then_some(&r);
            let outcome = decide("edge", &target, given, &accepted);
            assert_eq!((outcome.state, outcome.reason.as_str()), (state, reason), "{outcome:?}");
            assert!(outcome.message.contains(contains), "{}", outcome.message);
            let recorded = accepted_lines(given, &accepted);
            assert_eq!(recorded.len(), lines, "{recorded:?}");
            assert!(recorded.iter().all(|l| l.starts_with("ConditionalUpdateRisksAccepted: accepted ")));
        }
        let outcome = decide("edge", &target, Some(&risks(&[flannel, unknown])), &[]);
        assert!(
            outcome
                .message
                .contains("`ac adm upgrade --cluster edge --to 4.3.1 --accept FlannelRemoved,Containerd2Baseline`"),
            "{}",
            outcome.message
        );
    }
}
