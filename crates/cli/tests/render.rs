//! What `ac` prints, rendered from fixture objects (tests/fixtures) at a fixed time and compared with the
//! checked-in snapshots (tests/snapshots). `UPDATE_SNAPSHOTS=1 cargo test -p acp-cli --test render`
//! rewrites them; review the diff like code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::assert_snapshot;

use std::path::Path;

use acp_api::k8s::Timestamp;
use acp_api::{ClusterVersionShadow, ProductManifest};
use acp_cli::adm::upgrade::status::{render as render_status, summarize};
use acp_cli::adm::upgrade::{request, show};
use acp_cli::adm::{cluster, release};

/// The time every fixture is looked at.
fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn fixture_text(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cvsh(name: &str) -> ClusterVersionShadow {
    serde_saphyr::from_str(&fixture_text(name)).unwrap()
}

#[test]
fn upgrade_shows_versions_updates_and_why_the_newest_is_blocked() {
    let page = show::render(&cvsh("global-idle.yaml"), now(), false, false, None);
    assert_snapshot("upgrade-blocked.txt", &page);
    assert!(page.contains(
        "Newest update: 4.3.1 is blocked by KubernetesVersionSupported: workload cluster edge-7 runs"
    ));
}

#[test]
fn upgrade_says_the_newest_could_start_now_whatever_the_list_order() {
    let page = show::render(&cvsh("global-could-start.yaml"), now(), true, false, None);
    assert_snapshot("upgrade-could-start.txt", &page);
    assert!(page.contains("Newest update: 4.3.1 could start now"));
}

#[test]
fn upgrade_of_a_cluster_the_operator_has_not_seen_says_so() {
    let page = show::render(&cvsh("edge-new.yaml"), now(), false, false, None);
    assert_snapshot("upgrade-new-cluster.txt", &page);
    assert!(page.contains("not observed yet"));
    assert!(page.contains("No updates available"));
    assert!(page.contains("ac adm release import-manifest --version=V"));
}

#[test]
fn upgrade_shows_an_unreachable_cluster_with_the_reason() {
    let page = show::render(&cvsh("edge-unreachable.yaml"), now(), false, false, None);
    assert!(
        page.contains(
            "unreachable: GET https://10.0.3.1:6443/version: connection refused; last seen at v1.31.9"
        ),
        "{page}"
    );
}

#[test]
fn status_of_a_running_upgrade_has_progress_eta_stages_and_history() {
    let object = cvsh("global-upgrading.yaml");
    let summary = summarize(&object, now());
    assert_eq!(summary.assessment(), "Upgrading");
    assert_eq!((summary.done, summary.total, summary.percent), (4, 7, 57));
    let page = render_status(&object, now(), false, false, false, None);
    assert_snapshot("status-progressing.txt", &page);
    assert!(page.contains("Upgrade:     4.2.5 → 4.3.1"));
    assert!(
        page.contains("ETA:         about 9m (the last upgrade took 21m)"),
        "{page}"
    );
    assert!(page.contains("History (newest 5 of 6; --verbose shows all)"));
}

#[test]
fn status_verbose_shows_all_history_and_operation_messages() {
    let page = render_status(&cvsh("global-upgrading.yaml"), now(), true, true, false, None);
    assert_snapshot("status-verbose.txt", &page);
    assert!(page.contains("4.2.0"));
    assert!(page.contains("1 of 2 replicas updated"));
}

#[test]
fn an_upgrade_taking_much_longer_than_the_last_is_slow_and_overdue() {
    let later: Timestamp = "2026-03-01T12:20:00Z".parse().unwrap();
    let object = cvsh("global-upgrading.yaml");
    assert_eq!(summarize(&object, later).assessment(), "Slow");
    let page = render_status(&object, later, false, false, false, None);
    assert!(page.contains("Assessment:  Slow"), "{page}");
    assert!(
        page.contains("ETA:         overdue: the last upgrade took 21m, this one 32m"),
        "{page}"
    );
}

#[test]
fn status_of_a_stalled_upgrade_says_what_to_fix() {
    let object = cvsh("edge-stalled.yaml");
    let summary = summarize(&object, now());
    assert_eq!(summary.assessment(), "Stalled");
    assert!(summary.is_final());
    let page = render_status(&object, now(), false, false, false, None);
    assert_snapshot("status-stalled.txt", &page);
    // The install record (zero length) is no basis for an ETA.
    assert!(
        page.contains("ETA:         unknown: no completed upgrade to compare with"),
        "{page}"
    );
    assert!(page.contains("Stalled:     RetryDeadlineExceeded: platform-api failed for 30m"));
}

#[test]
fn status_without_preflight_results_never_says_passed() {
    let page = render_status(&cvsh("edge-new.yaml"), now(), false, false, false, None);
    assert_snapshot("status-new-cluster.txt", &page);
    assert!(page.contains("Preflight: no result yet"));
    assert!(!page.to_lowercase().contains("passed"));
    // Nothing is known about its version: not "Completed".
    assert!(page.contains("Assessment:  Unknown"), "{page}");
}

#[test]
fn a_cluster_on_the_newest_release_has_nothing_to_check_rather_than_a_pending_result() {
    let mut object = cvsh("global-idle.yaml");
    let status = object.status.as_mut().unwrap();
    status.available_updates.clear();
    status.preflight = None;
    let page = render_status(&object, now(), false, false, false, None);
    assert!(
        page.contains("Preflight: nothing to check, no newer release is available"),
        "{page}"
    );
    assert!(!page.contains("no result yet"), "{page}");
}

#[test]
fn a_requested_upgrade_that_preflight_failed_is_blocked_with_the_verdict() {
    let mut object = cvsh("global-idle.yaml");
    object.spec.desired_update = Some(acp_api::cvsh::DesiredUpdate::version("4.3.1"));
    let summary = summarize(&object, now());
    assert_eq!(summary.assessment(), "Blocked");
    assert!(!summary.is_final());
    let page = render_status(&object, now(), false, false, false, None);
    assert!(
        page.contains("Preflight:   4.3.1 is blocked by KubernetesVersionSupported: workload cluster edge-7"),
        "{page}"
    );
    let upgrade = show::render(&object, now(), false, false, None);
    assert!(
        upgrade.contains("Desired version:    4.3.1 (requested)"),
        "{upgrade}"
    );
    assert!(upgrade.contains("Requested upgrade: 4.3.1 is blocked by KubernetesVersionSupported"));
}

#[test]
fn an_idle_cluster_is_idle_and_done() {
    let summary = summarize(&cvsh("global-idle.yaml"), now());
    assert_eq!(summary.assessment(), "Idle");
    assert_eq!(summary.percent, 100);
}

#[test]
fn an_idle_unreachable_cluster_reads_idle_and_unreachable_everywhere() {
    let object = cvsh("edge-unreachable.yaml");
    assert_eq!(object.reading().metric_label(), "Idle");
    let page = render_status(&object, now(), false, false, false, None);
    assert!(page.contains("Assessment:  Idle (unreachable)"), "{page}");
    let (state, _) = cluster::cluster_state(&object);
    assert_eq!(state, "Idle (unreachable)");
}

#[test]
fn cluster_list_shows_tier_versions_and_state() {
    let mut clusters = vec![
        cvsh("edge-unreachable.yaml"),
        cvsh("edge-stalled.yaml"),
        cvsh("global-upgrading.yaml"),
        cvsh("edge-new.yaml"),
    ];
    cluster::sort_clusters(&mut clusters);
    let table = cluster::render_list(&clusters, false, false);
    assert_snapshot("cluster-list.txt", &table);
    let first = table.lines().nth(1).unwrap();
    assert!(first.starts_with("global "), "{table}");
    assert!(first.contains("Upgrading to 4.3.1 (57%)"), "{table}");
    let wide = cluster::render_list(&clusters, true, false);
    assert!(wide.contains("connection refused"), "{wide}");
}

#[test]
fn release_list_shows_readiness_newest_first() {
    let mut items: Vec<ProductManifest> = serde_saphyr::from_str(&fixture_text("manifests.yaml")).unwrap();
    release::sort_newest_first(&mut items);
    let table = release::render_list(&items, now(), false, false);
    assert_snapshot("release-list.txt", &table);
    let names: Vec<&str> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ["v4.9.0", "v4.3.1", "v4.3.0", "custom"]);
    assert!(table.contains("not resolved yet"));
}

