//! Authentic releases: the operator, started with `--release-verification-key`, offers and applies only
//! bundles signed by that key. Unsigned bundles, bundles signed by another key, and a genuine signature
//! copied next to another bundle are refused (`SignatureInvalid`) and never offered; two ProductManifests
//! claiming one version are both refused, each naming the other, until one is deleted.

use std::path::{Path, PathBuf};

use acp_api::conditions::{self, types};
use acp_api::{ProductManifest, names};
use acp_bundle::signature::{self, SigningKey};
use acp_e2e::bundles::{bundle_release, push_release, start_registry};
use acp_e2e::cli::ac;
use acp_testkit::{Cluster, TestEnv, wait_for_some};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;
use kube::api::DeleteParams;
use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
use serde_json::json;

use acp_e2e::operator::*;

/// A key pair in files: `NAME.key` (PKCS#8) and `NAME.pub`.
fn key_files(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = SigningKey::generate(name);
    let (private, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    std::fs::write(&private, key.to_pkcs8_pem()).unwrap();
    std::fs::write(&public, key.public_key().to_pem()).unwrap();
    (private, public)
}

/// Publishes ACP `version` (reachable from 4.3, the sample modules at that version) to
/// `REPOSITORY:VERSION`, signed with `key` when given; returns the reference pinned to its digest.
async fn publish(env: &TestEnv, repository: &str, version: &str, key: Option<&Path>) -> String {
    push_release(env.dir(), repository, &bundle_release(version), key).await
}

/// Puts the signature image of `from` (a pinned reference) under the signature tag of `to`, as someone
/// with push access to the registry could.
async fn copy_signature(from: &str, to: &str) {
    let raw = oci_client::Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    });
    let tag = |pinned: &str| {
        let (repository, digest) = pinned.split_once('@').unwrap();
        let repository = repository.rsplit_once(':').unwrap().0;
        format!("{repository}:{}", signature::signature_tag(digest))
            .parse::<oci_client::Reference>()
            .unwrap()
    };
    let (manifest, _) = raw
        .pull_manifest_raw(
            &tag(from),
            &oci_client::secrets::RegistryAuth::Anonymous,
            &[OCI_IMAGE_MEDIA_TYPE],
        )
        .await
        .unwrap();
    raw.push_manifest_raw(
        &tag(to),
        manifest.to_vec(),
        http::HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
    )
    .await
    .unwrap();
}

