//! Every row and rule of REFERENCE.md §1–§3 as table cases, allowed and refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use acp_policy::*;

fn v(s: &str) -> AcpVersion {
    s.parse().unwrap()
}

fn k(s: &str) -> KubeVersion {
    s.parse().unwrap()
}

fn pm(name: &str, kube: &str) -> WorkloadCluster {
    WorkloadCluster::new(name, k(kube), Provisioning::PlatformManaged)
}

fn tp(name: &str, kube: &str) -> WorkloadCluster {
    WorkloadCluster::new(name, k(kube), Provisioning::ThirdParty)
}

fn cat() -> Catalogue {
    Catalogue::builtin()
}

// ---------------------------------------------------------------- upgrade paths (§2)

#[test]
fn supported_upgrade_paths_are_allowed() {
    let c = cat();
    for (from, to) in [
        // to 4.3 from 4.0, 4.1, 4.2
        ("4.0.0", "4.3.0"),
        ("4.0.10", "4.3.1"),
        ("4.1.5", "4.3.1"),
        ("4.2.5", "4.3.0"),
        ("4.2.0", "4.3.1"),
        // to 4.2 from 4.0, 4.1
        ("4.0.9", "4.2.5"),
        ("4.1.0", "4.2.0"),
        ("4.1.5", "4.2.3"),
        // to 4.1 from 4.0 and 3.18
        ("4.0.3", "4.1.0"),
        ("3.18.2", "4.1.5"),
        ("3.18.0", "4.1.0"),
        // any patch to a later patch of the same minor
        ("4.0.0", "4.0.10"),
        ("4.0.9", "4.0.10"),
        ("4.1.0", "4.1.5"),
        ("4.2.1", "4.2.5"),
        ("4.3.0", "4.3.1"),
    ] {
        let verdict = upgrade_path(&c, &v(from), &v(to));
        assert_eq!(verdict.decision(), Decision::Allowed, "{from} → {to}: {verdict}");
        assert_eq!(verdict.reason(), Reason::UpgradePathSupported);
        assert_eq!(verdict.message(), format!("{from} → {to} is a supported upgrade"));
    }
}

#[test]
fn unsupported_upgrade_paths_are_refused_with_the_reason() {
    let c = cat();
    for (from, to, reason) in [
        ("4.3.1", "4.3.0", Reason::Downgrade),
        ("4.3.0", "4.2.5", Reason::Downgrade),
        ("4.1.0", "4.0.10", Reason::Downgrade),
        ("4.3.1", "4.3.1", Reason::SameVersion),
        ("4.0.0", "4.0.0", Reason::SameVersion),
        ("3.18.2", "4.2.0", Reason::UnsupportedUpgradeSource),
        ("3.18.2", "4.3.1", Reason::UnsupportedUpgradeSource),
        ("3.16.0", "4.1.0", Reason::UnsupportedUpgradeSource),
        ("3.18.2", "4.0.5", Reason::UnsupportedUpgradeSource),
        ("4.3.1", "4.4.0", Reason::UnknownRelease),
        ("4.2.5", "4.3.7", Reason::UnknownRelease),
    ] {
        let verdict = upgrade_path(&c, &v(from), &v(to));
        assert!(verdict.is_refused(), "{from} → {to}: {verdict}");
        assert_eq!(verdict.reason(), reason, "{from} → {to}: {verdict}");
    }
}

#[test]
fn refusal_messages_say_what_to_do() {
    let c = cat();
    let down = upgrade_path(&c, &v("4.3.0"), &v("4.2.5"));
    assert_eq!(
        down.message(),
        "ACP 4.2.5 is older than the current version 4.3.0 and ACP never downgrades: choose a release newer than 4.3.0"
    );
    let same = upgrade_path(&c, &v("4.3.1"), &v("v4.3.1"));
    assert!(
        same.message()
            .starts_with("ACP 4.3.1 is already the current version"),
        "{same}"
    );
    let via = upgrade_path(&c, &v("3.18.2"), &v("4.3.1"));
    assert_eq!(
        via.message(),
        "ACP 4.3.1 cannot be reached directly from 3.18.2 (it accepts >=4.0.0, <4.3.1): upgrade to 4.1.5 first, \
         then to 4.3.1"
    );
    let unknown = upgrade_path(&c, &v("4.3.1"), &v("4.4.0"));
    assert!(
        unknown
            .message()
            .contains("ac adm release import-manifest --version 4.4.0"),
        "{unknown}"
    );
}

