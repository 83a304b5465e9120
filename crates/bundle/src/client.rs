//! Talking to a registry: options, credentials, and the push and pull of one bundle.

use std::time::Duration;

use futures::StreamExt as _;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor};
use tracing::debug;

use acp_policy::ProductRelease;

use crate::artifact::{self, ACCEPTED_MANIFESTS, Artifact};
use crate::credentials::{Credentials, DockerConfig};
use crate::document::Bundle;
use crate::error::{BundleError, Operation};
use crate::reference::{BundleRef, is_loopback_host};

/// Largest bundle accepted by default. Real bundles are tens of KiB; the limit only protects
/// against a registry that streams garbage.
pub const DEFAULT_MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;
/// Default deadline of each registry operation (a manifest fetch, a download, a push).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Manifests are small JSON documents; the distribution spec lets registries refuse above 4 MiB.
const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// How to reach registries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries (`host[:port]`) reached over plain HTTP; every other registry is reached over
    /// TLS, except loopback ones when `plain_http_on_loopback` is set.
    pub insecure_registries: Vec<String>,
    /// Reach loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) over plain HTTP, as a
    /// registry started on the same machine for a test or a demo serves. Default: true.
    pub plain_http_on_loopback: bool,
    /// Deadline of each registry operation.
    pub timeout: Duration,
    /// Largest bundle layer a pull downloads.
    pub max_bundle_bytes: u64,
    /// Extra PEM certificates to trust, for registries signed by a private CA.
    pub extra_root_certificates: Vec<Vec<u8>>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            plain_http_on_loopback: true,
            timeout: DEFAULT_TIMEOUT,
            max_bundle_bytes: DEFAULT_MAX_BUNDLE_BYTES,
            extra_root_certificates: Vec::new(),
        }
    }
}

impl ClientOptions {
    /// Whether `registry` is reached over plain HTTP.
    pub fn uses_plain_http(&self, registry: &str) -> bool {
        (self.plain_http_on_loopback && is_loopback_host(registry))
            || self
                .insecure_registries
                .iter()
                .any(|insecure| insecure.eq_ignore_ascii_case(registry))
    }
}

/// Which credentials to present.
#[derive(Debug, Clone, Default)]
enum Auth {
    #[default]
    Anonymous,
    /// The same credentials for every registry.
    Fixed(Credentials),
    /// Per registry, from a docker config; anonymous where it has no entry.
    PerRegistry(DockerConfig),
}

/// Pushes and pulls release bundles. Cheap to clone; holds no connection, so changed credentials
/// take effect on the next call.
#[derive(Debug, Clone, Default)]
pub struct BundleClient {
    options: ClientOptions,
    auth: Auth,
}

impl BundleClient {
    /// A client that accesses registries anonymously.
    pub fn new(options: ClientOptions) -> BundleClient {
        BundleClient {
            options,
            auth: Auth::Anonymous,
        }
    }

    /// Presents `credentials` to every registry.
    pub fn with_credentials(mut self, credentials: Credentials) -> BundleClient {
        self.auth = Auth::Fixed(credentials);
        self
    }

    /// Presents, to each registry, the entry the docker config holds for it.
    pub fn with_docker_config(mut self, config: DockerConfig) -> BundleClient {
        self.auth = Auth::PerRegistry(config);
        self
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    pub(crate) fn credentials_for(&self, registry: &str) -> Credentials {
        match &self.auth {
            Auth::Anonymous => Credentials::Anonymous,
            Auth::Fixed(credentials) => credentials.clone(),
            Auth::PerRegistry(config) => config.credentials_for(registry).cloned().unwrap_or_default(),
        }
    }

    /// A fresh OCI client for one operation: its protocol is chosen for this registry, and it
    /// caches no credentials or tokens beyond the operation.
    pub(crate) fn oci_client(&self, reference: &BundleRef) -> Result<oci_client::Client, BundleError> {
        install_crypto_provider();
        let protocol = if self.options.uses_plain_http(reference.registry()) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            use_monolithic_push: true,
            extra_root_certificates: self
                .options
                .extra_root_certificates
                .iter()
                .map(|pem| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data: pem.clone(),
                })
                .collect(),
            // Bundles are artifacts, never multi-platform images: an index is reported, not resolved.
            platform_resolver: None,
            connect_timeout: Some(self.options.timeout),
            read_timeout: Some(self.options.timeout),
            user_agent: concat!("acp-cvo/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        oci_client::Client::try_from(config).map_err(|e| BundleError::Client {
            detail: error_chain(&e),
        })
    }

    /// Runs one registry call under the operation deadline.
    pub(crate) async fn timed<T>(
        &self,
        operation: Operation,
        reference: &BundleRef,
        call: impl Future<Output = Result<T, BundleError>>,
    ) -> Result<T, BundleError> {
        tokio::time::timeout(self.options.timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(BundleError::Timeout {
                    operation,
                    reference: reference.to_string(),
                    registry: reference.registry().to_owned(),
                    after: self.options.timeout,
                })
            })
    }
}

