//! The set of known releases: the built-in ACP 4.0–4.3 data plus whatever a ProductManifest adds.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use crate::release::{ProductRelease, RELEASE_KIND};
use crate::version::{AcpMinor, AcpVersion, KubeMinor, KubeVersion};

/// The built-in release descriptions, one `ProductRelease` document per release.
pub const BUILTIN_RELEASES_YAML: &str = include_str!("../data/releases.yaml");

/// A release description that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("release description is not valid YAML for a ProductRelease: {0}")]
    Yaml(#[from] serde_saphyr::Error),
    #[error("release document {index} has kind {kind:?}; expected kind: {RELEASE_KIND}")]
    WrongKind { index: usize, kind: String },
    #[error("release {version}: {problem}")]
    Invalid { version: AcpVersion, problem: String },
}

/// Known releases ordered by version. Later inserts override earlier ones of the same version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalogue {
    releases: BTreeMap<AcpVersion, ProductRelease>,
}

static BUILTIN: LazyLock<Catalogue> = LazyLock::new(|| {
    #[allow(
        clippy::expect_used,
        reason = "compiled-in data, parsed by the unit tests of this crate"
    )]
    Catalogue::from_yaml(BUILTIN_RELEASES_YAML).expect("built-in release catalogue is valid")
});

impl Catalogue {
    /// ACP 4.0.0–4.3.1 as REFERENCE.md §1–§3 describes them.
    pub fn builtin() -> Catalogue {
        BUILTIN.clone()
    }

    /// Loads one or more `ProductRelease` documents (separated by `---`).
    pub fn from_yaml(yaml: &str) -> Result<Catalogue, CatalogueError> {
        let mut catalogue = Catalogue::default();
        for release in parse_releases(yaml)? {
            catalogue.insert(release)?;
        }
        Ok(catalogue)
    }

    /// Adds a release, replacing the one with the same version. Returns the replaced release.
    pub fn insert(&mut self, release: ProductRelease) -> Result<Option<ProductRelease>, CatalogueError> {
        validate(&release)?;
        Ok(self.releases.insert(release.version.clone(), release))
    }

    /// Adds every release of `other`, its entries winning over ours.
    pub fn merge(&mut self, other: Catalogue) {
        self.releases.extend(other.releases);
    }

    /// The release of exactly this version.
    pub fn release(&self, version: &AcpVersion) -> Option<&ProductRelease> {
        self.releases.get(version)
    }

    /// The release describing `version`'s support data: the exact release when known, else the
    /// newest known patch of the same minor (patch releases never change the Kubernetes minors).
    pub fn support_release(&self, version: &AcpVersion) -> Option<&ProductRelease> {
        self.release(version)
            .or_else(|| self.latest_of_minor(version.minor_line()))
    }

    /// All releases of a minor line, oldest first.
    pub fn releases_of_minor(&self, minor: AcpMinor) -> impl DoubleEndedIterator<Item = &ProductRelease> {
        self.releases
            .values()
            .filter(move |r| r.version.minor_line() == minor)
    }

    /// The newest release of a minor line.
    pub fn latest_of_minor(&self, minor: AcpMinor) -> Option<&ProductRelease> {
        self.releases_of_minor(minor).next_back()
    }

    /// The newest release overall.
    pub fn latest(&self) -> Option<&ProductRelease> {
        self.releases.values().next_back()
    }

    /// Every release, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &ProductRelease> {
        self.releases.values()
    }

    /// The minor lines present, oldest first.
    pub fn minors(&self) -> Vec<AcpMinor> {
        let mut minors: Vec<AcpMinor> = self.releases.keys().map(AcpVersion::minor_line).collect();
        minors.dedup();
        minors
    }

    /// The Kubernetes patches the releases up to `up_to` install: what a Kubernetes hop may end on.
    pub fn kubernetes_patches(&self, up_to: &AcpVersion) -> Vec<KubeVersion> {
        self.releases
            .range(..=up_to.clone())
            .filter_map(|(_, r)| r.kubernetes.version)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.releases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.releases.is_empty()
    }
}

fn parse_releases(yaml: &str) -> Result<Vec<ProductRelease>, CatalogueError> {
    let releases: Vec<ProductRelease> = serde_saphyr::from_multiple(yaml)?;
    for (index, release) in releases.iter().enumerate() {
        if release.kind != RELEASE_KIND {
            return Err(CatalogueError::WrongKind {
                index,
                kind: release.kind.clone(),
            });
        }
    }
    Ok(releases)
}

