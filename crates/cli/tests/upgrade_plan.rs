//! `ac adm upgrade plan` as a user runs it: the real binary, the shipped sample inventories.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

#[test]
fn ready_inventory_may_proceed() {
    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "deploy/samples/inventory-ready.yaml",
        "--to",
        "4.3.1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains('\x1b'), "no colour off a terminal");
    assert!(
        text.contains("The upgrade to 4.3.1 may proceed: upgrade the standby global cluster first"),
        "{text}"
    );
    assert_snapshot("plan-ready.txt", &text);
}

#[test]
fn blocked_inventory_names_the_1_30_cluster_and_exits_1() {
    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "deploy/samples/inventory-blocked.yaml",
        "--to",
        "v4.3.1",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "workload cluster `edge-7` runs Kubernetes 1.30; ACP 4.3.1 accepts 1.31–1.34: upgrade it to 1.31 or later first"
        ),
        "{text}"
    );
    assert!(
        text.contains("is blocked by KubernetesVersionSupported (global)"),
        "{text}"
    );
    assert_snapshot("plan-blocked.txt", &text);
}

#[test]
fn json_output_carries_every_verdict() {
    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "deploy/samples/inventory-blocked.yaml",
        "--to",
        "4.3.1",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["proceed"], false);
    assert_eq!(plan["target"], "4.3.1");
    assert_eq!(plan["globalUpgradeRule"], "WithinCompatibleRange");
    let gate = &plan["gates"][1];
    assert_eq!(gate["name"], "KubernetesVersionSupported");
    assert_eq!(gate["verdict"]["decision"], "Refused");
    assert_eq!(gate["verdict"]["reason"], "KubernetesBelowCompatibleRange");
    let edge7 = plan["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "edge-7")
        .unwrap();
    assert_eq!(edge7["kubernetesVersion"], "v1.30.14");
    assert_eq!(
        edge7["kubernetesHops"],
        serde_json::json!(["1.31", "1.32", "1.33", "1.34"])
    );
}

#[test]
fn downgrade_and_same_version_are_blocked() {
    for (to, reason) in [("4.2.0", "Downgrade"), ("4.2.5", "SameVersion")] {
        let out = ac(&[
            "adm",
            "upgrade",
            "plan",
            "--inventory",
            "deploy/samples/inventory-ready.yaml",
            "--to",
            to,
        ]);
        assert_eq!(out.status.code(), Some(1), "{to}");
        assert!(stdout(&out).contains(reason), "{to}: {}", stdout(&out));
    }
}

#[test]
fn a_release_file_adds_a_version_the_catalogue_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("4.4.0.yaml");
    std::fs::write(
        &release,
        "kind: ProductRelease\nversion: 4.4.0\nkubernetes:\n  creation: [\"1.35\"]\n  compatible: [\"1.35\", \"1.34\", \
         \"1.33\", \"1.32\"]\n  thirdPartyRange: \">=1.19.0, <1.36.0\"\nupgradeFrom: [\">=4.1.0, <4.4.0\"]\n",
    )
    .unwrap();
    let inventory = dir.path().join("inventory.yaml");
    std::fs::write(
        &inventory,
        "global: {version: 4.3.1}\nworkloads:\n  - {name: a, kubernetesVersion: v1.31.4}\n",
    )
    .unwrap();
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "adm",
            "upgrade",
            "plan",
            "--inventory",
            inventory.to_str().unwrap(),
            "--to",
            "4.4.0",
        ];
        args.extend_from_slice(extra);
        ac(&args)
    };
    let unknown = plan(&[]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stdout(&unknown).contains("UnknownRelease"),
        "{}",
        stdout(&unknown)
    );
    let known = plan(&["--release", release.to_str().unwrap()]);
    assert_eq!(known.status.code(), Some(1), "1.31 is outside 4.4's 1.32–1.35");
    assert!(
        stdout(&known).contains("workload cluster `a` runs Kubernetes 1.31; ACP 4.4.0 accepts 1.32–1.35"),
        "{}",
        stdout(&known)
    );
}

#[test]
fn a_bad_inventory_names_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("broken.yaml");
    std::fs::write(
        &inventory,
        "global: {version: 4.2.5}\nworkloads:\n  - {name: a, kubernetesVersion: one-thirty}\n",
    )
    .unwrap();
    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        inventory.to_str().unwrap(),
        "--to",
        "4.3.1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("broken.yaml is invalid"), "{err}");
    assert!(err.contains("invalid Kubernetes version \"one-thirty\""), "{err}");
    assert!(stdout(&out).is_empty());

    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "does/not/exist.yaml",
        "--to",
        "4.3.1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read inventory file does/not/exist.yaml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "deploy/samples/inventory-ready.yaml",
        "--to",
        "4.x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid ACP version \"4.x\""),
        "{}",
        stderr(&out)
    );
    let out = ac(&["adm", "upgrade", "plan", "--to", "4.3.1"]);
    assert_eq!(out.status.code(), Some(2));
    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "x",
        "--to",
        "4.3.1",
        "-o",
        "xml",
    ]);
    assert_eq!(out.status.code(), Some(2));
}
