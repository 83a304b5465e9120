//! Whether a cluster's exposure to the risks of its target holds its upgrade: every risk that Applies or
//! is Unknown must be accepted by name.

use super::{Exposure, Risk};
use crate::AcpVersion;
use crate::verdict::{Reason, Verdict};

/// The refusal (reason `RisksNotAccepted`) naming each exposed risk not in `accepted`, with its
/// evidence, what to do and how to accept it; `None` when nothing exposed is left unaccepted.
pub fn unaccepted(
    cluster: &str,
    target: &AcpVersion,
    exposures: &[(&Risk, &Exposure)],
    accepted: &[String],
) -> Option<Verdict> {
    let pending: Vec<&(&Risk, &Exposure)> = exposures
        .iter()
        .filter(|(risk, exposure)| exposure.is_exposed() && !accepted.contains(&risk.name))
        .collect();
    if pending.is_empty() {
        return None;
    }
    let details: Vec<String> = pending
        .iter()
        .map(|(risk, exposure)| {
            let url = risk.url.as_deref().map(|u| format!(" ({u})")).unwrap_or_default();
            format!(
                "{} ({}: {}): {}{url}",
                risk.name,
                exposure.as_str(),
                exposure.evidence(),
                risk.message.trim_end().trim_end_matches('.')
            )
        })
        .collect();
    let names: Vec<&str> = pending.iter().map(|(risk, _)| risk.name.as_str()).collect();
    Some(Verdict::refused(
        Reason::RisksNotAccepted,
        format!(
            "`{cluster}` is exposed to known risks of ACP {target}: {}. Do what each says; to upgrade anyway, \
             accept them on record: `--accept {}` (spec.desiredUpdate.acceptRisks), and `acceptRisks: [{}]` for \
             `{cluster}` in the inventory",
            details.join("; "),
            names.join(","),
            names.join(", ")
        ),
    ))
}
