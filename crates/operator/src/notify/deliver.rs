//! The delivery task: takes notifications in order and POSTs each to the webhook as a structured-mode
//! CloudEvent, retrying with exponential backoff. Each attempt and each wait is bounded.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;

use super::{CloudEvent, Queue};
use crate::metrics::{Delivery, Metrics};
use crate::shutdown::Shutdown;

/// How hard to try one notification.
#[derive(Clone, Debug)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Time limit of one attempt (connect, send, answer).
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 6,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// The Secret holding the webhook: key `url` (http or https), optional key `token` (sent as a bearer
/// token).
#[derive(Clone)]
pub struct WebhookSecret {
    pub api: Api<Secret>,
    pub namespace: String,
    pub name: String,
}

/// Where to send, read from the Secret.
struct Target {
    url: reqwest::Url,
    token: Option<String>,
}

impl WebhookSecret {
    /// The webhook as the Secret says now. Errors name the Secret and key, never their content.
    async fn target(&self, timeout: Duration) -> Result<Target, String> {
        let secret = match tokio::time::timeout(timeout, self.api.get_opt(&self.name)).await {
            Ok(Ok(Some(secret))) => secret,
            Ok(Ok(None)) => {
                return Err(format!(
                    "Secret {}/{} (--notification-secret) does not exist: create it with keys `url` and, \
                     optionally, `token`",
                    self.namespace, self.name
                ));
            }
            Ok(Err(err)) => {
                return Err(format!(
                    "cannot read Secret {}/{}: {err}",
                    self.namespace, self.name
                ));
            }
            Err(_) => {
                return Err(format!(
                    "reading Secret {}/{} timed out",
                    self.namespace, self.name
                ));
            }
        };
        target_from(&secret, &self.namespace, &self.name)
    }
}

fn target_from(secret: &Secret, namespace: &str, name: &str) -> Result<Target, String> {
    let value = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let url = value("url").ok_or_else(|| {
        format!("Secret {namespace}/{name} has no key `url`: add the webhook's http(s) URL under it")
    })?;
    let url = reqwest::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            format!("key `url` of Secret {namespace}/{name} is not an http:// or https:// URL: fix it")
        })?;
    let token = value("token");
    if token
        .as_deref()
        .is_some_and(|t| reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).is_err())
    {
        return Err(format!(
            "key `token` of Secret {namespace}/{name} holds characters not allowed in an HTTP header: fix it"
        ));
    }
    Ok(Target { url, token })
}

/// What one attempt came to.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    Delivered,
    /// Do not try again: the receiver refused this event.
    Rejected(String),
    /// Try again later.
    Retry(String),
}

/// 2xx delivers; 408, 429 and 5xx are worth retrying; any other answer refuses the event.
fn classify(status: reqwest::StatusCode) -> Attempt {
    if status.is_success() {
        Attempt::Delivered
    } else if status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Attempt::Retry(format!("the webhook answered {status}"))
    } else {
        Attempt::Rejected(format!("the webhook answered {status}"))
    }
}

