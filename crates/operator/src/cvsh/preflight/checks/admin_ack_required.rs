//! AdminAckRequired: every admin gate of the target release (and of ConfigMap `admin-gates`) is
//! acknowledged in ConfigMap `admin-acks` with `"<gate>": "true"`.

use std::collections::BTreeMap;

use acp_api::names::{ADMIN_ACKS_CONFIG_MAP, ADMIN_GATES_CONFIG_MAP};

use super::name_list;
use crate::cvsh::preflight::sources::PlatformSource;
use crate::cvsh::preflight::{Context, Outcome, Sources};

pub const NAME: &str = acp_api::checks::ADMIN_ACK_REQUIRED;

/// A gate and what the administrator must check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gate {
    pub name: String,
    pub message: String,
}

pub async fn run(cx: &Context<'_, impl Sources, impl PlatformSource>) -> Outcome {
    let (inputs, platform) = (cx.inputs, cx.platform);
    let mut gates: Vec<Gate> = inputs
        .target_release()
        .map(|r| {
            r.admin_gates
                .iter()
                .map(|g| Gate {
                    name: g.name.clone(),
                    message: g.message.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let extra = match platform.config_map(ADMIN_GATES_CONFIG_MAP).await {
        Ok(data) => data.unwrap_or_default(),
        Err(err) => return Outcome::unanswered(&err),
    };
    for (name, message) in extra {
        if !gates.iter().any(|g| g.name == name) {
            gates.push(Gate { name, message });
        }
    }
    if gates.is_empty() {
        return Outcome::passed(
            "NoAdminGates",
            format!("ACP {} has no admin gates", inputs.target),
        );
    }
    match platform.config_map(ADMIN_ACKS_CONFIG_MAP).await {
        Ok(acks) => decide(&gates, &acks.unwrap_or_default()),
        Err(err) => Outcome::unanswered(&err),
    }
}

pub fn decide(gates: &[Gate], acks: &BTreeMap<String, String>) -> Outcome {
    let pending: Vec<&Gate> = gates
        .iter()
        .filter(|g| acks.get(&g.name).map(|v| v.trim()) != Some("true"))
        .collect();
    if pending.is_empty() {
        return Outcome::passed(
            "AdminGatesAcked",
            format!("{} admin gate(s), all acknowledged", gates.len()),
        );
    }
    let names: Vec<String> = pending.iter().map(|g| format!("`{}`", g.name)).collect();
    let details: Vec<String> = pending
        .iter()
        .filter(|g| !g.message.is_empty())
        .map(|g| format!("{}: {}", g.name, g.message))
        .collect();
    let example = &pending[0].name;
    let mut message = format!(
        "admin gate {} not acknowledged; after checking, acknowledge with `kubectl patch configmap {ADMIN_ACKS_CONFIG_MAP} \
         -n cpaas-system --type merge -p '{{\"data\":{{\"{example}\":\"true\"}}}}'`",
        name_list(&names)
    );
    if !details.is_empty() {
        message.push_str(&format!(" ({})", details.join("; ")));
    }
    Outcome::failed("AdminAckRequired", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::cvsh::CheckState;

    #[test]
    fn every_gate_needs_a_true_ack() {
        let gates = vec![
            Gate {
                name: "ack-4.4-api-removals".into(),
                message: "APIs removed in 1.35".into(),
            },
            Gate {
                name: "ack-license".into(),
                message: String::new(),
            },
        ];
        let acks = BTreeMap::from([("ack-license".to_string(), "true".to_string())]);
        let outcome = decide(&gates, &acks);
        assert_eq!(outcome.state, CheckState::Failed);
        assert!(
            outcome.message.contains("`ack-4.4-api-removals`"),
            "{}",
            outcome.message
        );
        assert!(outcome.message.contains("APIs removed in 1.35"));
        assert!(!outcome.message.contains("`ack-license`"));

        let all = BTreeMap::from([
            ("ack-license".to_string(), "true".to_string()),
            ("ack-4.4-api-removals".to_string(), "true".to_string()),
        ]);
        assert_eq!(decide(&gates, &all).state, CheckState::Passed);
        let wrong = BTreeMap::from([("ack-license".to_string(), "yes".to_string())]);
        assert_eq!(decide(&gates[1..], &wrong).state, CheckState::Failed);
    }
}
