//! Kubeconfig Secrets written to attack the operator, with the operator running as a process against a
//! real global API server (default policy: no opt-ins):
//!
//! - `tokenFile` pointing at a token file, with TLS verification off, towards a TLS listener the test runs:
//!   refused naming `tokenFile`, and the listener never sees a connection, let alone the token;
//! - an `exec` plugin that would create a marker file: refused, the file never appears;
//! - `insecure-skip-tls-verify: true` with an inline token: refused;
//! - a valid kubeconfig in a Secret not marked as one: refused unread, the message says how to mark it;
//! - a password and a PEM private key in the referenced key: reported as "not a kubeconfig", and no piece
//!   of either appears in the cvsh, its Events or the operator's log;
//! - opted in with `--allow-kubeconfig-exec`, a plugin runs, but a failing plugin's output reaches no
//!   status, Event or log, and a plugin's token is never sent to a server TLS did not verify.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acp_api::conditions::{self, types};
use acp_api::names;
use acp_testkit::Cluster;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use serde_json::{Value, json};

use acp_e2e::operator::*;

/// The token the `tokenFile` points at: what the operator's own service-account token would be.
const SA_TOKEN: &str = "sa-token-hostile-5b0e7d2c91f4a8";
/// An inline token of the insecure kubeconfig.
const INLINE_TOKEN: &str = "inline-token-hostile-3e9a1f77c0d2";
/// What a failing credential plugin prints.
const PLUGIN_OUTPUT: &str = "plugin-output-hostile-8c2f61d0";
/// A password-like value in a referenced key.
const PASSWORD: &str = "Tr0ub4dor&3-hostile-pa55w0rd-QX9";

/// A TLS listener that records every connection and every request's headers, and answers 401.
struct Listener {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Listener {
    fn start() -> Listener {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let config = loopback_tls_config(
            cert.der().clone(),
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, recorded) = (connections.clone(), requests.clone());
        // Lives until the test binary exits (it is not stopped with its test); it only ever answers on
        // loopback, on a port of its own.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                seen.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(mut tls) = rustls::ServerConnection::new(config.clone()) else {
                    continue;
                };
                let mut tls = rustls::Stream::new(&mut tls, &mut stream);
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                recorded
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = tls.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Listener {
            addr,
            connections,
            requests,
        }
    }

    fn server(&self) -> String {
        format!("https://{}", self.addr)
    }
}

fn kubeconfig(server: &str, cluster: Value, user: Value) -> String {
    let mut cluster = cluster;
    cluster["server"] = server.into();
    serde_json::to_string_pretty(&json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "target", "cluster": cluster}],
        "users": [{"name": "target-admin", "user": user}],
        "contexts": [{"name": "target", "context": {"cluster": "target", "user": "target-admin"}}],
        "current-context": "target",
    }))
    .unwrap()
}

/// A Secret holding `value` under `key`, marked as a kubeconfig or not, and a cvsh referring to it.
async fn hostile_cluster(global: &Cluster, name: &str, key: &str, value: &str, marked: bool) {
    let labels = if marked {
        json!({names::labels::KUBECONFIG: "true"})
    } else {
        json!({})
    };
    apply(
        global,
        &json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{name}-kubeconfig"), "namespace": names::NAMESPACE, "labels": labels},
            "stringData": {key: value},
        }),
    )
    .await;
    create_cvsh(
        global,
        name,
        json!({"kubeconfigSecretRef": {"name": format!("{name}-kubeconfig"), "key": key}}),
    )
    .await;
}

/// Waits until the cvsh is Degraded with `reason`, unreachable, and a Degraded Event was recorded; returns
/// the Degraded message.
async fn refused_with(global: &Cluster, name: &str, reason: &str) -> String {
    let shadow = wait_shadow(global, name, &format!("Degraded {reason}"), LONG, |s| {
        conditions::find(s.conditions(), types::DEGRADED)
            .is_some_and(|c| c.status == "True" && c.reason == reason)
    })
    .await;
    assert_eq!(observed(&shadow).unwrap().reachable, Some(false), "{name}");
    acp_testkit::wait_for(&format!("a Degraded Event for {name}"), SHORT, || async {
        !events(global, name, "Degraded").await.is_empty()
    })
    .await
    .unwrap();
    let message = conditions::find(shadow.conditions(), types::DEGRADED)
        .unwrap()
        .message
        .clone();
    assert!(
        message.contains(&format!("{}/{name}-kubeconfig", names::NAMESPACE)),
        "{name}: the Secret is named: {message}"
    );
    message
}

