//! The documented journey with the operator running: `ac adm upgrade` shows what acp-cvo observed,
//! `ac adm release import-manifest --wait` makes a release available, `ac adm upgrade --to-latest` asks for
//! it, `ac adm upgrade status --watch` follows it to Completed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;
mod operator_support;

use acp_testkit::wait_for_some;
use cli_support::{AcOutput, ac};
use operator_support::{LONG, SHORT, cluster, create_cvsh, install_release, run_operator, start};
use serde_json::json;

/// Runs `ac args` until its output satisfies `accept`, returning that output.
async fn ac_until(
    global: &acp_testkit::Cluster,
    args: &[&str],
    what: &str,
    timeout: std::time::Duration,
    accept: impl Fn(&AcOutput) -> bool,
) -> AcOutput {
    let last = std::sync::Mutex::new(String::new());
    let found = wait_for_some(what, timeout, || async {
        let out = ac(global, args).await;
        *last.lock().unwrap() = format!("stdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
        accept(&out).then_some(out)
    })
    .await;
    match found {
        Ok(out) => out,
        Err(err) => panic!("{err}\nlast `ac {}`:\n{}", args.join(" "), last.lock().unwrap()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_request_and_watch_an_upgrade_to_completion() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    install_release(global, "4.3.0").await;
    create_cvsh(global, "global", json!({})).await;
    let _operator = run_operator(&env, "4.3.0", "replica-a");

    // What acp-cvo observed, and no updates until a release is imported.
    let out = ac_until(
        global,
        &["adm", "upgrade"],
        "the global cluster at 4.3.0",
        LONG,
        |o| o.code == Some(0) && o.stdout.contains("Current version:    4.3.0") && o.stdout.contains("v1.34"),
    )
    .await;
    assert!(out.stdout.contains("No updates available"), "{}", out.stdout);
    let stderr = ac(global, &["adm", "upgrade", "--to-latest"])
        .await
        .failed_with(1)
        .to_owned();
    assert!(
        stderr.contains("ac adm release import-manifest --version=V"),
        "{stderr}"
    );

    // Import 4.3.1 and wait until acp-cvo resolved it.
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
            "2m",
        ],
    )
    .await
    .ok()
    .to_owned();
    assert!(stdout.contains("ProductManifest v4.3.1 is Ready"), "{stdout}");

    // The continuous preflight answers "could 4.3.1 start now?".
    let out = ac_until(
        global,
        &["adm", "upgrade"],
        "a preflight verdict for 4.3.1",
        LONG,
        |o| {
            o.stdout.contains("Newest update: 4.3.1 could start now")
                || o.stdout.contains("4.3.1 is blocked by")
        },
    )
    .await;
    assert!(
        out.stdout.contains("Newest update: 4.3.1 could start now"),
        "{}",
        out.stdout
    );

    let stdout = ac(global, &["adm", "upgrade", "--to-latest"])
        .await
        .ok()
        .to_owned();
    assert!(
        stdout.contains("Requested upgrade of cluster global from 4.3.0 to 4.3.1"),
        "{stdout}"
    );

    // Follow it to the end.
    let out = ac(
        global,
        &[
            "adm",
            "upgrade",
            "status",
            "--watch",
            "--timeout",
            "4m",
            "--interval",
            "1s",
        ],
    )
    .await;
    out.ok();
    let last_page = out.stdout.rsplit("---").next().unwrap();
    assert!(last_page.contains("Assessment:  Completed"), "{last_page}");
    assert!(out.stdout.contains("Assessment:  Progressing") || out.stdout.contains("Assessment:  Pending"));

    let stdout = ac(global, &["adm", "upgrade"]).await.ok().to_owned();
    assert!(stdout.contains("Current version:    4.3.1"), "{stdout}");
    let stdout = ac(global, &["adm", "upgrade", "status"]).await.ok().to_owned();
    let history = stdout.split("History").nth(1).unwrap();
    assert!(
        history
            .lines()
            .any(|l| l.starts_with("4.3.1") && l.contains("Completed")),
        "{stdout}"
    );
    let stdout = ac_until(
        global,
        &["adm", "cluster", "list"],
        "global listed Ready at 4.3.1",
        SHORT,
        |o| {
            o.stdout.lines().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.first() == Some(&"global")
                    && cells.get(3) == Some(&"4.3.1")
                    && cells.last() == Some(&"Ready")
            })
        },
    )
    .await;
    assert_eq!(stdout.code, Some(0));
}
