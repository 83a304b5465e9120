//! Routes and handlers: read as the caller, render, and the few mutations.

use std::sync::Arc;

use acp_api::cvsh::request::{self, Action, Request, RequestKind};
use acp_api::k8s::Timestamp;
use acp_api::rollout::UpgradeRun;
use acp_api::{ClusterVersionShadow, ProductManifest, names};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Path, Query, State as Shared};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use maud::{Markup, html};

use crate::auth::{self, NoClient};
use crate::errors::Attempt;
use crate::views::{self, RequestChoice, RequestForm};
use crate::{State, assets, live, security};

type App = Arc<State>;

pub fn routes(state: App) -> Router {
    Router::new()
        .route("/", get(fleet))
        .route("/clusters/{name}", get(cluster))
        .route("/clusters/{name}/request", get(cluster).post(request_upgrade))
        .route("/releases", get(releases))
        .route("/risks/{version}", get(risks))
        .route("/runs", get(runs))
        .route("/runs/{name}", get(run).post(edit_run))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-out", post(sign_out))
        .route("/events/fleet", get(live::fleet))
        .route("/events/clusters/{name}", get(live::cluster))
        .route("/events/runs/{name}", get(live::run))
        .route("/assets/console.js", get(assets::script))
        .route("/assets/console.css", get(assets::style))
        .layer(DefaultBodyLimit::max(crate::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ensure_session,
        ))
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(state)
}

