//! The record of a cluster's platform version: ConfigMap `cpaas-system/acp-version`, key `version`.
//! The operator writes it when an upgrade completes, `ac adm cluster register --version` when a cluster
//! joins, and the operator reads it to learn a cluster's version on first sight; all of them build and
//! read it here, so they agree on its shape.

use std::collections::BTreeMap;

use acp_policy::AcpVersion;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::names::{NAMESPACE, acp_version_config_map::KEY, acp_version_config_map::NAME};

/// The namespace the record lives in; it must exist before the record is written.
pub fn namespace() -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The ConfigMap recording that the cluster runs `version`.
pub fn config_map(version: &AcpVersion) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(NAME.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(KEY.to_owned(), version.to_string())])),
        ..ConfigMap::default()
    }
}

/// The version text the record holds, trimmed; `None` when the key is missing or blank. Parsing is left
/// to the caller, which says how an unparsable record should be fixed.
pub fn recorded(config_map: &ConfigMap) -> Option<&str> {
    config_map
        .data
        .as_ref()?
        .get(KEY)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_reads_back_the_version_it_was_built_with() {
        let version = AcpVersion::new(4, 3, 1);
        let record = config_map(&version);
        assert_eq!(recorded(&record), Some("4.3.1"));
        assert_eq!(record.metadata.namespace.as_deref(), Some("cpaas-system"));
        assert_eq!(namespace().metadata.name.as_deref(), Some("cpaas-system"));
        // Applied as JSON by the operator: the manifest names its kind and the key `version`.
        let manifest = serde_json::to_value(&record).unwrap();
        assert_eq!(manifest["apiVersion"], "v1");
        assert_eq!(manifest["kind"], "ConfigMap");
        assert_eq!(manifest["metadata"]["name"], "acp-version");
        assert_eq!(manifest["data"]["version"], "4.3.1");
        assert_eq!(serde_json::to_value(namespace()).unwrap()["kind"], "Namespace");
    }

    #[test]
    fn a_blank_or_missing_version_is_no_record() {
        let with = |data: Option<&[(&str, &str)]>| ConfigMap {
            data: data.map(|d| {
                d.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
            ..ConfigMap::default()
        };
        assert_eq!(recorded(&with(None)), None);
        assert_eq!(recorded(&with(Some(&[]))), None);
        assert_eq!(recorded(&with(Some(&[("version", "  ")]))), None);
        assert_eq!(recorded(&with(Some(&[("other", "4.3.1")]))), None);
        assert_eq!(recorded(&with(Some(&[("version", " 4.2.3\n")]))), Some("4.2.3"));
    }
}
