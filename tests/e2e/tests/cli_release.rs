//! `ac adm release import-manifest` and `ac adm release list` against a real API server.

use acp_api::ProductManifest;
use acp_e2e::cli::{ac, condition, platform, write_manifest_status};
use kube::Api;
use serde_json::{Value, json};

async fn manifests(env: &acp_testkit::TestEnv) -> Api<ProductManifest> {
    Api::all(env.cluster("global").client().await.unwrap())
}

#[tokio::test]
async fn import_manifest_is_idempotent_never_overwrites_and_waits_for_ready() {
    let env = platform([]).await;
    let global = env.cluster("global");
    let api = manifests(&env).await;

    let stdout = ac(global, &["adm", "release", "list"]).await.ok().to_owned();
    assert!(stdout.starts_with("No ProductManifests."), "{stdout}");

    let stdout = ac(global, &["adm", "release", "import-manifest", "--version=v4.3.1"])
        .await
        .ok()
        .to_owned();
    assert!(
        stdout.starts_with("Created ProductManifest v4.3.1 for 4.3.1."),
        "{stdout}"
    );
    let created = api.get("v4.3.1").await.unwrap();
    assert_eq!(created.spec.version.as_deref(), Some("4.3.1"));
    assert_eq!(created.spec.image, None);

    // The same version again: nothing changes.
    let stdout = ac(
        global,
        &["adm", "release", "import-manifest", "--version", "4.3.1"],
    )
    .await
    .ok()
    .to_owned();
    assert!(stdout.contains("already exists; nothing changed"), "{stdout}");
    let again = api.get("v4.3.1").await.unwrap();
    assert_eq!(again.metadata.resource_version, created.metadata.resource_version);

    // A manifest of that name with another version is refused, not overwritten.
    global
        .apply_yaml("apiVersion: config.alauda.io/v1\nkind: ProductManifest\nmetadata: {name: v4.3.2}\nspec: {version: 4.3.9}\n")
        .await
        .unwrap();
    let stderr = ac(
        global,
        &["adm", "release", "import-manifest", "--version", "4.3.2"],
    )
    .await
    .failed_with(1)
    .to_owned();
    assert!(
        stderr.contains("ProductManifest v4.3.2 already exists with spec.version 4.3.9, not 4.3.2"),
        "{stderr}"
    );
    assert_eq!(
        api.get("v4.3.2").await.unwrap().spec.version.as_deref(),
        Some("4.3.9")
    );

    // Not a version: usage error.
    let stderr = ac(
        global,
        &["adm", "release", "import-manifest", "--version", "latest"],
    )
    .await
    .failed_with(2)
    .to_owned();
    assert!(stderr.contains("invalid ACP version \"latest\""), "{stderr}");

    // --wait gives up when nothing resolves it, saying what to check.
    let stderr = ac(
        global,
        &[
            "adm",
            "release",
            "import-manifest",
            "--version",
            "4.3.1",
            "--wait",
            "--timeout",
            "2s",
        ],
    )
    .await
    .failed_with(1)
    .to_owned();
    assert!(
        stderr.contains("ProductManifest v4.3.1 is not Ready after 2s"),
        "{stderr}"
    );
    assert!(stderr.contains("acp-cvo"), "{stderr}");

    // Once Ready (written as the operator's release controller writes it), --wait succeeds.
    write_manifest_status(
        global,
        "v4.3.1",
        json!({
            "conditions": [condition("Ready", true, "Resolved", "Release 4.3.1 resolved from the built-in catalogue")],
            "release": {"version": "4.3.1", "kubernetes": {"version": "v1.34.5"}},
        }),
    )
    .await;
    let stdout = ac(
        global,
        &[
            "adm",
            "release",
            "import-manifest",
            "--version",
            "4.3.1",
            "--wait",
            "--timeout",
            "30s",
        ],
    )
    .await
    .ok()
    .to_owned();
    assert!(stdout.contains("ProductManifest v4.3.1 is Ready"), "{stdout}");

    let stdout = ac(global, &["adm", "release", "list"]).await.ok().to_owned();
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        rows[0],
        ["NAME", "VERSION", "READY", "KUBERNETES", "AGE", "MESSAGE"],
        "{stdout}"
    );
    assert_eq!(&rows[1][..4], ["v4.3.2", "4.3.9", "Unknown", "-"], "{stdout}");
    assert_eq!(&rows[2][..4], ["v4.3.1", "4.3.1", "True", "v1.34.5"], "{stdout}");

    let json_out = ac(global, &["adm", "release", "list", "-o", "json"])
        .await
        .ok()
        .to_owned();
    let list: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}
