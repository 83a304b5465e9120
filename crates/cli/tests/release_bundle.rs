//! `ac adm release push` and `ac adm release show` as a user runs them: the real binary against a
//! real OCI registry (Debian's `docker-registry`, one per test), and the shipped sample bundle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The registry the acp-bundle tests start; not every test here uses every kind of registry.
#[allow(dead_code)]
#[path = "../../bundle/tests/support/mod.rs"]
mod support;

mod common;
use common::*;

use std::path::{Path, PathBuf};

use acp_bundle::{BundleRef, PulledBundle};
use acp_cli::adm::release::show;
use acp_policy::{AcpVersion, Catalogue, GlobalUpgradeRule, KubeMinor, Lifecycle, ProductRelease};
use base64::Engine as _;
use support::Registry;

/// The digest the rendered page of the sample is shown with (a real one differs per bundle text).
const FAKE_DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
/// The registry the rendered page of the sample is shown in.
const FAKE_REGISTRY: &str = "registry.example.com";

fn sample_path() -> PathBuf {
    repo().join("deploy/samples/release-4.4.0.yaml")
}

fn sample_text() -> String {
    std::fs::read_to_string(sample_path()).unwrap()
}

/// Pushes the sample to `REGISTRY/acp/release` and returns the pinned reference printed.
fn push_sample(registry: &Registry) -> String {
    let out = ac(&[
        "adm",
        "release",
        "push",
        "--file",
        sample_path().to_str().unwrap(),
        "--to",
        &format!("{}/acp/release", registry.host()),
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let pinned = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("Pushed ACP 4.4.0 to "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    assert!(
        text.contains(&format!(
            "Next, offer it to the platform: ac adm release import-manifest --image {pinned}\n"
        )),
        "{text}"
    );
    pinned
}

// --- the sample bundle ---

#[test]
fn the_sample_bundle_is_acp_4_4_0_as_the_reference_describes_it() {
    let catalogue = Catalogue::from_yaml(&sample_text()).unwrap();
    assert_eq!(catalogue.len(), 1);
    let release = catalogue.release(&AcpVersion::new(4, 4, 0)).unwrap();
    let k = &release.kubernetes;
    assert_eq!(k.creation, [KubeMinor::new(1, 35)]);
    assert_eq!(k.compatible_text(), "1.32–1.35");
    assert_eq!(
        k.third_party_range.as_ref().unwrap().to_string(),
        ">=1.19.0, <1.36.0"
    );
    assert_eq!(
        release.global_upgrade_rule(),
        GlobalUpgradeRule::WithinCompatibleRange
    );
    // The n-3 window: 4.1, 4.2 and 4.3 upgrade directly; 4.0 and 4.4.0 itself do not.
    for from in ["4.1.0", "4.1.5", "4.2.5", "4.3.0", "4.3.1"] {
        assert!(release.accepts_upgrade_from(&from.parse().unwrap()), "{from}");
    }
    for from in ["4.0.10", "4.4.0", "4.4.1"] {
        assert!(!release.accepts_upgrade_from(&from.parse().unwrap()), "{from}");
    }
    assert_eq!(release.admin_gates[0].name, "ack-4.4-api-removals");

    // Modules in the built-in releases' style: Deployments in cpaas-system on the pause image,
    // carrying the release in ACP_VERSION so an upgrade rolls each one out.
    let names: Vec<(&str, Lifecycle)> = release
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.lifecycle))
        .collect();
    assert_eq!(
        names,
        [
            ("platform-api", Lifecycle::Core),
            ("platform-auth", Lifecycle::Core),
            ("platform-console", Lifecycle::Core),
            ("cluster-logging", Lifecycle::Aligned),
        ]
    );
    for module in &release.modules {
        assert_eq!(module.version, "4.4.0", "{}", module.name);
        let deployment = module
            .manifests
            .iter()
            .find(|m| m["kind"] == "Deployment")
            .unwrap_or_else(|| panic!("{} has no Deployment", module.name));
        assert_eq!(deployment["metadata"]["name"], module.name.as_str());
        assert_eq!(deployment["metadata"]["namespace"], "cpaas-system");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "registry.k8s.io/pause:3.10");
        assert_eq!(container["env"][0]["name"], "ACP_VERSION");
        assert_eq!(container["env"][0]["value"], "4.4.0");
        // The selector matches the pod template, or the API server refuses the Deployment.
        let name = serde_json::json!(module.name);
        assert_eq!(
            deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"],
            name
        );
        assert_eq!(
            deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"],
            name
        );
    }
}