#[test]
fn import_manifest_accepts_the_same_version_and_refuses_another() {
    let items: Vec<ProductManifest> = serde_saphyr::from_str(&fixture_text("manifests.yaml")).unwrap();
    let v430 = &items[0];
    assert_eq!(
        release::compare_existing(v430, &"v4.3.0".parse().unwrap()),
        release::Existing::Same
    );
    let release::Existing::Conflict(message) = release::compare_existing(v430, &"4.3.2".parse().unwrap())
    else {
        panic!("a different version must be refused");
    };
    assert!(message.starts_with("ProductManifest v4.3.0 already exists with spec.version 4.3.0, not 4.3.2"));
    assert!(message.contains("left unchanged"));
}

// --- the guards of `ac adm upgrade --to/--to-latest/--clear` ---

fn req(kind: request::RequestKind) -> request::Request {
    request::Request {
        kind,
        force: false,
        ignore_window: false,
        allow_explicit: false,
        allow_with_warnings: false,
        accept: vec![],
        allow_not_recommended: false,
    }
}

fn to(version: &str) -> request::Request {
    req(request::RequestKind::To(version.parse().unwrap()))
}

fn refusal(object: &ClusterVersionShadow, request: &request::Request) -> String {
    request::decide(object, request).unwrap_err().0
}

