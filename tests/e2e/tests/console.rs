//! The web console in a real browser: Debian's chromium, headless, driven through chromedriver by WebDriver
//! (fantoccini), against real API servers with the operator running. The fleet page lists the registered
//! clusters with their versions and shows a blocked cluster's blocker; an upgrade requested from the cluster
//! page sets `spec.desiredUpdate`, and the same page, never reloaded, follows it from Upgrading to Completed.
//! A view-only user (a ServiceAccount bound to `acp-cvo-viewer`) signs in to the console in bearer mode —
//! the mode the in-cluster Deployment runs — and sees the request disabled, and a direct POST is refused
//! with the RBAC message; without a token, bearer mode answers 401. The test saves screenshots of the fleet
//! and cluster pages (`ACP_CONSOLE_SCREENSHOTS=DIR` writes them there; `docs/` holds the committed ones).
//!
//! `console_bench::first_render_of_500_clusters` (ignored) measures the fleet page's weight and time to
//! first render with 500 registered clusters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use acp_api::cvsh::CheckState;
use acp_api::names;
use acp_e2e::cli::ac_path;
use acp_e2e::operator::*;
use acp_testkit::{ChildProcess, Cluster, ClusterSpec, ProcessSpec, TestEnv};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// How long the browser may take for one page element to reach the expected state.
const PAGE: Duration = Duration::from_secs(30);

/// A headless chromium driven through its own chromedriver; both end with the test.
pub struct Browser {
    pub client: Client,
    _driver: ChildProcess,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a 1280×900 headless chromium session through it.
    /// Debian's packages are required: `scripts/install-prereqs.sh` installs them for `make test`.
    pub async fn start(env: &TestEnv, name: &str) -> Browser {
        let chromedriver = Path::new("/usr/bin/chromedriver");
        assert!(
            chromedriver.exists(),
            "{} is missing: install Debian's chromium and chromium-driver (scripts/install-prereqs.sh does)",
            chromedriver.display()
        );
        let port = free_port();
        let driver = env
            .spawn(
                ProcessSpec::new(chromedriver)
                    .name(format!("chromedriver-{name}"))
                    .arg(format!("--port={port}")),
            )
            .unwrap();
        let webdriver = format!("http://127.0.0.1:{port}");
        // chromedriver keeps connections open whatever the request asks, so readiness is its own log line.
        acp_testkit::wait_for("chromedriver to start", PAGE, || async {
            driver.logs().contains("ChromeDriver was started successfully")
        })
        .await
        .unwrap();
        let profile = env.dir().join(format!("chromium-{name}"));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new",
                    // The suites run as root, where chromium refuses its sandbox.
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap();
        Browser {
            client,
            _driver: driver,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// The text of the first element `css` selects, once it exists.
    pub async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Waits until the element `css` selects has a text satisfying `ok`, and returns it.
    pub async fn wait_text(
        &self,
        css: &str,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        let last = std::sync::Mutex::new(String::new());
        let found = acp_testkit::wait_for_some(what, timeout, || async {
            let text = self.text(css).await?;
            *last.lock().unwrap() = text.clone();
            ok(&text).then_some(text)
        })
        .await;
        match found {
            Ok(text) => text,
            Err(error) => {
                let last = last.lock().unwrap().clone();
                let page = self.client.source().await.unwrap_or_default();
                panic!("{error}; `{css}` last read {last:?}; page:\n{page}")
            }
        }
    }

    pub async fn screenshot(&self, file: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let dir = std::env::var_os("ACP_CONSOLE_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| acp_testkit::repo_root().join("target/console-screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(file);
        std::fs::write(&path, png).unwrap();
        path
    }
}

/// `ac console` (the debug build) serving `global` on a free port, and its URL.
async fn console(env: &TestEnv, global: &Cluster, name: &str, extra: &[&str]) -> (ChildProcess, String) {
    acp_e2e::console::serve(env, &ac_path(), global, name, extra).await
}

/// A ServiceAccount bound to ClusterRole `acp-cvo-viewer` (from deploy/), and a token for it.
async fn viewer_token(global: &Cluster) -> String {
    let rbac = acp_testkit::repo_root().join("deploy/operator/rbac.yaml");
    global
        .kubectl(["apply", "-f", rbac.to_str().unwrap()])
        .await
        .unwrap();
    apply(
        global,
        &json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "fleet-viewer", "namespace": names::NAMESPACE}}),
    )
    .await;
    apply(
        global,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "fleet-viewer"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "acp-cvo-viewer"},
                "subjects": [{"kind": "ServiceAccount", "name": "fleet-viewer", "namespace": names::NAMESPACE}]}),
    )
    .await;
    let token = global
        .kubectl([
            "create",
            "token",
            "fleet-viewer",
            "-n",
            names::NAMESPACE,
            "--duration=1h",
        ])
        .await
        .unwrap();
    token.trim().to_owned()
}

