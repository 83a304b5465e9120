//! Reaching managed clusters: a client per cluster (from its kubeconfig Secret, or the operator's own
//! client for the global cluster), every call bounded by a timeout, and what the operator observes there.

pub mod access;
pub mod cluster_api;
#[cfg(test)]
pub mod fake;
pub mod objects;
pub mod observe;
pub mod ownership;

pub mod limits;

use std::time::Duration;

use acp_api::cvsh::bounds::{MAX_MESSAGE_CHARS, clip};
use http_body_util::BodyExt;
use kube::Client;

pub use access::{AccessError, ClusterAccess};
pub use limits::{Limits, RequestLimits};

/// Why a call to a managed cluster produced no answer or a refusal.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No answer: connection refused, TLS failure, timeout, or the API server is not serving.
    #[error("cannot reach cluster {cluster}: {message}")]
    Unreachable { cluster: String, message: String },
    /// The API server answered with an error (validation, permission, conflict, ...).
    #[error("cluster {cluster} refused {what}: {message}")]
    Refused {
        cluster: String,
        what: String,
        code: u16,
        message: String,
    },
}

impl ClusterError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// HTTP status of a refusal (404, 409, 422, ...).
    pub fn code(&self) -> Option<u16> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            Self::Unreachable { .. } => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }
}

/// An answer read by [`Cluster::get_bounded`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundedAnswer {
    /// HTTP status code.
    pub status: u16,
    /// The body as text (invalid UTF-8 replaced), at most the limit asked for.
    pub text: String,
    /// True when the body was longer than the limit and the rest was not read.
    pub truncated: bool,
}

/// A client for one managed cluster, named for messages, whose calls all end within `timeout`, waiting
/// for a free slot under the operator's request limits included.
#[derive(Clone)]
pub struct Cluster {
    pub name: String,
    pub client: Client,
    pub timeout: Duration,
    limits: Limits,
}

impl Cluster {
    /// A cluster whose calls are not limited (tests; [`ClusterAccess`] hands out limited ones).
    pub fn new(name: impl Into<String>, client: Client, timeout: Duration) -> Self {
        Self {
            name: name.into(),
            client,
            timeout,
            limits: Limits::none(),
        }
    }

