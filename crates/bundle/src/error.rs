//! What can go wrong publishing or fetching a bundle, each with what to do about it.

use std::time::Duration;

use crate::credentials::CredentialsError;
use crate::document::DocumentError;
use crate::reference::RefError;

/// A failed bundle operation. Every message names the bundle and the next step.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Reference(#[from] RefError),

    #[error(transparent)]
    Credentials(#[from] CredentialsError),

    #[error(transparent)]
    Document(#[from] DocumentError),

    #[error(
        "release bundle {reference} not found: push it with `ac adm release push --file BUNDLE.yaml \
         --to {reference}`, or check the registry, repository and tag"
    )]
    NotFound { reference: String },

    #[error(
        "registry {registry} refused access to {reference} ({detail}): {}",
        if *.anonymous {
            "it needs credentials; give a pull secret (.dockerconfigjson) with an entry for this registry"
        } else {
            "check the username and password for this registry in the pull secret, and that they may access this repository"
        }
    )]
    Unauthorized {
        registry: String,
        reference: String,
        anonymous: bool,
        detail: String,
    },

    #[error(
        "{reference} is not an ACP release bundle (media type {media_type}); publish release bundles \
         with `ac adm release push`, or point at the right repository and tag"
    )]
    NotABundle { reference: String, media_type: String },

    #[error(
        "release bundle {reference} is not a valid ProductRelease: {detail}; fix the bundle and push it again"
    )]
    InvalidBundle { reference: String, detail: String },

    #[error(
        "release bundle {reference} holds version {version}, but its tag says {tag}; publish each \
         release under its own version tag (`ac adm release push --to {repository}:{version}`)"
    )]
    VersionMismatch {
        reference: String,
        repository: String,
        tag: String,
        version: String,
    },

    #[error(
        "release bundle {reference} is {size} bytes, over the {limit}-byte limit; a release bundle \
         is a YAML document, so this is not one (or raise the limit if it really is)"
    )]
    TooLarge {
        reference: String,
        size: u64,
        limit: u64,
    },

    #[error(
        "content of {reference} does not match its digest (expected {expected}, got {actual}): the \
         registry returned damaged or altered data; do not use it, and check the registry"
    )]
    DigestMismatch {
        reference: String,
        expected: String,
        actual: String,
    },

    #[error(
        "cannot push to {reference}: a push needs a tag (REGISTRY/REPOSITORY:VERSION), not only a digest"
    )]
    PushNeedsTag { reference: String },

    #[error(
        "timed out after {}s while {operation} {reference}; check that registry {registry} is \
         reachable and responding, then retry",
        .after.as_secs_f32()
    )]
    Timeout {
        operation: Operation,
        reference: String,
        registry: String,
        after: Duration,
    },

    #[error(
        "cannot reach registry {registry} while {operation} {reference}: {detail}; check the \
         address, and that the registry serves HTTPS with a certificate this machine trusts (a \
         plain-HTTP registry must be listed as insecure)"
    )]
    Unreachable {
        operation: Operation,
        reference: String,
        registry: String,
        detail: String,
    },

    #[error("registry {registry} failed while {operation} {reference}: {detail}")]
    Registry {
        operation: Operation,
        reference: String,
        registry: String,
        detail: String,
    },

    #[error(
        "cannot set up a registry client: {detail}; check the CA certificates given for registries \
         (PEM files)"
    )]
    Client { detail: String },
}

impl BundleError {
    /// A short stable label for metrics and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            BundleError::Reference(_) => "InvalidReference",
            BundleError::Credentials(_) => "InvalidCredentials",
            BundleError::Document(_) | BundleError::InvalidBundle { .. } => "InvalidBundle",
            BundleError::NotFound { .. } => "BundleNotFound",
            BundleError::Unauthorized { .. } => "Unauthorized",
            BundleError::NotABundle { .. } => "NotABundle",
            BundleError::VersionMismatch { .. } => "VersionMismatch",
            BundleError::TooLarge { .. } => "BundleTooLarge",
            BundleError::DigestMismatch { .. } => "DigestMismatch",
            BundleError::PushNeedsTag { .. } => "PushNeedsTag",
            BundleError::Timeout { .. } => "RegistryTimeout",
            BundleError::Unreachable { .. } => "RegistryUnreachable",
            BundleError::Registry { .. } => "RegistryError",
            BundleError::Client { .. } => "ClientError",
        }
    }

    /// Whether retrying later may succeed without anyone changing anything (the registry was
    /// slow or away), as opposed to a bundle or configuration someone must fix.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BundleError::Timeout { .. } | BundleError::Unreachable { .. } | BundleError::Registry { .. }
        )
    }
}

/// The step that failed, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    FetchingManifest,
    DownloadingBundle,
    Pushing,
    FetchingSignatures,
    PushingSignature,
}

impl Operation {
    /// Whether a missing manifest means "not there" (rather than a registry failure).
    pub(crate) fn finds_manifests(self) -> bool {
        matches!(self, Operation::FetchingManifest | Operation::FetchingSignatures)
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::FetchingManifest => "fetching the manifest of",
            Operation::DownloadingBundle => "downloading the bundle of",
            Operation::Pushing => "pushing",
            Operation::FetchingSignatures => "fetching the signatures of",
            Operation::PushingSignature => "pushing a signature to",
        })
    }
}