/// A bundle fetched from a registry.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledBundle {
    pub release: ProductRelease,
    /// The bundle YAML exactly as published.
    pub yaml: String,
    /// The manifest digest (`sha256:…`): what `status.resolvedImageDigest` records.
    pub digest: String,
    /// The reference pulled, pinned to `digest` (`REGISTRY/REPOSITORY:TAG@DIGEST`).
    pub reference: BundleRef,
}

/// Publishes `bundle` under `reference` (which must carry a tag). Returns the manifest digest.
///
/// A version tag must name the bundle's own version, so a pull by version finds that version.
pub async fn push(
    client: &BundleClient,
    bundle: &Bundle,
    reference: &BundleRef,
) -> Result<String, BundleError> {
    let Some(tag) = reference.tag() else {
        return Err(BundleError::PushNeedsTag {
            reference: reference.to_string(),
        });
    };
    check_tag_matches(reference, tag, bundle.release())?;
    let artifact = Artifact::build(bundle).map_err(|e| {
        BundleError::Document(crate::DocumentError {
            detail: format!("cannot write its OCI manifest: {e}"),
        })
    })?;
    let digest = artifact::sha256_digest(&artifact.manifest_bytes);
    // Push by tag only: a digest in the reference would make the registry check the wrong thing.
    let target = BundleRef::parse(&format!("{}:{tag}", reference.repository_ref()))?;
    let oci_ref = target.to_oci();
    let credentials = client.credentials_for(target.registry());
    let anonymous = credentials.is_anonymous();
    let oci = client.oci_client(&target)?;
    let timeout = client.options.timeout;
    let fail = |e| classify(e, Operation::Pushing, &target, anonymous, timeout);
    debug!(reference = %target, %digest, "pushing release bundle");

    client
        .timed(Operation::Pushing, &target, async {
            oci.store_auth_if_needed(oci_ref.resolve_registry(), &credentials.to_oci())
                .await;
            oci.push_blob(&oci_ref, artifact.layer, &artifact.layer_digest)
                .await
                .map_err(fail)?;
            oci.push_blob(&oci_ref, artifact.config, &artifact.config_digest)
                .await
                .map_err(fail)?;
            oci.push_manifest_raw(
                &oci_ref,
                artifact.manifest_bytes,
                http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
            )
            .await
            .map_err(fail)?;
            Ok(())
        })
        .await?;
    Ok(digest)
}

/// A convenience for callers holding a release rather than a document.
pub async fn push_release(
    client: &BundleClient,
    release: &ProductRelease,
    reference: &BundleRef,
) -> Result<String, BundleError> {
    push(client, &Bundle::from_release(release)?, reference).await
}

