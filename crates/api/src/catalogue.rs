//! The releases acp-cvo judges versions against: the built-in ones plus those the ProductManifests
//! resolved, a resolved release overriding the built-in one of its version. The operator (its release
//! cache) and the CLI (`ac adm cluster register`) build it with the same function, so a version known
//! only through a ProductManifest is known to both.

use std::collections::{BTreeMap, BTreeSet};

use acp_policy::{AcpVersion, Catalogue, CatalogueError, ProductRelease};

use crate::product_manifest::{ProductManifest, ResolvedRelease};

/// The merged catalogue and where its releases came from.
#[derive(Debug, Default)]
pub struct Known {
    pub catalogue: Catalogue,
    /// The ProductManifest each release that is not (only) built in came from, by version.
    pub claimed_by: BTreeMap<AcpVersion, String>,
    /// Versions more than one ProductManifest resolved to: left out, since which one would win is not
    /// for the names to decide.
    pub duplicated: BTreeSet<AcpVersion>,
    /// Resolved releases left out because they are not valid: the ProductManifest and why.
    pub invalid: Vec<(String, CatalogueError)>,
}

/// `builtin` plus every resolved release (by ProductManifest name), except those of a version claimed
/// twice and those that are not valid.
pub fn merge<'a>(
    builtin: &Catalogue,
    resolved: impl IntoIterator<Item = (&'a str, &'a ProductRelease)>,
) -> Known {
    let resolved: Vec<(&str, &ProductRelease)> = resolved.into_iter().collect();
    let duplicated = duplicated_versions(resolved.iter().map(|(_, r)| *r));
    let mut known = Known {
        catalogue: builtin.clone(),
        duplicated,
        ..Known::default()
    };
    for (name, release) in resolved {
        if known.duplicated.contains(&release.version) {
            continue;
        }
        match known.catalogue.insert(release.clone()) {
            Ok(_) => {
                known.claimed_by.insert(release.version.clone(), name.to_owned());
            }
            Err(err) => known.invalid.push((name.to_owned(), err)),
        }
    }
    known
}

/// Versions that more than one of `releases` carries.
pub fn duplicated_versions<'a>(
    releases: impl IntoIterator<Item = &'a ProductRelease>,
) -> BTreeSet<AcpVersion> {
    let mut seen = BTreeSet::new();
    releases
        .into_iter()
        .filter(|release| !seen.insert(release.version.clone()))
        .map(|release| release.version.clone())
        .collect()
}

/// The catalogue the ProductManifests in a cluster describe: the built-in releases plus the release
/// each Ready ProductManifest resolved (support data only: the modules' manifests stay in the bundle).
pub fn from_manifests(manifests: &[ProductManifest]) -> Known {
    let resolved: Vec<(&str, ProductRelease)> = manifests
        .iter()
        .filter(|pm| pm.is_offered())
        .filter_map(|pm| {
            let name = pm.metadata.name.as_deref()?;
            Some((name, pm.release()?.support_data().ok()?))
        })
        .collect();
    merge(
        &Catalogue::builtin(),
        resolved.iter().map(|(name, release)| (*name, release)),
    )
}

impl ProductManifest {
    /// True when the release is Ready for the current spec: what the operator offers as an update.
    pub fn is_offered(&self) -> bool {
        let status_generation = self.status.as_ref().and_then(|s| s.observed_generation);
        self.is_ready() && (status_generation.is_none() || status_generation == self.metadata.generation)
    }
}