fn valid_session(id: &str) -> bool {
    id.len() == 48 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Gives a browser without a session one: the id is added to this request's cookies (so every handler
/// derives the same CSRF token from it) and set on the response.
async fn ensure_session(
    Shared(state): Shared<App>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if auth::cookie(request.headers(), auth::SESSION_COOKIE).is_some_and(|id| valid_session(&id)) {
        return next.run(request).await;
    }
    let id = match state.sessions.new_session() {
        Ok(id) => id,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    // Appended last: a malformed cookie of the same name earlier in the header is not the one read.
    let cookies = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .filter(|h| !h.contains(auth::SESSION_COOKIE))
        .chain(std::iter::once(format!("{}={id}", auth::SESSION_COOKIE).as_str()))
        .collect::<Vec<_>>()
        .join("; ");
    if let Ok(value) = HeaderValue::from_str(&cookies) {
        request.headers_mut().remove(header::COOKIE);
        request.headers_mut().insert(header::COOKIE, value);
    }
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&auth::set_cookie(auth::SESSION_COOKIE, &id)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The browser's session id (`ensure_session` gave every request one).
pub fn session(_state: &State, headers: &HeaderMap) -> String {
    auth::cookie(headers, auth::SESSION_COOKIE)
        .filter(|id| valid_session(id))
        .unwrap_or_default()
}

/// The CSRF token of the request's session (a new session's, when it had none: `page` sets its cookie).
pub(crate) fn csrf_of(state: &State, headers: &HeaderMap) -> String {
    state.sessions.csrf_token(&session(state, headers))
}

/// A whole page.
fn page(state: &State, headers: &HeaderMap, code: StatusCode, title: &str, content: Markup) -> Response {
    let csrf = csrf_of(state, headers);
    let body = views::layout(title, &csrf, content).into_string();
    (code, axum::response::Html(body)).into_response()
}

/// The page for a request without a client: bearer mode without a token signs in (401).
fn no_client(state: &State, headers: &HeaderMap, why: NoClient) -> Response {
    match why {
        NoClient::SignIn => page(
            state,
            headers,
            StatusCode::UNAUTHORIZED,
            "Sign in",
            views::sign_in(None, &csrf_of(state, headers)),
        ),
        NoClient::Broken(e) => page(
            state,
            headers,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error",
            views::alert("error", &format!("Cannot build a client for the API server: {e}")),
        ),
    }
}

macro_rules! caller {
    ($state:expr, $headers:expr) => {
        match auth::client_for(&$state.config.mode, &$headers) {
            Ok(client) => client,
            Err(why) => return no_client(&$state, &$headers, why),
        }
    };
}

/// The csrf token of the form matches the session, and the request comes from this console's pages.
fn mutation_allowed(state: &State, headers: &HeaderMap, csrf: &str) -> Result<(), String> {
    if !security::same_origin(headers) {
        return Err(
            "Refused: the request did not come from a page of this console (Origin check).".to_owned(),
        );
    }
    let session = auth::cookie(headers, auth::SESSION_COOKIE).unwrap_or_default();
    if !state.sessions.check(&session, csrf) {
        return Err("Refused: the form's CSRF token is missing or belongs to another session; reload the page and try again.".to_owned());
    }
    Ok(())
}

/// The 403 page of a POST that this console's pages did not send, if it is one.
fn forged(state: &State, headers: &HeaderMap, csrf: &str) -> Option<Response> {
    let why = mutation_allowed(state, headers, csrf).err()?;
    Some(page(
        state,
        headers,
        StatusCode::FORBIDDEN,
        "Refused",
        views::alert("error", &why),
    ))
}

async fn fleet(
    Shared(state): Shared<App>,
    headers: HeaderMap,
    Query(query): Query<views::FleetQuery>,
) -> Response {
    let client = caller!(state, headers);
    let api: Api<ClusterVersionShadow> = Api::namespaced(client, &state.config.namespace);
    let attempt = Attempt {
        what: "list clusters",
        verb: "list",
        resource: "clusterversionshadows",
        namespace: Some(&state.config.namespace),
    };
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let now = Timestamp::now();
            let all: Vec<views::FleetRow> = list.items.iter().map(|c| views::FleetRow::of(c, now)).collect();
            let rows = query.apply(all.clone());
            page(
                &state,
                &headers,
                StatusCode::OK,
                "Fleet",
                views::fleet(&rows, &all, &query),
            )
        }
        Err(e) => refused(&state, &headers, "Fleet", &attempt, &e),
    }
}

fn refused(
    state: &State,
    headers: &HeaderMap,
    title: &str,
    attempt: &Attempt<'_>,
    e: &kube::Error,
) -> Response {
    if matches!(e, kube::Error::Api(s) if s.code == 401) && matches!(state.config.mode, auth::Mode::Bearer(_))
    {
        return page(
            state,
            headers,
            StatusCode::UNAUTHORIZED,
            "Sign in",
            views::sign_in(Some(&attempt.explain(e)), &csrf_of(state, headers)),
        );
    }
    let code = match e {
        kube::Error::Api(s) => StatusCode::from_u16(s.code).unwrap_or(StatusCode::BAD_GATEWAY),
        _ => StatusCode::BAD_GATEWAY,
    };
    page(
        state,
        headers,
        code,
        title,
        html! { h1 { (title) } (views::alert("error", &attempt.explain(e))) },
    )
}

/// Asks the API server whether the caller may `verb` `resource` (in the console's namespace).
pub async fn may(
    client: &kube::Client,
    namespace: &str,
    verb: &str,
    group: &str,
    resource: &str,
    name: Option<&str>,
) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(namespace.to_owned()),
                verb: Some(verb.to_owned()),
                group: Some(group.to_owned()),
                resource: Some(resource.to_owned()),
                name: name.map(str::to_owned),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    match api.create(&PostParams::default(), &review).await {
        Ok(answer) => answer.status.is_some_and(|s| s.allowed),
        // Unknown: leave the controls on; the API server still decides.
        Err(_) => true,
    }
}

fn request_attempt<'a>(what: &'a str, namespace: &'a str) -> Attempt<'a> {
    Attempt {
        what,
        verb: "patch",
        resource: "clusterversionshadows",
        namespace: Some(namespace),
    }
}

