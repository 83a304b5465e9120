//! Release bundle signatures in cosign's key-based layout, so `cosign sign --key` signs a bundle the
//! operator accepts and `cosign verify --key` checks one `ac adm release push --sign-key` signed.
//!
//! ```text
//! REGISTRY/REPOSITORY:sha256-<hex of the bundle digest>.sig
//!   manifest  application/vnd.oci.image.manifest.v1+json
//!   layer[i]  application/vnd.dev.cosign.simplesigning.v1+json: the payload, e.g.
//!             {"critical":{"identity":{"docker-reference":"REGISTRY/REPOSITORY"},
//!                          "image":{"docker-manifest-digest":"sha256:…"},
//!                          "type":"cosign container image signature"},"optional":null}
//!             annotation dev.cosignproject.cosign/signature: base64 of the ECDSA P-256 / SHA-256
//!             signature (ASN.1 DER) of the payload's exact bytes
//! ```
//!
//! A bundle verifies when one layer's signature checks out with a configured key and its payload
//! names the bundle's manifest digest. As with `cosign verify --key`, the payload's
//! `docker-reference` is not compared, so a bundle copied to a mirror with its signature still
//! verifies; the digest is what binds a signature to the content.

mod keys;

use std::collections::BTreeMap;

use base64::Engine as _;
use oci_client::manifest::{
    IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest,
};
use tracing::debug;

pub use keys::{KeyError, MAX_KEY_FILE_BYTES, PublicKey, SigningKey};

use crate::PulledBundle;
use crate::artifact::sha256_digest;
use crate::client::{BundleClient, classify, download};
use crate::error::{BundleError, Operation};
use crate::reference::BundleRef;

/// Media type of a signature layer (cosign's "simple signing" payload).
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// Layer annotation holding the base64 signature of the payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// `critical.type` of a cosign image signature payload.
pub const PAYLOAD_TYPE: &str = "cosign container image signature";
/// The signature image's config, as cosign writes it.
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// A signature image lists a few signatures; cosign itself stops at 1000 layers.
const MAX_SIGNATURE_MANIFEST_BYTES: usize = 1024 * 1024;
/// Signatures looked at per bundle; more is refused rather than downloaded.
pub const MAX_SIGNATURES: usize = 64;
/// A payload is a few hundred bytes of JSON.
pub const MAX_PAYLOAD_BYTES: u64 = 64 * 1024;
/// A base64 DER P-256 signature is under 100 characters.
const MAX_SIGNATURE_ANNOTATION_LEN: usize = 1024;

/// Why a bundle is not accepted as signed, each saying what to do. Registry failures while looking
/// for signatures are [`SignatureError::Registry`], so a registry that is away is retried, not
/// reported as a bad signature.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "release bundle {reference} is not signed (no signature at {signatures}); sign it with the \
         release signing key: `ac adm release push --sign-key KEY` or `cosign sign --key KEY {reference}`"
    )]
    Unsigned { reference: String, signatures: String },

    #[error(
        "release bundle {reference} has no valid signature by a trusted key ({problems}; trusted: \
         {trusted}); sign it with a trusted key (`cosign sign --key KEY {reference}`), or trust the \
         public key it was signed with"
    )]
    NotTrusted {
        reference: String,
        /// What was found instead, e.g. "2 signatures: 1 by an unknown key, 1 for another digest …".
        problems: String,
        /// The fingerprints of the keys tried.
        trusted: String,
    },

    #[error(
        "the signatures of release bundle {reference} at {signatures} cannot be read: {problem}; \
         sign the bundle again (`cosign sign --key KEY {reference}`)"
    )]
    Malformed {
        reference: String,
        signatures: String,
        problem: String,
    },

    #[error(
        "no release verification key is configured, so {reference} cannot be checked; give the \
         public key (cosign.pub) that signs releases"
    )]
    NoKeys { reference: String },

    #[error("{0}")]
    Registry(BundleError),
}

impl SignatureError {
    /// Condition reason: `SignatureInvalid` for anything about the signatures themselves.
    pub fn reason(&self) -> &'static str {
        match self {
            SignatureError::Registry(err) => err.reason(),
            _ => "SignatureInvalid",
        }
    }

    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, SignatureError::Registry(err) if err.is_transient())
    }
}

/// A bundle that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The bundle's manifest digest the signature names.
    pub digest: String,
    /// Where the signature was found (`REGISTRY/REPOSITORY:sha256-….sig`).
    pub signatures: String,
    /// The fingerprint of the key that verified it.
    pub key_fingerprint: String,
    /// The file that key came from.
    pub key_source: String,
}

