//! The users' CI workflow, `.github/workflows/e2e.yaml`, checked here where no Docker runs: actionlint (and
//! the shellcheck it runs on each step's script) accepts it; `scripts/kind-up.sh` creates exactly the
//! clusters that the suites the workflow runs on existing clusters, and the workflow's own steps, ask for
//! (`tests/e2e/kind-clusters`, read by both); those suites call nothing the kit refuses on existing clusters;
//! and every suite is either run there or listed in the workflow as not run there.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

const WORKFLOW: &str = ".github/workflows/e2e.yaml";
/// The kit's calls that only its own control planes allow.
const LOCAL_ONLY_CALLS: [&str; 4] = ["restart_at(", ".stop()", "create_node(", "start_again("];

fn repo_file(path: &str) -> String {
    let path = acp_testkit::repo_root().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The `run` text and `env` of the workflow step whose name starts with `name`.
fn step(workflow: &Value, name: &str) -> Value {
    workflow["jobs"]["kind"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with(name)))
        .unwrap_or_else(|| panic!("{WORKFLOW} has no step named {name:?}"))
        .clone()
}

/// The source of a suite: its file, or its directory's files.
fn suite_source(module: &str) -> String {
    let dir = acp_testkit::repo_root().join("tests/e2e/tests");
    let mut files: Vec<PathBuf> = vec![dir.join(format!("{module}.rs"))];
    if let Ok(entries) = std::fs::read_dir(dir.join(module)) {
        files.extend(entries.map(|e| e.unwrap().path()));
    }
    files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The string literals that follow `call` in `source`, e.g. the names in `cluster("global")`.
fn literals_after(source: &str, call: &str) -> BTreeSet<String> {
    source
        .match_indices(call)
        .filter_map(|(at, _)| {
            let rest = &source[at + call.len()..];
            rest.split('"').next().map(str::to_owned)
        })
        .collect()
}

/// The clusters a suite asks the kit for, by name.
fn clusters_asked_for(source: &str) -> BTreeSet<String> {
    let mut names = literals_after(source, "ClusterSpec::new(\"");
    names.extend(literals_after(source, "cluster(\""));
    names
}

#[test]
fn actionlint_accepts_the_workflows() {
    let actionlint = acp_testkit::repo_root().join("target/tools/actionlint");
    assert!(
        actionlint.exists(),
        "{} is missing: build it with `bash scripts/tools.sh actionlint` (make test does)",
        actionlint.display()
    );
    let out = std::process::Command::new(&actionlint)
        .current_dir(acp_testkit::repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "actionlint rejects the workflows:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kind_up_creates_exactly_the_clusters_the_external_suites_ask_for() {
    let text = repo_file(WORKFLOW);
    let workflow: Value = serde_saphyr::from_str(&text).unwrap();

    let run = step(&workflow, "End-to-end suites that run on existing clusters");
    let external: BTreeSet<String> = run["run"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .filter_map(|word| word.trim_matches('"').strip_suffix("::").map(str::to_owned))
        .collect();
    assert!(
        !external.is_empty(),
        "{WORKFLOW} runs no suite on the kind clusters"
    );
    let local_only: BTreeSet<String> =
        step(&workflow, "Suites not run on kind clusters")["env"]["LOCAL_ONLY_SUITES"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect();

    // Every suite is either run on the kind clusters or listed as not run there, never both.
    let suites: BTreeSet<String> = repo_file("tests/e2e/tests/main.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned))
        .collect();
    let listed: BTreeSet<String> = external.union(&local_only).cloned().collect();
    assert_eq!(
        listed, suites,
        "add each suite of tests/e2e/tests/main.rs to the workflow's external run or LOCAL_ONLY_SUITES"
    );
    assert!(
        external.is_disjoint(&local_only),
        "suites both run on kind and listed as not run: {:?}",
        external.intersection(&local_only).collect::<Vec<_>>()
    );

    // The clusters the external suites and the workflow's own steps ask for: exactly what kind-up creates.
    let mut asked = BTreeSet::new();
    for suite in &external {
        let source = suite_source(suite);
        for call in LOCAL_ONLY_CALLS {
            assert!(
                !source.contains(call),
                "suite {suite} calls {call}, which existing clusters refuse: move it to LOCAL_ONLY_SUITES"
            );
        }
        // acp_e2e::operator::start gives every cluster a fake node (create_node).
        assert!(
            !source
                .match_indices("start([")
                .any(|(at, _)| !source[..at].ends_with("::")),
            "suite {suite} starts clusters with fake nodes (operator::start): move it to LOCAL_ONLY_SUITES"
        );
        asked.extend(clusters_asked_for(&source));
    }
    for (at, _) in text.match_indices("target/kind/") {
        let name = text[at + "target/kind/".len()..]
            .split(['.', '/', ' ', '\n'])
            .next()
            .unwrap();
        if !name.is_empty() {
            asked.insert(name.to_owned());
        }
    }
    let created: BTreeSet<String> = acp_e2e::kind_clusters()
        .into_iter()
        .map(|(role, _)| role)
        .collect();
    assert_eq!(
        created, asked,
        "tests/e2e/kind-clusters (what scripts/kind-up.sh creates) must list exactly the clusters the suites \
         {external:?} and {WORKFLOW} ask for"
    );
    let kind_up = repo_file("scripts/kind-up.sh");
    assert!(
        kind_up.contains("done < tests/e2e/kind-clusters"),
        "scripts/kind-up.sh must read its clusters from tests/e2e/kind-clusters"
    );
}

/// `make demo` builds only the harness's main target (Kubernetes 1.31 to 1.34), not the 1.30 control plane:
/// every Kubernetes version the demo starts or upgrades a cluster to must be one the main target plays.
#[test]
fn make_demo_builds_only_the_control_plane_its_clusters_run() {
    assert!(
        repo_file("scripts/demo.sh").contains("ACP_HARNESS_TARGETS=main bash tests/harness/build.sh"),
        "scripts/demo.sh must build only the harness's main target"
    );
    let demo = repo_file("tests/demo/src/main.rs");
    let minors: Vec<u64> = demo
        .match_indices("\"v1.")
        .filter_map(|(at, _)| demo[at + 4..].split('.').next()?.parse().ok())
        .collect();
    assert!(
        !minors.is_empty(),
        "no Kubernetes version found in tests/demo/src/main.rs"
    );
    assert!(
        minors.iter().all(|&minor| minor > 30),
        "the demo uses Kubernetes 1.30, which only the k8s-1.30 harness target plays: add it to \
         ACP_HARNESS_TARGETS in scripts/demo.sh ({minors:?})"
    );
}
