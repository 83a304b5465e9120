//! `ac adm upgrade rollout …` against a real API server without the operator: the CLI only reads and
//! writes objects. Cluster status and run status are written by the test the way the operator writes
//! them (server-side apply on the status subresource).

use std::process::Stdio;
use std::time::Duration;

use acp_api::names;
use acp_api::rollout::UpgradeRun;
use acp_e2e::cli::{ac, ac_path, cvsh_api, platform, write_status};
use acp_e2e::create_cvsh;
use acp_e2e::operator::apply;
use acp_testkit::Cluster;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Canary stage (two clusters at once), then the main stage: one canary, batches of two, behind an
/// approval gate after it.
pub fn waves() -> Value {
    json!({
        "stages": [
            {"name": "canary", "selector": {"matchLabels": {"ring": "canary"}}, "maxConcurrency": 2},
            {"name": "main", "selector": {"matchLabels": {"ring": "main"}}, "canaries": 1, "maxConcurrency": 2,
             "afterGates": [{"type": "Approval"}]},
        ],
    })
}

pub async fn apply_strategy(global: &Cluster, name: &str, spec: Value) {
    apply(
        global,
        &json!({
            "apiVersion": names::ROLLOUT_API_VERSION, "kind": "UpgradeStrategy",
            "metadata": {"name": name, "namespace": names::NAMESPACE},
            "spec": spec,
        }),
    )
    .await;
}

/// A cluster at `version`, offered `offered`, with labels.
pub async fn workload(global: &Cluster, name: &str, labels: Value, version: &str, offered: &[&str]) {
    create_cvsh(global, name, json!({})).await;
    cvsh_api(global)
        .await
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": labels}})),
        )
        .await
        .unwrap();
    let updates: Vec<Value> = offered.iter().map(|v| json!({"version": v})).collect();
    write_status(
        global,
        name,
        json!({"current": {"version": version}, "availableUpdates": updates}),
    )
    .await;
}

/// global at `global_version`; edge-1 and edge-2 in the canary ring (edge-2 already asked for
/// another version), edge-3..5 in the main ring (edge-4's preflight fails for 4.3.1, edge-5 is not
/// offered 4.3.1), edge-9 in no ring.
pub async fn fleet(global: &Cluster, global_version: &str) {
    create_cvsh(global, "global", json!({})).await;
    write_status(global, "global", json!({"current": {"version": global_version}})).await;
    let canary = json!({"ring": "canary"});
    let main = json!({"ring": "main"});
    workload(global, "edge-1", canary.clone(), "4.2.5", &["4.3.1"]).await;
    workload(global, "edge-2", canary, "4.2.5", &["4.3.1"]).await;
    create_cvsh(global, "edge-2", json!({"desiredUpdate": {"version": "4.2.9"}})).await;
    workload(global, "edge-3", main.clone(), "4.2.5", &["4.3.1"]).await;
    workload(global, "edge-4", main.clone(), "4.2.5", &["4.3.1"]).await;
    write_status(
        global,
        "edge-4",
        json!({"current": {"version": "4.2.5"}, "availableUpdates": [{"version": "4.3.1"}],
               "preflight": {"targetVersion": "4.3.1", "checks": [
                   {"name": "KubernetesVersionSupported", "policy": "Always", "state": "Failed",
                    "reason": "KubernetesBelowCompatibleRange", "message": "edge-4 runs Kubernetes v1.30.2"}]}}),
    )
    .await;
    workload(global, "edge-5", main, "4.2.5", &[]).await;
    workload(global, "edge-9", json!({}), "4.2.5", &["4.3.1"]).await;
}

/// The cells of the table row of `cluster`, joined by single spaces.
fn row(page: &str, cluster: &str) -> String {
    page.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cells| cells.contains(&cluster))
        .map(|cells| cells.join(" "))
        .unwrap_or_else(|| panic!("no row for {cluster}:\n{page}"))
}

async fn runs(global: &Cluster) -> Api<UpgradeRun> {
    Api::namespaced(global.client().await.unwrap(), names::NAMESPACE)
}