impl ResolvedRelease {
    /// The release's support data (version, Kubernetes support, upgrade sources, gates) as the policy
    /// judges it; no modules.
    pub fn support_data(&self) -> Result<ProductRelease, serde_json::Error> {
        let mut value = serde_json::to_value(self)?;
        if let Some(fields) = value.as_object_mut() {
            fields.remove("modules");
        }
        serde_json::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use kube::api::ObjectMeta;

    use super::*;
    use crate::conditions::types;
    use crate::k8s::{Condition, Time};
    use crate::product_manifest::{ProductManifestSpec, ProductManifestStatus};

    const RELEASE_4_4: &str = r#"
kind: ProductRelease
version: 4.4.0
kubernetes: {version: v1.35.1, creation: ["1.35"], compatible: ["1.32", "1.33", "1.34", "1.35"]}
upgradeFrom: [">=4.3.0, <4.4.0"]
"#;

    fn release(yaml: &str) -> ProductRelease {
        serde_saphyr::from_str(yaml).unwrap()
    }

    fn manifest(name: &str, release: &ProductRelease, ready: bool) -> ProductManifest {
        ProductManifest {
            metadata: ObjectMeta {
                name: Some(name.into()),
                generation: Some(1),
                ..Default::default()
            },
            spec: ProductManifestSpec {
                version: Some(release.version.to_string()),
                image: None,
            },
            status: Some(ProductManifestStatus {
                conditions: vec![Condition {
                    type_: types::READY.into(),
                    status: if ready { "True" } else { "False" }.into(),
                    reason: "Resolved".into(),
                    message: String::new(),
                    last_transition_time: Time("2026-03-01T12:00:00Z".parse().unwrap()),
                    observed_generation: Some(1),
                }],
                observed_generation: Some(1),
                release: Some(ResolvedRelease::from(release)),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn resolved_releases_add_to_and_override_the_builtin_ones() {
        let builtin = Catalogue::builtin();
        let v44 = release(RELEASE_4_4);
        let mut v431 = builtin.release(&AcpVersion::new(4, 3, 1)).unwrap().clone();
        v431.end_of_support = Some("2027-01-01".into());
        let known = merge(&builtin, [("v4.4.0", &v44), ("v4.3.1", &v431)]);
        assert_eq!(known.catalogue.release(&v44.version), Some(&v44));
        assert_eq!(known.catalogue.release(&v431.version), Some(&v431));
        assert_eq!(known.catalogue.len(), builtin.len() + 1);
        assert_eq!(
            known.claimed_by.get(&v44.version).map(String::as_str),
            Some("v4.4.0")
        );
        assert!(known.duplicated.is_empty() && known.invalid.is_empty());
    }

    #[test]
    fn a_version_claimed_twice_is_left_out_and_an_invalid_release_is_reported() {
        let builtin = Catalogue::builtin();
        let v44 = release(RELEASE_4_4);
        let known = merge(&builtin, [("a", &v44), ("b", &v44)]);
        assert!(known.catalogue.release(&v44.version).is_none());
        assert_eq!(known.duplicated, BTreeSet::from([v44.version.clone()]));
        let mut broken = v44.clone();
        broken.kubernetes.compatible.clear();
        let known = merge(&builtin, [("broken", &broken)]);
        assert!(known.catalogue.release(&v44.version).is_none());
        assert_eq!(known.invalid.len(), 1);
        assert_eq!(known.invalid[0].0, "broken");
    }

    #[test]
    fn ready_manifests_add_their_resolved_release_to_the_builtin_catalogue() {
        let v44 = release(RELEASE_4_4);
        let known = from_manifests(&[manifest("v4.4.0", &v44, true)]);
        let found = known.catalogue.release(&v44.version).unwrap();
        assert_eq!(found.kubernetes.compatible, v44.kubernetes.compatible);
        assert_eq!(found.upgrade_from, v44.upgrade_from);
        assert!(
            from_manifests(&[manifest("v4.4.0", &v44, false)])
                .catalogue
                .release(&v44.version)
                .is_none(),
            "a manifest that is not Ready offers nothing"
        );
        let mut stale = manifest("v4.4.0", &v44, true);
        stale.metadata.generation = Some(2);
        assert!(from_manifests(&[stale]).catalogue.release(&v44.version).is_none());
    }

    #[test]
    fn every_builtin_release_reads_back_from_its_status_view() {
        for original in Catalogue::builtin().iter() {
            let back = ResolvedRelease::from(original).support_data().unwrap();
            assert_eq!(back.version, original.version);
            assert_eq!(back.kubernetes.compatible, original.kubernetes.compatible);
            assert_eq!(
                back.kubernetes.third_party_range,
                original.kubernetes.third_party_range
            );
            assert_eq!(back.upgrade_from, original.upgrade_from);
            assert_eq!(back.global_upgrade_rule(), original.global_upgrade_rule());
        }
    }
}