/// Fetches and checks the bundle at `reference`: an ACP release bundle, within the size limit,
/// matching its digest, a valid ProductRelease, and — when the tag is a version — of that version.
pub async fn pull(client: &BundleClient, reference: &BundleRef) -> Result<PulledBundle, BundleError> {
    let oci_ref = reference.to_oci();
    let credentials = client.credentials_for(reference.registry());
    let anonymous = credentials.is_anonymous();
    let oci = client.oci_client(reference)?;
    debug!(%reference, "pulling release bundle");

    let (manifest_bytes, digest) = client
        .timed(Operation::FetchingManifest, reference, async {
            oci.pull_manifest_raw(&oci_ref, &credentials.to_oci(), ACCEPTED_MANIFESTS)
                .await
                .map_err(|e| {
                    classify(
                        e,
                        Operation::FetchingManifest,
                        reference,
                        anonymous,
                        client.options.timeout,
                    )
                })
        })
        .await?;
    if manifest_bytes.len() > MAX_MANIFEST_BYTES {
        return Err(BundleError::TooLarge {
            reference: reference.to_string(),
            size: manifest_bytes.len() as u64,
            limit: MAX_MANIFEST_BYTES as u64,
        });
    }
    let layer = artifact::bundle_layer(&manifest_bytes).map_err(|e| BundleError::NotABundle {
        reference: reference.to_string(),
        media_type: e.media_type,
    })?;
    let pinned = reference.pinned(&digest);

    let declared = u64::try_from(layer.size).unwrap_or(u64::MAX);
    let limit = client.options.max_bundle_bytes;
    if declared > limit {
        return Err(BundleError::TooLarge {
            reference: pinned.to_string(),
            size: declared,
            limit,
        });
    }
    let content = client
        .timed(
            Operation::DownloadingBundle,
            reference,
            download(
                &oci,
                &oci_ref,
                &layer,
                limit,
                Operation::DownloadingBundle,
                &pinned,
                anonymous,
                client.options.timeout,
            ),
        )
        .await?;

    let actual = artifact::sha256_digest(&content);
    if actual != layer.digest {
        return Err(BundleError::DigestMismatch {
            reference: pinned.to_string(),
            expected: layer.digest,
            actual,
        });
    }
    let invalid = |detail: String| BundleError::InvalidBundle {
        reference: pinned.to_string(),
        detail,
    };
    let yaml = String::from_utf8(content).map_err(|_| invalid("it is not UTF-8 text".to_owned()))?;
    let (release, yaml) = Bundle::from_yaml(yaml)
        .map_err(|e| invalid(e.detail))?
        .into_parts();
    if let Some(tag) = reference.tag() {
        check_tag_matches(&pinned, tag, &release)?;
    }
    debug!(reference = %pinned, version = %release.version, "pulled release bundle");
    Ok(PulledBundle {
        release,
        yaml,
        digest,
        reference: pinned,
    })
}

/// Streams the layer, refusing more bytes than it declared or than the limit allows.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn download(
    oci: &oci_client::Client,
    oci_ref: &oci_client::Reference,
    layer: &OciDescriptor,
    limit: u64,
    operation: Operation,
    reference: &BundleRef,
    anonymous: bool,
    timeout: Duration,
) -> Result<Vec<u8>, BundleError> {
    let fail = |e| classify(e, operation, reference, anonymous, timeout);
    let declared = u64::try_from(layer.size).unwrap_or(u64::MAX);
    let mut stream = oci.pull_blob_stream(oci_ref, layer).await.map_err(fail)?;
    let mut content = Vec::with_capacity(usize::try_from(declared.min(limit)).unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| fail(OciDistributionError::IoError(e)))?;
        let received = content.len() as u64 + chunk.len() as u64;
        if received > limit {
            return Err(BundleError::TooLarge {
                reference: reference.to_string(),
                size: received,
                limit,
            });
        }
        if received > declared {
            return Err(BundleError::DigestMismatch {
                reference: reference.to_string(),
                expected: format!("{} ({declared} bytes)", layer.digest),
                actual: format!("more than {declared} bytes"),
            });
        }
        content.extend_from_slice(&chunk);
    }
    Ok(content)
}

/// A version tag and the bundle's version must agree, so `REPO:V` always holds release V.
fn check_tag_matches(reference: &BundleRef, tag: &str, release: &ProductRelease) -> Result<(), BundleError> {
    match reference.tag_version() {
        Some(tagged) if tagged != release.version => Err(BundleError::VersionMismatch {
            reference: reference.to_string(),
            repository: reference.repository_ref(),
            tag: tag.to_owned(),
            version: release.version.to_string(),
        }),
        _ => Ok(()),
    }
}