// ---------------------------------------------------------------- global gate (§1, §2)

#[test]
fn to_4_3_keeps_workload_clusters_anywhere_in_1_31_to_1_34() {
    let c = cat();
    let fleet = [
        pm("a", "v1.31.14"),
        pm("b", "v1.32.7-1"),
        pm("c", "v1.33.7"),
        pm("d", "v1.34.5"),
    ];
    for from in ["4.0.10", "4.1.5", "4.2.5"] {
        let verdict = global_gate(&c, &v(from), &v("4.3.1"), &fleet);
        assert_eq!(verdict.decision(), Decision::Allowed, "{from}: {verdict}");
        assert_eq!(verdict.reason(), Reason::KubernetesVersionsSupported);
    }
}

#[test]
fn to_4_3_refuses_a_1_30_workload_naming_it() {
    let c = cat();
    let fleet = [pm("edge-1", "v1.31.2"), pm("edge-7", "v1.30.9")];
    let verdict = global_gate(&c, &v("4.0.10"), &v("4.3.1"), &fleet);
    assert!(verdict.is_refused());
    assert_eq!(verdict.reason(), Reason::KubernetesBelowCompatibleRange);
    assert_eq!(
        verdict.message(),
        "workload cluster `edge-7` runs Kubernetes 1.30; ACP 4.3.1 accepts 1.31–1.34: upgrade it to 1.31 or later first"
    );
    assert_eq!(verdict.findings().len(), 1);
}

#[test]
fn latest_required_rule_for_targets_up_to_4_2() {
    let c = cat();
    // (from, to, the required minor, a cluster on it, one below it, ones on a newer minor the target
    // accepts: "latest" means the newest common minor or later, never "exactly it")
    for (from, to, required, ok, bad, newer) in [
        (
            "4.0.10",
            "4.1.5",
            "1.31",
            "v1.31.14",
            "v1.30.4",
            &["v1.32.11"][..],
        ),
        ("4.1.5", "4.2.5", "1.32", "v1.32.11", "v1.31.3", &["v1.33.7"]),
        (
            "4.0.9",
            "4.2.0",
            "1.31",
            "v1.31.14",
            "v1.29.1",
            &["v1.32.4", "v1.33.7"],
        ),
        ("4.1.0", "4.1.5", "1.32", "v1.32.7", "v1.30.0", &[]),
        ("4.2.0", "4.2.5", "1.33", "v1.33.7", "v1.32.11", &[]),
    ] {
        let verdict = global_gate(&c, &v(from), &v(to), &[pm("a", ok), pm("b", ok)]);
        assert_eq!(verdict.decision(), Decision::Allowed, "{from} → {to}: {verdict}");
        assert!(
            verdict
                .message()
                .contains(&format!("platform-managed on {required}")),
            "{verdict}"
        );

        for kube in newer {
            let verdict = global_gate(&c, &v(from), &v(to), &[pm("a", ok), pm("ahead", kube)]);
            assert_eq!(
                verdict.decision(),
                Decision::Allowed,
                "{from} → {to} with a workload on {kube}, newer than {required} and accepted by {to}: {verdict}"
            );
        }

        let verdict = global_gate(&c, &v(from), &v(to), &[pm("a", ok), pm("lagging", bad)]);
        assert!(verdict.is_refused(), "{from} → {to}: {verdict}");
        assert_eq!(verdict.reason(), Reason::KubernetesNotLatestCompatible);
        assert!(
            verdict
                .message()
                .starts_with("workload cluster `lagging` runs Kubernetes"),
            "{verdict}"
        );
        assert!(
            verdict
                .message()
                .ends_with(&format!("upgrade it to {required} first")),
            "{verdict}"
        );
    }
}

#[test]
fn latest_required_4_1_to_4_2_refuses_1_31_even_though_4_2_accepts_it() {
    let c = cat();
    let verdict = global_gate(&c, &v("4.1.5"), &v("4.2.5"), &[pm("edge-3", "v1.31.14")]);
    assert!(verdict.is_refused());
    assert_eq!(
        verdict.message(),
        "workload cluster `edge-3` runs Kubernetes 1.31; before the global cluster moves from ACP 4.1.5 to 4.2.5, every \
         platform-managed workload cluster must run 1.32, the newest minor both releases accept: upgrade it to 1.32 \
         first"
    );
}