/// Waits until ProductManifest `name` has a `type_` condition with this status and reason; returns it.
async fn wait_condition(global: &Cluster, name: &str, type_: &str, status: &str, reason: &str) -> Condition {
    let api: Api<ProductManifest> = Api::all(global.client().await.unwrap());
    let last = std::sync::Mutex::new(None::<Condition>);
    let found = wait_for_some(
        &format!("ProductManifest {name}: {type_}={status} ({reason})"),
        LONG,
        || async {
            let pm = api.get(name).await.ok()?;
            let condition = conditions::find(pm.conditions(), type_).cloned()?;
            let hit = condition.status == status && condition.reason == reason;
            *last.lock().unwrap() = Some(condition.clone());
            hit.then_some(condition)
        },
    )
    .await;
    found.unwrap_or_else(|err| panic!("{err}; last: {:?}", last.lock().unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_bundles_signed_by_a_trusted_key_are_offered_and_applied() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    let (host, _registry) = start_registry(&env).await;
    let repository = format!("{host}/acp/release");
    let keys = env.dir().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (release_key, release_pub) = key_files(&keys, "release");
    let (stranger_key, _) = key_files(&keys, "stranger");

    let signed = publish(&env, &repository, "4.4.0", Some(&release_key)).await;
    let unsigned = publish(&env, &repository, "4.4.1", None).await;
    let other_key = publish(&env, &repository, "4.4.2", Some(&stranger_key)).await;
    let copied = publish(&env, &repository, "4.4.3", None).await;
    copy_signature(&signed, &copied).await;

    install_release(global, "4.3.1").await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let spec = operator_spec(global, "4.3.1", "replica-a").args([
        "--release-repository",
        &repository,
        "--release-verification-key",
        release_pub.to_str().unwrap(),
    ]);
    let _operator = env.spawn(spec).unwrap();

    // push signed -> import-manifest --image -> Ready, and it says which key verified it.
    ac(
        global,
        &[
            "adm",
            "release",
            "import-manifest",
            "--image",
            &signed,
            "--wait",
            "--timeout",
            "4m",
        ],
    )
    .await
    .ok();
    let verified = wait_condition(global, "v4.4.0", types::SIGNATURE_VERIFIED, "True", "Verified").await;
    let fingerprint = SigningKey::from_pem("k", &std::fs::read_to_string(&release_key).unwrap(), None)
        .unwrap()
        .public_key()
        .fingerprint()
        .to_owned();
    assert!(verified.message.contains(&fingerprint), "{}", verified.message);

    // The hostile ones: each refused, naming its image and what to do.
    for (name, image, says) in [
        ("unsigned-4-4-1", &unsigned, "is not signed"),
        (
            "other-key-4-4-2",
            &other_key,
            "made with a key that is not trusted",
        ),
        ("copied-4-4-3", &copied, "by a trusted key but for another bundle"),
    ] {
        import_image(global, name, image).await;
        let refused = wait_condition(global, name, types::READY, "False", "SignatureInvalid").await;
        let repository_and_tag = image.split('@').next().unwrap();
        assert!(
            refused.message.contains(repository_and_tag),
            "{}",
            refused.message
        );
        assert!(refused.message.contains(says), "{}", refused.message);
        assert!(
            refused.message.contains("cosign sign --key"),
            "{}",
            refused.message
        );
        let signature = conditions::find(
            Api::<ProductManifest>::all(global.client().await.unwrap())
                .get(name)
                .await
                .unwrap()
                .conditions(),
            types::SIGNATURE_VERIFIED,
        )
        .cloned()
        .unwrap();
        assert_eq!(
            (signature.status.as_str(), signature.reason.as_str()),
            ("False", "SignatureInvalid")
        );
    }

    // Never offered: only the signed release is.
    wait_shadow(global, "global", "only 4.4.0 offered", LONG, |s| {
        offered(s) == ["4.4.0"]
    })
    .await;

    // Two ProductManifests claiming 4.5.0 (by tag and by digest): both refused, each naming the other.
    let v450 = publish(&env, &repository, "4.5.0", Some(&release_key)).await;
    import_image(global, "dup-a", v450.split('@').next().unwrap()).await;
    import_image(global, "dup-b", &v450).await;
    for (name, other) in [("dup-a", "dup-b"), ("dup-b", "dup-a")] {
        let refused = wait_condition(global, name, types::READY, "False", "DuplicateVersion").await;
        assert!(
            refused.message.contains(&format!("ProductManifest {other}")),
            "{}",
            refused.message
        );
    }
    let shadow = wait_shadow(global, "global", "still only 4.4.0 offered", LONG, |s| {
        offered(s) == ["4.4.0"]
    })
    .await;
    assert_eq!(offered(&shadow), ["4.4.0"]);

    // The signed release is applied.
    request_image(global, "global", &signed).await;
    wait_shadow(global, "global", "4.4.0 completed", LONG, |s| {
        s.current_version() == Some("4.4.0") && ready(s)
    })
    .await;
    assert_modules_upgraded_once(global, "4.4.0").await;

    // Deleting one claimant makes the other whole again: 4.5.0 is offered from 4.4.0.
    Api::<ProductManifest>::all(global.client().await.unwrap())
        .delete("dup-b", &DeleteParams::default())
        .await
        .unwrap();
    wait_condition(global, "dup-a", types::READY, "True", "Resolved").await;
    let shadow = wait_shadow(global, "global", "4.5.0 offered", LONG, |s| {
        offered(s).contains(&"4.5.0".to_owned())
    })
    .await;
    for refused in ["4.4.1", "4.4.2", "4.4.3"] {
        assert!(
            !offered(&shadow).contains(&refused.to_owned()),
            "{:?}",
            offered(&shadow)
        );
    }
}