/// Every serialized cvsh and Event of the namespace, for searching.
async fn everything_readable(global: &Cluster) -> String {
    let shadows = shadows(global).await.list(&Default::default()).await.unwrap();
    let events: Api<Event> = Api::namespaced(global.client().await.unwrap(), names::NAMESPACE);
    let events = events.list(&Default::default()).await.unwrap();
    format!(
        "{}\n{}",
        serde_json::to_string(&shadows.items).unwrap(),
        serde_json::to_string(&events.items).unwrap()
    )
}

fn assert_absent(haystack: &str, needles: &[&str], place: &str) {
    for needle in needles {
        assert!(
            !haystack.contains(needle),
            "{place} holds secret material {needle:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_kubeconfig_secrets_are_refused_and_leak_nothing() {
    let env = start([cluster("global", "1.34")]).await;
    let global = env.cluster("global");
    create_cvsh(global, names::GLOBAL_CLUSTER, json!({})).await;
    let listener = Listener::start();
    let dir = env.dir();

    // The operator's token, as a file the tokenFile points at.
    let token_file = dir.join("serviceaccount-token");
    std::fs::write(&token_file, SA_TOKEN).unwrap();
    hostile_cluster(
        global,
        "token-file",
        "value",
        &kubeconfig(
            &listener.server(),
            json!({"insecure-skip-tls-verify": true}),
            json!({"tokenFile": token_file.to_str().unwrap()}),
        ),
        true,
    )
    .await;

    // A credential plugin that would leave a marker behind.
    let marker = dir.join("exec-plugin-ran");
    let script = format!(
        "touch {}; echo '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{INLINE_TOKEN}\"}}}}'",
        marker.display()
    );
    hostile_cluster(
        global,
        "exec-plugin",
        "value",
        &kubeconfig(
            &listener.server(),
            json!({}),
            json!({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/sh", "args": ["-c", script]}}),
        ),
        true,
    )
    .await;

    // TLS verification off, with an inline credential.
    hostile_cluster(
        global,
        "insecure-tls",
        "value",
        &kubeconfig(
            &listener.server(),
            json!({"insecure-skip-tls-verify": true}),
            json!({"token": INLINE_TOKEN}),
        ),
        true,
    )
    .await;

    // A perfectly good kubeconfig, in a Secret nobody marked as one.
    hostile_cluster(global, "unmarked", "value", global.kubeconfig_yaml(), false).await;

    // spec.kubeconfigSecretRef pointed at keys holding other secrets.
    let private_key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    hostile_cluster(global, "password-key", "password", PASSWORD, true).await;
    hostile_cluster(global, "pem-key", "tls.key", &private_key, true).await;

    let operator = run_operator(&env, "4.2.3", "replica-a");

    let message = refused_with(global, "token-file", "KubeconfigRefused").await;
    assert!(
        message.contains("users[target-admin].user.tokenFile"),
        "{message}"
    );
    assert!(
        message.contains("clusters[target].cluster.insecure-skip-tls-verify"),
        "{message}"
    );
    assert!(!message.contains(token_file.to_str().unwrap()), "{message}");

    let message = refused_with(global, "exec-plugin", "KubeconfigRefused").await;
    assert!(message.contains("users[target-admin].user.exec"), "{message}");
    assert!(message.contains("--allow-kubeconfig-exec"), "{message}");

    let message = refused_with(global, "insecure-tls", "KubeconfigRefused").await;
    assert!(
        message.contains("clusters[target].cluster.insecure-skip-tls-verify"),
        "{message}"
    );

    let message = refused_with(global, "unmarked", "KubeconfigRefused").await;
    assert!(message.contains("not marked as a kubeconfig"), "{message}");
    assert!(message.contains("config.alauda.io/kubeconfig=true"), "{message}");

    let message = refused_with(global, "password-key", "KubeconfigInvalid").await;
    assert!(message.contains("key `password`"), "{message}");
    assert!(message.contains("not a YAML kubeconfig"), "{message}");
    let message = refused_with(global, "pem-key", "KubeconfigInvalid").await;
    assert!(message.contains("key `tls.key`"), "{message}");

    // Asked to upgrade, the checks that need the cluster wait and say why; nothing starts.
    request(global, "token-file", "4.3.1").await;
    let shadow = wait_shadow(
        global,
        "token-file",
        "preflight waits for the cluster",
        LONG,
        |s| {
            s.status
                .as_ref()
                .and_then(|st| st.preflight.as_ref())
                .is_some_and(|p| {
                    p.checks.iter().any(|c| {
                        c.state == acp_api::cvsh::CheckState::Retry
                            && c.message.as_deref().is_some_and(|m| m.contains("tokenFile"))
                    })
                })
        },
    )
    .await;
    let status = shadow.status.as_ref().unwrap();
    assert!(status.stages.is_empty(), "nothing started");
    assert!(status.history.is_empty(), "nothing recorded as run");

    // Refused before any client was built: nothing reached the listener, no command ran.
    assert_eq!(
        listener.connections.load(Ordering::SeqCst),
        0,
        "requests that reached the listener: {:?}",
        listener.requests.lock().unwrap()
    );
    for request in listener.requests.lock().unwrap().iter() {
        assert!(!request.contains(SA_TOKEN), "the token was sent: {request}");
    }
    assert!(!Path::new(&marker).exists(), "the exec plugin ran");

    // No piece of a secret in anything a viewer or a log collector reads.
    let key_body: Vec<&str> = private_key.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut needles = vec![PASSWORD, "pa55w0rd", SA_TOKEN, INLINE_TOKEN, "PRIVATE KEY"];
    needles.extend(key_body.iter().map(|line| &line[..line.len().min(24)]));
    needles.extend(key_body.iter().filter(|l| l.len() > 40).map(|line| &line[16..40]));
    assert_absent(&everything_readable(global).await, &needles, "a cvsh or an Event");
    let log = operator.logs();
    assert!(!log.is_empty(), "the operator's output is captured");
    assert_absent(&log, &needles, "the operator's log");
    assert!(operator.is_running());

    // Opted in with --allow-kubeconfig-exec, plugins run (kube runs one when the client is built). A failing
    // plugin's output, on stdout or stderr, still reaches no status, Event or log; a plugin's token is
    // only ever sent over verified TLS.
    hostile_cluster(
        global,
        "exec-leaky",
        "value",
        &kubeconfig(
            &listener.server(),
            json!({}),
            json!({"exec": {
                "apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/sh",
                "args": ["-c", format!("echo {PLUGIN_OUTPUT}; echo {PLUGIN_OUTPUT} >&2; exit 1")],
            }}),
        ),
        true,
    )
    .await;
    operator
        .restart_with(operator_spec_with(
            global,
            "4.2.3",
            "replica-a",
            &[("--allow-kubeconfig-exec", "on")],
        ))
        .unwrap();
    let leaky = wait_shadow(global, "exec-leaky", "the failing plugin reported", LONG, |s| {
        conditions::find(s.conditions(), types::DEGRADED).is_some_and(|c| {
            c.reason == "KubeconfigInvalid" && c.message.contains("credential plugin failed")
        })
    })
    .await;
    assert_eq!(observed(&leaky).unwrap().reachable, Some(false));
    acp_testkit::wait_for("the allowed plugin to run", SHORT, || async { marker.exists() })
        .await
        .unwrap();
    wait_shadow(
        global,
        "exec-plugin",
        "unreachable over unverified TLS",
        LONG,
        |s| {
            conditions::find(s.conditions(), types::DEGRADED)
                .is_some_and(|c| c.status == "True" && c.reason == "ClusterUnreachable")
        },
    )
    .await;
    for request in listener.requests.lock().unwrap().iter() {
        assert!(
            !request.contains(INLINE_TOKEN),
            "a token went to an unverified server: {request}"
        );
    }
    needles.push(PLUGIN_OUTPUT);
    assert_absent(&everything_readable(global).await, &needles, "a cvsh or an Event");
    assert_absent(&operator.logs(), &needles, "the operator's log");
}