    /// The same cluster, its calls limited by `limits`.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Runs `call` once a slot is free, the wait and the call together within the cluster's timeout;
    /// `what` names the call in the error when there is no answer in time.
    async fn bounded<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, ClusterError>>,
    ) -> Result<T, ClusterError> {
        let mut waiting = limits::Waiting::default();
        let run = async {
            let _slot = self.limits.acquire(&mut waiting).await;
            call.await
        };
        let result = match tokio::time::timeout(self.timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(ClusterError::Unreachable {
                cluster: self.name.clone(),
                message: match waiting.held_by() {
                    Some(limit) => format!(
                        "{what} got no slot within {}s: the operator's own limit of {limit} was reached, \
                         not the cluster; raise it or wait",
                        self.timeout.as_secs()
                    ),
                    None => format!("{what} got no answer within {}s", self.timeout.as_secs()),
                },
            }),
        };
        self.limits.record(&result);
        result
    }

    /// Runs one API call with the cluster's timeout; `what` names the call in errors
    /// ("list nodes", "apply Deployment cpaas-system/platform-api").
    pub async fn call<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, ClusterError> {
        self.bounded(what, async { call.await.map_err(|err| self.classify(what, err)) })
            .await
    }

    /// Like [`Cluster::call`], but a 404 is `None`.
    pub async fn get_opt<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<Option<T>, ClusterError> {
        match self.call(what, call).await {
            Ok(value) => Ok(Some(value)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// GETs `path` and reads at most `limit` bytes of the answer, whatever its status: bodies the
    /// operator reads itself (`/readyz`, `/metrics`) come from a cluster it does not control, so a
    /// hostile or broken one cannot make it hold more than `limit`.
    pub async fn get_bounded(&self, path: &str, limit: usize) -> Result<BoundedAnswer, ClusterError> {
        let unreachable = |message: String| ClusterError::Unreachable {
            cluster: self.name.clone(),
            message: clip_error(&message),
        };
        let request = http::Request::get(path)
            .body(kube::client::Body::from(Vec::new()))
            .map_err(|e| unreachable(format!("get {path}: {e}")))?;
        let read = async {
            let response = self
                .client
                .send(request)
                .await
                // Through `classify`, like every typed call: a credential plugin's output never leaks.
                .map_err(|e| classify(&self.name, &format!("get {path}"), e))?;
            let status = response.status().as_u16();
            let mut body = response.into_body();
            let mut bytes = Vec::new();
            let mut truncated = false;
            while let Some(frame) = body.frame().await {
                let frame =
                    frame.map_err(|e| unreachable(format!("get {path}: reading the answer failed: {e}")))?;
                if let Ok(data) = frame.into_data() {
                    let room = limit.saturating_sub(bytes.len());
                    bytes.extend_from_slice(&data[..data.len().min(room)]);
                    if data.len() > room {
                        // Stop reading: the rest of the body is dropped with the connection.
                        truncated = true;
                        break;
                    }
                }
            }
            Ok(BoundedAnswer {
                status,
                text: String::from_utf8_lossy(&bytes).into_owned(),
                truncated,
            })
        };
        self.bounded(&format!("get {path}"), read).await
    }

    fn classify(&self, what: &str, err: kube::Error) -> ClusterError {
        classify(&self.name, what, err)
    }
}

fn classify(cluster: &str, what: &str, err: kube::Error) -> ClusterError {
    match err {
        // 5xx and 429 mean the server is there but not serving: treat as unreachable, retry later.
        kube::Error::Api(status) if status.code < 500 && status.code != 429 => ClusterError::Refused {
            cluster: cluster.to_owned(),
            what: what.to_string(),
            code: status.code,
            message: clip_error(&status.message),
        },
        // Obtaining a credential failed. kube's text for it quotes a credential plugin's output (which can
        // hold a credential) or the header value it could not use: never copied.
        err if is_auth_error(&err) => ClusterError::Unreachable {
            cluster: cluster.to_owned(),
            message: format!(
                "{what} failed: no usable credential could be obtained from the kubeconfig (its credential \
                 plugin failed or gave no usable token)"
            ),
        },
        // The API server's own words: kube's text for it would add a debug dump of the whole Status.
        kube::Error::Api(status) => ClusterError::Unreachable {
            cluster: cluster.to_owned(),
            message: clip_error(&format!(
                "{what} failed: the API server answered {} {}: {}",
                status.code, status.reason, status.message
            )),
        },
        other => ClusterError::Unreachable {
            cluster: cluster.to_owned(),
            message: clip_error(&format!("{what} failed: {other}")),
        },
    }
}

/// Auth errors come back from kube's middleware boxed as a service error.
fn is_auth_error(err: &kube::Error) -> bool {
    match err {
        kube::Error::Auth(_) => true,
        kube::Error::Service(source) => source.is::<kube::client::AuthError>(),
        _ => false,
    }
}

/// Error text from a cluster, clipped where it enters the operator: a hostile API server's error body
/// can be megabytes, and it would otherwise be copied into logs and every message built on it.
fn clip_error(text: &str) -> String {
    clip(text, MAX_MESSAGE_CHARS).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::client::AuthError;

    #[test]
    fn credential_plugin_errors_are_reported_without_their_text() {
        for err in [
            kube::Error::Service(Box::new(AuthError::AuthExec(
                "plugin printed SECRET-token".into(),
            ))),
            kube::Error::Auth(AuthError::AuthExec("plugin printed SECRET-token".into())),
        ] {
            let text = classify("east", "get /version", err).to_string();
            assert!(!text.contains("SECRET"), "{text}");
            assert!(text.contains("no usable credential"), "{text}");
        }
        let other = classify(
            "east",
            "get /version",
            kube::Error::Service("connection refused".into()),
        );
        assert!(other.to_string().contains("connection refused"));
    }

    #[test]
    fn a_server_error_is_unreachable_in_the_api_servers_words() {
        for (code, reason, message) in [
            (
                500,
                "InternalError",
                "Internal error occurred: etcdserver: request timed out",
            ),
            (
                503,
                "ServiceUnavailable",
                "the server is currently unable to handle the request",
            ),
            (
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
            ),
        ] {
            let status = kube::core::Status::failure(message, reason).with_code(code);
            let err = classify("east", "get /version", kube::Error::Api(status.boxed()));
            assert!(err.is_unreachable(), "{code} is retried, not a refusal");
            assert_eq!(
                err.to_string(),
                format!(
                    "cannot reach cluster east: get /version failed: the API server answered {code} {reason}: {message}"
                )
            );
        }
    }

    #[tokio::test]
    async fn a_bounded_get_reports_credential_plugin_failures_without_their_text() {
        let failing = tower::service_fn(|_request: http::Request<kube::client::Body>| async {
            Err::<http::Response<kube::client::Body>, _>(Box::new(AuthError::AuthExec(
                "plugin printed SECRET-token".into(),
            ))
                as Box<dyn std::error::Error + Send + Sync>)
        });
        let client = kube::Client::new(failing, "default");
        let cluster = Cluster::new("east", client, std::time::Duration::from_secs(5));
        let err = cluster
            .get_bounded("/readyz", 1024)
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains("SECRET"), "{err}");
        assert!(err.contains("no usable credential"), "{err}");
    }
}
