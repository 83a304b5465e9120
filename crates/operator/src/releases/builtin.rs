//! Built-in release bundles: the support data of every release in the policy catalogue plus a small
//! sample module set, so the product works without a registry.
//!
//! The modules roll out on any cluster (kind, or kwok's fake nodes): every workload uses the pause
//! image every cluster can pull, and a release changes what a rollout can see (the `ACP_VERSION`
//! environment variable and version labels), so each upgrade produces a real new ReplicaSet.

use acp_api::names;
use acp_policy::{AcpVersion, Catalogue, Lifecycle, Module, ProductRelease};
use serde_json::{Value, json};

/// Image of every sample workload.
pub const SAMPLE_IMAGE: &str = "registry.k8s.io/pause:3.10";
/// CRD installed by the sample `platform-api` module (applied in the Prepare stage).
pub const SAMPLE_CRD: &str = "platformcapabilities.release.alauda.io";

/// The sample module set: (name, lifecycle, dependsOn).
const SAMPLE_MODULES: [(&str, Lifecycle, &[&str]); 4] = [
    ("platform-api", Lifecycle::Core, &[]),
    ("platform-auth", Lifecycle::Core, &["platform-api"]),
    (
        "platform-console",
        Lifecycle::Core,
        &["platform-api", "platform-auth"],
    ),
    ("cluster-logging", Lifecycle::Aligned, &[]),
];

/// Every built-in release with its sample modules.
pub fn catalogue() -> Catalogue {
    let mut catalogue = Catalogue::builtin();
    let releases: Vec<ProductRelease> = catalogue.iter().cloned().collect();
    for release in releases {
        // Inserting a release of a known version replaces it; validation already passed for the
        // support data, and the module set is valid by construction (tested below).
        if let Err(err) = catalogue.insert(with_sample_modules(release)) {
            tracing::error!(error = %err, "built-in release bundle is invalid");
        }
    }
    catalogue
}

/// `release` with the sample modules of its version.
pub fn with_sample_modules(mut release: ProductRelease) -> ProductRelease {
    release.modules = sample_modules(&release.version);
    release
}

/// The sample modules of `version`.
pub fn sample_modules(version: &AcpVersion) -> Vec<Module> {
    SAMPLE_MODULES
        .iter()
        .map(|(name, lifecycle, depends_on)| {
            let mut manifests = Vec::new();
            if *name == "platform-api" {
                manifests.push(namespace(name, version));
                manifests.push(crd(name, version));
            }
            manifests.push(deployment(name, version));
            Module {
                name: (*name).to_string(),
                lifecycle: *lifecycle,
                version: version.to_string(),
                depends_on: depends_on.iter().map(|d| (*d).to_string()).collect(),
                manifests,
            }
        })
        .collect()
}

/// The labels acp-cvo sets on everything it applies, written into the bundle too, so objects an
/// installer applied from it are acp-cvo's to upgrade.
fn ownership_labels(module: &str, version: &AcpVersion) -> Value {
    json!({
        (names::labels::MANAGED_BY): names::FIELD_MANAGER,
        (names::labels::MODULE): module,
        (names::labels::RELEASE_VERSION): version.to_string(),
    })
}

/// The platform namespace usually exists before the first upgrade (the installer, `ac adm cluster
/// register`), so the release adopts it.
fn namespace(module: &str, version: &AcpVersion) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": names::NAMESPACE,
            "labels": ownership_labels(module, version),
            "annotations": {(names::annotations::ADOPT): "true"},
        },
    })
}

fn crd(module: &str, version: &AcpVersion) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": SAMPLE_CRD,
            "labels": ownership_labels(module, version),
        },
        "spec": {
            "group": "release.alauda.io",
            "scope": "Cluster",
            "names": {
                "plural": "platformcapabilities",
                "singular": "platformcapability",
                "kind": "PlatformCapability",
            },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": true,
                }},
            }],
        },
    })
}

fn deployment(name: &str, version: &AcpVersion) -> Value {
    let version = version.to_string();
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": names::NAMESPACE,
            "labels": {
                "app.kubernetes.io/name": name,
                "app.kubernetes.io/part-of": "acp",
                "app.kubernetes.io/version": version,
                (names::labels::MODULE): name,
                (names::labels::RELEASE_VERSION): version,
                (names::labels::MANAGED_BY): names::FIELD_MANAGER,
            },
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {
                "metadata": {"labels": {
                    "app.kubernetes.io/name": name,
                    "app.kubernetes.io/version": version,
                }},
                "spec": {
                    "containers": [{
                        "name": name,
                        "image": SAMPLE_IMAGE,
                        "env": [{"name": "ACP_VERSION", "value": version}],
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    }],
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_release_has_a_bundle_with_modules() {
        let catalogue = catalogue();
        for version in [
            "4.0.0", "4.0.10", "4.1.0", "4.1.5", "4.2.0", "4.2.5", "4.3.0", "4.3.1",
        ] {
            let version: AcpVersion = version.parse().unwrap();
            let release = catalogue.release(&version).unwrap();
            assert_eq!(release.modules.len(), 4, "{version}");
        }
    }

    #[test]
    fn modules_depend_only_on_modules_of_the_same_release() {
        let modules = sample_modules(&AcpVersion::new(4, 3, 1));
        let names: Vec<&str> = modules.iter().map(|m| m.name.as_str()).collect();
        for module in &modules {
            for dep in &module.depends_on {
                assert!(
                    names.contains(&dep.as_str()),
                    "{} depends on unknown {dep}",
                    module.name
                );
            }
        }
    }

    #[test]
    fn built_in_releases_pass_the_content_policy_of_registry_bundles() {
        for release in catalogue().iter() {
            assert_eq!(
                acp_bundle::ContentPolicy::default().check(release),
                Ok(()),
                "{}",
                release.version
            );
        }
    }

    #[test]
    fn every_object_carries_the_ownership_labels_of_its_module() {
        let version = AcpVersion::new(4, 3, 1);
        for module in sample_modules(&version) {
            for manifest in &module.manifests {
                let labels = &manifest["metadata"]["labels"];
                assert_eq!(labels[names::labels::MANAGED_BY], "acp-cvo", "{manifest}");
                assert_eq!(labels[names::labels::MODULE], module.name.as_str(), "{manifest}");
                assert_eq!(labels[names::labels::RELEASE_VERSION], "4.3.1", "{manifest}");
            }
        }
    }

    #[test]
    fn each_release_changes_the_pod_template_so_an_upgrade_rolls_out() {
        let template = |v: AcpVersion| {
            let module = sample_modules(&v)
                .into_iter()
                .find(|m| m.name == "platform-auth")
                .unwrap();
            module.manifests.last().unwrap()["spec"]["template"].clone()
        };
        let old = template(AcpVersion::new(4, 2, 3));
        let new = template(AcpVersion::new(4, 3, 1));
        assert_ne!(old, new);
        assert_eq!(new["spec"]["containers"][0]["env"][0]["value"], "4.3.1");
        assert_eq!(new["spec"]["containers"][0]["image"], SAMPLE_IMAGE);
    }
}
