//! The HTTP server: `/metrics`, `/healthz`, `/readyz`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// What this replica is doing, as far as readiness is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    /// Connecting, or the leader whose caches have not synced yet.
    Starting = 0,
    /// Waiting for the Lease; healthy, writes nothing.
    Standby = 1,
    /// Holds the Lease and its controllers' caches are synced.
    Leader = 2,
}

/// Readiness shared between the controllers and the HTTP server.
#[derive(Default)]
pub struct Health {
    role: AtomicU8,
}

impl Health {
    pub fn set(&self, role: Role) {
        self.role.store(role as u8, Ordering::Release);
    }

    pub fn role(&self) -> Role {
        match self.role.load(Ordering::Acquire) {
            1 => Role::Standby,
            2 => Role::Leader,
            _ => Role::Starting,
        }
    }
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    health: Arc<Health>,
}

pub fn router(registry: Arc<Registry>, health: Arc<Health>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { registry, health })
}

/// Serves until `shutdown` completes.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    health: Arc<Health>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} for /metrics; choose another --metrics-addr"))?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    axum::serve(listener, router(registry, health))
        .with_graceful_shutdown(shutdown)
        .await
        .context("HTTP server failed")
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        ),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("encoding metrics failed: {err}"),
        ),
    }
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.health.role() {
        Role::Leader => (StatusCode::OK, "ok: leader, caches synced"),
        Role::Standby => (StatusCode::OK, "ok: standby, waiting for the leader Lease"),
        Role::Starting => (StatusCode::SERVICE_UNAVAILABLE, "starting: caches not synced yet"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let code = response.split_whitespace().nth(1).unwrap().parse().unwrap();
        (code, response.split_once("\r\n\r\n").unwrap().1.to_string())
    }

    #[tokio::test]
    async fn readiness_follows_the_role_and_metrics_are_served() {
        let mut registry = Registry::default();
        let metrics = crate::metrics::Metrics::new(&mut registry);
        metrics.set_leader(true);
        let health = Arc::new(Health::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(Arc::new(registry), health.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });

        assert_eq!(get(addr, "/healthz").await.0, 200);
        assert_eq!(get(addr, "/readyz").await.0, 503);
        health.set(Role::Standby);
        let (code, body) = get(addr, "/readyz").await;
        assert_eq!((code, body.contains("standby")), (200, true));
        health.set(Role::Leader);
        assert_eq!(get(addr, "/readyz").await.0, 200);
        let (code, body) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        assert!(body.contains("acp_cvo_leader 1"), "{body}");
    }
}
