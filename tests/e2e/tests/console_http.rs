//! The web console over plain HTTP (`ac console` as a process, against a real API server): what a browser
//! page did not send is refused, bearer mode never answers without the caller's token, and a live page's
//! event stream carries a cluster's change. The browser itself is `console::`'s subject.

use std::time::Duration;

use acp_api::names;
use acp_e2e::cli::{ac_path, platform, write_status};
use acp_e2e::create_cvsh;
use acp_e2e::operator::shadows;
use acp_testkit::{ChildProcess, Cluster, TestEnv};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(30);

/// `ac console --port 0` on `global` with `extra` flags, and the host:port it printed.
async fn console(env: &TestEnv, global: &Cluster, name: &str, extra: &[&str]) -> (ChildProcess, String) {
    let (process, url) = acp_e2e::console::serve(env, &ac_path(), global, name, extra).await;
    let authority = url.trim_start_matches("http://").to_owned();
    (process, authority)
}

/// One HTTP/1.1 exchange: status, response head, body.
async fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request += &format!("{name}: {value}\r\n");
    }
    if method == "POST" {
        request += &format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    request += "\r\n";
    request += body;
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, head.to_owned(), body.to_owned())
}

/// The session cookie a page set and the CSRF token it carries.
fn session_of(head: &str, body: &str) -> (String, String) {
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie in:\n{head}"))
        .to_owned();
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in the page:\n{body}"))
        .to_owned();
    (cookie, csrf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_pages_csrf_token_or_origin_is_refused_and_changes_nothing() {
    let env = platform([]).await;
    let global = env.cluster("global");
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    write_status(
        global,
        "global",
        json!({
            "current": {"version": "4.3.0"},
            "availableUpdates": [{"version": "4.3.1"}, {"version": "4.3.2"}],
            "conditionalUpdates": [{
                "release": {"version": "4.3.2"},
                "recommended": false,
                "risks": [{
                    "name": "CustomCNIRemoved", "exposure": "Applies",
                    "evidence": "ConfigMap kube-system/custom-cni-config is present",
                    "message": "4.3.2 drops the custom CNI; migrate to the built-in one first",
                }],
            }],
        }),
    )
    .await;
    let (_console, addr) = console(&env, global, "csrf", &[]).await;

    let (code, head, page) = exchange(&addr, "GET", "/clusters/global", &[], "").await;
    assert_eq!(code, 200, "{page}");
    let lower = head.to_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{head}"
    );
    assert!(
        lower.contains("x-content-type-options: nosniff") && lower.contains("referrer-policy"),
        "{head}"
    );
    let (cookie, csrf) = session_of(&head, &page);
    let origin = format!("http://{addr}");
    let path = "/clusters/global/request";
    let confirm = "version=4.3.1&action=confirm";

    let (code, _, body) = exchange(
        &addr,
        "POST",
        path,
        &[("Cookie", &cookie), ("Origin", &origin)],
        confirm,
    )
    .await;
    assert_eq!(code, 403, "no CSRF token: {body}");
    assert!(body.contains("CSRF"), "{body}");
    let with_token = format!("csrf={csrf}&{confirm}");
    let other_site = [("Cookie", cookie.as_str()), ("Origin", "http://evil.example")];
    let (code, _, body) = exchange(&addr, "POST", path, &other_site, &with_token).await;
    assert_eq!(code, 403, "another site's page: {body}");
    let (code, _, body) = exchange(&addr, "POST", path, &[("Origin", &origin)], &with_token).await;
    assert_eq!(code, 403, "no session: {body}");
    let cvsh = shadows(global).await.get("global").await.unwrap();
    assert_eq!(cvsh.spec.desired_update, None, "a refused POST changed global");

    // The same POST from the page itself goes through.
    let (code, _, body) = exchange(
        &addr,
        "POST",
        path,
        &[("Cookie", &cookie), ("Origin", &origin)],
        &with_token,
    )
    .await;
    assert!(code == 200 || code == 303, "{code}: {body}");
    let cvsh = shadows(global).await.get("global").await.unwrap();
    assert_eq!(cvsh.requested_version(), Some("4.3.1"));

    // An update that is not recommended is marked, refused unless asked for as `ac` asks for it, and
    // requested with its risks accepted on record.
    assert!(
        page.contains("4.3.2 (not recommended: CustomCNIRemoved)"),
        "{page}"
    );
    assert!(page.contains(r#"data-risk="CustomCNIRemoved""#), "{page}");
    let from_page = [("Cookie", cookie.as_str()), ("Origin", origin.as_str())];
    let risky = format!("csrf={csrf}&version=4.3.2&action=confirm");
    let (code, _, body) = exchange(&addr, "POST", path, &from_page, &risky).await;
    assert_eq!(code, 422, "{body}");
    assert!(
        body.contains("4.3.2 is not recommended for cluster global"),
        "{body}"
    );
    let accepted = format!("{risky}&allow_not_recommended=on&accept=CustomCNIRemoved");
    let (code, _, body) = exchange(&addr, "POST", path, &from_page, &accepted).await;
    assert!(code == 200 || code == 303, "{code}: {body}");
    let cvsh = shadows(global).await.get("global").await.unwrap();
    let desired = cvsh.spec.desired_update.unwrap();
    assert_eq!(desired.version.as_deref(), Some("4.3.2"));
    assert_eq!(desired.accept_risks, ["CustomCNIRemoved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_mode_answers_401_without_the_callers_token_and_the_live_stream_follows_a_cluster() {
    let env = platform([]).await;
    let global = env.cluster("global");
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    write_status(global, "global", json!({"current": {"version": "4.3.0"}})).await;

    let (_bearer, bearer) = console(&env, global, "bearer", &["--auth", "bearer"]).await;
    for path in ["/", "/clusters/global", "/events/fleet", "/releases"] {
        let (code, _, body) = exchange(&bearer, "GET", path, &[], "").await;
        assert_eq!(code, 401, "{path} without a token: {body}");
    }
    let (_, _, body) = exchange(&bearer, "GET", "/", &[], "").await;
    assert!(body.contains("id=\"sign-in\""), "{body}");
    let (code, _, body) = exchange(
        &bearer,
        "GET",
        "/",
        &[("Authorization", "Bearer not-a-token")],
        "",
    )
    .await;
    assert_eq!(code, 401, "a token the API server refuses: {body}");

    // The fleet page's stream: the counts once its watch has listed, then global's row when it changes, over one connection.
    let (_console, addr) = console(&env, global, "live", &[]).await;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!("GET /events/fleet HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut read_until = async |what: &str, seen: &mut String| {
        let mut buffer = [0u8; 16 * 1024];
        let found = tokio::time::timeout(WAIT, async {
            while !seen.contains(what) {
                let n = stream.read(&mut buffer).await.unwrap();
                assert!(n > 0, "the stream ended:\n{seen}");
                seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        })
        .await;
        assert!(found.is_ok(), "no {what:?} on the stream:\n{seen}");
    };
    read_until("event: counts", &mut seen).await;
    assert!(seen.contains("text/event-stream"), "{seen}");
    seen.clear();
    write_status(global, "global", json!({"current": {"version": "4.3.7"}})).await;
    read_until("4.3.7", &mut seen).await;

    // A rollout's page follows the run: paused from elsewhere, its controls offer Resume.
    let run = json!({
        "apiVersion": names::ROLLOUT_API_VERSION, "kind": "UpgradeRun",
        "metadata": {"name": "to-4-3-8", "namespace": names::NAMESPACE},
        "spec": {"targetVersion": "4.3.8", "strategy": {"stages": [{"name": "all", "selector": {}}]}},
    });
    acp_e2e::operator::apply(global, &run).await;
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request =
        format!("GET /events/runs/to-4-3-8 HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut buffer = [0u8; 16 * 1024];

    let runs: kube::Api<acp_api::rollout::UpgradeRun> =
        kube::Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    // The watch may list after the first patch: patch (each time a change) until the stream shows it.
    let shown = tokio::time::timeout(WAIT, async {
        let mut poke = 0;
        while !seen.contains(r#"value="resume""#) {
            poke += 1;
            let paused =
                json!({"metadata": {"annotations": {"poke": poke.to_string()}}, "spec": {"paused": true}});
            runs.patch(
                "to-4-3-8",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&paused),
            )
            .await
            .unwrap();
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer)).await {
                assert!(n > 0, "the stream ended:\n{seen}");
                seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        }
    })
    .await;
    assert!(shown.is_ok(), "no paused run on the stream:\n{seen}");
    assert!(
        seen.contains("event: run") && seen.contains(r#"id="run-live""#),
        "{seen}"
    );
}
