//! Operator settings an administrator changes at run time: ConfigMap `cpaas-system/cvo-config`.
//!
//! ```yaml
//! data:
//!   preflight: |
//!     disabled: [DockerRuntimeUnsupported]
//!   license: |
//!     secret: acp-license        # Secret in cpaas-system; key `expiresAt` (YYYY-MM-DD or RFC 3339)
//! ```

use std::collections::BTreeMap;

use acp_api::checks;
use serde::Deserialize;

/// Key of the licence settings in `cvo-config`.
pub const LICENSE_KEY: &str = "license";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreflightSection {
    #[serde(default)]
    disabled: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenseSection {
    secret: String,
}

/// Parsed `cvo-config`, with every problem kept so it can be shown rather than silently ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Switchable checks an administrator disabled.
    pub disabled: Vec<String>,
    /// Secret holding the platform licence, when configured.
    pub license_secret: Option<String>,
    /// What is wrong with the ConfigMap (unparsable YAML, unknown or non-switchable checks).
    pub problems: Vec<String>,
}

impl Settings {
    /// Reads the ConfigMap's data; `None` (no ConfigMap) means defaults.
    pub fn from_data(data: Option<&BTreeMap<String, String>>) -> Self {
        let mut settings = Settings::default();
        let Some(data) = data else {
            return settings;
        };
        if let Some(text) = data.get(acp_api::names::cvo_config::PREFLIGHT_KEY) {
            match serde_saphyr::from_str::<PreflightSection>(text) {
                Ok(section) => {
                    for name in section.disabled {
                        if checks::is_switchable(&name) {
                            settings.disabled.push(name);
                        } else if checks::is_known(&name) {
                            settings.problems.push(format!("{name} cannot be disabled and still runs"));
                        } else {
                            settings.problems.push(format!("{name} is not a preflight check"));
                        }
                    }
                }
                Err(err) => settings.problems.push(format!(
                    "key `preflight` is not valid (expected `disabled: [CheckName, ...]`): {err}; no check is disabled"
                )),
            }
        }
        if let Some(text) = data.get(LICENSE_KEY) {
            match serde_saphyr::from_str::<LicenseSection>(text) {
                Ok(section) => settings.license_secret = Some(section.secret),
                Err(err) => settings.problems.push(format!(
                    "key `license` is not valid (expected `secret: <Secret name>`): {err}"
                )),
            }
        }
        settings
    }

    pub fn is_disabled(&self, check: &str) -> bool {
        self.disabled.iter().any(|d| d == check)
    }

    pub fn disabled_message(&self) -> String {
        "disabled in ConfigMap cpaas-system/cvo-config (key `preflight`); remove it from `disabled` to run it again"
            .to_string()
    }

    /// One line describing the problems, for a condition message.
    pub fn problems_text(&self) -> Option<String> {
        (!self.problems.is_empty())
            .then(|| format!("ConfigMap cpaas-system/cvo-config: {}", self.problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(preflight: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("preflight".to_string(), preflight.to_string())])
    }

    #[test]
    fn switchable_checks_can_be_disabled() {
        let settings = Settings::from_data(Some(&data(
            "disabled: [DockerRuntimeUnsupported, ClusterRunning]",
        )));
        assert!(settings.is_disabled("DockerRuntimeUnsupported"));
        assert!(settings.is_disabled("ClusterRunning"));
        assert!(settings.problems.is_empty());
    }

    #[test]
    fn the_safety_checks_stay_on_and_the_refusal_is_reported() {
        let settings = Settings::from_data(Some(&data(
            "disabled: [VersionUpgradePath, KubernetesVersionSupported, AdminAckRequired, NoSuchCheck]",
        )));
        assert!(settings.disabled.is_empty());
        let text = settings.problems_text().unwrap();
        assert!(text.contains("VersionUpgradePath cannot be disabled"), "{text}");
        assert!(
            text.contains("KubernetesVersionSupported cannot be disabled"),
            "{text}"
        );
        assert!(text.contains("AdminAckRequired cannot be disabled"), "{text}");
        assert!(text.contains("NoSuchCheck is not a preflight check"), "{text}");
    }

    #[test]
    fn malformed_yaml_disables_nothing_and_says_so() {
        let settings = Settings::from_data(Some(&data("disabled: DockerRuntimeUnsupported: [")));
        assert!(settings.disabled.is_empty());
        assert!(settings.problems_text().unwrap().contains("no check is disabled"));
    }

    #[test]
    fn no_config_map_means_defaults() {
        assert_eq!(Settings::from_data(None), Settings::default());
    }

    #[test]
    fn the_license_secret_is_read() {
        let data = BTreeMap::from([(LICENSE_KEY.to_string(), "secret: acp-license".to_string())]);
        assert_eq!(
            Settings::from_data(Some(&data)).license_secret.as_deref(),
            Some("acp-license")
        );
    }
}