/// A signature written by [`sign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// Where it was written (`REGISTRY/REPOSITORY:sha256-….sig`).
    pub signatures: String,
    pub key_fingerprint: String,
    /// False when the same signature was there already.
    pub added: bool,
}

/// The tag cosign keeps the signatures of `digest` under: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The cosign payload signed for the bundle at `repository` (`REGISTRY/REPOSITORY`) with `digest`,
/// byte for byte as cosign writes it.
pub fn payload(repository: &str, digest: &str) -> Vec<u8> {
    let payload = Payload {
        critical: Critical {
            identity: Identity {
                docker_reference: repository.to_owned(),
            },
            image: Image {
                docker_manifest_digest: digest.to_owned(),
            },
            kind: PAYLOAD_TYPE.to_owned(),
        },
        optional: None,
    };
    serde_json::to_vec(&payload).unwrap_or_default()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Payload {
    critical: Critical,
    optional: Option<serde_json::Value>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Critical {
    identity: Identity,
    image: Image,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Identity {
    #[serde(rename = "docker-reference")]
    docker_reference: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Image {
    #[serde(rename = "docker-manifest-digest")]
    docker_manifest_digest: String,
}

fn signatures_ref(reference: &BundleRef, digest: &str) -> Result<BundleRef, BundleError> {
    Ok(BundleRef::parse(&format!(
        "{}:{}",
        reference.repository_ref(),
        signature_tag(digest)
    ))?)
}

/// Signs the bundle `reference` pinned to (it must carry a digest) with `key`, adding the signature
/// to any already there, as `cosign sign --key` does.
pub async fn sign(
    client: &BundleClient,
    reference: &BundleRef,
    key: &SigningKey,
) -> Result<Signed, SignatureError> {
    let Some(digest) = reference.digest() else {
        // A signature is for one digest: signing a tag would sign whatever it points at by then.
        return Err(SignatureError::Registry(BundleError::Reference(
            crate::RefError {
                input: reference.to_string(),
                problem: "a signature names the bundle's digest; sign REGISTRY/REPOSITORY@sha256:DIGEST"
                    .to_owned(),
            },
        )));
    };
    let target = signatures_ref(reference, digest).map_err(SignatureError::Registry)?;
    let payload = payload(&reference.repository_ref(), digest);
    let signature = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload));
    let layer = OciDescriptor {
        media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
        digest: sha256_digest(&payload),
        size: i64::try_from(payload.len()).unwrap_or(i64::MAX),
        annotations: Some(BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_owned(),
            signature.clone(),
        )])),
        ..OciDescriptor::default()
    };
    let signed = |added| Signed {
        signatures: target.to_string(),
        key_fingerprint: key.public_key().fingerprint().to_owned(),
        added,
    };

    let mut layers = match fetch_signature_manifest(client, &target).await? {
        Some((manifest, _)) => manifest.layers,
        None => Vec::new(),
    };
    // ECDSA signing here is deterministic (RFC 6979): signing twice finds the same layer.
    if layers
        .iter()
        .any(|l| l.digest == layer.digest && l.annotations == layer.annotations)
    {
        return Ok(signed(false));
    }
    if layers.len() >= MAX_SIGNATURES {
        return Err(SignatureError::Malformed {
            reference: reference.to_string(),
            signatures: target.to_string(),
            problem: format!("it already holds {} signatures, the most accepted", layers.len()),
        });
    }
    layers.push(layer);
    // The image config cosign writes: no time in it, one history entry and one diff ID per layer.
    const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "created": ZERO_TIME,
        "history": layers.iter().map(|_| serde_json::json!({"created": ZERO_TIME})).collect::<Vec<_>>(),
        "os": "",
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.digest.clone()).collect::<Vec<_>>(),
        },
        "config": {},
    }))
    .unwrap_or_default();
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(OCI_IMAGE_MEDIA_TYPE.to_owned()),
        config: OciDescriptor {
            media_type: CONFIG_MEDIA_TYPE.to_owned(),
            digest: sha256_digest(&config),
            size: i64::try_from(config.len()).unwrap_or(i64::MAX),
            ..OciDescriptor::default()
        },
        layers,
        artifact_type: None,
        subject: None,
        annotations: None,
    };
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| {
        SignatureError::Registry(BundleError::Client {
            detail: format!("cannot write the signature manifest: {e}"),
        })
    })?;

    let oci_ref = target.to_oci();
    let credentials = client.credentials_for(target.registry());
    let anonymous = credentials.is_anonymous();
    let oci = client.oci_client(&target).map_err(SignatureError::Registry)?;
    let timeout = client.options().timeout;
    let fail = |e| classify(e, Operation::PushingSignature, &target, anonymous, timeout);
    let payload_digest = manifest
        .layers
        .last()
        .map(|l| l.digest.clone())
        .unwrap_or_default();
    debug!(signatures = %target, "pushing release signature");
    client
        .timed(Operation::PushingSignature, &target, async {
            oci.store_auth_if_needed(oci_ref.resolve_registry(), &credentials.to_oci())
                .await;
            oci.push_blob(&oci_ref, payload, &payload_digest)
                .await
                .map_err(fail)?;
            oci.push_blob(&oci_ref, config, &manifest.config.digest)
                .await
                .map_err(fail)?;
            oci.push_manifest_raw(
                &oci_ref,
                manifest_bytes,
                http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
            )
            .await
            .map_err(fail)?;
            Ok(())
        })
        .await
        .map_err(SignatureError::Registry)?;
    Ok(signed(true))
}