#[test]
fn the_sample_bundle_plans_offline() {
    // factory-01 runs Kubernetes 1.31, which ACP 4.4 no longer accepts: the plan says so.
    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "deploy/samples/inventory-ready.yaml",
        "--release",
        "deploy/samples/release-4.4.0.yaml",
        "--to",
        "4.4.0",
    ]);
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.starts_with(
            "Upgrade plan: ACP 4.2.5 → 4.4.0 (rule WithinCompatibleRange; compatible Kubernetes 1.32–1.35)"
        ),
        "{text}"
    );
    assert!(text.contains("factory-01"), "{text}");
}

#[test]
fn show_summarises_the_sample_bundle() {
    let (release, yaml) = acp_bundle::Bundle::from_yaml(sample_text()).unwrap().into_parts();
    let bundle = PulledBundle {
        release,
        yaml,
        digest: FAKE_DIGEST.to_owned(),
        reference: BundleRef::parse(&format!("{FAKE_REGISTRY}/acp/release:4.4.0@{FAKE_DIGEST}")).unwrap(),
    };
    let page = show::render(&bundle, false);
    assert_snapshot("release-show.txt", &page);
    assert!(
        page.contains(
            "Global upgrade rule:  WithinCompatibleRange (workload clusters may run any compatible minor)\n"
        ),
        "{page}"
    );
    assert!(
        page.contains("platform-console   Core        4.4.0     platform-api, platform-auth   1\n"),
        "{page}"
    );
}

#[test]
fn a_support_only_release_says_it_applies_nothing() {
    let release: ProductRelease = serde_saphyr::from_str(
        "kind: ProductRelease\nversion: 4.2.5\nkubernetes: {compatible: [\"1.33\", \"1.30\"]}\n",
    )
    .unwrap();
    let bundle = PulledBundle {
        release,
        yaml: String::new(),
        digest: FAKE_DIGEST.to_owned(),
        reference: BundleRef::parse(&format!("{FAKE_REGISTRY}/acp/release@{FAKE_DIGEST}")).unwrap(),
    };
    let page = show::render(&bundle, false);
    for line in [
        "Kubernetes:           patch not stated\n",
        "Compatible minors:    1.30, 1.33\n",
        "Third-party range:    none published: imported clusters must run a compatible minor\n",
        "Global upgrade rule:  LatestCompatibleRequired (workload clusters must first run the newest minor both releases accept, implied by the version)\n",
        "Upgrade from:         none (installation only)\n",
        "Admin gates: none\n",
        "Modules: none (a support-only release: upgrading to it applies nothing)\n",
    ] {
        assert!(page.contains(line), "{line:?} missing from:\n{page}");
    }
}

#[test]
fn import_by_image_accepts_the_same_bundle_and_refuses_anything_else() {
    use acp_api::{ProductManifest, ProductManifestSpec};
    use acp_cli::adm::release::{Existing, Wanted, compare};

    let repository = format!("{FAKE_REGISTRY}/acp/release");
    let other_digest = format!("sha256:{}", "1".repeat(64));
    let reference = |text: &str| BundleRef::parse(text).unwrap();
    let wanted = Wanted::Image {
        pinned: reference(&format!("{repository}:4.4.0@{FAKE_DIGEST}")),
        given: reference(&format!("{repository}:4.4.0")),
    };
    let manifest = |version: Option<&str>, image: Option<String>| {
        ProductManifest::new(
            "v4.4.0",
            ProductManifestSpec {
                version: version.map(str::to_owned),
                image,
            },
        )
    };

    // Imported before from the same digest, or from the same tag: nothing to do.
    for image in [
        format!("{repository}:4.4.0@{FAKE_DIGEST}"),
        format!("{repository}:4.4.0"),
    ] {
        assert_eq!(compare(&manifest(None, Some(image)), &wanted), Existing::Same);
    }
    // Another digest, or made by version: refused, saying what it holds.
    for (existing, holds) in [
        (
            manifest(None, Some(format!("{repository}@{other_digest}"))),
            format!("spec.image {repository}@{other_digest}"),
        ),
        (manifest(Some("4.4.0"), None), "spec.version 4.4.0".to_owned()),
    ] {
        let Existing::Conflict(message) = compare(&existing, &wanted) else {
            panic!("{holds} must be refused");
        };
        assert!(
            message.starts_with(&format!(
                "ProductManifest v4.4.0 already exists with {holds}, not spec.image {repository}:4.4.0@{FAKE_DIGEST}; it was left unchanged"
            )),
            "{message}"
        );
    }
}

