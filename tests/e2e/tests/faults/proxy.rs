//! A degraded network in front of a real API server: an HTTPS proxy on loopback that forwards every request
//! to the cluster and, on a fixed schedule counted in requests, holds requests back, holds answers back
//! longer than the client waits, or answers in the API server's place with the errors an overloaded one
//! gives (503, 500, 429, as `Status` objects). The schedule is a function of the request's number, not of
//! chance, so a run can be repeated.
//!
//! The proxy ends TLS with its own certificate: the kubeconfig it hands out is the cluster's own with the
//! server and the certificate authority swapped for the proxy's, and the proxy reaches the cluster with the
//! cluster's admin client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acp_testkit::Cluster;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use http::{HeaderName, StatusCode, header};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;

/// Which requests are degraded, by their number (the first request is 1).
#[derive(Clone, Copy, Debug)]
pub struct Schedule {
    /// Every request waits this long before it is forwarded.
    pub delay: Duration,
    /// Every `slow_every`-th request is forwarded, and its answer held `slow_by` (0: none).
    pub slow_every: usize,
    pub slow_by: Duration,
    /// Every `fail_every`-th request is answered with an error instead of forwarded (0: none); the errors
    /// take turns: 503, 500, 429.
    pub fail_every: usize,
}

impl Schedule {
    /// No fault: every request forwarded at once.
    pub const CLEAN: Schedule = Schedule {
        delay: Duration::ZERO,
        slow_every: 0,
        slow_by: Duration::ZERO,
        fail_every: 0,
    };

    /// What happens to request number `n`.
    fn fault(&self, n: usize) -> Fault {
        if self.fail_every > 0 && n.is_multiple_of(self.fail_every) {
            return Fault::Fail(ERRORS[(n / self.fail_every) % ERRORS.len()]);
        }
        if self.slow_every > 0 && n.is_multiple_of(self.slow_every) {
            return Fault::Slow(self.slow_by);
        }
        Fault::None
    }
}

enum Fault {
    None,
    /// Forwarded, the answer held this long.
    Slow(Duration),
    /// Answered with this error, not forwarded.
    Fail(ApiError),
}

/// An error the API server gives when it is overloaded or its storage is slow.
#[derive(Clone, Copy)]
struct ApiError {
    code: u16,
    reason: &'static str,
    message: &'static str,
}

const ERRORS: [ApiError; 3] = [
    ApiError {
        code: 503,
        reason: "ServiceUnavailable",
        message: "the server is currently unable to handle the request",
    },
    ApiError {
        code: 500,
        reason: "InternalError",
        message: "Internal error occurred: etcdserver: request timed out",
    },
    ApiError {
        code: 429,
        reason: "TooManyRequests",
        message: "Too many requests, please try again later.",
    },
];

/// How many requests met each fault so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every request received.
    pub requests: usize,
    /// Held back `delay` before forwarding.
    pub delayed: usize,
    /// Answers held `slow_by`.
    pub slowed: usize,
    /// Of those, the ones whose client hung up before the answer was given.
    pub abandoned: usize,
    /// Answered with an error.
    pub failed: usize,
}

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    delayed: AtomicUsize,
    slowed: AtomicUsize,
    abandoned: AtomicUsize,
    failed: AtomicUsize,
}

struct Shared {
    upstream: kube::Client,
    schedule: Mutex<Schedule>,
    counters: Counters,
}