pub async fn recent_events(client: &kube::Client, namespace: &str, name: &str) -> Vec<views::Event> {
    let api: Api<KubeEvent> = Api::namespaced(client.clone(), namespace);
    let params = ListParams::default()
        .fields(&format!(
            "involvedObject.name={name},involvedObject.kind=ClusterVersionShadow"
        ))
        .limit(50);
    let Ok(list) = api.list(&params).await else {
        return Vec::new();
    };
    let mut events: Vec<(Option<Timestamp>, views::Event)> = list
        .items
        .into_iter()
        .map(|e| {
            let when = e
                .last_timestamp
                .as_ref()
                .map(|t| t.0)
                .or(e.event_time.as_ref().map(|t| t.0));
            let view = views::Event {
                time: when
                    .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
                    .unwrap_or_default(),
                reason: e.reason.unwrap_or_default(),
                message: e.message.unwrap_or_default(),
            };
            (when, view)
        })
        .collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.0));
    events.into_iter().take(20).map(|(_, e)| e).collect()
}

async fn cluster(Shared(state): Shared<App>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let client = caller!(state, headers);
    render_cluster(
        &state,
        &headers,
        &client,
        &name,
        &RequestChoice::default(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_cluster(
    state: &State,
    headers: &HeaderMap,
    client: &kube::Client,
    name: &str,
    choice: &RequestChoice,
    review: Option<Result<Vec<String>, String>>,
    notice: Option<Markup>,
    code: StatusCode,
) -> Response {
    let ns = &state.config.namespace;
    let api: Api<ClusterVersionShadow> = Api::namespaced(client.clone(), ns);
    let what = format!("read cluster {name}");
    let cvsh = match api.get(name).await {
        Ok(c) => c,
        Err(e) => {
            let attempt = Attempt {
                what: &what,
                verb: "get",
                resource: "clusterversionshadows",
                namespace: Some(ns),
            };
            return refused(state, headers, &format!("Cluster {name}"), &attempt, &e);
        }
    };
    let events = recent_events(client, ns, name).await;
    let allowed = may(
        client,
        ns,
        "patch",
        "config.alauda.io",
        "clusterversionshadows",
        Some(name),
    )
    .await;
    let request_what = format!("request an upgrade of cluster {name}");
    let denied = (!allowed).then(|| request_attempt(&request_what, ns).forbidden());
    let csrf = csrf_of(state, headers);
    let form = RequestForm {
        cluster: &cvsh,
        denied: denied.as_deref(),
        csrf: &csrf,
        choice,
        review,
    };
    let content = views::cluster_page(&cvsh, Timestamp::now(), &events, &form, notice);
    page(state, headers, code, &format!("Cluster {name}"), content)
}

/// The request a form makes, as `ac adm upgrade` would make it from the same choices.
fn request_of(choice: &RequestChoice, cluster: &str) -> Result<Request, String> {
    let kind = if choice.action == "cancel" {
        RequestKind::Clear
    } else {
        let target = choice.target();
        if target.is_empty() {
            return Err(format!("Choose a version to upgrade cluster {cluster} to."));
        }
        RequestKind::To(
            target
                .parse()
                .map_err(|e| format!("{target:?} is not a version: {e}"))?,
        )
    };
    Ok(Request {
        kind,
        force: choice.forced(cluster),
        ignore_window: choice.ignore_window.is_some(),
        allow_explicit: choice.allow_explicit.is_some() && !choice.explicit_version.trim().is_empty(),
        allow_with_warnings: choice.allow_with_warnings.is_some(),
        accept: choice.accepted(),
        allow_not_recommended: choice.allow_not_recommended.is_some(),
    })
}

async fn request_upgrade(
    Shared(state): Shared<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(choice): Form<RequestChoice>,
) -> Response {
    if let Some(refusal) = forged(&state, &headers, &choice.csrf) {
        return refusal;
    }
    let client = caller!(state, headers);
    let ns = state.config.namespace.clone();
    let api: Api<ClusterVersionShadow> = Api::namespaced(client.clone(), &ns);
    let cvsh = match api.get(&name).await {
        Ok(c) => c,
        Err(e) => {
            let what = format!("read cluster {name}");
            let attempt = Attempt {
                what: &what,
                verb: "get",
                resource: "clusterversionshadows",
                namespace: Some(&ns),
            };
            return refused(&state, &headers, &format!("Cluster {name}"), &attempt, &e);
        }
    };
    let decided = request_of(&choice, &name).and_then(|r| request::decide(&cvsh, &r).map_err(|e| e.0));
    let action = match decided {
        Err(refusal) => {
            return render_cluster(
                &state,
                &headers,
                &client,
                &name,
                &choice,
                Some(Err(refusal)),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
        Ok(action) => action,
    };
    if choice.action == "review" {
        let warnings = match &action {
            Action::Patch {
                warnings, message, ..
            } => {
                let mut w = warnings.clone();
                w.push(format!(
                    "Confirming does this: {}",
                    message.lines().next().unwrap_or("")
                ));
                w
            }
            Action::Nothing { message } => vec![message.clone()],
        };
        return render_cluster(
            &state,
            &headers,
            &client,
            &name,
            &choice,
            Some(Ok(warnings)),
            None,
            StatusCode::OK,
        )
        .await;
    }
    if choice.action != "confirm" && choice.action != "cancel" {
        return page(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            "Refused",
            views::alert("error", "Unknown action: use Review, Confirm or Cancel."),
        );
    }
    let message = match action {
        Action::Nothing { message } => message,
        Action::Patch { body, message, .. } => {
            let params = PatchParams {
                field_manager: Some(names::CLI_FIELD_MANAGER.to_owned()),
                ..Default::default()
            };
            if let Err(e) = api.patch(&name, &params, &Patch::Merge(&body)).await {
                let what = if choice.action == "cancel" {
                    format!("cancel the requested upgrade of cluster {name}")
                } else {
                    format!("request an upgrade of cluster {name}")
                };
                let text = request_attempt(&what, &ns).explain(&e);
                let code = match &e {
                    kube::Error::Api(s) => StatusCode::from_u16(s.code).unwrap_or(StatusCode::BAD_GATEWAY),
                    _ => StatusCode::BAD_GATEWAY,
                };
                return render_cluster(
                    &state,
                    &headers,
                    &client,
                    &name,
                    &RequestChoice::default(),
                    None,
                    Some(views::alert("error", &text)),
                    code,
                )
                .await;
            }
            message.lines().next().unwrap_or("").to_owned()
        }
    };
    render_cluster(
        &state,
        &headers,
        &client,
        &name,
        &RequestChoice::default(),
        None,
        Some(views::alert("ok", &message)),
        StatusCode::OK,
    )
    .await
}

async fn releases(Shared(state): Shared<App>, headers: HeaderMap) -> Response {
    let client = caller!(state, headers);
    let api: Api<ProductManifest> = Api::all(client);
    let attempt = Attempt {
        what: "list releases",
        verb: "list",
        resource: "productmanifests",
        namespace: None,
    };
    match api.list(&ListParams::default()).await {
        Ok(list) => page(
            &state,
            &headers,
            StatusCode::OK,
            "Releases",
            views::releases(&list.items),
        ),
        Err(e) => refused(&state, &headers, "Releases", &attempt, &e),
    }
}

/// One release's known risks across the fleet, as `ac adm release risks VERSION` prints them.
async fn risks(Shared(state): Shared<App>, headers: HeaderMap, Path(version): Path<String>) -> Response {
    let client = caller!(state, headers);
    let title = format!("Known risks of {version}");
    let Ok(target) = version.parse::<acp_policy::AcpVersion>() else {
        let text = format!("{version:?} is not an ACP version; open /risks/4.3.1 for example");
        return page(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            &title,
            views::alert("error", &text),
        );
    };
    let manifests: Api<ProductManifest> = Api::all(client.clone());
    let attempt = Attempt {
        what: "list releases",
        verb: "list",
        resource: "productmanifests",
        namespace: None,
    };
    let manifests = match manifests.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => return refused(&state, &headers, &title, &attempt, &e),
    };
    let known = acp_api::catalogue::from_manifests(&manifests);
    let Some(release) = known.catalogue.release(&target) else {
        let text = format!(
            "Release {target} is not known: neither built in nor resolved by a Ready ProductManifest; import it with `ac adm release import-manifest --version={target}`"
        );
        return page(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            &title,
            views::alert("error", &text),
        );
    };
    let declared: Vec<(String, String, Option<String>)> = release
        .risks
        .iter()
        .map(|r| (r.name.clone(), r.message.clone(), r.url.clone()))
        .collect();
    let shadows: Api<ClusterVersionShadow> = Api::namespaced(client, &state.config.namespace);
    let attempt = Attempt {
        what: "list clusters",
        verb: "list",
        resource: "clusterversionshadows",
        namespace: Some(&state.config.namespace),
    };
    let mut clusters = match shadows.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) => return refused(&state, &headers, &title, &attempt, &e),
    };
    clusters.sort_by_key(|c| c.name_any());
    let matrix = acp_api::risk_matrix::matrix(&target, &declared, &clusters);
    page(&state, &headers, StatusCode::OK, &title, views::risks(&matrix))
}

async fn runs(Shared(state): Shared<App>, headers: HeaderMap) -> Response {
    let client = caller!(state, headers);
    let api: Api<UpgradeRun> = Api::namespaced(client, &state.config.namespace);
    let attempt = Attempt {
        what: "list rollouts",
        verb: "list",
        resource: "upgraderuns",
        namespace: Some(&state.config.namespace),
    };
    match api.list(&ListParams::default()).await {
        Ok(list) => page(
            &state,
            &headers,
            StatusCode::OK,
            "Rollouts",
            views::runs(&list.items),
        ),
        Err(e) => refused(&state, &headers, "Rollouts", &attempt, &e),
    }
}

async fn run(Shared(state): Shared<App>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let client = caller!(state, headers);
    show_run(&state, &headers, &client, &name, None, StatusCode::OK).await
}

async fn show_run(
    state: &State,
    headers: &HeaderMap,
    client: &kube::Client,
    name: &str,
    notice: Option<Markup>,
    code: StatusCode,
) -> Response {
    let ns = &state.config.namespace;
    let api: Api<UpgradeRun> = Api::namespaced(client.clone(), ns);
    let what = format!("read rollout {name}");
    match api.get(name).await {
        Ok(run) => {
            let denied = run_denied(client, ns, name).await;
            let csrf = csrf_of(state, headers);
            page(
                state,
                headers,
                code,
                &format!("Rollout {name}"),
                views::run(&run, &csrf, denied.as_deref(), notice),
            )
        }
        Err(e) => {
            let attempt = Attempt {
                what: &what,
                verb: "get",
                resource: "upgraderuns",
                namespace: Some(ns),
            };
            refused(state, headers, &format!("Rollout {name}"), &attempt, &e)
        }
    }
}

/// Why the caller may not act on rollout `name` (from a SelfSubjectAccessReview), if they may not.
pub(crate) async fn run_denied(client: &kube::Client, namespace: &str, name: &str) -> Option<String> {
    if may(
        client,
        namespace,
        "patch",
        "cvo.alauda.io",
        "upgraderuns",
        Some(name),
    )
    .await
    {
        return None;
    }
    let what = format!("approve, pause or resume rollout {name}");
    Some(
        Attempt {
            what: &what,
            verb: "patch",
            resource: "upgraderuns",
            namespace: Some(namespace),
        }
        .forbidden(),
    )
}

#[derive(serde::Deserialize)]
struct RunAction {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    gate: String,
}

/// How often an edit is retried when someone else changed the run in between.
const EDIT_ATTEMPTS: usize = 5;

async fn edit_run(
    Shared(state): Shared<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Form(form): Form<RunAction>,
) -> Response {
    if let Some(refusal) = forged(&state, &headers, &form.csrf) {
        return refusal;
    }
    let client = caller!(state, headers);
    let ns = state.config.namespace.clone();
    let api: Api<UpgradeRun> = Api::namespaced(client.clone(), &ns);
    let what = format!("{} rollout {name}", form.action);
    let attempt = Attempt {
        what: &what,
        verb: "patch",
        resource: "upgraderuns",
        namespace: Some(&ns),
    };
    let params = PatchParams {
        field_manager: Some(names::CLI_FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    for _ in 0..EDIT_ATTEMPTS {
        let run = match api.get(&name).await {
            Ok(run) => run,
            Err(e) => return refused(&state, &headers, &format!("Rollout {name}"), &attempt, &e),
        };
        use acp_api::rollout::edit::{self, Edit};
        let decided = match form.action.as_str() {
            "approve" => edit::approve(&run, &form.gate),
            "pause" => Ok(edit::pause(&run)),
            "resume" => Ok(edit::resume(&run)),
            _ => Err(edit::Refusal(
                "Unknown action: use approve, pause or resume.".to_owned(),
            )),
        };
        let (spec, message) = match decided {
            Err(refusal) => {
                return show_run(
                    &state,
                    &headers,
                    &client,
                    &name,
                    Some(views::alert("error", &refusal.0)),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            Ok(Edit::Nothing(message)) => {
                return show_run(
                    &state,
                    &headers,
                    &client,
                    &name,
                    Some(views::alert("ok", &message)),
                    StatusCode::OK,
                )
                .await;
            }
            Ok(Edit::Patch { spec, message }) => (spec, message),
        };
        let body = serde_json::json!({"metadata": {"resourceVersion": run.resource_version()}, "spec": spec});
        match api.patch(&name, &params, &Patch::Merge(&body)).await {
            Ok(_) => {
                return show_run(
                    &state,
                    &headers,
                    &client,
                    &name,
                    Some(views::alert("ok", &message)),
                    StatusCode::OK,
                )
                .await;
            }
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => {
                let code = match &e {
                    kube::Error::Api(s) => StatusCode::from_u16(s.code).unwrap_or(StatusCode::BAD_GATEWAY),
                    _ => StatusCode::BAD_GATEWAY,
                };
                return show_run(
                    &state,
                    &headers,
                    &client,
                    &name,
                    Some(views::alert("error", &attempt.explain(&e))),
                    code,
                )
                .await;
            }
        }
    }
    show_run(
        &state,
        &headers,
        &client,
        &name,
        Some(views::alert(
            "error",
            "The rollout kept changing while the console tried to change it; try again.",
        )),
        StatusCode::CONFLICT,
    )
    .await
}

async fn sign_in_page(Shared(state): Shared<App>, headers: HeaderMap) -> Response {
    page(
        &state,
        &headers,
        StatusCode::OK,
        "Sign in",
        views::sign_in(None, &csrf_of(&state, &headers)),
    )
}

#[derive(serde::Deserialize)]
struct SignIn {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

async fn sign_in(Shared(state): Shared<App>, headers: HeaderMap, Form(form): Form<SignIn>) -> Response {
    if let Some(refusal) = forged(&state, &headers, &form.csrf) {
        return refusal;
    }
    let token = form.token.trim();
    if !auth::valid_token(token) {
        return page(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            "Sign in",
            views::sign_in(
                Some("That is not a bearer token: paste the token alone, without spaces or quotes."),
                &csrf_of(&state, &headers),
            ),
        );
    }
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = HeaderValue::from_str(&auth::set_cookie(auth::TOKEN_COOKIE, token)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn sign_out(Shared(state): Shared<App>, headers: HeaderMap, Form(form): Form<RunAction>) -> Response {
    if let Some(refusal) = forged(&state, &headers, &form.csrf) {
        return refusal;
    }
    let mut response = Redirect::to("/sign-in").into_response();
    let expired = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        auth::TOKEN_COOKIE
    );
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