fn patch(object: &ClusterVersionShadow, request: &request::Request) -> (serde_json::Value, Vec<String>) {
    match request::decide(object, request).unwrap() {
        request::Action::Patch { body, warnings, .. } => (body, warnings),
        other => panic!("expected a patch, got {other:?}"),
    }
}

#[test]
fn to_an_available_update_patches_only_desired_update() {
    let (body, warnings) = patch(&cvsh("global-idle.yaml"), &to("v4.3.0"));
    assert_eq!(
        body,
        serde_json::json!({"spec": {"desiredUpdate": {
            "version": "4.3.0", "image": null, "force": null, "ignoreMaintenanceWindow": null, "acceptRisks": null
        }}})
    );
    assert!(warnings.is_empty());
}

#[test]
fn ignoring_the_maintenance_window_is_part_of_the_request() {
    let mut request = to("4.3.0");
    request.ignore_window = true;
    let object = cvsh("global-idle.yaml");
    let (body, _) = patch(&object, &request);
    assert_eq!(body["spec"]["desiredUpdate"]["ignoreMaintenanceWindow"], true);
    let request::Action::Patch { message, .. } = request::decide(&object, &request).unwrap() else {
        panic!("expected a patch");
    };
    assert!(
        message.contains("to 4.3.0 (outside its maintenance window)"),
        "{message}"
    );
    // A later request without the flag withdraws it.
    let (body, _) = patch(&object, &to("4.3.0"));
    assert!(body["spec"]["desiredUpdate"]["ignoreMaintenanceWindow"].is_null());
}

#[test]
fn to_a_version_not_offered_is_refused_listing_the_offers() {
    let message = refusal(&cvsh("global-idle.yaml"), &to("4.4.0"));
    assert!(
        message.contains("4.4.0 is not an available update of cluster global"),
        "{message}"
    );
    assert!(message.contains("available updates: 4.3.1, 4.3.0"), "{message}");
    assert!(message.contains("--allow-explicit-upgrade"), "{message}");

    let mut explicit = to("4.4.0");
    explicit.allow_explicit = true;
    let (body, warnings) = patch(&cvsh("global-idle.yaml"), &explicit);
    assert_eq!(body["spec"]["desiredUpdate"]["version"], "4.4.0");
    assert!(warnings[0].contains("not an available update"), "{warnings:?}");
}

#[test]
fn to_latest_takes_the_highest_version_not_the_first_listed() {
    let (body, _) = patch(
        &cvsh("global-could-start.yaml"),
        &req(request::RequestKind::ToLatest),
    );
    assert_eq!(body["spec"]["desiredUpdate"]["version"], "4.3.1");
}

#[test]
fn to_latest_without_updates_says_a_product_manifest_is_needed() {
    let message = refusal(&cvsh("edge-new.yaml"), &req(request::RequestKind::ToLatest));
    assert!(
        message.starts_with("no updates are available for cluster edge-2"),
        "{message}"
    );
    assert!(
        message.contains("ac adm release import-manifest --version=V"),
        "{message}"
    );
}

