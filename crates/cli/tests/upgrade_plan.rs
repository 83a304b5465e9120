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
    // The tier cannot move, so neither can the workload clusters; each step says why.
    assert_eq!(edge7["step"]["state"], "Blocked");
    assert_eq!(edge7["step"]["reason"], "GlobalTierBehind");
    assert_eq!(plan["clusters"][0]["name"], "global");
    assert_eq!(plan["clusters"][0]["step"]["state"], "Blocked");
    assert_eq!(
        plan["clusters"][0]["step"]["reason"],
        "KubernetesBelowCompatibleRange"
    );
}

#[test]
fn a_downgrade_is_blocked_and_the_tiers_own_version_is_done() {
    let plan = |to: &str| {
        ac(&[
            "adm",
            "upgrade",
            "plan",
            "--inventory",
            "deploy/samples/inventory-ready.yaml",
            "--to",
            to,
        ])
    };
    let out = plan("4.2.0");
    assert_exit(&out, 1);
    assert!(stdout(&out).contains("Downgrade"), "{}", stdout(&out));

    // The tier runs 4.2.5 already: done, and the workload clusters that may follow could start now.
    let out = plan("4.2.5");
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(!text.contains("SameVersion"), "{text}");
    assert!(
        text.starts_with("Upgrade plan: ACP 4.2.5, which the global cluster already runs"),
        "{text}"
    );
    assert!(
        text.contains(
            "The global tier already runs 4.2.5: upgrade the workload clusters that could start now"
        ),
        "{text}"
    );
}

#[test]
fn a_fleet_at_the_target_has_nothing_to_do_and_a_fleet_of_blocked_clusters_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.yaml");
    let plan = |text: &str| {
        std::fs::write(&inventory, text).unwrap();
        ac(&[
            "adm",
            "upgrade",
            "plan",
            "--inventory",
            inventory.to_str().unwrap(),
            "--to",
            "4.3.1",
        ])
    };
    let out = plan(
        "global: {version: 4.3.1}\nworkloads:\n  - {name: a, kubernetesVersion: v1.33.7, version: 4.3.1}\n",
    );
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("The whole fleet already runs 4.3.1: nothing to upgrade."),
        "{}",
        stdout(&out)
    );
    let out = plan(
        "global: {version: 4.3.1}\nworkloads:\n  - {name: a, kubernetesVersion: v1.30.14, version: 4.2.5}\n",
    );
    assert_exit(&out, 1);
    assert!(
        stdout(&out).contains(
            "The global tier already runs 4.3.1, but no workload cluster could start now; blocked: `a`: resolve the \
             refusals above, then plan again."
        ),
        "{}",
        stdout(&out)
    );
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

#[test]
fn a_fleet_part_way_continues_from_where_it_stands() {
    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "deploy/samples/inventory-part-way.yaml",
        "--to",
        "4.3.1",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        !text.contains("SameVersion"),
        "a tier at the target is done:\n{text}"
    );
    assert!(!text.contains("once the global tier runs"), "{text}");
    assert!(
        text.contains("the global cluster `global` already runs 4.3.1"),
        "{text}"
    );
    assert!(
        text.contains("the standby global cluster `global-standby` already runs 4.3.1"),
        "{text}"
    );
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"))
            .to_owned()
    };
    assert!(line("edge-beijing").contains("Done"), "{text}");
    for name in ["edge-shanghai", "factory-01"] {
        assert!(line(name).contains("CouldStartNow"), "{text}");
        assert!(line(name).contains("could start now"), "{text}");
    }
    assert!(line("edge-7").contains("Blocked"), "{text}");
    assert!(
        line("edge-7")
            .contains("workload cluster `edge-7` runs Kubernetes 1.30; ACP 4.3.1 accepts 1.31–1.34"),
        "{text}"
    );
    assert!(line("k3s-retail").contains("Blocked"), "{text}");
    assert!(
        text.contains(
            "The global tier already runs 4.3.1: upgrade the workload clusters that could start now (`edge-shanghai` \
             and `factory-01`); blocked: `edge-7` and `k3s-retail`."
        ),
        "{text}"
    );
    assert_snapshot("plan-part-way.txt", &text);

    let out = ac(&[
        "adm",
        "upgrade",
        "plan",
        "--inventory",
        "deploy/samples/inventory-part-way.yaml",
        "--to",
        "4.3.1",
        "-o",
        "json",
    ]);
    assert_exit(&out, 0);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["proceed"], true);
    let states: Vec<(&str, &str)> = plan["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["step"]["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("global-standby", "Done"),
            ("global", "Done"),
            ("edge-beijing", "Done"),
            ("edge-shanghai", "CouldStartNow"),
            ("factory-01", "CouldStartNow"),
            ("edge-7", "Blocked"),
            ("k3s-retail", "Blocked"),
        ]
    );
    let global = &plan["clusters"][1];
    assert_eq!(global["verdict"]["decision"], "Allowed");
    assert_eq!(global["verdict"]["reason"], "AlreadyAtTarget");
}