#[test]
fn a_release_can_state_its_global_rule_explicitly() {
    let mut c = cat();
    // A 4.4 that keeps the old "latest required" rule: 4.3 → 4.4 requires 1.34.
    c.merge(
        Catalogue::from_yaml(
            "kind: ProductRelease\nversion: 4.4.0\nkubernetes: {creation: [\"1.35\"], compatible: [\"1.35\", \
             \"1.34\", \"1.33\", \"1.32\"], globalUpgradeRule: LatestCompatibleRequired}\nupgradeFrom: \
             [\">=4.1.0, <4.4.0\"]\n",
        )
        .unwrap(),
    );
    let verdict = global_gate(&c, &v("4.3.1"), &v("4.4.0"), &[pm("a", "v1.33.1")]);
    assert_eq!(
        verdict.reason(),
        Reason::KubernetesNotLatestCompatible,
        "{verdict}"
    );
    assert!(verdict.message().contains("must run 1.34"), "{verdict}");

    // The same release stated as within-range accepts 1.33.
    let mut c = cat();
    c.merge(
        Catalogue::from_yaml(
            "kind: ProductRelease\nversion: 4.4.0\nkubernetes: {creation: [\"1.35\"], compatible: [\"1.35\", \
             \"1.34\", \"1.33\", \"1.32\"], globalUpgradeRule: WithinCompatibleRange}\nupgradeFrom: \
             [\">=4.1.0, <4.4.0\"]\n",
        )
        .unwrap(),
    );
    assert!(global_gate(&c, &v("4.3.1"), &v("4.4.0"), &[pm("a", "v1.33.1")]).passed());
    assert!(global_gate(&c, &v("4.3.1"), &v("4.4.0"), &[pm("a", "v1.31.1")]).is_refused());
}

#[test]
fn third_party_range_of_4_3() {
    let c = cat();
    for (kube, decision) in [
        ("v1.19.0", Decision::AllowedWithWarnings),
        ("v1.27.3-eks-4f3a2b1", Decision::AllowedWithWarnings),
        ("v1.31.0+k3s1", Decision::Allowed),
        ("v1.34.9", Decision::Allowed),
        ("v1.18.20", Decision::Refused),
        ("v1.18.0", Decision::Refused),
        ("v1.35.0", Decision::Refused),
    ] {
        let verdict = global_gate(&c, &v("4.2.5"), &v("4.3.1"), &[tp("imported", kube)]);
        assert_eq!(verdict.decision(), decision, "{kube}: {verdict}");
        let imported = import_gate(&c, &v("4.3.1"), k(kube));
        assert_eq!(imported.decision(), decision, "import {kube}: {imported}");
    }
    let refused = global_gate(&c, &v("4.2.5"), &v("4.3.1"), &[tp("legacy", "v1.18.20")]);
    assert_eq!(refused.reason(), Reason::ThirdPartyOutsideRange);
    assert_eq!(
        refused.message(),
        "third-party cluster `legacy` runs Kubernetes v1.18.20; ACP 4.3.1 manages third-party clusters on Kubernetes \
         >=1.19.0, <1.35.0: upgrade it into that range or detach it first"
    );
    let warned = global_gate(
        &c,
        &v("4.2.5"),
        &v("4.3.1"),
        &[tp("eks-old", "v1.27.3-eks-4f3a2b1")],
    );
    assert_eq!(warned.reason(), Reason::ThirdPartyOutsideCompatibleList);
    assert!(warned.passed() && warned.has_warnings());
    assert!(
        warned
            .message()
            .contains("`eks-old` runs Kubernetes v1.27.3, inside the third-party range"),
        "{warned}"
    );
}

#[test]
fn third_party_clusters_are_not_held_to_the_latest_required_rule_but_to_the_compatible_list_without_a_range()
{
    let c = cat();
    // 4.2 publishes no third-party range: a compatible minor is accepted, anything else refused.
    assert!(global_gate(&c, &v("4.1.5"), &v("4.2.5"), &[tp("k3s", "v1.30.2+k3s1")]).passed());
    let verdict = global_gate(&c, &v("4.1.5"), &v("4.2.5"), &[tp("k3s", "v1.27.2+k3s1")]);
    assert_eq!(verdict.reason(), Reason::ThirdPartyOutsideRange);
    assert!(
        verdict
            .message()
            .contains("ACP 4.2.5 publishes no third-party range"),
        "{verdict}"
    );
}