#[tokio::test]
async fn plan_shows_the_batches_and_what_holds_each_cluster_and_writes_nothing() {
    let env = platform([]).await;
    let global = env.cluster("global");
    fleet(global, "4.3.1").await;
    apply_strategy(global, "waves", waves()).await;

    let page = ac(
        global,
        &[
            "adm",
            "upgrade",
            "rollout",
            "plan",
            "--to",
            "4.3.1",
            "--strategy",
            "waves",
        ],
    )
    .await
    .ok()
    .to_owned();
    assert!(
        page.contains("Global tier: global runs 4.3.1: reached 4.3.1"),
        "{page}"
    );
    assert!(
        row(&page, "edge-1").starts_with("canary default 1 edge-1 4.2.5 could start now yes"),
        "{page}"
    );
    assert!(
        row(&page, "edge-2")
            .contains("Blocked (ConflictingRequest): ClusterVersionShadow edge-2 already asks for 4.2.9"),
        "{page}"
    );
    assert!(
        row(&page, "edge-3").starts_with("main default 1 (canary) edge-3 4.2.5 waits for its turn yes"),
        "{page}"
    );
    assert!(
        row(&page, "edge-4")
            .ends_with("4.3.1 is blocked by KubernetesVersionSupported: edge-4 runs Kubernetes v1.30.2"),
        "{page}"
    );
    assert!(
        row(&page, "edge-5").contains("waits for its turn no no preflight result for 4.3.1 yet"),
        "{page}"
    );
    assert!(page.contains("Not selected by any stage: edge-9"), "{page}");

    let json_out = ac(
        global,
        &[
            "adm",
            "upgrade",
            "rollout",
            "plan",
            "--to",
            "4.3.1",
            "--strategy",
            "waves",
            "-o",
            "json",
        ],
    )
    .await
    .ok()
    .to_owned();
    let preview: Value = serde_json::from_str(&json_out).unwrap();
    let starting: Vec<&str> = preview["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["couldStartNow"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(starting, ["edge-1"]);
    assert_eq!(
        preview["plan"]["stages"][1]["groups"][0]["batches"][1]["clusters"],
        json!(["edge-4", "edge-5"])
    );

    // A dry run: no run was created and no cluster was asked to move.
    assert!(
        runs(global)
            .await
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let edge1 = cvsh_api(global).await.get("edge-1").await.unwrap();
    assert_eq!(edge1.spec.desired_update, None);

    // While global is behind, nothing could start and the page says why.
    write_status(global, "global", json!({"current": {"version": "4.2.5"}})).await;
    let page = ac(
        global,
        &[
            "adm",
            "upgrade",
            "rollout",
            "plan",
            "--to",
            "4.3.1",
            "--strategy",
            "waves",
        ],
    )
    .await
    .ok()
    .to_owned();
    assert!(
        page.contains("Global tier: global runs 4.2.5: not at 4.3.1 yet"),
        "{page}"
    );
    assert!(
        row(&page, "edge-1").contains("waits for the global tier"),
        "{page}"
    );
    assert!(page.contains("; 0 could start now."), "{page}");

    // Refusals name what is wrong.
    let stderr = ac(
        global,
        &[
            "adm",
            "upgrade",
            "rollout",
            "plan",
            "--to",
            "4.3.1",
            "--strategy",
            "nope",
        ],
    )
    .await
    .failed_with(1)
    .to_owned();
    assert!(
        stderr.contains("no UpgradeStrategy `nope` in namespace cpaas-system"),
        "{stderr}"
    );
    let file = env.dir().join("bad.yaml");
    std::fs::write(&file, "stages:\n- name: all\n  maxConcurrency: \"150%\"\n").unwrap();
    let stderr = ac(
        global,
        &[
            "adm",
            "upgrade",
            "rollout",
            "plan",
            "--to",
            "4.3.1",
            "-f",
            file.to_str().unwrap(),
        ],
    )
    .await
    .failed_with(1)
    .to_owned();
    assert!(
        stderr.contains("cannot be used: strategy.stages[0].maxConcurrency: \"150%\""),
        "{stderr}"
    );
}

/// A run in the main stage: the canary stage done, edge-3 upgrading, edge-4 blocked, edge-5 pending,
/// two approval gates pending.
fn running_status() -> Value {
    json!({
        "phase": "Running",
        "startedAt": "2026-03-01T09:00:00Z",
        "currentStage": "main",
        "plan": {
            "strategy": {"stages": [
                {"name": "canary", "afterGates": [{"type": "Approval"}]},
                {"name": "main", "beforeGates": [{"type": "Approval"}]},
            ]},
            "stages": [
                {"name": "canary", "groups": [{"name": "default", "maxConcurrency": 2, "batches": [{"clusters": ["edge-1", "edge-2"]}]}]},
                {"name": "main", "groups": [{"name": "default", "maxConcurrency": 2,
                    "batches": [{"clusters": ["edge-3"], "canary": true}, {"clusters": ["edge-4", "edge-5"]}]}]},
            ],
        },
        "clusters": [
            {"name": "edge-1", "state": "Succeeded", "message": "edge-1 runs 4.3.1"},
            {"name": "edge-2", "state": "Skipped", "reason": "SkippedByRequest", "message": "edge-2 is listed in spec.skip"},
            {"name": "edge-3", "state": "Upgrading", "progress": 40, "message": "upgrading to 4.3.1: 40% done"},
            {"name": "edge-4", "state": "Blocked", "reason": "KubernetesVersionSupported",
             "message": "preflight check KubernetesVersionSupported fails: edge-4 runs Kubernetes v1.30.2"},
            {"name": "edge-5", "state": "Pending"},
        ],
        "pendingGates": [{"name": "canary-after", "type": "Approval"}, {"name": "main-before", "type": "Approval"}],
        "counts": {"total": 5, "pending": 1, "waiting": 0, "blocked": 1, "upgrading": 1, "succeeded": 1, "failed": 0, "skipped": 1},
        "conditions": [
            {"type": "Progressing", "status": "True", "reason": "Running", "message": "stage main",
             "lastTransitionTime": "2026-03-01T09:00:00Z"},
        ],
    })
}

async fn write_run_status(global: &Cluster, name: &str, status: Value) {
    let body = json!({"apiVersion": names::ROLLOUT_API_VERSION, "kind": "UpgradeRun", "status": status});
    runs(global)
        .await
        .patch_status(
            name,
            &PatchParams::apply(names::FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn start_approve_pause_resume_skip_and_status_change_and_read_the_run() {
    let env = platform([]).await;
    let global = env.cluster("global");
    fleet(global, "4.3.1").await;
    apply_strategy(global, "waves", waves()).await;
    let rollout = |args: &[&str]| {
        let mut all = vec!["adm", "upgrade", "rollout"];
        all.extend_from_slice(args);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run_ac = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ac(global, &args).await
    };

    // start: by reference, then inline and paused; a strategy that does not resolve creates nothing.
    let stdout = run_ac(rollout(&["start", "--to", "4.3.1", "--strategy", "waves"]))
        .await
        .ok()
        .to_owned();
    assert!(stdout.contains("UpgradeRun upgrade-4-3-1 created"), "{stdout}");
    let run = runs(global).await.get("upgrade-4-3-1").await.unwrap();
    assert_eq!(
        (run.spec.target_version.as_str(), run.spec.strategy_ref.as_deref()),
        ("4.3.1", Some("waves"))
    );
    let stderr = run_ac(rollout(&["start", "--to", "4.3.1", "--strategy", "waves"]))
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("UpgradeRun `upgrade-4-3-1` already exists"),
        "{stderr}"
    );
    let file = env.dir().join("waves.yaml");
    std::fs::write(
        &file,
        serde_json::to_string(
            &json!({"apiVersion": names::ROLLOUT_API_VERSION, "kind": "UpgradeStrategy", "spec": waves()}),
        )
        .unwrap(),
    )
    .unwrap();
    run_ac(rollout(&[
        "start",
        "--to",
        "4.3.1",
        "-f",
        file.to_str().unwrap(),
        "--name",
        "inline",
        "--paused",
    ]))
    .await
    .ok();
    let inline = runs(global).await.get("inline").await.unwrap();
    assert!(inline.spec.paused && inline.spec.strategy_ref.is_none());
    assert_eq!(inline.spec.strategy.unwrap().stages[1].canaries, Some(1));
    let bad = env.dir().join("bad.yaml");
    std::fs::write(&bad, "spec:\n  stages:\n  - name: all\n    soak: forever\n").unwrap();
    let stderr = run_ac(rollout(&[
        "start",
        "--to",
        "4.3.1",
        "-f",
        bad.to_str().unwrap(),
        "--name",
        "bad",
    ]))
    .await
    .failed_with(1)
    .to_owned();
    assert!(
        stderr.contains("spec.stages[0].soak: \"forever\" is not a duration"),
        "{stderr}"
    );
    assert!(runs(global).await.get_opt("bad").await.unwrap().is_none());

    // status renders what the operator wrote.
    write_run_status(global, "upgrade-4-3-1", running_status()).await;
    let page = run_ac(rollout(&["status", "upgrade-4-3-1"]))
        .await
        .ok()
        .to_owned();
    assert!(page.contains("Phase:      Running\n"), "{page}");
    assert!(
        page.contains("Clusters:   2 of 5 done (1 succeeded, 1 skipped, 0 failed)"),
        "{page}"
    );
    assert!(
        row(&page, "edge-3").starts_with("main default 1 (canary) edge-3 Upgrading 40%"),
        "{page}"
    );
    assert!(
        row(&page, "edge-4").contains(
            "Blocked - - KubernetesVersionSupported preflight check KubernetesVersionSupported fails"
        ),
        "{page}"
    );
    assert!(page.contains("canary-after (Approval): approve with `ac adm upgrade rollout approve upgrade-4-3-1 canary-after`"), "{page}");
    let list = run_ac(rollout(&["list"])).await.ok().to_owned();
    assert!(
        row(&list, "upgrade-4-3-1").starts_with("upgrade-4-3-1 4.3.1 Running main 1/5"),
        "{list}"
    );
    assert!(
        row(&list, "inline").starts_with("inline 4.3.1 Pending - 0/0"),
        "{list}"
    );

    // Two approvals at once: neither is lost.
    let (a, b) = tokio::join!(
        run_ac(rollout(&["approve", "upgrade-4-3-1", "canary-after"])),
        run_ac(rollout(&["approve", "upgrade-4-3-1", "main-before"])),
    );
    a.ok();
    b.ok();
    let mut approvals = runs(global)
        .await
        .get("upgrade-4-3-1")
        .await
        .unwrap()
        .spec
        .approvals;
    approvals.sort();
    assert_eq!(approvals, ["canary-after", "main-before"]);
    let stderr = run_ac(rollout(&["approve", "upgrade-4-3-1", "rest-after"]))
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("run upgrade-4-3-1 has no approval gate rest-after; its approval gates are canary-after, main-before"),
        "{stderr}"
    );

    // pause and resume flip spec.paused.
    let stdout = run_ac(rollout(&["pause", "upgrade-4-3-1"])).await.ok().to_owned();
    assert!(stdout.contains("paused run upgrade-4-3-1"), "{stdout}");
    assert!(runs(global).await.get("upgrade-4-3-1").await.unwrap().spec.paused);
    run_ac(rollout(&["resume", "upgrade-4-3-1"])).await.ok();
    assert!(!runs(global).await.get("upgrade-4-3-1").await.unwrap().spec.paused);

    // skip: a pending cluster is skipped; one upgrading or not in the plan is refused.
    run_ac(rollout(&["skip", "upgrade-4-3-1", "edge-5"])).await.ok();
    let stderr = run_ac(rollout(&["skip", "upgrade-4-3-1", "edge-3"]))
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("cluster edge-3 is already started by run upgrade-4-3-1 (Upgrading)"),
        "{stderr}"
    );
    let stderr = run_ac(rollout(&["skip", "upgrade-4-3-1", "edge-9"]))
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("cluster edge-9 is not in the plan of run upgrade-4-3-1"),
        "{stderr}"
    );
    assert_eq!(
        runs(global).await.get("upgrade-4-3-1").await.unwrap().spec.skip,
        ["edge-5"]
    );

    let stderr = run_ac(rollout(&["status", "nope"]))
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains(
            "no UpgradeRun `nope` in namespace cpaas-system; list runs with `ac adm upgrade rollout list"
        ),
        "{stderr}"
    );

    // --watch prints a page per change and ends, exit 1, when the run halts.
    let mut child = tokio::process::Command::new(ac_path())
        .args(["adm", "upgrade", "rollout", "status", "upgrade-4-3-1", "--watch"])
        .env("KUBECONFIG", global.kubeconfig_path())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let mut read_until = async |needle: &str| {
        tokio::time::timeout(Duration::from_secs(60), async {
            while !seen.contains(needle) {
                let Some(line) = lines.next_line().await.unwrap() else {
                    break;
                };
                seen += &line;
                seen += "\n";
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {needle:?} from --watch within 60s:\n{seen}"));
        assert!(seen.contains(needle), "--watch ended before {needle:?}:\n{seen}");
    };
    read_until("Phase:      Running").await;
    let mut progressed = running_status();
    progressed["clusters"][2]["progress"] = json!(80);
    write_run_status(global, "upgrade-4-3-1", progressed.clone()).await;
    read_until("80%").await;
    let mut halted = progressed;
    halted["phase"] = json!("Halted");
    halted["conditions"] = json!([{"type": "Halted", "status": "True", "reason": "CanaryFailed",
        "message": "canary edge-3 failed: stalled", "lastTransitionTime": "2026-03-01T10:00:00Z"}]);
    write_run_status(global, "upgrade-4-3-1", halted).await;
    read_until("Phase:      Halted: CanaryFailed: canary edge-3 failed: stalled").await;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}
