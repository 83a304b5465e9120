//! Server-sent events: a watch made as the caller, turned into rendered fragments the page's script
//! swaps in. Each stream holds one of [`crate::MAX_STREAMS`] permits and ends after
//! [`crate::STREAM_LIFETIME`] (the browser reconnects).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use acp_api::ClusterVersionShadow;
use acp_api::k8s::Timestamp;
use acp_api::rollout::UpgradeRun;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};

use crate::{State, auth, views};

type Sender = mpsc::Sender<Result<Event, Infallible>>;

/// Starts a stream: a permit, the caller's client, and the task `feed` filling the channel.
fn stream<F, Fut>(state: &State, headers: &HeaderMap, feed: F) -> Response
where
    F: FnOnce(kube::Client, Sender) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Ok(permit) = state.streams.clone().try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live streams are open; reload later",
        )
            .into_response();
    };
    let client = match auth::client_for(&state.config.mode, headers) {
        Ok(client) => client,
        Err(_) => return (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
    };
    let (tx, rx) = mpsc::channel(16);
    let task = feed(client, tx);
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(crate::STREAM_LIFETIME, task).await;
    });
    Sse::new(rx).keep_alive(KeepAlive::default()).into_response()
}

fn event(name: &str, data: String) -> Result<Event, Infallible> {
    // Fragments are one line each: maud renders without newlines except inside text, which SSE
    // splits into data lines and the browser joins again.
    // A carriage return cannot travel in an event (axum refuses it); it means nothing in HTML.
    Ok(Event::default().event(name).data(data.replace('\r', " ")))
}

pub async fn fleet(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Query(query): Query<views::FleetQuery>,
) -> Response {
    let namespace = state.config.namespace.clone();
    stream(&state, &headers, move |client, mut tx| async move {
        let api: Api<ClusterVersionShadow> = Api::namespaced(client, &namespace);
        let mut rows: BTreeMap<String, views::FleetRow> = BTreeMap::new();
        let mut initialised = false;
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
        while let Some(next) = events.next().await {
            let now = Timestamp::now();
            let mut out: Vec<Result<Event, Infallible>> = Vec::new();
            match next {
                Ok(watcher::Event::Init) => {}
                Ok(watcher::Event::InitApply(cvsh)) => {
                    let row = views::FleetRow::of(&cvsh, now);
                    if initialised && query.matches(&row) {
                        out.push(event("row", views::fleet_row(&row).into_string()));
                    }
                    rows.insert(cvsh.name_any(), row);
                }
                Ok(watcher::Event::InitDone) => {
                    initialised = true;
                    let all: Vec<_> = rows.values().cloned().collect();
                    out.push(event(
                        "counts",
                        views::counts_fragment(&views::counts(&all)).into_string(),
                    ));
                }
                Ok(watcher::Event::Apply(cvsh)) => {
                    let row = views::FleetRow::of(&cvsh, now);
                    if query.matches(&row) {
                        out.push(event("row", views::fleet_row(&row).into_string()));
                    } else {
                        out.push(event("remove", row.name.clone()));
                    }
                    rows.insert(cvsh.name_any(), row);
                    let all: Vec<_> = rows.values().cloned().collect();
                    out.push(event(
                        "counts",
                        views::counts_fragment(&views::counts(&all)).into_string(),
                    ));
                }
                Ok(watcher::Event::Delete(cvsh)) => {
                    rows.remove(&cvsh.name_any());
                    out.push(event("remove", cvsh.name_any()));
                    let all: Vec<_> = rows.values().cloned().collect();
                    out.push(event(
                        "counts",
                        views::counts_fragment(&views::counts(&all)).into_string(),
                    ));
                }
                // A refused or broken watch ends the stream; the browser retries later.
                Err(e) => {
                    tracing::debug!(error = %e, "fleet watch failed");
                    return;
                }
            }
            for item in out {
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        }
    })
}

/// Sends a `kind` event with `render(object)` each time the object `name` of `api` changes, from after
/// the watch's first listing on (the page already shows that state); ends when the watch fails or the
/// browser goes.
async fn follow_one<K, F, Fut>(api: Api<K>, name: &str, kind: &str, mut tx: Sender, mut render: F)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
    F: FnMut(K) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = std::pin::pin!(watcher(api, config));
    let mut initialised = false;
    while let Some(next) = events.next().await {
        let object = match next {
            Ok(watcher::Event::InitDone) => {
                initialised = true;
                continue;
            }
            Ok(watcher::Event::Apply(object)) => object,
            Ok(watcher::Event::InitApply(object)) if initialised => object,
            Ok(_) => continue,
            Err(e) => {
                tracing::debug!(error = %e, kind, "watch for a live page failed");
                return;
            }
        };
        let html = render(object).await;
        if tx.send(event(kind, html)).await.is_err() {
            return;
        }
    }
}

pub async fn cluster(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let namespace = state.config.namespace.clone();
    stream(&state, &headers, move |client, tx| async move {
        let api: Api<ClusterVersionShadow> = Api::namespaced(client.clone(), &namespace);
        follow_one(api, &name, "cluster", tx, |cvsh| {
            let (client, namespace, name) = (client.clone(), namespace.clone(), name.clone());
            async move {
                let events = crate::pages::recent_events(&client, &namespace, &name).await;
                views::cluster_live(&cvsh, Timestamp::now(), &events).into_string()
            }
        })
        .await;
    })
}

pub async fn run(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    let namespace = state.config.namespace.clone();
    // The controls the fragment carries post with this session's token.
    let csrf = crate::pages::csrf_of(&state, &headers);
    stream(&state, &headers, move |client, tx| async move {
        let denied = crate::pages::run_denied(&client, &namespace, &name).await;
        let api: Api<UpgradeRun> = Api::namespaced(client, &namespace);
        follow_one(api, &name, "run", tx, |run| {
            let html = views::run_live(&run, &csrf, denied.as_deref()).into_string();
            std::future::ready(html)
        })
        .await;
    })
}