/// Maps the registry client's errors onto the ones a person can act on.
pub(crate) fn classify(
    err: OciDistributionError,
    operation: Operation,
    reference: &BundleRef,
    anonymous: bool,
    timeout: Duration,
) -> BundleError {
    let unauthorized = |detail: String| BundleError::Unauthorized {
        registry: reference.registry().to_owned(),
        reference: reference.to_string(),
        anonymous,
        detail,
    };
    let not_found = || BundleError::NotFound {
        reference: reference.to_string(),
    };
    let registry = |detail: String| BundleError::Registry {
        operation,
        reference: reference.to_string(),
        registry: reference.registry().to_owned(),
        detail,
    };
    match err {
        OciDistributionError::UnauthorizedError { .. } => unauthorized("HTTP 401".to_owned()),
        OciDistributionError::AuthenticationFailure(reason) => {
            unauthorized(format!("authentication failed: {}", clip(&reason)))
        }
        OciDistributionError::ServerError { code: 401, .. } => unauthorized("HTTP 401".to_owned()),
        OciDistributionError::ServerError { code: 403, .. } => unauthorized("HTTP 403".to_owned()),
        OciDistributionError::ServerError {
            code: 400, message, ..
        } if message.contains("HTTPS server") => registry(format!(
            "it serves HTTPS but was contacted over plain HTTP ({}); do not list it as insecure",
            message.trim()
        )),
        OciDistributionError::ServerError { code: 404, .. } if operation.finds_manifests() => not_found(),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let has = |wanted: &[OciErrorCode]| codes.iter().any(|c| wanted.contains(c));
            if has(&[OciErrorCode::Unauthorized, OciErrorCode::Denied]) {
                unauthorized(envelope.to_string())
            } else if operation.finds_manifests()
                && has(&[
                    OciErrorCode::ManifestUnknown,
                    OciErrorCode::NameUnknown,
                    OciErrorCode::NotFound,
                ])
            {
                not_found()
            } else {
                registry(envelope.to_string())
            }
        }
        OciDistributionError::DigestError(oci_client::errors::DigestError::VerificationError {
            expected,
            actual,
        }) => BundleError::DigestMismatch {
            reference: reference.to_string(),
            expected,
            actual,
        },
        OciDistributionError::IoError(io) => {
            // The verifying download stream reports a digest mismatch as an I/O error.
            match io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<oci_client::errors::DigestError>())
            {
                Some(oci_client::errors::DigestError::VerificationError { expected, actual }) => {
                    BundleError::DigestMismatch {
                        reference: reference.to_string(),
                        expected: expected.clone(),
                        actual: actual.clone(),
                    }
                }
                _ => registry(error_chain(&io)),
            }
        }
        OciDistributionError::RequestError(e) if e.is_timeout() => BundleError::Timeout {
            operation,
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
            after: timeout,
        },
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_request() => {
            BundleError::Unreachable {
                operation,
                reference: reference.to_string(),
                registry: reference.registry().to_owned(),
                detail: error_chain(&e),
            }
        }
        other => registry(error_chain(&other)),
    }
}

/// An error and its causes on one line: transport errors say little without their sources.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    clip(&text)
}

fn clip(text: &str) -> String {
    const SHOWN: usize = 400;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// reqwest is built without a bundled crypto provider; use ring, as the rest of the product does.
fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is what we want either way.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_where_allowed() {
        let options = ClientOptions {
            insecure_registries: vec!["mirror.internal:5000".into()],
            ..ClientOptions::default()
        };
        assert!(options.uses_plain_http("mirror.internal:5000"));
        assert!(options.uses_plain_http("MIRROR.internal:5000"));
        assert!(options.uses_plain_http("127.0.0.1:5000"));
        assert!(options.uses_plain_http("localhost:5000"));
        assert!(
            !options.uses_plain_http("mirror.internal"),
            "another port is another registry"
        );
        assert!(!options.uses_plain_http("registry.example.com"));

        let tls_everywhere = ClientOptions {
            plain_http_on_loopback: false,
            ..ClientOptions::default()
        };
        assert!(!tls_everywhere.uses_plain_http("127.0.0.1:5000"));
    }
}