#[test]
fn newer_than_the_target_is_refused_too() {
    let c = cat();
    let verdict = global_gate(&c, &v("4.2.5"), &v("4.3.1"), &[pm("future", "v1.35.0")]);
    assert_eq!(verdict.reason(), Reason::KubernetesAboveCompatibleRange);
    assert!(
        verdict
            .message()
            .contains("newer than ACP 4.3.1 accepts (1.31–1.34)"),
        "{verdict}"
    );
    // Under the latest-required rule too: newer than the required minor is fine only while the target
    // accepts it.
    let verdict = global_gate(&c, &v("4.0.10"), &v("4.1.5"), &[pm("future", "v1.33.2")]);
    assert_eq!(
        verdict.reason(),
        Reason::KubernetesAboveCompatibleRange,
        "{verdict}"
    );
}

#[test]
fn many_offenders_are_counted_and_the_list_capped() {
    let c = cat();
    let mut fleet: Vec<WorkloadCluster> = (0..47).map(|i| pm(&format!("old-{i:02}"), "v1.30.1")).collect();
    fleet.push(pm("fine", "v1.33.0"));
    let verdict = global_gate(&c, &v("4.2.5"), &v("4.3.1"), &fleet);
    assert!(
        verdict
            .message()
            .starts_with("47 workload clusters run Kubernetes versions [`old-00` (1.30), "),
        "{verdict}"
    );
    assert!(
        verdict.message().contains("`old-09` (1.30) and 37 more]"),
        "{verdict}"
    );
    assert!(!verdict.message().contains("old-10"));
    assert!(
        verdict.message().ends_with("upgrade them to 1.31 or later first"),
        "{verdict}"
    );
}

#[test]
fn mixed_offences_each_get_a_finding() {
    let c = cat();
    let fleet = [
        pm("old", "v1.29.0"),
        pm("new", "v1.35.1"),
        tp("ancient", "v1.17.0"),
        tp("eks", "v1.25.0"),
    ];
    let verdict = global_gate(&c, &v("4.2.5"), &v("4.3.1"), &fleet);
    let reasons: Vec<Reason> = verdict.findings().iter().map(|f| f.reason).collect();
    assert_eq!(
        reasons,
        [
            Reason::KubernetesBelowCompatibleRange,
            Reason::KubernetesAboveCompatibleRange,
            Reason::ThirdPartyOutsideRange,
            Reason::ThirdPartyOutsideCompatibleList
        ]
    );
    assert!(verdict.is_refused());
    assert!(
        verdict.message().contains("; also: third-party cluster `eks`"),
        "{verdict}"
    );
}

#[test]
fn global_gate_refuses_unknown_releases_and_no_workloads_pass() {
    let c = cat();
    assert_eq!(
        global_gate(&c, &v("4.3.1"), &v("4.4.0"), &[]).reason(),
        Reason::UnknownRelease
    );
    // Latest-required needs the current release's data.
    assert_eq!(
        global_gate(&c, &v("3.16.0"), &v("4.1.0"), &[]).reason(),
        Reason::UnknownRelease
    );
    let empty = global_gate(&c, &v("4.2.5"), &v("4.3.1"), &[]);
    assert!(empty.passed());
    assert!(empty.message().contains("no workload clusters"), "{empty}");
}

// ---------------------------------------------------------------- workload gate (§3)

#[test]
fn workload_gate_waits_for_the_global_tier_including_the_dr_standby() {
    let c = cat();
    let edge = pm("edge-7", "v1.32.7");
    let target = v("4.3.1");
    for (primary, standby, current, reasons) in [
        ("4.3.1", None, "4.2.5", vec![]),
        ("4.3.1", Some("4.3.1"), "4.2.5", vec![]),
        ("4.3.1", Some("4.3.1"), "4.0.10", vec![]),
        ("4.2.5", None, "4.2.0", vec![Reason::GlobalTierBehind]),
        ("4.3.1", Some("4.2.5"), "4.2.5", vec![Reason::GlobalStandbyBehind]),
        (
            "4.2.5",
            Some("4.2.5"),
            "4.2.0",
            vec![Reason::GlobalStandbyBehind, Reason::GlobalTierBehind],
        ),
        ("4.3.1", None, "4.3.1", vec![Reason::WorkloadNotBelowGlobal]),
    ] {
        let tier = GlobalTier::new(v(primary), standby.map(v));
        let verdict = workload_gate(&c, &tier, &v(current), &target, &edge);
        let got: Vec<Reason> = verdict.findings().iter().map(|f| f.reason).collect();
        assert_eq!(got, reasons, "{primary}/{standby:?}/{current}: {verdict}");
        assert_eq!(verdict.passed(), reasons.is_empty());
    }
    let tier = GlobalTier::new(v("4.3.1"), Some(v("4.2.5")));
    let verdict = workload_gate(&c, &tier, &v("4.2.5"), &target, &edge);
    assert_eq!(
        verdict.message(),
        "the standby global cluster runs ACP 4.2.5: upgrade the standby, then the primary, to 4.3.1 before workload \
         cluster `edge-7`"
    );
    let ok = workload_gate(
        &c,
        &GlobalTier::new(v("4.3.1"), Some(v("4.3.1"))),
        &v("4.2.5"),
        &target,
        &edge,
    );
    assert_eq!(ok.reason(), Reason::GlobalTierReached);
    assert_eq!(
        ok.message(),
        "the global cluster (4.3.1) and its standby (4.3.1) reached ACP 4.3.1; workload cluster `edge-7` may follow \
         from 4.2.5"
    );
}

