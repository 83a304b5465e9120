//! Publishing and fetching release bundles against a real OCI registry on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use acp_bundle::{
    Bundle, BundleClient, BundleError, BundleRef, ClientOptions, Credentials, DockerConfig, artifact, pull,
    push, push_release,
};
use acp_policy::AcpVersion;
use base64::Engine as _;
use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::secrets::RegistryAuth;
use support::Registry;

fn bundle_yaml(version: &str) -> String {
    format!(
        "\
# ACP {version} release bundle
kind: ProductRelease
version: {version}
kubernetes:
  version: v1.34.5
  compatible: [\"1.31\", \"1.32\", \"1.33\", \"1.34\"]
upgradeFrom: [\">=4.0.0, <{version}\"]
modules:
  - name: platform-api
    lifecycle: Core
    version: {version}
    manifests:
      - apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: platform-api, namespace: cpaas-system}}
        spec:
          selector: {{matchLabels: {{app: platform-api}}}}
          template:
            metadata: {{labels: {{app: platform-api}}}}
            spec:
              containers:
                - name: api
                  image: registry.k8s.io/pause:3.10
                  env: [{{name: ACP_VERSION, value: \"{version}\"}}]
"
    )
}

fn reference(registry: &Registry, rest: &str) -> BundleRef {
    BundleRef::parse(&format!("{}/{rest}", registry.host())).unwrap()
}

fn client() -> BundleClient {
    BundleClient::new(ClientOptions::default())
}

/// A plain OCI client, for putting things in the registry that `acp-bundle` never would.
fn raw_client() -> oci_client::Client {
    oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    })
}

#[tokio::test]
async fn pushed_bundle_pulls_back_by_tag_and_by_digest() {
    let Some(registry) = Registry::start() else { return };
    let bundle = Bundle::from_yaml(bundle_yaml("4.3.1")).unwrap();
    let by_tag =
        BundleRef::for_version(&format!("{}/acp/release", registry.host()), bundle.version()).unwrap();

    let digest = push(&client(), &bundle, &by_tag).await.unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");

    let pulled = pull(&client(), &by_tag).await.unwrap();
    assert_eq!(
        pulled.digest, digest,
        "the digest push reports is the one pull resolves"
    );
    assert_eq!(
        pulled.yaml,
        bundle.yaml(),
        "the layer is the document byte for byte"
    );
    assert_eq!(&pulled.release, bundle.release());
    assert_eq!(pulled.release.version, AcpVersion::new(4, 3, 1));
    assert_eq!(pulled.reference.to_string(), format!("{by_tag}@{digest}"));

    // By digest alone: what status.resolvedImageDigest pins.
    let by_digest = reference(&registry, &format!("acp/release@{digest}"));
    let pinned = pull(&client(), &by_digest).await.unwrap();
    assert_eq!(pinned.digest, digest);
    assert_eq!(pinned.yaml, pulled.yaml);

    // Pushing the same bundle again changes nothing.
    assert_eq!(push(&client(), &bundle, &by_tag).await.unwrap(), digest);
}

#[tokio::test]
async fn a_moved_tag_does_not_change_a_pinned_pull() {
    let Some(registry) = Registry::start() else { return };
    let stable = reference(&registry, "acp/release:stable");
    let first = push(
        &client(),
        &Bundle::from_yaml(bundle_yaml("4.3.0")).unwrap(),
        &stable,
    )
    .await
    .unwrap();
    let pinned = pull(&client(), &stable).await.unwrap().reference;

    let second = push(
        &client(),
        &Bundle::from_yaml(bundle_yaml("4.3.1")).unwrap(),
        &stable,
    )
    .await
    .unwrap();
    assert_ne!(first, second);
    assert_eq!(
        pull(&client(), &stable).await.unwrap().release.version,
        AcpVersion::new(4, 3, 1)
    );

    let again = pull(&client(), &pinned).await.unwrap();
    assert_eq!(again.digest, first);
    assert_eq!(again.release.version, AcpVersion::new(4, 3, 0));
}

#[tokio::test]
async fn missing_bundle_says_how_to_publish_it() {
    let Some(registry) = Registry::start() else { return };
    push(
        &client(),
        &Bundle::from_yaml(bundle_yaml("4.3.0")).unwrap(),
        &reference(&registry, "acp/release:4.3.0"),
    )
    .await
    .unwrap();

    for missing in ["acp/release:4.3.1", "acp/never-pushed:4.3.1"] {
        let missing = reference(&registry, missing);
        let err = pull(&client(), &missing).await.unwrap_err();
        assert!(matches!(err, BundleError::NotFound { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&format!("release bundle {missing} not found"))
                && message.contains(&format!("ac adm release push --file BUNDLE.yaml --to {missing}")),
            "{message}"
        );
        assert_eq!(err.reason(), "BundleNotFound");
        assert!(!err.is_transient());
    }
}

#[tokio::test]
async fn an_ordinary_image_is_not_taken_for_a_bundle() {
    let Some(registry) = Registry::start() else { return };
    let image = reference(&registry, "acp/pause:3.10");
    let layer = ImageLayer::oci_v1_gzip(b"not really a tarball".to_vec(), None);
    let config = Config::oci_v1(br#"{"architecture":"amd64","os":"linux"}"#.to_vec(), None);
    raw_client()
        .push(
            &image.to_string().parse().unwrap(),
            &[layer],
            config,
            &RegistryAuth::Anonymous,
            None,
        )
        .await
        .unwrap();

    let err = pull(&client(), &image).await.unwrap_err();
    assert!(matches!(err, BundleError::NotABundle { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!(
            "{image} is not an ACP release bundle (media type application/vnd.oci.image.config.v1+json)"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_version_tag_must_hold_that_version() {
    let Some(registry) = Registry::start() else { return };
    let bundle_432 = Bundle::from_yaml(bundle_yaml("4.3.2")).unwrap();
    let tag_431 = reference(&registry, "acp/release:4.3.1");

    // push refuses to create the mismatch…
    let err = push(&client(), &bundle_432, &tag_431).await.unwrap_err();
    assert!(matches!(err, BundleError::VersionMismatch { .. }), "{err:?}");

    // …and pull refuses one made by other tools: copy a 4.3.2 bundle's manifest to tag 4.3.1.
    let candidate = reference(&registry, "acp/release:candidate");
    push(&client(), &bundle_432, &candidate).await.unwrap();
    let raw = raw_client();
    let (manifest, _) = raw
        .pull_manifest_raw(
            &candidate.to_string().parse().unwrap(),
            &RegistryAuth::Anonymous,
            &[oci_client::manifest::OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .unwrap();
    raw.push_manifest_raw(
        &tag_431.to_string().parse().unwrap(),
        manifest,
        http::HeaderValue::from_static(oci_client::manifest::OCI_IMAGE_MEDIA_TYPE),
    )
    .await
    .unwrap();

    let err = pull(&client(), &tag_431).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, BundleError::VersionMismatch { .. }), "{err:?}");
    assert!(
        message.contains("holds version 4.3.2, but its tag says 4.3.1")
            && message.contains(&format!("{}/acp/release:4.3.2", registry.host())),
        "{message}"
    );
}

#[tokio::test]
async fn a_bundle_over_the_size_limit_is_not_downloaded() {
    let Some(registry) = Registry::start() else { return };
    let at = reference(&registry, "acp/release:4.3.1");
    push(&client(), &Bundle::from_yaml(bundle_yaml("4.3.1")).unwrap(), &at)
        .await
        .unwrap();

    let small = BundleClient::new(ClientOptions {
        max_bundle_bytes: 256,
        ..ClientOptions::default()
    });
    let err = pull(&small, &at).await.unwrap_err();
    assert!(matches!(err, BundleError::TooLarge { limit: 256, .. }), "{err:?}");
    assert!(err.to_string().contains("over the 256-byte limit"), "{err}");
}

#[tokio::test]
async fn basic_auth_is_required_and_honoured() {
    let Some(registry) = Registry::start_with_basic_auth("acp-publisher", "s3cret-pass") else {
        return;
    };
    let at = reference(&registry, "acp/release:4.3.1");
    let bundle = Bundle::from_yaml(bundle_yaml("4.3.1")).unwrap();

    // Anonymous: refused, and told to provide a pull secret.
    let err = push(&client(), &bundle, &at).await.unwrap_err();
    assert!(
        matches!(err, BundleError::Unauthorized { anonymous: true, .. }),
        "{err:?}"
    );
    let err = pull(&client(), &at).await.unwrap_err();
    assert!(
        matches!(err, BundleError::Unauthorized { anonymous: true, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("give a pull secret (.dockerconfigjson)"),
        "{err}"
    );

    // Wrong password: refused, and told to check the credentials.
    let wrong = client().with_credentials(Credentials::basic("acp-publisher", "guess"));
    let err = pull(&wrong, &at).await.unwrap_err();
    assert!(
        matches!(err, BundleError::Unauthorized { anonymous: false, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("check the username and password"),
        "{err}"
    );

    // Right credentials, given directly or through a dockerconfigjson Secret's content.
    let publisher = client().with_credentials(Credentials::basic("acp-publisher", "s3cret-pass"));
    let digest = push(&publisher, &bundle, &at).await.unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("acp-publisher:s3cret-pass");
    let secret = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host());
    let reader = client().with_docker_config(DockerConfig::from_json(secret.as_bytes()).unwrap());
    let pulled = pull(&reader, &at).await.unwrap();
    assert_eq!(pulled.digest, digest);

    // A docker config with nothing for this registry means anonymous.
    let elsewhere = r#"{"auths":{"registry.example.com":{"auth":"dTpw"}}}"#;
    let other = client().with_docker_config(DockerConfig::from_json(elsewhere.as_bytes()).unwrap());
    assert!(matches!(
        pull(&other, &at).await.unwrap_err(),
        BundleError::Unauthorized { anonymous: true, .. }
    ));
}

#[tokio::test]
async fn releases_push_as_documents() {
    let Some(registry) = Registry::start() else { return };
    let release = Bundle::from_yaml(bundle_yaml("4.3.1")).unwrap().release().clone();
    let at = reference(&registry, "acp/release:4.3.1");
    let digest = push_release(&client(), &release, &at).await.unwrap();
    let pulled = pull(&client(), &at).await.unwrap();
    assert_eq!(pulled.release, release);
    assert_eq!(pulled.digest, digest);
    assert!(pulled.yaml.contains("kind: ProductRelease"), "{}", pulled.yaml);

    // The manifest carries the layout other tools (oras, crane) show.
    let (manifest, _) = raw_client()
        .pull_manifest_raw(
            &at.to_string().parse().unwrap(),
            &RegistryAuth::Anonymous,
            &[oci_client::manifest::OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest["artifactType"], artifact::ARTIFACT_TYPE);
    assert_eq!(manifest["config"]["mediaType"], artifact::CONFIG_MEDIA_TYPE);
    assert_eq!(manifest["layers"][0]["mediaType"], artifact::LAYER_MEDIA_TYPE);
    assert_eq!(manifest["annotations"][artifact::VERSION_ANNOTATION], "4.3.1");
}

#[tokio::test]
async fn an_unreachable_registry_is_reported_as_such() {
    // Nothing listens on the port a just-closed listener had.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let at = BundleRef::parse(&format!("127.0.0.1:{port}/acp/release:4.3.1")).unwrap();
    let err = pull(&client(), &at).await.unwrap_err();
    assert!(matches!(err, BundleError::Unreachable { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(
        err.to_string()
            .contains(&format!("cannot reach registry 127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn tls_registries_are_verified() {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let certificate = certified.cert.pem();
    let Some(registry) = Registry::start_with_tls(&certificate, &certified.signing_key.serialize_pem())
    else {
        return;
    };
    let at = reference(&registry, "acp/release:4.3.1");
    let bundle = Bundle::from_yaml(bundle_yaml("4.3.1")).unwrap();

    // Trusting the registry's CA: push and pull over TLS.
    let trusting = BundleClient::new(ClientOptions {
        plain_http_on_loopback: false,
        extra_root_certificates: vec![certificate.into_bytes()],
        ..ClientOptions::default()
    });
    let digest = push(&trusting, &bundle, &at).await.unwrap();
    assert_eq!(pull(&trusting, &at).await.unwrap().digest, digest);

    // Not trusting it: refused, never silently accepted.
    let untrusting = BundleClient::new(ClientOptions {
        plain_http_on_loopback: false,
        ..ClientOptions::default()
    });
    let err = pull(&untrusting, &at).await.unwrap_err();
    assert!(matches!(err, BundleError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("invalid peer certificate"), "{err}");

    // Plain HTTP to an HTTPS registry: told so, rather than shown a bare HTTP 400.
    let err = pull(&client(), &at).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("serves HTTPS but was contacted over plain HTTP"),
        "{err}"
    );
}
