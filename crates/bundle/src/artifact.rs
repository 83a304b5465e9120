//! The OCI artifact layout of a release bundle, and recognising one in a pulled manifest.
//!
//! ```text
//! manifest  application/vnd.oci.image.manifest.v1+json, artifactType ARTIFACT_TYPE,
//!           annotations {org.opencontainers.image.version: VERSION}
//! config    CONFIG_MEDIA_TYPE: {"kind":"ProductRelease","version":"VERSION"}
//! layer[0]  LAYER_MEDIA_TYPE: the bundle YAML, titled release-VERSION.yaml
//! ```
//!
//! Nothing time-dependent goes in, so pushing the same bundle twice yields the same digest.

use std::collections::BTreeMap;

use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest,
};
use sha2::Digest as _;

use crate::document::Bundle;

/// What the manifest's `artifactType` says a bundle is.
pub const ARTIFACT_TYPE: &str = "application/vnd.alauda.acp.release.v1";
/// The config blob's media type; registries without `artifactType` support identify bundles by it.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.alauda.acp.release.config.v1+json";
/// The single layer's media type: the bundle YAML.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.alauda.acp.release.v1+yaml";
/// Manifest annotation holding the release version.
pub const VERSION_ANNOTATION: &str = "org.opencontainers.image.version";
/// Layer annotation holding a file name, which `oras pull` uses.
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// Manifest media types a pull accepts, so a registry answers with whatever it holds and the
/// refusal names what was found.
pub(crate) const ACCEPTED_MANIFESTS: &[&str] = &[
    OCI_IMAGE_MEDIA_TYPE,
    IMAGE_MANIFEST_MEDIA_TYPE,
    OCI_IMAGE_INDEX_MEDIA_TYPE,
    IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// Everything a push uploads.
pub(crate) struct Artifact {
    pub config: Vec<u8>,
    pub config_digest: String,
    pub layer: Vec<u8>,
    pub layer_digest: String,
    /// The manifest exactly as uploaded; its sha256 is the bundle's digest.
    pub manifest_bytes: Vec<u8>,
}

impl Artifact {
    pub fn build(bundle: &Bundle) -> Result<Artifact, serde_json::Error> {
        let version = bundle.version().to_string();
        let config = serde_json::to_vec(&serde_json::json!({
            "kind": acp_policy::RELEASE_KIND,
            "version": version,
        }))?;
        let layer = bundle.yaml().as_bytes().to_vec();
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
            artifact_type: Some(ARTIFACT_TYPE.to_owned()),
            config: descriptor(CONFIG_MEDIA_TYPE, &config, None),
            layers: vec![descriptor(
                LAYER_MEDIA_TYPE,
                &layer,
                Some(BTreeMap::from([(
                    TITLE_ANNOTATION.to_owned(),
                    format!("release-{version}.yaml"),
                )])),
            )],
            subject: None,
            annotations: Some(BTreeMap::from([(VERSION_ANNOTATION.to_owned(), version)])),
        };
        let manifest_bytes = serde_json::to_vec(&manifest)?;
        Ok(Artifact {
            config_digest: manifest.config.digest,
            layer_digest: sha256_digest(&layer),
            config,
            layer,
            manifest_bytes,
        })
    }
}

fn descriptor(media_type: &str, data: &[u8], annotations: Option<BTreeMap<String, String>>) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: sha256_digest(data),
        size: i64::try_from(data.len()).unwrap_or(i64::MAX),
        annotations,
        ..OciDescriptor::default()
    }
}

/// `sha256:` and the lower-case hex SHA-256 of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let hash = sha2::Sha256::digest(data);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in hash.iter() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Why a pulled manifest is not a release bundle: the media type a person would look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotABundle {
    pub media_type: String,
}