#[test]
fn the_primary_follows_a_standby_that_already_moved() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.yaml");
    std::fs::write(
        &inventory,
        "global: {version: 4.2.5, nodes: [{containerRuntimeVersion: containerd://2.0.5}]}\nstandby: {version: \
         4.3.1}\nworkloads:\n  - {name: edge-1, kubernetesVersion: v1.33.7, version: 4.2.5, nodes: \
         [{containerRuntimeVersion: containerd://2.0.5}]}\n",
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
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(!text.contains("SameVersion"), "{text}");
    assert!(
        text.contains("the standby global cluster `global-standby` already runs 4.3.1"),
        "{text}"
    );
    assert!(
        text.contains(
            "The upgrade to 4.3.1 may proceed: the standby global cluster already runs 4.3.1; upgrade the primary; \
             workload clusters follow once the global tier runs 4.3.1."
        ),
        "{text}"
    );
    assert!(
        text.contains("upgradable from 4.2.5 once the global tier runs 4.3.1"),
        "{text}"
    );
}

#[test]
fn clusters_exposed_to_a_known_risk_are_held_until_they_accept_it() {
    let plan = |output: &str| {
        ac(&[
            "adm",
            "upgrade",
            "plan",
            "--inventory",
            "deploy/samples/inventory-risks.yaml",
            "--to",
            "4.3.1",
            "-o",
            output,
        ])
    };
    let out = plan("table");
    // The global tier is exposed to nothing: its step may go ahead.
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(
            "`edge-flannel` is exposed to known risks of ACP 4.3.1: FlannelRemoved (Applies: DaemonSet \
             kube-system/kube-flannel-ds is present)"
        ),
        "{text}"
    );
    assert!(
        text.contains("`acceptRisks: [FlannelRemoved]` for `edge-flannel` in the inventory"),
        "{text}"
    );
    assert!(
        text.contains(
            "accepted known risk Containerd2Baseline (Applies: node worker-1 reports containerRuntimeVersion \
             containerd://1.7.2)"
        ),
        "{text}"
    );
    assert!(
        text.contains("Containerd2Baseline (Unknown: no rule could be evaluated: cannot read the nodes: the inventory gives no `nodes` for `edge-unknown`"),
        "{text}"
    );
    assert_snapshot("plan-risks.txt", &text);

    let out = plan("json");
    assert_exit(&out, 0);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cluster = |name: &str| {
        plan["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    let flannel = cluster("edge-flannel");
    assert_eq!(flannel["step"]["state"], "Blocked");
    assert_eq!(flannel["step"]["reason"], "RisksNotAccepted");
    assert_eq!(flannel["risks"][0]["name"], "FlannelRemoved");
    assert_eq!(flannel["risks"][0]["exposure"], "Applies");
    assert_eq!(flannel["risks"][0]["accepted"], false);
    assert_eq!(flannel["risks"][1]["exposure"], "DoesNotApply");
    let containerd = cluster("edge-containerd");
    assert_eq!(containerd["step"]["state"], "Pending");
    assert_eq!(containerd["risks"][1]["name"], "Containerd2Baseline");
    assert_eq!(containerd["risks"][1]["accepted"], true);
    // From 4.2.5 the Flannel risk no longer applies, whatever the facts.
    assert_eq!(containerd["risks"][0]["exposure"], "DoesNotApply");
    let unknown = cluster("edge-unknown");
    assert_eq!(unknown["step"]["reason"], "RisksNotAccepted");
    assert_eq!(unknown["risks"][1]["exposure"], "Unknown");
    assert_eq!(cluster("global")["step"]["state"], "CouldStartNow");
}

#[test]
fn a_global_cluster_exposed_to_a_known_risk_holds_the_tier_until_it_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inventory.yaml");
    let plan = |text: &str| {
        std::fs::write(&inventory, text).unwrap();
        ac(&[
            "adm",
            "upgrade",
            "plan",
            "--inventory",
            inventory.to_str().unwrap(),
            "--to",
            "4.3.1",
        ])
    };
    let standby =
        "standby: {version: 4.2.5, nodes: [{name: dr-1, containerRuntimeVersion: containerd://1.7.2}]";
    let global = "global: {version: 4.2.5, nodes: [{containerRuntimeVersion: containerd://2.0.5}]}";
    let out = plan(&format!("{global}\n{standby}}}\n"));
    assert_exit(&out, 1);
    let text = stdout(&out);
    assert!(
        text.contains(
            "`global-standby` is exposed to known risks of ACP 4.3.1: Containerd2Baseline (Applies: node dr-1 \
             reports containerRuntimeVersion containerd://1.7.2)"
        ),
        "{text}"
    );
    assert!(
        text.contains("the standby global cluster `global-standby` runs 4.2.5 and cannot move yet"),
        "{text}"
    );
    assert!(
        text.contains("The upgrade to 4.3.1 is blocked by RisksNotAccepted (global-standby), GlobalStandbyBehind (global)"),
        "{text}"
    );

    let out = plan(&format!(
        "{global}\n{standby}, acceptRisks: [Containerd2Baseline]}}\n"
    ));
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains(
            "accepted known risk Containerd2Baseline (Applies: node dr-1 reports containerRuntimeVersion \
             containerd://1.7.2)"
        ),
        "{text}"
    );
    assert!(text.contains("The upgrade to 4.3.1 may proceed"), "{text}");
}