/// The proxy in front of one cluster; stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    ca_pem: String,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Proxy {
    /// Starts a proxy to `cluster`, forwarding cleanly until [`degrade`](Self::degrade).
    pub async fn start(cluster: &Cluster) -> Proxy {
        let (ca_pem, config) = acp_e2e::operator::loopback_tls();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);

        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        // Handshakes run apart from accepting, so a slow or broken client holds up no other.
        let (tx, rx) = mpsc::channel(64);
        let handshakes = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = tcp.accept().await else {
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        let shared = Arc::new(Shared {
            upstream: cluster.client().await.unwrap(),
            schedule: Mutex::new(Schedule::CLEAN),
            counters: Counters::default(),
        });
        let router = axum::Router::new().fallback(forward).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(TlsListener { rx, addr }, router).await;
        });
        Proxy {
            addr,
            ca_pem,
            shared,
            tasks: vec![handshakes, server],
        }
    }

    /// The kubeconfig of `cluster` (the one this proxy forwards to), pointed at the proxy.
    pub fn kubeconfig(&self, cluster: &Cluster) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        cluster
            .kubeconfig_yaml()
            .lines()
            .map(|line| {
                let indent = &line[..line.len() - line.trim_start().len()];
                if line.trim_start().starts_with("server:") {
                    format!("{indent}server: https://{}", self.addr)
                } else if line.trim_start().starts_with("certificate-authority-data:") {
                    format!("{indent}certificate-authority-data: {ca}")
                } else {
                    line.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Degrades every request from now on as `schedule` says (requests keep their numbers).
    pub fn degrade(&self, schedule: Schedule) {
        *self.shared.schedule.lock().unwrap() = schedule;
    }

    /// What the proxy has done so far.
    pub fn counts(&self) -> Counts {
        let c = &self.shared.counters;
        Counts {
            requests: c.requests.load(Ordering::SeqCst),
            delayed: c.delayed.load(Ordering::SeqCst),
            slowed: c.slowed.load(Ordering::SeqCst),
            abandoned: c.abandoned.load(Ordering::SeqCst),
            failed: c.failed.load(Ordering::SeqCst),
        }
    }
}

/// Accepted TLS connections, handed to axum.
struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(accepted) => accepted,
            // The accepting task is gone (the proxy is dropped): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// Headers of one connection, not of the request: not forwarded. Authorization is the client's to the
/// proxy; the proxy's own client authenticates to the cluster.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::HOST,
    header::TRANSFER_ENCODING,
    header::TE,
    header::UPGRADE,
    header::AUTHORIZATION,
];

/// Counts `abandoned` when dropped before [`Self::answered`]: the client hung up while its answer was held.
struct Held<'a> {
    counters: &'a Counters,
    answered: bool,
}

impl Held<'_> {
    fn answered(mut self) {
        self.answered = true;
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.counters.abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

async fn forward(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let counters = &shared.counters;
    let n = counters.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let schedule = *shared.schedule.lock().unwrap();
    if !schedule.delay.is_zero() {
        counters.delayed.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(schedule.delay).await;
    }
    let hold = match schedule.fault(n) {
        Fault::Fail(error) => {
            counters.failed.fetch_add(1, Ordering::SeqCst);
            return error_answer(error);
        }
        Fault::Slow(by) => Some(by),
        Fault::None => None,
    };

    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return plain(StatusCode::BAD_REQUEST, "the request body could not be read");
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = http::Request::builder().method(parts.method).uri(path);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(name) {
            upstream = upstream.header(name, value);
        }
    }
    let upstream = upstream.body(kube::client::Body::from(body.to_vec())).unwrap();
    let answer = match shared.upstream.send(upstream).await {
        Ok(answer) => answer,
        Err(err) => return plain(StatusCode::BAD_GATEWAY, &format!("proxy: {err}")),
    };
    if let Some(by) = hold {
        counters.slowed.fetch_add(1, Ordering::SeqCst);
        let held = Held {
            counters,
            answered: false,
        };
        tokio::time::sleep(by).await;
        held.answered();
    }
    let (mut parts, body) = answer.into_parts();
    for name in &HOP_BY_HOP {
        parts.headers.remove(name);
    }
    Response::from_parts(parts, Body::new(body))
}

/// The error as the API server words it: a `Status` object, and `Retry-After` with a 429.
fn error_answer(error: ApiError) -> Response {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": error.message, "reason": error.reason, "code": error.code,
    });
    let mut answer = Response::builder()
        .status(error.code)
        .header(header::CONTENT_TYPE, "application/json");
    if error.code == 429 {
        answer = answer.header(header::RETRY_AFTER, "1");
    }
    answer.body(Body::from(status.to_string())).unwrap()
}

fn plain(code: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(text.to_string()))
        .unwrap()
}
