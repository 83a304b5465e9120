//! Which release bundles the operator believes: those signed (cosign's key-based format) by a key it was
//! started with (`--release-verification-key`). Without keys nothing is checked, and every registry
//! ProductManifest says so in its `SignatureVerified` condition; built-in releases ship inside the operator
//! image and are trusted as shipped.

use std::path::{Path, PathBuf};

use acp_api::conditions::{ConditionUpdate, types};
use acp_api::cvsh::bounds::{MAX_MESSAGE_CHARS, clip};
use acp_bundle::signature::{self, MAX_KEY_FILE_BYTES, PublicKey, SignatureError, Verified};
use acp_bundle::{BundleClient, PulledBundle};
use anyhow::Context as _;

use super::{ResolveError, Resolved};

/// Reason of a refused signature (also the Ready reason).
pub const SIGNATURE_INVALID: &str = "SignatureInvalid";
/// Reason when no keys are configured.
pub const VERIFICATION_DISABLED: &str = "VerificationDisabled";

/// The keys release bundles must be signed with; none means "not checked".
#[derive(Debug, Clone, Default)]
pub struct ReleaseTrust {
    keys: Vec<PublicKey>,
}

/// How far a resolved release is trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// From the built-in catalogue: shipped with the operator.
    BuiltIn,
    /// Pulled, and signed by a configured key.
    Verified(Verified),
    /// Pulled while no key is configured: not checked.
    Unchecked,
}

impl ReleaseTrust {
    pub fn new(keys: Vec<PublicKey>) -> Self {
        Self { keys }
    }

    /// Reads every key file; any unreadable or unusable file stops the operator, naming it.
    pub fn load(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for path in paths {
            keys.extend(read_keys(path)?);
        }
        Ok(Self { keys })
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Checks a pulled bundle's signature against the configured keys (when there are any).
    pub async fn check(&self, client: &BundleClient, bundle: &PulledBundle) -> Result<Trust, SignatureError> {
        if self.keys.is_empty() {
            return Ok(Trust::Unchecked);
        }
        signature::verify(client, bundle, &self.keys)
            .await
            .map(Trust::Verified)
    }
}

fn read_keys(path: &Path) -> anyhow::Result<Vec<PublicKey>> {
    let shown = path.display().to_string();
    let size = std::fs::metadata(path)
        .with_context(|| {
            format!("cannot read release verification key {shown}; fix --release-verification-key")
        })?
        .len();
    anyhow::ensure!(
        size <= MAX_KEY_FILE_BYTES as u64,
        "release verification key {shown} is {size} bytes, too large for a key file; fix --release-verification-key"
    );
    let text = std::fs::read_to_string(path).with_context(|| {
        format!("cannot read release verification key {shown}; fix --release-verification-key")
    })?;
    PublicKey::from_pem(&shown, &text).context("fix --release-verification-key")
}

/// The `SignatureVerified` condition for a resolution result; `None` when there is nothing to say (the
/// release did not resolve for another reason, or the registry could not be asked).
pub fn condition(resolved: &Result<Resolved, ResolveError>) -> Option<ConditionUpdate> {
    // Registry answers can be quoted here: bounded like every status message.
    let update = |status: bool, reason: &str, message: String| {
        Some(ConditionUpdate::new(
            types::SIGNATURE_VERIFIED,
            status,
            reason,
            clip(&message, MAX_MESSAGE_CHARS).into_owned(),
        ))
    };
    match resolved {
        Ok(resolved) => match &resolved.trust {
            Trust::BuiltIn => update(
                true,
                "BuiltIn",
                format!(
                    "ACP {} comes from the catalogue built into acp-cvo and is trusted as shipped; no signature \
                     is checked",
                    resolved.release.version
                ),
            ),
            Trust::Verified(verified) => update(
                true,
                "Verified",
                format!(
                    "{} is signed by trusted key {} ({}); signature at {}",
                    verified.digest, verified.key_fingerprint, verified.key_source, verified.signatures
                ),
            ),
            Trust::Unchecked => update(
                false,
                VERIFICATION_DISABLED,
                format!(
                    "the signature of {} was not checked: acp-cvo runs without --release-verification-key \
                     (Helm value releaseVerification.publicKeys), so any bundle in the registry is accepted; \
                     configure the public key releases are signed with",
                    resolved
                        .repository
                        .as_deref()
                        .zip(resolved.digest.as_deref())
                        .map(|(repository, digest)| format!("{repository}@{digest}"))
                        .unwrap_or_else(|| "the bundle".to_owned())
                ),
            ),
        },
        Err(ResolveError::Signature(err)) if !err.is_transient() && err.reason() == SIGNATURE_INVALID => {
            update(false, SIGNATURE_INVALID, err.to_string())
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(trust: Trust) -> Result<Resolved, ResolveError> {
        let release = super::super::builtin::catalogue()
            .release(&"4.3.1".parse().unwrap())
            .cloned()
            .unwrap();
        Ok(Resolved {
            release,
            repository: Some("127.0.0.1:5000/acp/release".into()),
            digest: Some("sha256:abc".into()),
            trust,
        })
    }

    #[test]
    fn each_trust_level_says_what_was_checked() {
        let c = condition(&resolved(Trust::Unchecked)).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", VERIFICATION_DISABLED)
        );
        assert!(
            c.message.contains("127.0.0.1:5000/acp/release@sha256:abc"),
            "{}",
            c.message
        );
        assert!(c.message.contains("--release-verification-key"), "{}", c.message);

        let c = condition(&resolved(Trust::BuiltIn)).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "BuiltIn"));
        assert!(c.message.contains("trusted as shipped"), "{}", c.message);

        let verified = Verified {
            digest: "sha256:abc".into(),
            signatures: "127.0.0.1:5000/acp/release:sha256-abc.sig".into(),
            key_fingerprint: "sha256:f00".into(),
            key_source: "/keys/cosign.pub".into(),
        };
        let c = condition(&resolved(Trust::Verified(verified))).unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_str()), ("True", "Verified"));
        assert!(
            c.message.contains("sha256:f00 (/keys/cosign.pub)"),
            "{}",
            c.message
        );
    }

    #[test]
    fn a_bad_signature_is_a_condition_and_a_missing_bundle_is_not() {
        let refused: Result<Resolved, ResolveError> =
            Err(ResolveError::Signature(SignatureError::Unsigned {
                reference: "r".into(),
                signatures: "s".into(),
            }));
        let c = condition(&refused).unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", SIGNATURE_INVALID)
        );
        assert!(condition(&Err(ResolveError::Empty)).is_none());
    }

    #[test]
    fn key_files_that_cannot_be_used_stop_the_start_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("cosign.pub");
        std::fs::write(&bad, "not a key").unwrap();
        let err = ReleaseTrust::load(std::slice::from_ref(&bad)).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(&bad.display().to_string()), "{text}");
        assert!(text.contains("--release-verification-key"), "{text}");
        let missing = ReleaseTrust::load(&[dir.path().join("absent.pub")]).unwrap_err();
        assert!(format!("{missing:#}").contains("absent.pub"), "{missing:#}");

        let key = acp_bundle::signature::SigningKey::generate("k");
        let good = dir.path().join("good.pub");
        std::fs::write(&good, key.public_key().to_pem()).unwrap();
        let trust = ReleaseTrust::load(&[good]).unwrap();
        assert_eq!(trust.keys().len(), 1);
    }
}