#[test]
fn a_degraded_or_reconciling_cluster_is_refused_unless_warnings_are_allowed() {
    let mut object = cvsh("edge-stalled.yaml");
    object.spec.desired_update = None;
    object.status.as_mut().unwrap().available_updates = vec![acp_api::cvsh::Release::version("4.3.2")];
    object.status.as_mut().unwrap().stages.clear();
    object.status.as_mut().unwrap().history.remove(0);
    let message = refusal(&object, &to("4.3.2"));
    assert!(
        message.contains("cluster edge-1 is Degraded (platform-api"),
        "{message}"
    );
    assert!(message.contains("Reconciling"), "{message}");
    assert!(message.contains("--allow-upgrade-with-warnings"), "{message}");

    let mut anyway = to("4.3.2");
    anyway.allow_with_warnings = true;
    anyway.force = true;
    let (body, warnings) = patch(&object, &anyway);
    assert_eq!(body["spec"]["desiredUpdate"]["force"], true);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[1].starts_with("--force"), "{warnings:?}");
    assert!(
        warnings[1]
            .contains("go past failed preflight checks (all but VersionUpgradePath, MaintenanceWindowOpen)"),
        "{warnings:?}"
    );
}

#[test]
fn requesting_the_current_version_is_refused_and_the_same_request_changes_nothing() {
    let mut object = cvsh("global-idle.yaml");
    object
        .status
        .as_mut()
        .unwrap()
        .available_updates
        .push(acp_api::cvsh::Release::version("4.2.5"));
    let message = refusal(&object, &to("4.2.5"));
    assert!(message.contains("already runs 4.2.5"), "{message}");

    object.spec.desired_update = Some(acp_api::cvsh::DesiredUpdate::version("4.3.1"));
    let action = request::decide(&object, &to("4.3.1")).unwrap();
    assert!(
        matches!(action, request::Action::Nothing { ref message } if message.contains("already requested"))
    );
}

#[test]
fn clear_cancels_a_pending_request_and_refuses_once_stages_run() {
    let mut pending = cvsh("global-idle.yaml");
    pending.spec.desired_update = Some(acp_api::cvsh::DesiredUpdate::version("4.3.1"));
    let (body, _) = patch(&pending, &req(request::RequestKind::Clear));
    assert_eq!(body, serde_json::json!({"spec": {"desiredUpdate": null}}));

    let message = refusal(&cvsh("global-upgrading.yaml"), &req(request::RequestKind::Clear));
    assert!(
        message.starts_with("the upgrade of cluster global to 4.3.1 is executing (stage Core, 57% done)"),
        "{message}"
    );

    let nothing = request::decide(&cvsh("global-idle.yaml"), &req(request::RequestKind::Clear)).unwrap();
    assert!(matches!(nothing, request::Action::Nothing { .. }));
}

// --- the judgement of `ac adm cluster register` ---

/// A global cluster at `version`.
fn global_at(version: &str) -> ClusterVersionShadow {
    let mut global = ClusterVersionShadow::new("global", Default::default());
    global.status = Some(acp_api::cvsh::ClusterVersionShadowStatus {
        current: Some(acp_api::cvsh::Release::version(version)),
        ..Default::default()
    });
    global
}

/// ProductManifest v4.4.0, Ready: ACP 4.4.0 manages Kubernetes 1.32–1.35.
fn manifest_4_4(ready: bool) -> ProductManifest {
    serde_saphyr::from_str(&format!(
        r#"
apiVersion: config.alauda.io/v1
kind: ProductManifest
metadata: {{name: v4.4.0}}
spec: {{version: 4.4.0}}
status:
  conditions:
    - {{type: Ready, status: "{ready}", reason: Resolved, message: "Release 4.4.0 resolved", lastTransitionTime: "2026-03-01T11:00:00Z"}}
  release:
    version: 4.4.0
    kubernetes: {{version: v1.35.1, creation: ["1.35"], compatible: ["1.32", "1.33", "1.34", "1.35"]}}
    upgradeFrom: [">=4.3.0, <4.4.0"]
"#,
        ready = if ready { "True" } else { "False" }
    ))
    .unwrap()
}