/// Refuses descriptions the rules could not work with, saying which field is wrong.
fn validate(release: &ProductRelease) -> Result<(), CatalogueError> {
    let invalid = |problem: String| CatalogueError::Invalid {
        version: release.version.clone(),
        problem,
    };
    let k = &release.kubernetes;
    if k.compatible.is_empty() {
        return Err(invalid(
            "kubernetes.compatible is empty; list the Kubernetes minors it accepts".into(),
        ));
    }
    if let Some(minor) = k.creation.iter().find(|m| !k.is_compatible(**m)) {
        return Err(invalid(format!(
            "kubernetes.creation lists {minor}, which kubernetes.compatible does not"
        )));
    }
    if let Some(v) = k.version {
        let creation: &[KubeMinor] = if k.creation.is_empty() {
            &k.compatible
        } else {
            &k.creation
        };
        if !creation.contains(&v.minor_line()) {
            return Err(invalid(format!(
                "kubernetes.version {v} is not on a creation minor ({})",
                crate::release::minors_text(creation)
            )));
        }
    }
    crate::risks::validate(&release.risks).map_err(invalid)?;
    if release.accepts_upgrade_from(&release.version) {
        return Err(invalid(format!(
            "upgradeFrom includes the release's own version {}",
            release.version
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::GlobalUpgradeRule;

    fn v(s: &str) -> AcpVersion {
        s.parse().unwrap()
    }

    #[test]
    fn builtin_has_every_patch_release_of_reference_section_1() {
        let c = Catalogue::builtin();
        let mut expected = Vec::new();
        for (minor, last) in [(0, 10), (1, 5), (2, 5), (3, 1)] {
            for patch in 0..=last {
                expected.push(AcpVersion::new(4, minor, patch));
            }
        }
        let versions: Vec<AcpVersion> = c.iter().map(|r| r.version.clone()).collect();
        assert_eq!(versions, expected);
    }

    #[test]
    fn builtin_support_matrix_matches_reference() {
        let c = Catalogue::builtin();
        let m = |list: &[u32]| list.iter().map(|n| KubeMinor::new(1, *n)).collect::<Vec<_>>();
        for (acp, creation, compatible, rule) in [
            (
                "4.0",
                m(&[31, 30, 29, 28]),
                m(&[31, 30, 29, 28]),
                GlobalUpgradeRule::LatestCompatibleRequired,
            ),
            (
                "4.1",
                m(&[32]),
                m(&[32, 31, 30, 29]),
                GlobalUpgradeRule::LatestCompatibleRequired,
            ),
            (
                "4.2",
                m(&[33]),
                m(&[33, 32, 31, 30]),
                GlobalUpgradeRule::LatestCompatibleRequired,
            ),
            (
                "4.3",
                m(&[34]),
                m(&[34, 33, 32, 31]),
                GlobalUpgradeRule::WithinCompatibleRange,
            ),
        ] {
            let releases: Vec<_> = c.releases_of_minor(acp.parse().unwrap()).collect();
            assert!(!releases.is_empty(), "{acp}");
            for r in releases {
                assert_eq!(r.kubernetes.creation, creation, "{}", r.version);
                assert_eq!(r.kubernetes.compatible, compatible, "{}", r.version);
                assert_eq!(r.global_upgrade_rule(), rule, "{}", r.version);
            }
        }
        let range = c
            .release(&v("4.3.0"))
            .unwrap()
            .kubernetes
            .third_party_range
            .clone()
            .unwrap();
        assert_eq!(range.to_string(), ">=1.19.0, <1.35.0");
    }

    #[test]
    fn builtin_kubernetes_patch_levels_match_reference() {
        let c = Catalogue::builtin();
        let k = |acp: &str| c.release(&v(acp)).unwrap().kubernetes.version;
        let kv = |s: &str| Some(s.parse::<KubeVersion>().unwrap());
        assert_eq!(k("4.0.9"), kv("v1.31.14"));
        for p in ["4.1.0", "4.1.1", "4.1.2", "4.1.3"] {
            assert_eq!(k(p), kv("v1.32.7"), "{p}");
        }
        assert_eq!(k("4.1.5"), kv("v1.32.11"));
        assert_eq!(k("4.2.0"), kv("v1.33.6"));
        for p in ["4.2.1", "4.2.2", "4.2.3", "4.2.4"] {
            assert_eq!(k(p), kv("v1.33.7"), "{p}");
        }
        assert_eq!(k("4.3.0"), kv("v1.34.5"));
        assert_eq!(k("4.1.4"), None, "unknown patch levels stay unknown");
    }

    const V44: &str = r#"
kind: ProductRelease
version: 4.4.0
kubernetes:
  version: v1.35.1
  creation: ["1.35"]
  compatible: ["1.35", "1.34", "1.33", "1.32"]
  thirdPartyRange: ">=1.19.0, <1.36.0"
  globalUpgradeRule: WithinCompatibleRange
upgradeFrom: [">=4.1.0, <4.4.0"]
adminGates:
  - name: ack-4.4-api-removals
    message: Workloads use no API removed in Kubernetes 1.35.
modules:
  - name: platform-api
    lifecycle: Core
    version: 4.4.0
    manifests:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: {name: platform-api, namespace: cpaas-system, labels: {replicas: "1"}}
        spec: {replicas: 1, paused: false}
  - name: logging
    lifecycle: Aligned
    version: 4.4.0
    dependsOn: [platform-api]
"#;

    #[test]
    fn a_release_description_adds_4_4_with_modules() {
        let mut c = Catalogue::builtin();
        c.merge(Catalogue::from_yaml(V44).unwrap());
        let r = c.release(&v("4.4.0")).unwrap();
        assert_eq!(r.kubernetes.target_minor(), Some(KubeMinor::new(1, 35)));
        assert_eq!(r.admin_gates[0].name, "ack-4.4-api-removals");
        assert_eq!(r.modules.len(), 2);
        assert_eq!(
            r.modules[0].manifests[0]["spec"]["replicas"],
            serde_json::json!(1)
        );
        assert_eq!(
            r.modules[0].manifests[0]["spec"]["paused"],
            serde_json::json!(false)
        );
        assert_eq!(r.modules[1].depends_on, ["platform-api"]);
        assert_eq!(c.latest().unwrap().version, v("4.4.0"));
    }

    #[test]
    fn an_override_replaces_the_release_of_the_same_version() {
        let mut c = Catalogue::builtin();
        let mut r = c.release(&v("4.3.1")).unwrap().clone();
        r.kubernetes.version = Some("v1.34.6".parse().unwrap());
        let old = c.insert(r).unwrap().unwrap();
        assert_eq!(old.kubernetes.version, None);
        assert_eq!(
            c.release(&v("4.3.1")).unwrap().kubernetes.version,
            Some(KubeVersion::new(1, 34, 6))
        );
        assert_eq!(c.len(), 25);
    }

    #[test]
    fn support_falls_back_to_the_newest_patch_of_the_minor() {
        let c = Catalogue::builtin();
        assert_eq!(c.support_release(&v("4.2.9")).unwrap().version, v("4.2.5"));
        assert!(c.support_release(&v("3.18.2")).is_none());
        assert_eq!(
            c.latest_of_minor(AcpMinor::new(4, 0)).unwrap().version,
            v("4.0.10")
        );
        assert_eq!(c.minors().len(), 4);
    }

    #[test]
    fn unquoted_minors_are_read_as_written() {
        let c =
            Catalogue::from_yaml("version: 4.4.0\nkubernetes: {compatible: [1.35, 1.30, v1.34]}\n").unwrap();
        let compatible = &c.release(&v("4.4.0")).unwrap().kubernetes.compatible;
        assert_eq!(
            compatible,
            &[
                KubeMinor::new(1, 35),
                KubeMinor::new(1, 30),
                KubeMinor::new(1, 34)
            ]
        );
    }

    #[test]
    fn bad_descriptions_say_what_is_wrong() {
        let err = Catalogue::from_yaml("kind: ProductRelease\nversion: 4.x\nkubernetes: {compatible: []}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"4.x\""), "{err}");

        let err =
            Catalogue::from_yaml("kind: ProductRelease\nversion: 4.4.0\nkubernetes: {compatible: []}\n")
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("4.4.0") && err.contains("kubernetes.compatible is empty"),
            "{err}"
        );

        let err = Catalogue::from_yaml("kind: Other\nversion: 4.4.0\nkubernetes: {compatible: [\"1.35\"]}\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"Other\""), "{err}");

        let err = Catalogue::from_yaml(
            "version: 4.4.0\nkubernetes: {compatible: [\"1.35\"], creation: [\"1.36\"]}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("kubernetes.creation lists 1.36"), "{err}");
    }
}