// --- usage errors: no registry needed ---

#[test]
fn malformed_references_and_registries_are_usage_errors() {
    let file = sample_path();
    let file = file.to_str().unwrap();
    for (args, expected) in [
        (
            &["adm", "release", "show", "release:4.4.0"][..],
            "does not start with a registry host",
        ),
        (
            &["adm", "release", "show", "registry.example.com/acp/release"],
            "names no tag or digest",
        ),
        (
            &["adm", "release", "push", "--file", file, "--to", "acp/release"],
            "does not start with a registry host",
        ),
        (
            &[
                "adm",
                "release",
                "push",
                "--file",
                file,
                "--to",
                "registry.example.com/acp/release@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ],
            "never a digest",
        ),
        (
            &[
                "adm",
                "release",
                "push",
                "--file",
                file,
                "--to",
                "registry.example.com/acp/release",
                "--insecure-registry",
                "http://registry.example.com",
            ],
            "without http:// or https://",
        ),
        (
            &[
                "adm",
                "release",
                "import-manifest",
                "--image",
                "https://registry.example.com/acp/release:4.4.0",
            ],
            "has a URL scheme",
        ),
        (
            &[
                "adm",
                "release",
                "import-manifest",
                "--image",
                "registry.example.com/acp/release:4.4.0",
                "--version",
                "4.4.0",
            ],
            "cannot be used with",
        ),
        (&["adm", "release", "push", "--file", file], "--to <REF>"),
    ] {
        let out = ac(args);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_reference_the_bundle_version_makes_too_long_is_a_usage_error_found_at_run_time() {
    // References hold at most 1024 characters. The repository passes on its own; tagged with this
    // bundle's version it does not.
    let repository = format!("registry.example.com/acp/{}", "r".repeat(980));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rc.yaml");
    std::fs::write(
        &file,
        sample_text().replace("\nversion: 4.4.0\n", "\nversion: 4.4.0-rc.1.build.20260301\n"),
    )
    .unwrap();
    let out = ac(&[
        "adm",
        "release",
        "push",
        "--file",
        file.to_str().unwrap(),
        "--to",
        &repository,
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("longer than 1024 characters"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_invalid_or_missing_bundle_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let invalid = dir.path().join("release-4.4.0.yaml");
    std::fs::write(
        &invalid,
        "kind: ProductRelease\nversion: 4.4.0\nkubernetes: {compatible: []}\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.yaml");
    for (file, expected) in [
        (
            &invalid,
            format!(
                "error: cannot publish {}: not a valid release bundle: release 4.4.0: kubernetes.compatible is empty",
                invalid.display()
            ),
        ),
        (
            &missing,
            format!(
                "error: cannot read release bundle {}; check the path given to --file",
                missing.display()
            ),
        ),
    ] {
        let out = ac(&[
            "adm",
            "release",
            "push",
            "--file",
            file.to_str().unwrap(),
            "--to",
            "registry.example.com/acp/release",
        ]);
        assert_exit(&out, 1);
        assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
    }
}

// --- against a real registry ---

#[test]
fn pushed_sample_shows_as_a_table_and_round_trips_byte_for_byte() {
    let Some(registry) = Registry::start() else { return };
    let pinned = push_sample(&registry);
    // A bare repository is published under the bundle's version.
    let tagged = format!("{}/acp/release:4.4.0", registry.host());
    let digest = pinned
        .strip_prefix(&format!("{tagged}@"))
        .unwrap_or_else(|| panic!("{pinned} is not {tagged}@DIGEST"))
        .to_owned();
    assert!(digest.starts_with("sha256:"), "{digest}");

    // The table is the page rendered from the file, in this registry with this digest.
    let out = ac(&["adm", "release", "show", &tagged]);
    assert_exit(&out, 0);
    let table = stdout(&out)
        .replace(registry.host(), FAKE_REGISTRY)
        .replace(&digest, FAKE_DIGEST);
    assert_snapshot("release-show.txt", &table);
    assert!(
        stdout(&out).starts_with(&format!("Release bundle:       {pinned}\n")),
        "{}",
        stdout(&out)
    );

    // -o yaml: the file exactly as written, comments included; by tag and by digest alone.
    for reference in [
        tagged.clone(),
        format!("{}/acp/release@{digest}", registry.host()),
    ] {
        let out = ac(&["adm", "release", "show", &reference, "-o", "yaml"]);
        assert_exit(&out, 0);
        assert_eq!(out.stdout, std::fs::read(sample_path()).unwrap(), "{reference}");
    }

    // -o json: the release, as the operator would load it.
    let out = ac(&["adm", "release", "show", &pinned, "-o", "json"]);
    assert_exit(&out, 0);
    let shown: ProductRelease = serde_json::from_slice(&out.stdout).unwrap();
    let expected = Catalogue::from_yaml(&sample_text()).unwrap();
    assert_eq!(&shown, expected.latest().unwrap());

    // Pushing the same file again publishes the same content.
    assert_eq!(push_sample(&registry), pinned);
}

#[test]
fn push_to_a_tag_checks_that_a_version_tag_names_the_bundle_version() {
    let Some(registry) = Registry::start() else { return };
    let file = sample_path();
    let push_to = |to: &str| {
        ac(&[
            "adm",
            "release",
            "push",
            "--file",
            file.to_str().unwrap(),
            "--to",
            &format!("{}/{to}", registry.host()),
        ])
    };

    let out = push_to("acp/release:candidate");
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with(&format!(
            "Pushed ACP 4.4.0 to {}/acp/release:candidate@sha256:",
            registry.host()
        )),
        "{}",
        stdout(&out)
    );

    let out = push_to("acp/release:4.3.1");
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(&format!(
            "holds version 4.4.0, but its tag says 4.3.1; publish each release under its own version tag \
             (`ac adm release push --to {}/acp/release:4.4.0`)",
            registry.host()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn show_of_a_missing_bundle_says_how_to_publish_it() {
    let Some(registry) = Registry::start() else { return };
    push_sample(&registry);
    for missing in ["acp/release:4.4.1", "acp/elsewhere:4.4.0"] {
        let missing = format!("{}/{missing}", registry.host());
        let out = ac(&["adm", "release", "show", &missing]);
        assert_exit(&out, 1);
        assert_eq!(
            stderr(&out),
            format!(
                "error: release bundle {missing} not found: push it with `ac adm release push --file \
                 BUNDLE.yaml --to {missing}`, or check the registry, repository and tag\n"
            )
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn registry_logins_come_from_the_registry_config_or_the_docker_config() {
    let Some(registry) = Registry::start_with_basic_auth("acp-publisher", "s3cret-pass") else {
        return;
    };
    let host = registry.host();
    let file = sample_path();
    let push_args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "adm",
            "release",
            "push",
            "--file",
            file.to_str().unwrap(),
            "--to",
            &format!("{host}/acp/release"),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        args.extend(extra.iter().map(ToString::to_string));
        args
    };
    let run = |args: &[String], docker_config: &Path| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ac_with(&args, &[("DOCKER_CONFIG", docker_config)])
    };
    let no_logins = tempfile::tempdir().unwrap();

    // Anonymous: refused, with the flag that fixes it.
    let out = run(&push_args(&[]), no_logins.path());
    assert_exit(&out, 1);
    let message = stderr(&out);
    assert!(
        message.contains(&format!("registry {host} refused access")),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "with ac, pass --registry-config FILE holding a login for {host}"
        )),
        "{message}"
    );

    // --registry-config: a docker config.json with a login for this registry.
    let auth = base64::engine::general_purpose::STANDARD.encode("acp-publisher:s3cret-pass");
    let logins = tempfile::tempdir().unwrap();
    let config = logins.path().join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    let out = run(
        &push_args(&["--registry-config", config.to_str().unwrap()]),
        no_logins.path(),
    );
    assert_exit(&out, 0);

    // Without the flag, the docker config ($DOCKER_CONFIG/config.json) is used.
    let show = [
        "adm".to_owned(),
        "release".into(),
        "show".into(),
        format!("{host}/acp/release:4.4.0"),
    ];
    let out = run(&show, logins.path());
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("Version:              ACP 4.4.0"));

    // A registry config that cannot be read is named.
    let out = run(
        &push_args(&["--registry-config", "/nonexistent/config.json"]),
        no_logins.path(),
    );
    assert_exit(&out, 1);
    assert!(
        stderr(&out).starts_with(
            "error: cannot read registry config /nonexistent/config.json; check the path given to --registry-config"
        ),
        "{}",
        stderr(&out)
    );

    // A broken default docker config is ignored with a warning: the push then goes anonymously.
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("config.json"), "{not json").unwrap();
    let out = run(&show, broken.path());
    assert_exit(&out, 1);
    let message = stderr(&out);
    assert!(
        message.starts_with(&format!(
            "warning: ignoring the registry logins in {}",
            broken.path().join("config.json").display()
        )),
        "{message}"
    );
    assert!(message.contains("refused access"), "{message}");
}