#[test]
fn register_judges_against_releases_known_only_through_a_ready_product_manifest() {
    let kube = "v1.33.7".parse().unwrap();
    let clusters = [global_at("4.4.0")];
    let (platform, verdict) = cluster::import_verdict(&clusters, &[manifest_4_4(true)], kube).unwrap();
    assert_eq!(platform.to_string(), "4.4.0");
    assert!(!verdict.is_refused(), "{}", verdict.message());
    // A manifest that is not Ready offers nothing: 4.4 is unknown again.
    let (_, verdict) = cluster::import_verdict(&clusters, &[manifest_4_4(false)], kube).unwrap();
    assert!(verdict.is_refused());
    assert!(
        verdict.message().contains("ACP 4.4.0 is not a known release"),
        "{}",
        verdict.message()
    );
    // Without a global version there is nothing to judge against.
    let unknown = [ClusterVersionShadow::new("global", Default::default())];
    let err = cluster::import_verdict(&unknown, &[], kube).unwrap_err();
    assert!(
        err.to_string().contains("platform version is not known yet"),
        "{err}"
    );
}

#[test]
fn both_pages_show_the_maintenance_window_of_a_cluster_that_has_one() {
    use acp_api::maintenance_window::MaintenanceWindowSpec;
    use acp_cli::adm::upgrade::window::{WindowFact, line};
    let fact = WindowFact::Found {
        name: "weekend-nights".into(),
        spec: MaintenanceWindowSpec {
            schedule: "0 22 * * FRI,SAT".into(),
            duration: "6h".into(),
            time_zone: Some("Europe/Berlin".into()),
            exclusions: vec![],
        },
    };
    // 2026-03-01 is a Sunday: the next occurrence is Friday's.
    let window = line(&fact, now());
    assert_eq!(
        window,
        "weekend-nights: closed, opens at 2026-03-06 22:00 CET (in 5d9h)"
    );
    let object = cvsh("global-idle.yaml");
    let page = show::render(&object, now(), false, false, Some(&window));
    assert!(
        page.contains(
            "Maintenance window: weekend-nights: closed, opens at 2026-03-06 22:00 CET (in 5d9h)\n"
        ),
        "{page}"
    );
    let page = render_status(&object, now(), false, false, false, Some(&window));
    assert!(
        page.contains("Window:      weekend-nights: closed, opens at 2026-03-06 22:00 CET (in 5d9h)\n"),
        "{page}"
    );
    // Without a window, no line.
    assert!(!show::render(&object, now(), false, false, None).contains("Maintenance window"));
}

// --- known risks: not-recommended updates, --accept, and the fleet matrix ---