/// Checks that `bundle` (as [`crate::pull`] returned it) carries a signature by one of `keys` that
/// names its digest.
pub async fn verify(
    client: &BundleClient,
    bundle: &PulledBundle,
    keys: &[PublicKey],
) -> Result<Verified, SignatureError> {
    let reference = &bundle.reference;
    if keys.is_empty() {
        return Err(SignatureError::NoKeys {
            reference: reference.to_string(),
        });
    }
    let target = signatures_ref(reference, &bundle.digest).map_err(SignatureError::Registry)?;
    let malformed = |problem: String| SignatureError::Malformed {
        reference: reference.to_string(),
        signatures: target.to_string(),
        problem,
    };
    let Some((manifest, _)) = fetch_signature_manifest(client, &target).await? else {
        return Err(SignatureError::Unsigned {
            reference: reference.to_string(),
            signatures: target.to_string(),
        });
    };
    if manifest.layers.len() > MAX_SIGNATURES {
        return Err(malformed(format!(
            "it lists {} signatures, more than the {MAX_SIGNATURES} accepted",
            manifest.layers.len()
        )));
    }

    let oci_ref = target.to_oci();
    let credentials = client.credentials_for(target.registry());
    let anonymous = credentials.is_anonymous();
    let oci = client.oci_client(&target).map_err(SignatureError::Registry)?;
    let timeout = client.options().timeout;
    let mut findings = Findings::default();
    for layer in &manifest.layers {
        let Some(signature) = layer_signature(layer, &mut findings) else {
            continue;
        };
        let content = client
            .timed(
                Operation::FetchingSignatures,
                &target,
                download(
                    &oci,
                    &oci_ref,
                    layer,
                    MAX_PAYLOAD_BYTES,
                    Operation::FetchingSignatures,
                    &target,
                    anonymous,
                    timeout,
                ),
            )
            .await;
        let content = match content {
            Ok(content) => content,
            Err(BundleError::TooLarge { .. } | BundleError::DigestMismatch { .. }) => {
                findings.damaged += 1;
                continue;
            }
            Err(err) => return Err(SignatureError::Registry(err)),
        };
        if sha256_digest(&content) != layer.digest {
            findings.damaged += 1;
            continue;
        }
        let Some(key) = keys.iter().find(|key| key.verifies(&content, &signature)) else {
            findings.unknown_key += 1;
            continue;
        };
        match serde_json::from_slice::<Payload>(&content) {
            Ok(p)
                if p.critical.kind == PAYLOAD_TYPE
                    && p.critical.image.docker_manifest_digest == bundle.digest =>
            {
                debug!(reference = %reference, key = key.fingerprint(), "release signature verified");
                return Ok(Verified {
                    digest: bundle.digest.clone(),
                    signatures: target.to_string(),
                    key_fingerprint: key.fingerprint().to_owned(),
                    key_source: key.source().to_owned(),
                });
            }
            Ok(p) if p.critical.kind == PAYLOAD_TYPE => {
                findings
                    .other_digest
                    .push(clip(&p.critical.image.docker_manifest_digest));
            }
            _ => findings.not_a_payload += 1,
        }
    }
    Err(SignatureError::NotTrusted {
        reference: reference.to_string(),
        problems: findings.describe(manifest.layers.len()),
        trusted: keys
            .iter()
            .map(|k| k.fingerprint().to_owned())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The decoded signature of a layer that looks like a cosign signature, else why not.
fn layer_signature(layer: &OciDescriptor, findings: &mut Findings) -> Option<Vec<u8>> {
    if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
        findings.other_media_type += 1;
        return None;
    }
    let Some(encoded) = layer
        .annotations
        .as_ref()
        .and_then(|a| a.get(SIGNATURE_ANNOTATION))
        .filter(|s| s.len() <= MAX_SIGNATURE_ANNOTATION_LEN)
    else {
        findings.not_a_payload += 1;
        return None;
    };
    if u64::try_from(layer.size).map_or(true, |size| size > MAX_PAYLOAD_BYTES) {
        findings.damaged += 1;
        return None;
    }
    match base64::engine::general_purpose::STANDARD.decode(encoded) {
        Ok(signature) => Some(signature),
        Err(_) => {
            findings.not_a_payload += 1;
            None
        }
    }
}

/// What the signatures of a bundle that did not verify were.
#[derive(Default)]
struct Findings {
    unknown_key: usize,
    other_digest: Vec<String>,
    damaged: usize,
    not_a_payload: usize,
    other_media_type: usize,
}

impl Findings {
    fn describe(&self, total: usize) -> String {
        let mut parts = Vec::new();
        if self.unknown_key > 0 {
            parts.push(format!(
                "{} made with a key that is not trusted",
                self.unknown_key
            ));
        }
        if !self.other_digest.is_empty() {
            parts.push(format!(
                "{} by a trusted key but for another bundle ({})",
                self.other_digest.len(),
                self.other_digest.join(", ")
            ));
        }
        if self.damaged > 0 {
            parts.push(format!("{} damaged or oversized", self.damaged));
        }
        if self.not_a_payload > 0 {
            parts.push(format!("{} not a cosign signature", self.not_a_payload));
        }
        if self.other_media_type > 0 {
            parts.push(format!("{} of another kind", self.other_media_type));
        }
        let noun = if total == 1 { "signature" } else { "signatures" };
        if parts.is_empty() {
            format!("{total} {noun}")
        } else {
            format!("{total} {noun}: {}", parts.join(", "))
        }
    }
}

/// The signature manifest at `target`, or `None` when there is none.
async fn fetch_signature_manifest(
    client: &BundleClient,
    target: &BundleRef,
) -> Result<Option<(OciImageManifest, String)>, SignatureError> {
    let oci_ref = target.to_oci();
    let credentials = client.credentials_for(target.registry());
    let anonymous = credentials.is_anonymous();
    let oci = client.oci_client(target).map_err(SignatureError::Registry)?;
    let timeout = client.options().timeout;
    let fetched = client
        .timed(Operation::FetchingSignatures, target, async {
            oci.pull_manifest_raw(
                &oci_ref,
                &credentials.to_oci(),
                &[OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE],
            )
            .await
            .map_err(|e| classify(e, Operation::FetchingSignatures, target, anonymous, timeout))
        })
        .await;
    let (bytes, digest) = match fetched {
        Ok(found) => found,
        Err(BundleError::NotFound { .. }) => return Ok(None),
        Err(err) => return Err(SignatureError::Registry(err)),
    };
    let malformed = |problem: String| SignatureError::Malformed {
        reference: target.repository_ref(),
        signatures: target.to_string(),
        problem,
    };
    if bytes.len() > MAX_SIGNATURE_MANIFEST_BYTES {
        return Err(malformed(format!(
            "its manifest is {} bytes, over the {MAX_SIGNATURE_MANIFEST_BYTES}-byte limit",
            bytes.len()
        )));
    }
    let manifest: OciImageManifest = serde_json::from_slice(&bytes)
        .map_err(|_| malformed("its manifest is not an image manifest".to_owned()))?;
    Ok(Some((manifest, digest)))
}

fn clip(text: &str) -> String {
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn the_payload_is_byte_for_byte_what_cosign_signs() {
        assert_eq!(
            String::from_utf8(payload("registry.example.com/acp/release", DIGEST)).unwrap(),
            format!(
                "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"registry.example.com/acp/release\"}},\
                 \"image\":{{\"docker-manifest-digest\":\"{DIGEST}\"}},\
                 \"type\":\"cosign container image signature\"}},\"optional\":null}}"
            )
        );
    }

    #[test]
    fn signatures_live_under_the_digest_tag() {
        assert_eq!(
            signature_tag(DIGEST),
            "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig"
        );
    }

    #[test]
    fn findings_say_what_was_wrong() {
        let findings = Findings {
            unknown_key: 1,
            other_digest: vec![DIGEST.to_owned()],
            ..Findings::default()
        };
        let text = findings.describe(2);
        assert!(
            text.starts_with("2 signatures: 1 made with a key that is not trusted"),
            "{text}"
        );
        assert!(text.contains(&format!("for another bundle ({DIGEST})")), "{text}");
        assert_eq!(Findings::default().describe(1), "1 signature");
    }
}