/// The HTTP client: no redirects (the token must not follow one), bounded connect time.
pub fn client(retry: &Retry) -> anyhow::Result<reqwest::Client> {
    // reqwest is built without a bundled crypto provider; use ring, as the rest of the product does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(retry.timeout.min(Duration::from_secs(5)))
        .timeout(retry.timeout)
        .user_agent(concat!("acp-cvo/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| anyhow::anyhow!("cannot build the notification HTTP client: {err}"))
}

async fn attempt(
    client: &reqwest::Client,
    secret: &WebhookSecret,
    body: &[u8],
    timeout: Duration,
) -> Attempt {
    let target = match secret.target(timeout).await {
        Ok(target) => target,
        Err(problem) => return Attempt::Retry(problem),
    };
    let mut request = client
        .post(target.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/cloudevents+json; charset=utf-8",
        )
        .body(body.to_vec());
    if let Some(token) = target.token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(response) => classify(response.status()),
        // The URL may carry a credential: never print it.
        Err(err) => Attempt::Retry(format!("sending failed: {}", err.without_url())),
    }
}

/// Delivers one event, retrying; what became of it.
async fn deliver(
    client: &reqwest::Client,
    secret: &WebhookSecret,
    event: &CloudEvent,
    retry: &Retry,
) -> Delivery {
    let body = match serde_json::to_vec(event) {
        Ok(body) => body,
        Err(err) => {
            tracing::warn!(id = %event.id, error = %err, "cannot serialise a notification; dropped");
            return Delivery::Rejected;
        }
    };
    let attempts = retry.attempts.max(1);
    for number in 1..=attempts {
        match attempt(client, secret, &body, retry.timeout).await {
            Attempt::Delivered => {
                tracing::debug!(id = %event.id, r#type = %event.type_, cluster = %event.subject, "notification delivered");
                return Delivery::Delivered;
            }
            Attempt::Rejected(why) => {
                tracing::warn!(id = %event.id, r#type = %event.type_, cluster = %event.subject,
                    "notification refused, not retried: {why}");
                return Delivery::Rejected;
            }
            Attempt::Retry(why) if number < attempts => {
                let wait = retry.backoff(number);
                tracing::info!(id = %event.id, r#type = %event.type_, attempt = number,
                    "notification not delivered ({why}); retrying in {wait:?}");
                tokio::time::sleep(wait).await;
            }
            Attempt::Retry(why) => {
                tracing::warn!(id = %event.id, r#type = %event.type_, cluster = %event.subject,
                    "notification given up after {attempts} attempts: {why}");
            }
        }
    }
    Delivery::Failed
}

/// Delivers queued notifications one at a time, in order, until shutdown.
pub async fn run(
    queue: Arc<Queue>,
    client: reqwest::Client,
    secret: WebhookSecret,
    retry: Retry,
    metrics: Metrics,
    shutdown: Shutdown,
) {
    tracing::info!(secret = %secret.name, "delivering upgrade notifications to the webhook of Secret {}/{}",
        secret.namespace, secret.name);
    loop {
        tokio::select! {
            () = queue.wait() => {}
            () = shutdown.clone().wait() => break,
        }
        let Some(event) = queue.front() else {
            continue;
        };
        let result = tokio::select! {
            result = deliver(&client, &secret, &event, &retry) => result,
            () = shutdown.clone().wait() => break,
        };
        metrics.notification(result);
        queue.done(&event.id);
    }
    let left = queue.len();
    if left > 0 {
        tracing::warn!(left, "shutting down with notifications not delivered");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn the_webhook_comes_from_the_secret_and_problems_never_echo_its_content() {
        let target = target_from(
            &secret(&[("url", "https://hooks.example/x?k=SECRET\n"), ("token", "t0ken")]),
            "ns",
            "hook",
        )
        .unwrap();
        assert_eq!(target.url.as_str(), "https://hooks.example/x?k=SECRET");
        assert_eq!(target.token.as_deref(), Some("t0ken"));
        assert_eq!(
            target_from(&secret(&[("url", "https://h/")]), "ns", "hook")
                .unwrap()
                .token,
            None
        );

        for (data, expected) in [
            (vec![], "Secret ns/hook has no key `url`"),
            (
                vec![("url", "ftp://SECRET@host/")],
                "key `url` of Secret ns/hook is not an http",
            ),
            (
                vec![("url", "not a url SECRET")],
                "key `url` of Secret ns/hook is not an http",
            ),
            (
                vec![("url", "https://h/"), ("token", "SECRET\nX-Injected: 1")],
                "key `token` of Secret ns/hook",
            ),
        ] {
            let err = target_from(&secret(&data), "ns", "hook").err().unwrap();
            assert!(err.starts_with(expected), "{err}");
            assert!(!err.contains("SECRET"), "{err}");
        }
    }

    #[test]
    fn answers_are_delivered_retried_or_refused() {
        use reqwest::StatusCode;
        assert_eq!(classify(StatusCode::OK), Attempt::Delivered);
        assert_eq!(classify(StatusCode::ACCEPTED), Attempt::Delivered);
        for retried in [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::REQUEST_TIMEOUT,
        ] {
            assert!(matches!(classify(retried), Attempt::Retry(_)), "{retried}");
        }
        for refused in [
            StatusCode::BAD_REQUEST,
            StatusCode::UNAUTHORIZED,
            StatusCode::NOT_FOUND,
        ] {
            assert!(matches!(classify(refused), Attempt::Rejected(_)), "{refused}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let retry = Retry::default();
        let waits: Vec<u64> = (1..=7).map(|n| retry.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
    }
}