fn row(cluster: &str, field: &str) -> String {
    format!("table#fleet tr[data-cluster=\"{cluster}\"] td[data-field=\"{field}\"]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_fleet_and_drives_an_upgrade_in_a_real_browser() {
    let env = start([cluster("global", "1.34"), ClusterSpec::new("edge-1", "1.32")]).await;
    let (global, edge) = (env.cluster("global"), env.cluster("edge-1"));
    install_release(global, "4.3.0").await;
    import(global, "4.3.1").await;
    record_version(edge, "4.1.5").await;
    // edge-1 runs neither its release's modules nor kwok: cluster health is not the subject.
    disable_checks(global, &["ClusterModuleStable", "ClusterRunning"]).await;
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    register(global, edge).await;
    let _operator = run_operator(&env, "4.3.0", "replica-a");
    wait_shadow(global, "global", "4.3.1 offered", LONG, |s| {
        s.current_version() == Some("4.3.0") && offered(s).iter().any(|v| v == "4.3.1")
    })
    .await;
    // edge-1 asks for 4.3.1 before the global tier runs it: held by GlobalTierReached.
    request(global, "edge-1", "4.3.1").await;
    wait_shadow(
        global,
        "edge-1",
        "GlobalTierReached holds the request",
        LONG,
        |s| {
            s.current_version() == Some("4.1.5")
                && check(s, "GlobalTierReached").is_some_and(|c| c.state == CheckState::Failed)
        },
    )
    .await;

    let (_console, url) = console(&env, global, "admin", &[]).await;
    let browser = Browser::start(&env, "admin").await;

    // The fleet: every cluster with its versions, the blocked one with its blocker.
    browser.goto(&format!("{url}/")).await;
    browser
        .wait_text(&row("global", "current"), "global's current version", PAGE, |t| {
            t == "4.3.0"
        })
        .await;
    browser
        .wait_text(&row("edge-1", "current"), "edge-1's current version", PAGE, |t| {
            t == "4.1.5"
        })
        .await;
    browser
        .wait_text(&row("edge-1", "kubernetes"), "edge-1's Kubernetes", PAGE, |t| {
            t.contains("1.32")
        })
        .await;
    browser
        .wait_text(&row("edge-1", "desired"), "edge-1's request", PAGE, |t| {
            t == "4.3.1"
        })
        .await;
    browser
        .wait_text(&row("edge-1", "state"), "edge-1 Blocked", PAGE, |t| {
            t.contains("Blocked")
        })
        .await;
    let blocker = browser
        .wait_text(&row("edge-1", "blocker"), "edge-1's blocker", PAGE, |t| {
            t.contains("GlobalTierReached")
        })
        .await;
    assert!(blocker.contains("global"), "{blocker}");
    browser.screenshot("console-fleet.png").await;

    // A view-only user, through the console in bearer mode.
    let (_bearer, bearer_url) = console(&env, global, "bearer", &["--auth", "bearer"]).await;
    let authority = bearer_url.trim_start_matches("http://").to_owned();
    let (code, body) = http_get(&authority, "/").await.unwrap();
    assert_eq!(code, 401, "bearer mode without a token: {body}");
    let (code, _) = http_get(&authority, "/clusters/edge-1").await.unwrap();
    assert_eq!(code, 401, "bearer mode must not fall back to its own credentials");

    let token = viewer_token(global).await;
    let viewer = Browser::start(&env, "viewer").await;
    viewer.goto(&format!("{bearer_url}/")).await;
    let sign_in = viewer.client.form(Locator::Css("form#sign-in")).await.unwrap();
    sign_in.set_by_name("token", &token).await.unwrap();
    sign_in.submit().await.unwrap();
    viewer
        .wait_text(
            &row("edge-1", "current"),
            "the viewer sees the fleet",
            PAGE,
            |t| t == "4.1.5",
        )
        .await;
    viewer.goto(&format!("{bearer_url}/clusters/global")).await;
    let why = viewer
        .wait_text(
            "[data-field=\"rbac\"]",
            "why the request is disabled",
            PAGE,
            |t| !t.is_empty(),
        )
        .await;
    assert!(
        why.contains("patch") && why.contains("clusterversionshadows"),
        "{why}"
    );
    let disabled = viewer
        .client
        .find(Locator::Css(
            "form#request-upgrade button[name=\"action\"][value=\"review\"]",
        ))
        .await
        .unwrap()
        .attr("disabled")
        .await
        .unwrap();
    assert!(disabled.is_some(), "the viewer's request button is enabled");

    // A direct POST, as a page script would send it (same origin, the session's CSRF token), is refused by
    // the API server and the console says so.
    let answer = viewer
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const form = document.querySelector('form#request-upgrade');
               const body = new URLSearchParams(new FormData(form));
               body.set('version', '4.3.1');
               body.set('action', 'confirm');
               fetch(form.getAttribute('action'), {method: 'POST', body, credentials: 'same-origin'})
                 .then(async r => done({status: r.status, text: await r.text()}))
                 .catch(e => done({status: 0, text: String(e)}));"#,
            vec![],
        )
        .await
        .unwrap();
    let text = answer["text"].as_str().unwrap_or_default();
    assert_eq!(answer["status"], json!(403), "{text}");
    assert!(
        text.contains("RBAC") && text.contains("patch") && text.contains("clusterversionshadows"),
        "{text}"
    );
    let untouched = shadows(global).await.get("global").await.unwrap();
    assert_eq!(
        untouched.desired_version(),
        None,
        "the viewer's POST changed global"
    );

    // Request 4.3.1 for global from its page: review shows the verdict, confirm writes the request.
    browser.goto(&format!("{url}/clusters/global")).await;
    browser
        .wait_text("[data-field=\"current\"]", "global's page", PAGE, |t| {
            t.contains("4.3.0")
        })
        .await;
    browser
        .client
        .execute("window.acpNeverReloaded = true; return true;", vec![])
        .await
        .unwrap();
    let form = browser
        .client
        .find(Locator::Css("form#request-upgrade"))
        .await
        .unwrap();
    form.find(Locator::Css("select[name=\"version\"] option[value=\"4.3.1\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    form.find(Locator::Css("button[name=\"action\"][value=\"review\"]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let verdict = browser
        .wait_text(
            "#request-upgrade [data-field=\"verdict\"]",
            "the verdict before confirming",
            PAGE,
            |t| !t.is_empty(),
        )
        .await;
    assert!(verdict.to_lowercase().contains("could start now"), "{verdict}");
    browser
        .client
        .find(Locator::Css(
            "form#request-upgrade button[name=\"action\"][value=\"confirm\"]",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_shadow(
        global,
        "global",
        "desiredUpdate set from the console",
        SHORT,
        |s| s.desired_version() == Some("4.3.1"),
    )
    .await;
    // From here the page is never reloaded: what it shows arrives over its event stream.
    browser
        .client
        .execute("window.acpNeverReloaded = true; return true;", vec![])
        .await
        .unwrap();
    browser
        .wait_text("[data-field=\"state\"]", "global Upgrading", LONG, |t| {
            t.contains("Upgrading")
        })
        .await;
    browser.screenshot("console-cluster.png").await;
    browser
        .wait_text("[data-field=\"current\"]", "global at 4.3.1", LONG, |t| {
            t.contains("4.3.1")
        })
        .await;
    browser
        .wait_text(
            "[data-field=\"history\"] tr:first-child",
            "the upgrade Completed",
            PAGE,
            |t| t.contains("4.3.1") && t.contains("Completed"),
        )
        .await;
    let kept = browser
        .client
        .execute("return window.acpNeverReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(kept, Value::Bool(true), "the page was reloaded");
}

/// Clusters registered for the fleet-page measurement.
const BENCH_FLEET: usize = 500;
const BENCH_RUNS: usize = 7;

/// The fleet page with 500 registered clusters (their cvsh objects with status: every tenth upgrading,
/// every seventh held by a failed check): the HTML's and the whole page's weight, and the browser's own
/// navigation timings (response end, first contentful paint, DOMContentLoaded), median of 7 loads.
/// `ac` is the debug build unless ACP_BIN_DIR names a directory holding a release build.
///
///   cargo build --release -p acp-cli && ACP_BIN_DIR=target/release \
///     cargo test -p acp-e2e --test e2e console::first_render_of_500_clusters -- --ignored --nocapture
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn first_render_of_500_clusters() {
    let env = acp_e2e::cli::platform([]).await;
    let global = env.cluster("global");
    create_cvsh(global, "global", json!({})).await;
    acp_e2e::cli::write_status(global, "global", json!({"current": {"version": "4.3.1"}})).await;
    let names: Vec<String> = (0..BENCH_FLEET).map(|i| format!("edge-{i:03}")).collect();
    let numbered: Vec<(usize, &String)> = names.iter().enumerate().collect();
    for chunk in numbered.chunks(16) {
        futures::future::join_all(chunk.iter().map(|&(i, name)| async move {
            create_cvsh(global, name, json!({})).await;
            let check = if i % 7 == 0 {
                json!({"name": "KubernetesVersionSupported", "policy": "Always", "state": "Failed",
                       "reason": "KubernetesTooOld", "message": format!("{name} runs Kubernetes 1.30; 4.3.1 needs 1.31 or later")})
            } else {
                json!({"name": "VersionUpgradePath", "policy": "Once", "state": "Passed",
                       "reason": "UpgradePathSupported", "message": "ok"})
            };
            acp_e2e::cli::write_status(
                global,
                name,
                json!({
                    "current": {"version": "4.2.5"},
                    "observed": {"kubernetesVersion": "v1.32.11"},
                    "availableUpdates": [{"version": "4.3.1"}],
                    "preflight": {"targetVersion": "4.3.1", "checks": [check]},
                    "history": [{"version": "4.2.5", "image": "", "state": "Completed",
                                 "startedTime": "2026-02-20T08:30:00Z", "completionTime": "2026-02-20T08:51:00Z"}],
                }),
            )
            .await;
        }))
        .await;
    }
    let ac = std::env::var_os("ACP_BIN_DIR")
        .map(|dir| PathBuf::from(dir).join("ac"))
        .unwrap_or_else(ac_path);
    let (_console, url) = acp_e2e::console::serve(&env, &ac, global, "bench", &[]).await;
    let browser = Browser::start(&env, "bench").await;
    let mut samples: Vec<Value> = Vec::new();
    for _ in 0..BENCH_RUNS {
        browser.goto(&format!("{url}/")).await;
        browser
            .wait_text(&row("edge-499", "current"), "the last row", PAGE, |t| {
                t == "4.2.5"
            })
            .await;
        let timing = browser
            .client
            .execute(
                r#"const nav = performance.getEntriesByType('navigation')[0];
                   const paint = performance.getEntriesByName('first-contentful-paint')[0];
                   const resources = performance.getEntriesByType('resource');
                   return {
                     responseEnd: nav.responseEnd,
                     firstContentfulPaint: paint ? paint.startTime : null,
                     domContentLoaded: nav.domContentLoadedEventEnd,
                     htmlBytes: nav.decodedBodySize,
                     htmlTransferred: nav.transferSize,
                     otherBytes: resources.reduce((sum, r) => sum + r.decodedBodySize, 0),
                     rows: document.querySelectorAll('table#fleet tr[data-cluster]').length,
                   };"#,
                vec![],
            )
            .await
            .unwrap();
        samples.push(timing);
    }
    let median = |key: &str| {
        let mut values: Vec<f64> = samples.iter().filter_map(|s| s[key].as_f64()).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
    };
    println!(
        "console fleet page, {} clusters ({} rows): HTML {:.0} KB ({:.0} KB transferred), scripts and styles {:.1} KB; \
         median of {BENCH_RUNS}: response end {:.0} ms, first contentful paint {:.0} ms, DOMContentLoaded {:.0} ms",
        BENCH_FLEET + 1,
        median("rows"),
        median("htmlBytes") / 1024.0,
        median("htmlTransferred") / 1024.0,
        median("otherBytes") / 1024.0,
        median("responseEnd"),
        median("firstContentfulPaint"),
        median("domContentLoaded"),
    );
}