/// The text with every run of spaces made one, so assertions do not depend on column widths.
fn squash(text: &str) -> String {
    text.lines()
        .map(|l| {
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn exposed_to_flannel(object: &mut ClusterVersionShadow) {
    use acp_api::risks::{ConditionalUpdate, ConditionalUpdateRisk, RiskExposure};
    let risk = |name: &str, exposure, evidence: &str| ConditionalUpdateRisk {
        name: name.into(),
        exposure,
        evidence: evidence.into(),
        message: format!("what to do about {name}"),
        url: None,
    };
    object.status.as_mut().unwrap().conditional_updates = vec![ConditionalUpdate {
        release: acp_api::cvsh::Release::version("4.3.1"),
        recommended: false,
        risks: vec![
            risk(
                "FlannelRemoved",
                RiskExposure::Applies,
                "DaemonSet kube-system/kube-flannel-ds is present",
            ),
            risk(
                "Containerd2Baseline",
                RiskExposure::DoesNotApply,
                "none of 3 node(s) has containerRuntimeVersion matching containerd://1.*",
            ),
        ],
    }];
}

#[test]
fn a_not_recommended_update_is_refused_without_allow_not_recommended_and_accepted_by_name() {
    let mut object = cvsh("global-idle.yaml");
    exposed_to_flannel(&mut object);
    let message = refusal(&object, &to("4.3.1"));
    assert!(
        message.starts_with("4.3.1 is not recommended for cluster global: it is exposed to FlannelRemoved (Applies: DaemonSet kube-system/kube-flannel-ds is present)"),
        "{message}"
    );
    assert!(
        message.contains("--to 4.3.1 --allow-not-recommended --accept FlannelRemoved"),
        "{message}"
    );
    // 4.3.0 declares no risks here: still recommended.
    let (body, _) = patch(&object, &to("4.3.0"));
    assert_eq!(body["spec"]["desiredUpdate"]["version"], "4.3.0");

    let mut anyway = to("4.3.1");
    anyway.allow_not_recommended = true;
    let (body, warnings) = patch(&object, &anyway);
    assert_eq!(
        body["spec"]["desiredUpdate"]["acceptRisks"],
        serde_json::Value::Null
    );
    assert!(
        warnings[0].contains("holds it until FlannelRemoved is accepted (--accept FlannelRemoved)"),
        "{warnings:?}"
    );

    anyway.accept = vec!["FlannelRemoved".into()];
    let (body, warnings) = patch(&object, &anyway);
    assert_eq!(
        body["spec"]["desiredUpdate"]["acceptRisks"],
        serde_json::json!(["FlannelRemoved"])
    );
    assert!(warnings.is_empty(), "{warnings:?}");

    anyway.accept = vec!["NoSuchRisk".into()];
    let (_, warnings) = patch(&object, &anyway);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("declares no known risk NoSuchRisk")),
        "{warnings:?}"
    );
}

#[test]
fn upgrade_shows_which_updates_are_recommended_with_the_risk_the_evidence_and_the_fix() {
    let mut object = cvsh("global-idle.yaml");
    exposed_to_flannel(&mut object);
    let page = squash(&show::render(&object, now(), false, false, None));
    assert!(page.contains("VERSION RECOMMENDED"), "{page}");
    assert!(page.contains("4.3.1 no (FlannelRemoved)"), "{page}");
    assert!(page.contains("4.3.0 yes"), "{page}");
    assert!(
        page.contains("4.3.1 FlannelRemoved Applies DaemonSet kube-system/kube-flannel-ds is present"),
        "{page}"
    );
    assert!(
        page.contains("FlannelRemoved: what to do about FlannelRemoved"),
        "{page}"
    );
    assert!(
        !page.contains("Containerd2Baseline: what to do"),
        "a risk that does not apply is not explained: {page}"
    );
    assert!(
        page.contains("--allow-not-recommended --accept FlannelRemoved"),
        "{page}"
    );
    // Without risks the page is unchanged (no RECOMMENDED column).
    let plain = show::render(&cvsh("global-idle.yaml"), now(), false, false, None);
    assert!(!plain.contains("RECOMMENDED"));
}

#[test]
fn the_fleet_matrix_counts_each_risk_across_clusters() {
    use acp_cli::adm::release::risks;
    let mut exposed = cvsh("global-idle.yaml");
    exposed_to_flannel(&mut exposed);
    let other = cvsh("edge-new.yaml");
    let declared = vec![
        (
            "FlannelRemoved".to_string(),
            "migrate to Kube-OVN".to_string(),
            None,
        ),
        (
            "Containerd2Baseline".to_string(),
            "review containerd".to_string(),
            None,
        ),
    ];
    let matrix = risks::matrix(&"4.3.1".parse().unwrap(), &declared, &[exposed, other]);
    let counts: Vec<(&str, usize, usize, usize, usize)> = matrix
        .risks
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.applies,
                r.unknown,
                r.does_not_apply,
                r.not_evaluated,
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("FlannelRemoved", 1, 0, 0, 1),
            ("Containerd2Baseline", 0, 0, 1, 1)
        ]
    );
    let text = squash(&risks::render(&matrix, false));
    assert!(
        text.contains("global 4.2.5 FlannelRemoved Applies DaemonSet kube-system/kube-flannel-ds is present"),
        "{text}"
    );
    assert!(text.contains("edge-2"), "{text}");
    assert!(text.contains("NotEvaluated"), "{text}");
    assert!(
        text.contains("FlannelRemoved: 1 applies, 0 unknown, 0 does not apply, 1 not evaluated"),
        "{text}"
    );
    let json = serde_json::to_value(&matrix).unwrap();
    assert_eq!(json["clusters"][0]["risks"][0]["exposure"], "Applies");
    assert_eq!(json["risks"][1]["doesNotApply"], 1);
}
