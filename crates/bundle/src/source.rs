//! Where a ProductManifest's release comes from (DESIGN §5): its image, the configured release
//! repository, or the built-in catalogue — pinned to the digest resolved before, if any.

use acp_policy::AcpVersion;

use crate::reference::{BundleRef, RefError};

/// What a ProductManifest asks for (`spec.image` or `spec.version`; the API allows exactly one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested<'a> {
    Image(&'a str),
    Version(&'a AcpVersion),
}

/// Where to load the release from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSource {
    /// Pull this bundle (already pinned to the recorded digest when there is one).
    Registry(BundleRef),
    /// No registry involved: the built-in catalogue's release of this version.
    BuiltIn(AcpVersion),
}

/// Decides the source of a release:
///
/// - `spec.image` → that reference;
/// - `spec.version` V with a release repository REPO → `REPO:V`;
/// - `spec.version` V without one → the built-in catalogue.
///
/// `resolved_digest` (`status.resolvedImageDigest`) pins a registry source, so a tag moved after
/// the first resolution does not change the release. A digest written in `spec.image` wins.
pub fn bundle_source(
    requested: Requested<'_>,
    release_repository: Option<&str>,
    resolved_digest: Option<&str>,
) -> Result<BundleSource, RefError> {
    let reference = match (requested, release_repository) {
        (Requested::Image(image), _) => BundleRef::parse(image)?,
        (Requested::Version(version), Some(repository)) => BundleRef::for_version(repository, version)?,
        (Requested::Version(version), None) => return Ok(BundleSource::BuiltIn(version.clone())),
    };
    Ok(BundleSource::Registry(
        match (reference.digest(), resolved_digest) {
            (None, Some(digest)) if !digest.is_empty() => {
                // Check the recorded digest like any typed one: status is writable by others too.
                BundleRef::parse(&format!("{}@{digest}", reference.repository_ref()))?;
                reference.pinned(digest)
            }
            _ => reference,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const OTHER: &str = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

    fn registry(reference: &str) -> BundleSource {
        BundleSource::Registry(BundleRef::parse(reference).unwrap())
    }

    #[test]
    fn image_wins_then_repository_then_built_in() {
        let v = AcpVersion::new(4, 3, 1);
        let repo = Some("registry.example.com/acp/release");
        assert_eq!(
            bundle_source(
                Requested::Image("mirror.example.com/acp/release:4.3.1"),
                repo,
                None
            )
            .unwrap(),
            registry("mirror.example.com/acp/release:4.3.1")
        );
        assert_eq!(
            bundle_source(Requested::Version(&v), repo, None).unwrap(),
            registry("registry.example.com/acp/release:4.3.1")
        );
        assert_eq!(
            bundle_source(Requested::Version(&v), None, None).unwrap(),
            BundleSource::BuiltIn(v.clone())
        );
        // The built-in catalogue is never pinned: it ships with the operator.
        assert_eq!(
            bundle_source(Requested::Version(&v), None, Some(DIGEST)).unwrap(),
            BundleSource::BuiltIn(v)
        );
    }

    #[test]
    fn a_recorded_digest_pins_the_tag() {
        let v = AcpVersion::new(4, 3, 1);
        assert_eq!(
            bundle_source(
                Requested::Version(&v),
                Some("registry.example.com/acp/release"),
                Some(DIGEST)
            )
            .unwrap(),
            registry(&format!("registry.example.com/acp/release:4.3.1@{DIGEST}"))
        );
        // A digest the user wrote is what they asked for.
        let image = format!("registry.example.com/acp/release@{DIGEST}");
        assert_eq!(
            bundle_source(Requested::Image(&image), None, Some(OTHER)).unwrap(),
            registry(&image)
        );
        // An empty status field is no digest.
        assert_eq!(
            bundle_source(
                Requested::Image("registry.example.com/acp/release:4.3.1"),
                None,
                Some("")
            )
            .unwrap(),
            registry("registry.example.com/acp/release:4.3.1")
        );
    }

    #[test]
    fn bad_inputs_are_named() {
        let e = bundle_source(Requested::Image("release:4.3.1"), None, None).unwrap_err();
        assert_eq!(e.input, "release:4.3.1");
        let v = AcpVersion::new(4, 3, 1);
        let e = bundle_source(Requested::Version(&v), Some("acp/release"), None).unwrap_err();
        assert_eq!(e.input, "acp/release");
        let e = bundle_source(
            Requested::Image("registry.example.com/acp/release:4.3.1"),
            None,
            Some("sha256:garbage"),
        )
        .unwrap_err();
        assert!(e.problem.contains("64 lower-case hex"), "{e}");
    }
}