/// Finds the bundle layer in a pulled manifest, or says what the manifest is instead.
pub(crate) fn bundle_layer(manifest_bytes: &[u8]) -> Result<OciDescriptor, NotABundle> {
    let value: serde_json::Value = serde_json::from_slice(manifest_bytes).map_err(|_| NotABundle {
        media_type: "unreadable manifest".to_owned(),
    })?;
    let field = |name: &str| {
        value
            .get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    let manifest_type = field("mediaType");
    if value.get("manifests").is_some()
        || matches!(
            manifest_type.as_deref(),
            Some(OCI_IMAGE_INDEX_MEDIA_TYPE | IMAGE_MANIFEST_LIST_MEDIA_TYPE)
        )
    {
        return Err(NotABundle {
            media_type: shown(&manifest_type.unwrap_or_else(|| OCI_IMAGE_INDEX_MEDIA_TYPE.to_owned())),
        });
    }
    let manifest: OciImageManifest = serde_json::from_value(value).map_err(|_| NotABundle {
        media_type: shown(&manifest_type.unwrap_or_else(|| "unreadable manifest".to_owned())),
    })?;
    // Describe a foreign artifact by the most specific type it declares.
    let declared = manifest
        .artifact_type
        .clone()
        .unwrap_or_else(|| manifest.config.media_type.clone());
    let is_bundle = manifest.config.media_type == CONFIG_MEDIA_TYPE
        && manifest
            .artifact_type
            .as_deref()
            .is_none_or(|t| t == ARTIFACT_TYPE);
    if !is_bundle {
        return Err(NotABundle {
            media_type: shown(&declared),
        });
    }
    match manifest.layers.as_slice() {
        [layer] if layer.media_type == LAYER_MEDIA_TYPE => Ok(layer.clone()),
        layers => Err(NotABundle {
            media_type: format!(
                "{} with layers [{}{}], expected one {LAYER_MEDIA_TYPE} layer",
                shown(&declared),
                layers
                    .iter()
                    .take(4)
                    .map(|l| shown(&l.media_type))
                    .collect::<Vec<_>>()
                    .join(", "),
                if layers.len() > 4 { ", …" } else { "" }
            ),
        }),
    }
}

/// Longest piece of a registry's answer quoted in an error.
const MAX_SHOWN_CHARS: usize = 200;

/// Text from a registry's manifest as an error may quote it: one line, at most [`MAX_SHOWN_CHARS`]
/// characters. A hostile registry controls these strings, and errors reach logs and status.
fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_SHOWN_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().nth(MAX_SHOWN_CHARS).is_some() {
        out.push_str("… (truncated)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Bundle;

    const BUNDLE: &str = "kind: ProductRelease\nversion: 4.3.1\nkubernetes: {compatible: [\"1.34\"]}\n";

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn built_artifact_is_recognised_and_stable() {
        let bundle = Bundle::from_yaml(BUNDLE).unwrap();
        let a = Artifact::build(&bundle).unwrap();
        let b = Artifact::build(&bundle).unwrap();
        assert_eq!(a.manifest_bytes, b.manifest_bytes, "same bundle, same digest");
        let layer = bundle_layer(&a.manifest_bytes).unwrap();
        assert_eq!(layer.digest, sha256_digest(BUNDLE.as_bytes()));
        assert_eq!(layer.size, BUNDLE.len() as i64);
        let text = String::from_utf8(a.manifest_bytes).unwrap();
        assert!(
            text.contains(r#""org.opencontainers.image.version":"4.3.1""#),
            "{text}"
        );
        assert!(
            text.contains(&format!(r#""artifactType":"{ARTIFACT_TYPE}""#)),
            "{text}"
        );
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&a.config).unwrap(),
            serde_json::json!({"kind": "ProductRelease", "version": "4.3.1"})
        );
    }

    #[test]
    fn foreign_manifests_are_named_by_their_type() {
        let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:00","size":2},
            "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:01","size":3}]}"#;
        assert_eq!(
            bundle_layer(image).unwrap_err().media_type,
            "application/vnd.oci.image.config.v1+json"
        );
        let helm = br#"{"schemaVersion":2,"artifactType":"application/vnd.cncf.helm.chart","config":{"mediaType":"application/vnd.alauda.acp.release.config.v1+json","digest":"sha256:00","size":2},"layers":[]}"#;
        assert_eq!(
            bundle_layer(helm).unwrap_err().media_type,
            "application/vnd.cncf.helm.chart"
        );
        let index =
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert_eq!(
            bundle_layer(index).unwrap_err().media_type,
            OCI_IMAGE_INDEX_MEDIA_TYPE
        );
        let two_layers = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{CONFIG_MEDIA_TYPE}","digest":"sha256:00","size":2}},
            "layers":[{{"mediaType":"{LAYER_MEDIA_TYPE}","digest":"sha256:01","size":3}},
                      {{"mediaType":"text/plain","digest":"sha256:02","size":3}}]}}"#
        );
        let e = bundle_layer(two_layers.as_bytes()).unwrap_err();
        assert!(
            e.media_type
                .contains("expected one application/vnd.alauda.acp.release.v1+yaml layer"),
            "{e:?}"
        );
    }

    #[test]
    fn a_hostile_media_type_is_quoted_short_and_on_one_line() {
        let huge = format!("evil\\n{}", "x".repeat(1 << 20));
        let foreign = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{huge}","digest":"sha256:00","size":2}},"layers":[]}}"#
        );
        let shown = bundle_layer(foreign.as_bytes()).unwrap_err().media_type;
        assert!(shown.chars().count() < 300, "{} characters quoted", shown.len());
        assert!(!shown.contains('\n'), "{shown:?}");
        assert!(shown.starts_with("evil?x"), "{shown:?}");
        let layers = (0..1000)
            .map(|_| format!(r#"{{"mediaType":"{huge}","digest":"sha256:01","size":3}}"#))
            .collect::<Vec<_>>()
            .join(",");
        let many = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{CONFIG_MEDIA_TYPE}","digest":"sha256:00","size":2}},"layers":[{layers}]}}"#
        );
        let shown = bundle_layer(many.as_bytes()).unwrap_err().media_type;
        assert!(shown.chars().count() < 1500, "{} characters quoted", shown.len());
    }
}
