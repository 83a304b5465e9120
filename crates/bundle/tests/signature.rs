//! Signing and verifying release bundles in cosign's key-based layout, against a real registry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod support;

use acp_bundle::signature::{self, SignatureError, SigningKey};
use acp_bundle::{Bundle, BundleClient, BundleRef, ClientOptions, pull, push};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
use oci_client::secrets::RegistryAuth;
use support::Registry;

fn bundle(version: &str) -> Bundle {
    Bundle::from_yaml(format!(
        "kind: ProductRelease\nversion: {version}\nkubernetes:\n  version: v1.34.5\n  compatible: [\"1.34\"]\n\
         upgradeFrom: [\">=4.0.0, <{version}\"]\nmodules: []\n"
    ))
    .unwrap()
}

fn client() -> BundleClient {
    BundleClient::new(ClientOptions::default())
}

/// Pushes ACP `version` to `REGISTRY/acp/release:VERSION`; the reference pinned to its digest.
async fn publish(registry: &Registry, version: &str) -> BundleRef {
    let bundle = bundle(version);
    let to = BundleRef::for_version(&format!("{}/acp/release", registry.host()), bundle.version()).unwrap();
    let digest = push(&client(), &bundle, &to).await.unwrap();
    to.pinned(&digest)
}

#[tokio::test]
async fn a_signed_bundle_verifies_with_its_key_and_no_other() {
    let Some(registry) = Registry::start() else { return };
    let reference = publish(&registry, "4.4.0").await;
    let (key, stranger) = (
        SigningKey::generate("release.key"),
        SigningKey::generate("other.key"),
    );

    let tagged = BundleRef::parse(&format!("{}:4.4.0", reference.repository_ref())).unwrap();
    let err = signature::sign(&client(), &tagged, &key).await.unwrap_err();
    assert!(
        err.to_string().contains("sign REGISTRY/REPOSITORY@sha256:DIGEST"),
        "{err}"
    );

    let signed = signature::sign(&client(), &reference, &key).await.unwrap();
    assert!(signed.added);
    let digest = reference.digest().unwrap();
    assert_eq!(
        signed.signatures,
        format!(
            "{}/acp/release:{}",
            registry.host(),
            signature::signature_tag(digest)
        )
    );

    let pulled = pull(&client(), &reference).await.unwrap();
    let verified = signature::verify(&client(), &pulled, &[key.public_key().clone()])
        .await
        .unwrap();
    assert_eq!(verified.digest, digest);
    assert_eq!(verified.key_fingerprint, key.public_key().fingerprint());
    assert_eq!(verified.key_source, "release.key");

    // Any one of several trusted keys is enough.
    let either = [stranger.public_key().clone(), key.public_key().clone()];
    assert!(signature::verify(&client(), &pulled, &either).await.is_ok());

    let err = signature::verify(&client(), &pulled, &[stranger.public_key().clone()])
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "SignatureInvalid");
    let text = err.to_string();
    assert!(
        text.contains("1 signature: 1 made with a key that is not trusted"),
        "{text}"
    );
    assert!(text.contains(stranger.public_key().fingerprint()), "{text}");
    assert!(text.contains(&pulled.reference.to_string()), "{text}");
}

#[tokio::test]
async fn an_unsigned_bundle_says_how_to_sign_it() {
    let Some(registry) = Registry::start() else { return };
    let reference = publish(&registry, "4.4.0").await;
    let pulled = pull(&client(), &reference).await.unwrap();
    let key = SigningKey::generate("release.key");
    let err = signature::verify(&client(), &pulled, &[key.public_key().clone()])
        .await
        .unwrap_err();
    assert!(matches!(err, SignatureError::Unsigned { .. }), "{err}");
    assert!(!err.is_transient());
    let text = err.to_string();
    assert!(text.contains("is not signed"), "{text}");
    assert!(text.contains("--sign-key"), "{text}");
    assert!(text.contains(".sig"), "{text}");
}

#[tokio::test]
async fn signing_again_adds_nothing_and_a_second_key_adds_a_signature() {
    let Some(registry) = Registry::start() else { return };
    let reference = publish(&registry, "4.4.0").await;
    let (first, second) = (SigningKey::generate("a.key"), SigningKey::generate("b.key"));
    assert!(
        signature::sign(&client(), &reference, &first)
            .await
            .unwrap()
            .added
    );
    assert!(
        !signature::sign(&client(), &reference, &first)
            .await
            .unwrap()
            .added
    );
    assert!(
        signature::sign(&client(), &reference, &second)
            .await
            .unwrap()
            .added
    );
    let pulled = pull(&client(), &reference).await.unwrap();
    for key in [&first, &second] {
        let verified = signature::verify(&client(), &pulled, &[key.public_key().clone()])
            .await
            .unwrap();
        assert_eq!(verified.key_fingerprint, key.public_key().fingerprint());
    }
}

/// A valid signature of one bundle copied next to another: signed by a trusted key, but for the
/// other digest, so it is refused and the message names the digest it is for.
#[tokio::test]
async fn a_signature_of_another_bundle_is_refused() {
    let Some(registry) = Registry::start() else { return };
    let genuine = publish(&registry, "4.4.0").await;
    let forged = publish(&registry, "4.4.1").await;
    let key = SigningKey::generate("release.key");
    signature::sign(&client(), &genuine, &key).await.unwrap();

    let raw = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    });
    let tag = |r: &BundleRef| {
        format!(
            "{}:{}",
            r.repository_ref(),
            signature::signature_tag(r.digest().unwrap())
        )
        .parse::<oci_client::Reference>()
        .unwrap()
    };
    let (manifest, _) = raw
        .pull_manifest_raw(&tag(&genuine), &RegistryAuth::Anonymous, &[OCI_IMAGE_MEDIA_TYPE])
        .await
        .unwrap();
    raw.push_manifest_raw(
        &tag(&forged),
        manifest.to_vec(),
        http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
    )
    .await
    .unwrap();

    let pulled = pull(&client(), &forged).await.unwrap();
    let err = signature::verify(&client(), &pulled, &[key.public_key().clone()])
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "SignatureInvalid");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "1 by a trusted key but for another bundle ({})",
            genuine.digest().unwrap()
        )),
        "{text}"
    );
}

#[tokio::test]
async fn an_unreachable_registry_is_transient_not_a_bad_signature() {
    let Some(registry) = Registry::start() else { return };
    let reference = publish(&registry, "4.4.0").await;
    let pulled = pull(&client(), &reference).await.unwrap();
    drop(registry);
    let key = SigningKey::generate("release.key");
    let err = signature::verify(&client(), &pulled, &[key.public_key().clone()])
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_ne!(err.reason(), "SignatureInvalid");
}