#[test]
fn the_halves_of_the_workload_gate_judge_only_their_part() {
    let c = cat();
    let target = v("4.3.1");
    // A tier that has not moved, and a Kubernetes the target refuses: each half names only its own.
    let behind = GlobalTier::new(v("4.2.5"), None);
    let old = pm("edge-7", "v1.30.2");
    let tier = global_tier_reached(&behind, "edge-7", &v("4.2.0"), &target);
    assert_eq!(tier.reason(), Reason::GlobalTierBehind, "{tier}");
    assert_eq!(tier.findings().len(), 1, "{tier}");
    let kube = workload_kubernetes(&c, &target, &old);
    assert_eq!(kube.reason(), Reason::KubernetesBelowCompatibleRange, "{kube}");
    assert_eq!(kube.findings().len(), 1, "{kube}");
    let both = workload_gate(&c, &behind, &v("4.2.0"), &target, &old);
    assert_eq!(both.findings().len(), 2, "{both}");

    let reached = GlobalTier::new(v("4.3.1"), None);
    let tier = global_tier_reached(&reached, "edge-7", &v("4.2.0"), &target);
    assert_eq!(tier.reason(), Reason::GlobalTierReached);
    let kube = workload_kubernetes(&c, &target, &pm("edge-7", "v1.33.7"));
    assert_eq!(
        (kube.reason(), kube.message()),
        (
            Reason::KubernetesVersionsSupported,
            "workload cluster `edge-7` runs Kubernetes v1.33.7, which ACP 4.3.1 accepts"
        )
    );
}

#[test]
fn workload_gate_checks_the_workloads_kubernetes_against_the_target() {
    let c = cat();
    let tier = GlobalTier::new(v("4.3.1"), None);
    let run = |w: WorkloadCluster| workload_gate(&c, &tier, &v("4.2.5"), &v("4.3.1"), &w);
    assert!(run(pm("a", "v1.31.0")).passed());
    assert_eq!(
        run(pm("a", "v1.30.0")).reason(),
        Reason::KubernetesBelowCompatibleRange
    );
    assert_eq!(run(tp("b", "v1.18.3")).reason(), Reason::ThirdPartyOutsideRange);
    assert_eq!(run(tp("b", "v1.19.0")).decision(), Decision::AllowedWithWarnings);
}

// ---------------------------------------------------------------- Kubernetes hops and skew

#[test]
fn hops_go_one_minor_at_a_time() {
    let m = |s: &str| s.parse::<KubeMinor>().unwrap();
    assert_eq!(
        kubernetes_hops(m("1.31"), m("1.34")),
        [m("1.32"), m("1.33"), m("1.34")]
    );
    assert_eq!(kubernetes_hops(m("1.33"), m("1.34")), [m("1.34")]);
    assert!(kubernetes_hops(m("1.34"), m("1.34")).is_empty());
    assert!(kubernetes_hops(m("1.34"), m("1.31")).is_empty());
    assert!(kubernetes_hops(m("1.34"), m("2.0")).is_empty());
}

