//! `ac adm release push` then `ac adm release import-manifest --image` against a real OCI registry
//! (Debian's `docker-registry`) and a real API server: the ProductManifest is named after the
//! bundle's version and pins its digest.

use std::path::{Path, PathBuf};

use acp_api::ProductManifest;
use acp_e2e::bundles::start_registry;
use acp_e2e::cli::{AcOutput, ac_with_env, condition, platform, write_manifest_status};
use acp_testkit::Cluster;
use kube::Api;
use serde_json::json;

fn sample_path() -> PathBuf {
    acp_testkit::repo_root().join("deploy/samples/release-4.4.0.yaml")
}

/// `ac` with registry logins only from `docker_config` (an empty directory: none).
async fn ac(cluster: &Cluster, docker_config: &Path, args: &[&str]) -> AcOutput {
    ac_with_env(
        cluster,
        args,
        &[("DOCKER_CONFIG", docker_config.to_str().unwrap())],
    )
    .await
}

/// Pushes `file` to `to` and returns the pinned reference `ac` printed.
async fn push(cluster: &Cluster, docker_config: &Path, file: &Path, to: &str) -> String {
    let out = ac(
        cluster,
        docker_config,
        &[
            "adm",
            "release",
            "push",
            "--file",
            file.to_str().unwrap(),
            "--to",
            to,
        ],
    )
    .await;
    let stdout = out.ok();
    stdout
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("Pushed ACP 4.4.0 to "))
        .unwrap_or_else(|| panic!("{stdout}"))
        .to_owned()
}

#[tokio::test]
async fn import_manifest_by_image_names_it_after_the_bundle_version_and_pins_the_digest() {
    let env = platform([]).await;
    let (registry, _registry_process) = start_registry(&env).await;
    let global = env.cluster("global");
    let api: Api<ProductManifest> = Api::all(global.client().await.unwrap());
    let no_logins = tempfile::tempdir().unwrap();
    let logins = no_logins.path();
    let tagged = format!("{registry}/acp/release:4.4.0");

    let pinned = push(global, logins, &sample_path(), &format!("{registry}/acp/release")).await;
    assert!(pinned.starts_with(&format!("{tagged}@sha256:")), "{pinned}");

    // By tag: the version comes from the bundle, the digest is pinned.
    let out = ac(
        global,
        logins,
        &["adm", "release", "import-manifest", "--image", &tagged],
    )
    .await;
    assert_eq!(
        out.ok(),
        format!(
            "Release bundle {pinned} holds ACP 4.4.0.\nCreated ProductManifest v4.4.0 for 4.4.0.\n\
             acp-cvo resolves it next; `ac adm release list` shows when it is Ready (or pass --wait).\n"
        )
    );
    let created = api.get("v4.4.0").await.unwrap();
    assert_eq!(created.spec.image.as_deref(), Some(pinned.as_str()));
    assert_eq!(created.spec.version, None);

    // Again, by the pinned reference push printed or by the tag: nothing changes.
    for image in [&pinned, &tagged] {
        let out = ac(
            global,
            logins,
            &["adm", "release", "import-manifest", "--image", image],
        )
        .await;
        assert!(
            out.ok()
                .contains("ProductManifest v4.4.0 for 4.4.0 already exists; nothing changed."),
            "{}",
            out.stdout
        );
    }
    let again = api.get("v4.4.0").await.unwrap();
    assert_eq!(again.metadata.resource_version, created.metadata.resource_version);

    // --version of the same release does not take over a manifest made by image.
    let out = ac(
        global,
        logins,
        &["adm", "release", "import-manifest", "--version", "4.4.0"],
    )
    .await;
    assert!(
        out.failed_with(1).contains(&format!(
            "ProductManifest v4.4.0 already exists with spec.image {pinned}, not 4.4.0; it was left unchanged"
        )),
        "{}",
        out.stderr
    );

    // The tag moved to other content of the same version: refused, the manifest keeps its digest.
    let rebuilt = tempfile::tempdir().unwrap();
    let rebuilt_file = rebuilt.path().join("release-4.4.0.yaml");
    let text = std::fs::read_to_string(sample_path()).unwrap();
    std::fs::write(&rebuilt_file, format!("# rebuilt\n{text}")).unwrap();
    let moved = push(global, logins, &rebuilt_file, &format!("{registry}/acp/release")).await;
    assert_ne!(moved, pinned);
    let out = ac(
        global,
        logins,
        &["adm", "release", "import-manifest", "--image", &tagged],
    )
    .await;
    assert!(
        out.failed_with(1).contains(&format!(
            "ProductManifest v4.4.0 already exists with spec.image {pinned}, not spec.image {moved}; \
             it was left unchanged. If it is wrong, delete it (`kubectl delete pdman v4.4.0`) and import again"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(
        api.get("v4.4.0").await.unwrap().spec.image.as_deref(),
        Some(pinned.as_str())
    );

    // A bundle that is not there creates nothing, and says how to publish it.
    let missing = format!("{registry}/acp/release:4.4.1");
    let out = ac(
        global,
        logins,
        &["adm", "release", "import-manifest", "--image", &missing],
    )
    .await;
    assert!(
        out.failed_with(1).contains(&format!(
            "release bundle {missing} not found: push it with `ac adm release push --file BUNDLE.yaml --to {missing}`"
        )),
        "{}",
        out.stderr
    );
    assert!(api.get_opt("v4.4.1").await.unwrap().is_none());

    // The list shows the version of a manifest by image once acp-cvo resolved it.
    let list = |out: AcOutput| -> Vec<Vec<String>> {
        out.ok()
            .lines()
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect()
    };
    let rows = list(ac(global, logins, &["adm", "release", "list"]).await);
    assert_eq!(&rows[1][..4], ["v4.4.0", "-", "Unknown", "-"], "{rows:?}");
    write_manifest_status(
        global,
        "v4.4.0",
        json!({
            "conditions": [condition("Ready", true, "Resolved", "Release 4.4.0 resolved from its image")],
            "resolvedImageDigest": pinned.rsplit_once('@').unwrap().1,
            "release": {"version": "4.4.0", "kubernetes": {}},
        }),
    )
    .await;
    let rows = list(ac(global, logins, &["adm", "release", "list"]).await);
    assert_eq!(&rows[1][..4], ["v4.4.0", "4.4.0", "True", "-"], "{rows:?}");
}