#[test]
fn kubelets_stay_within_three_minors_and_never_ahead() {
    let m = |s: &str| s.parse::<KubeMinor>().unwrap();
    let kubelet = |node: &str, version: &str| Kubelet {
        node: node.into(),
        version: k(version),
    };
    let mut apiservers = vec![m("1.31")];
    apiservers.extend(kubernetes_hops(m("1.31"), m("1.34")));

    let ok = kubelet_skew(&apiservers, &[kubelet("n1", "v1.31.4"), kubelet("n2", "v1.31.0")]);
    assert_eq!(ok.reason(), Reason::KubeletSkewSupported, "{ok}");
    assert!(ok.message().contains("1.31 → 1.32 → 1.33 → 1.34"), "{ok}");

    let old = kubelet_skew(
        &apiservers,
        &[kubelet("n1", "v1.31.4"), kubelet("worker-3", "v1.30.2")],
    );
    assert_eq!(old.reason(), Reason::KubeletTooOld);
    assert_eq!(
        old.message(),
        "node `worker-3` (v1.30.2) runs a kubelet more than 3 minors older than the apiserver will be (1.34): upgrade \
         those kubelets to 1.31 or later first"
    );
    let new = kubelet_skew(&apiservers, &[kubelet("n9", "v1.32.0")]);
    assert_eq!(new.reason(), Reason::KubeletNewerThanApiserver);
    // Without hops the same kubelets are fine.
    assert!(kubelet_skew(&[m("1.31")], &[kubelet("worker-3", "v1.30.2")]).passed());
}

// ---------------------------------------------------------------- available updates

#[test]
fn available_updates_are_reachable_ready_releases_newest_first() {
    let c = cat();
    let ready: Vec<AcpVersion> = [
        "4.3.1", "4.1.5", "4.2.5", "4.3.0", "4.2.0", "4.0.10", "4.3.1", "4.4.0",
    ]
    .iter()
    .map(|s| v(s))
    .collect();
    let updates = available_updates(&c, &v("4.1.0"), &ready);
    assert_eq!(updates, ["4.3.1", "4.3.0", "4.2.5", "4.2.0", "4.1.5"].map(v));
    // Nothing Ready: nothing offered, even though the catalogue knows newer releases.
    assert!(available_updates(&c, &v("4.1.0"), &[]).is_empty());
    // At most 16.
    let all: Vec<AcpVersion> = c.iter().map(|r| r.version.clone()).collect();
    let updates = available_updates(&c, &v("4.0.0"), &all);
    assert_eq!(updates.len(), MAX_AVAILABLE_UPDATES);
    assert_eq!(updates[0], v("4.3.1"));
    assert!(updates.windows(2).all(|w| w[0] > w[1]));
}

// ---------------------------------------------------------------- history pruning

fn entry(version: &str, completed: bool) -> HistoryEntry {
    HistoryEntry {
        version: v(version),
        state: if completed {
            HistoryState::Completed
        } else {
            HistoryState::Partial
        },
    }
}

#[test]
fn history_up_to_the_cap_is_untouched() {
    let entries: Vec<HistoryEntry> = (0..100).map(|i| entry(&format!("4.0.{i}"), true)).collect();
    assert_eq!(prune_history(entries.clone()), entries);
}

#[test]
fn history_pruning_keeps_the_entries_people_look_for() {
    // Newest first: 150 partial attempts on 4.3.x, then completed 4.2 and 4.1 runs, then the install.
    let mut entries = Vec::new();
    for i in 0..150 {
        entries.push(entry(&format!("4.3.{}", 200 - i), false));
    }
    entries.push(entry("4.2.5", true)); // last completed overall, last of 4.2
    for i in 0..30 {
        entries.push(entry(&format!("4.2.{}", 4 - (i % 4)), i % 2 == 0));
    }
    entries.push(entry("4.2.0", true)); // first completed of 4.2
    entries.push(entry("4.1.5", true)); // last of 4.1
    entries.push(entry("4.1.1", true)); // first of 4.1
    entries.push(entry("4.0.0", true)); // installation
    let all = entries.clone();
    let kept = prune_history(entries);
    assert_eq!(kept.len(), MAX_HISTORY);
    // Order preserved.
    let index_of = |e: &HistoryEntry| all.iter().position(|a| a == e).unwrap();
    let idx: Vec<usize> = kept.iter().map(index_of).collect();
    assert!(idx.windows(2).all(|w| w[0] <= w[1]), "order preserved");
    for must in [
        entry("4.0.0", true),
        entry("4.2.5", true),
        entry("4.2.0", true),
        entry("4.1.5", true),
        entry("4.1.1", true),
    ] {
        assert!(kept.contains(&must), "{must:?} kept");
    }
    assert_eq!(&kept[..5], &all[..5], "newest five kept");
    assert_eq!(kept.last(), all.last(), "installation kept");
}
