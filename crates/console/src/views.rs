//! The pages as pure functions of the objects read (and the time): view models, filters, and the HTML.
//! maud escapes every interpolated value, so a hostile name or message is shown, never run.

use std::collections::BTreeMap;
use std::time::Duration;

use acp_api::ClusterVersionShadow;
use acp_api::cvsh::{CheckState, State, Tier};
use acp_api::k8s::Timestamp;
use acp_policy::AcpVersion;
use kube::ResourceExt;
use maud::{DOCTYPE, Markup, html};

/// One row of the fleet table: the same reading of a cvsh `ac adm cluster list` and the metrics give.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetRow {
    pub name: String,
    pub tier: &'static str,
    pub provisioning: &'static str,
    pub current: String,
    pub desired: String,
    pub kubernetes: String,
    /// The state word (Idle, Requested, Blocked, Paused, Upgrading, Stalled, Unknown).
    pub state: &'static str,
    pub unreachable: bool,
    pub percent: u8,
    /// Time left by the last completed upgrade's duration, while one runs.
    pub eta: Option<Duration>,
    /// The first failed (else waiting) preflight check of the requested upgrade: name and message.
    pub blocker: Option<(String, String)>,
    pub labels: BTreeMap<String, String>,
}

impl FleetRow {
    pub fn of(cvsh: &ClusterVersionShadow, now: Timestamp) -> Self {
        let status = cvsh.status_or_default();
        let summary = acp_api::cvsh::summary::summarize(cvsh, now);
        let reading = summary.reading.clone();
        let percent = summary.percent;
        let eta = summary.remaining();
        let blocker = match reading.state {
            State::Idle | State::Unknown => None,
            _ => status.preflight.as_ref().and_then(|p| {
                let first = |state: CheckState| p.checks.iter().find(|c| c.state == state);
                first(CheckState::Failed)
                    .or_else(|| first(CheckState::Retry))
                    .map(|c| (c.name.clone(), c.message.clone().unwrap_or_default()))
            }),
        };
        FleetRow {
            name: cvsh.name_any(),
            tier: match cvsh.tier() {
                Tier::Global => "Global",
                Tier::GlobalStandby => "GlobalStandby",
                Tier::Workload => "Workload",
            },
            provisioning: match cvsh.provisioning() {
                acp_api::cvsh::Provisioning::PlatformManaged => "PlatformManaged",
                acp_api::cvsh::Provisioning::ThirdParty => "ThirdParty",
            },
            current: status.current_version().unwrap_or("").to_owned(),
            desired: reading.state.target().unwrap_or("").to_owned(),
            kubernetes: status
                .observed
                .as_ref()
                .and_then(|o| o.kubernetes_version.clone())
                .unwrap_or_default(),
            state: reading.state.as_str(),
            unreachable: reading.reachability == acp_api::cvsh::Reachability::Unreachable,
            percent,
            eta,
            blocker,
            labels: cvsh.labels().clone(),
        }
    }
}

/// The fleet page's query: `?state=Blocked&label=env=prod&version=4.3.1&sort=state`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
pub struct FleetQuery {
    #[serde(default)]
    pub state: Option<String>,
    /// `key=value` or `key` (has the label).
    #[serde(default)]
    pub label: Option<String>,
    /// Current or desired version.
    #[serde(default)]
    pub version: Option<String>,
    /// name (default), state, current, progress.
    #[serde(default)]
    pub sort: Option<String>,
}

impl FleetQuery {
    fn given(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    pub fn matches(&self, row: &FleetRow) -> bool {
        let state = Self::given(&self.state).is_none_or(|s| s.eq_ignore_ascii_case(row.state));
        let version = Self::given(&self.version).is_none_or(|v| row.current == v || row.desired == v);
        let label = Self::given(&self.label).is_none_or(|l| match l.split_once('=') {
            Some((k, v)) => row.labels.get(k.trim()).is_some_and(|x| x == v.trim()),
            None => row.labels.contains_key(l),
        });
        state && version && label
    }

    /// The rows that match, sorted.
    pub fn apply(&self, mut rows: Vec<FleetRow>) -> Vec<FleetRow> {
        rows.retain(|r| self.matches(r));
        let tier_rank = |r: &FleetRow| match r.tier {
            "Global" => 0,
            "GlobalStandby" => 1,
            _ => 2,
        };
        match Self::given(&self.sort) {
            Some("state") => rows.sort_by(|a, b| a.state.cmp(b.state).then_with(|| a.name.cmp(&b.name))),
            Some("current") => rows.sort_by(|a, b| {
                let v = |r: &FleetRow| r.current.parse::<AcpVersion>().ok();
                v(a).cmp(&v(b)).then_with(|| a.name.cmp(&b.name))
            }),
            Some("progress") => {
                rows.sort_by(|a, b| b.percent.cmp(&a.percent).then_with(|| a.name.cmp(&b.name)))
            }
            _ => rows.sort_by(|a, b| tier_rank(a).cmp(&tier_rank(b)).then_with(|| a.name.cmp(&b.name))),
        }
        rows
    }
}

/// Clusters per state word, for the counts above the table.
pub fn counts(rows: &[FleetRow]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for row in rows {
        *counts.entry(row.state).or_insert(0) += 1;
    }
    counts
}

/// "1h 5m", "3m", "40s".
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        _ => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
    }
}

/// Pages of the navigation: path and label.
const NAV: &[(&str, &str)] = &[("/", "Fleet"), ("/releases", "Releases"), ("/runs", "Rollouts")];

/// The shared layout: header, navigation, the page's content, the script.
pub fn layout(title: &str, csrf: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(csrf);
                title { (title) " · acp-cvo console" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body {
                header {
                    a.brand href="/" { "acp-cvo" }
                    nav aria-label="Main" {
                        ul { @for (path, label) in NAV { li { a href=(path) { (label) } } } }
                    }
                }
                main id="main" { (content) }
            }
        }
    }
}

/// A message in an alert box (errors, refusals, results).
pub fn alert(kind: &str, message: &str) -> Markup {
    html! { p role="alert" class={ "alert " (kind) } { (message) } }
}

/// The counts by state, linked to the filtered table.
pub fn counts_fragment(counts: &BTreeMap<&'static str, usize>) -> Markup {
    html! {
        ul id="counts" class="counts" aria-label="Clusters by state" {
            @for (state, n) in counts {
                li { a href={ "/?state=" (state) } data-state=(state) { span.n { (n) } " " (state) } }
            }
        }
    }
}

/// One row of the fleet table.
pub fn fleet_row(row: &FleetRow) -> Markup {
    html! {
        tr data-cluster=(row.name) data-state=(row.state) {
            th scope="row" { a href={ "/clusters/" (row.name) } { (row.name) } }
            td data-field="tier" { (row.tier) }
            td data-field="provisioning" { (row.provisioning) }
            td data-field="current" { (row.current) }
            td data-field="desired" { (row.desired) }
            td data-field="kubernetes" { (row.kubernetes) }
            td data-field="state" {
                span class={ "state s-" (row.state) } { (row.state) }
                @if row.unreachable { " " span.warn { "(unreachable)" } }
            }
            td data-field="progress" {
                progress max="100" value=(row.percent) aria-label={ (row.name) " progress" } { (row.percent) "%" }
                " " (row.percent) "%"
                @if let Some(eta) = row.eta { " · ETA " (duration(eta)) }
            }
            td data-field="blocker" {
                @if let Some((check, message)) = &row.blocker { strong { (check) } ": " (message) }
            }
        }
    }
}

/// The fleet page's content.
pub fn fleet(rows: &[FleetRow], all: &[FleetRow], query: &FleetQuery) -> Markup {
    let q = |v: &Option<String>| v.clone().unwrap_or_default();
    html! {
        h1 { "Fleet" }
        (counts_fragment(&counts(all)))
        form.filters method="get" action="/" role="search" {
            label { "State " select name="state" {
                option value="" { "any" }
                @for s in ["Idle", "Requested", "Blocked", "Paused", "Upgrading", "Stalled", "Unknown"] {
                    option value=(s) selected[query.state.as_deref() == Some(s)] { (s) }
                }
            } }
            label { "Label " input name="label" value=(q(&query.label)) placeholder="key=value"; }
            label { "Version " input name="version" value=(q(&query.version)) placeholder="4.3.1"; }
            label { "Sort " select name="sort" {
                @for (v, l) in [("name", "tier, name"), ("state", "state"), ("current", "current version"), ("progress", "progress")] {
                    option value=(v) selected[query.sort.as_deref() == Some(v)] { (l) }
                }
            } }
            button type="submit" { "Apply" }
        }
        @if all.is_empty() {
            (alert("info", "No clusters. Install acp-cvo in the global cluster, then register workload clusters with `ac adm cluster register NAME --kubeconfig FILE`."))
        }
        div.scroll {
            table id="fleet" data-live="/events/fleet" {
                caption { (rows.len()) " of " (all.len()) " clusters" }
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Tier" } th scope="col" { "Provisioning" }
                    th scope="col" { "Current" } th scope="col" { "Desired" } th scope="col" { "Kubernetes" }
                    th scope="col" { "State" } th scope="col" { "Progress" } th scope="col" { "Blocker" }
                } }
                tbody { @for row in rows { (fleet_row(row)) } }
            }
        }
    }
}

/// The part of the cluster page that updates live.
pub fn cluster_live(cvsh: &ClusterVersionShadow, now: Timestamp, events: &[Event]) -> Markup {
    let row = FleetRow::of(cvsh, now);
    let status = cvsh.status_or_default();
    html! {
        section id="cluster-live" data-live={ "/events/clusters/" (row.name) } {
            dl.facts {
                dt { "State" } dd data-field="state" { span class={ "state s-" (row.state) } { (row.state) } }
                dt { "Current" } dd data-field="current" { (row.current) }
                dt { "Desired" } dd data-field="desired" { (row.desired) }
                dt { "Tier" } dd { (row.tier) }
                dt { "Provisioning" } dd { (row.provisioning) }
                dt { "Kubernetes" } dd data-field="kubernetes" { (row.kubernetes) }
                dt { "Progress" } dd data-field="progress" {
                    progress max="100" value=(row.percent) { (row.percent) "%" } " " (row.percent) "%"
                    @if let Some(eta) = row.eta { " · ETA " (duration(eta)) }
                }
                @if let Some(observed) = &status.observed {
                    dt { "Reachable" } dd { (observed.reachable.map_or("not observed", |r| if r { "yes" } else { "no" })) }
                    @if let Some(nodes) = &observed.nodes {
                        dt { "Nodes" } dd { (nodes.ready) " of " (nodes.total) " ready" }
                    }
                    @if let Some(message) = &observed.message { dt { "Observation" } dd { (message) } }
                }
            }
            h2 { "Conditions" }
            table.conditions {
                thead { tr { th scope="col" { "Type" } th scope="col" { "Status" } th scope="col" { "Reason" } th scope="col" { "Message" } } }
                tbody { @for c in cvsh.conditions() {
                    tr data-condition=(c.type_) { th scope="row" { (c.type_) } td { (c.status) } td { (c.reason) } td { (c.message) } }
                } }
            }
            h2 { "Available updates" }
            @if status.available_updates.is_empty() { p { "No updates are available." } }
            ul.updates { @for v in status.available_versions() {
                li data-version=(v) { strong { (v) } " — " (verdict(&status, v)) }
            } }
            @if let Some(preflight) = &status.preflight {
                h2 { "Preflight" @if let Some(t) = &preflight.target_version { " for " (t) } }
                table.preflight {
                    thead { tr { th scope="col" { "Check" } th scope="col" { "State" } th scope="col" { "Reason" } th scope="col" { "Message" } } }
                    tbody { @for c in &preflight.checks {
                        tr data-check=(c.name) { th scope="row" { (c.name) } td { (format!("{:?}", c.state)) }
                            td { (c.reason.as_deref().unwrap_or("")) } td { (c.message.as_deref().unwrap_or("")) } }
                    } }
                }
            }
            @if !status.stages.is_empty() {
                h2 { "Stages" }
                ol.timeline { @for stage in status.stages_in_order() {
                    li data-stage=(stage.name) {
                        strong { (stage.name) } " " span.phase { (format!("{:?}", stage.phase)) }
                        ol { @for op in &stage.operations {
                            li data-operation=(op.name) {
                                (op.name) " " span.phase { (op.phase.as_ref().map_or("Pending", |p| p.as_str())) }
                                @if let Some(m) = &op.message { " — " (m) }
                                @if !op.insights.is_empty() {
                                    ul.insights { @for i in &op.insights {
                                        li data-insight=(i.reason) {
                                            strong { (i.object) } " (" (i.reason) "): " (i.message)
                                            br; "What to do: " (i.action)
                                        }
                                    } }
                                }
                            }
                        } }
                    }
                } }
            }
            h2 { "History" }
            table.history {
                thead { tr { th scope="col" { "Version" } th scope="col" { "State" } th scope="col" { "Started" } th scope="col" { "Took" } th scope="col" { "Accepted risks" } } }
                tbody data-field="history" { @for h in &status.history {
                    tr { td { (h.version.as_deref().unwrap_or(&h.image)) } td { (format!("{:?}", h.state)) }
                         td { (h.started_time.0.strftime("%Y-%m-%d %H:%M:%SZ").to_string()) }
                         td { (h.duration().map(duration).unwrap_or_default()) }
                         td { (h.accepted_risks.as_deref().unwrap_or("")) } }
                } }
            }
            h2 { "Recent events" }
            @if events.is_empty() { p { "No recent events (or you may not list events)." } }
            ul.events { @for e in events { li { time { (e.time) } " " strong { (e.reason) } " " (e.message) } } }
        }
    }
}

/// An Event about the cluster, as shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub time: String,
    pub reason: String,
    pub message: String,
}

/// "could start now" / "blocked by …" / "waiting for …" for one available update.
pub fn verdict(status: &acp_api::ClusterVersionShadowStatus, version: &str) -> String {
    let Ok(target) = version.parse::<AcpVersion>() else {
        return format!("{version} is not a version acp-cvo can judge");
    };
    match status.preflight_for(&target) {
        None => "no preflight result yet".to_owned(),
        Some(s) if !s.failed.is_empty() => {
            format!("blocked by {}", acp_api::cvsh::describe_checks(&s.failed))
        }
        Some(s) if !s.waiting.is_empty() => {
            format!("waiting for {}", acp_api::cvsh::describe_checks(&s.waiting))
        }
        Some(_) => "could start now".to_owned(),
    }
}

/// What the request form shows: who may use it, the review of a choice.
pub struct RequestForm<'a> {
    pub cluster: &'a ClusterVersionShadow,
    /// None: may request; Some(message): why not (from a SelfSubjectAccessReview).
    pub denied: Option<&'a str>,
    pub csrf: &'a str,
    pub choice: &'a RequestChoice,
    /// After "review": the verdict and what the request would do (warnings), or the refusal.
    pub review: Option<Result<Vec<String>, String>>,
}

/// The form's fields.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct RequestChoice {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub version: String,
    /// A version typed in, not one of the available updates.
    #[serde(default)]
    pub explicit_version: String,
    #[serde(default)]
    pub allow_explicit: Option<String>,
    #[serde(default)]
    pub allow_with_warnings: Option<String>,
    #[serde(default)]
    pub ignore_window: Option<String>,
    /// Request a version that is not recommended (like `--allow-not-recommended`).
    #[serde(default)]
    pub allow_not_recommended: Option<String>,
    /// Known risks accepted by name, comma-separated (like `--accept A,B`).
    #[serde(default)]
    pub accept: String,
    /// The cluster's name typed to confirm `force`.
    #[serde(default)]
    pub force_name: String,
}

impl RequestChoice {
    /// The version asked for: the typed one when given, else the chosen available update.
    pub fn target(&self) -> &str {
        let typed = self.explicit_version.trim();
        if typed.is_empty() {
            self.version.trim()
        } else {
            typed
        }
    }

    /// The risks named in `accept`, as `--accept` reads them.
    pub fn accepted(&self) -> Vec<String> {
        self.accept
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `force` is on only when the cluster's name is typed exactly.
    pub fn forced(&self, cluster: &str) -> bool {
        !self.force_name.is_empty() && self.force_name.trim() == cluster
    }
}

pub fn request_form(form: &RequestForm<'_>) -> Markup {
    let cvsh = form.cluster;
    let name = cvsh.name_any();
    let status = cvsh.status_or_default();
    let disabled = form.denied.is_some();
    let c = form.choice;
    let reviewed_ok = matches!(form.review, Some(Ok(_)));
    html! {
        section aria-labelledby="request-title" {
            h2 id="request-title" { "Request an upgrade" }
            @if let Some(why) = form.denied { p data-field="rbac" class="alert warn" { (why) } }
            form id="request-upgrade" method="post" action={ "/clusters/" (name) "/request" } {
                input type="hidden" name="csrf" value=(form.csrf);
                @match &form.review {
                    Some(Ok(warnings)) => {
                        div role="status" class="alert info" data-field="verdict" {
                            p { "Verdict for " (c.target()) ": " (verdict(&status, c.target())) }
                            @for w in warnings { p { (w) } }
                            @if c.forced(&name) {
                                p { "Forced: every failed preflight check this upgrade goes past is recorded in the history as an accepted risk." }
                            }
                            p { "Confirm to set spec.desiredUpdate." }
                        }
                    }
                    Some(Err(refusal)) => { div role="alert" class="alert error" data-field="verdict" { (refusal) } }
                    None => {}
                }
                fieldset disabled[disabled] {
                    legend { "Target" }
                    label { "Available update " select name="version" disabled[disabled] {
                        @for v in status.available_versions() {
                            option value=(v) selected[c.version == v] {
                                (v) @if let Some(names) = not_recommended(&status, v) { " (not recommended: " (names) ")" }
                            }
                        }
                    } }
                    (risks_choice(&status, c))
                    details {
                        summary { "An explicit version (not offered)" }
                        label { "Version " input name="explicit_version" value=(c.explicit_version) placeholder="4.3.2"; }
                        label { input type="checkbox" name="allow_explicit" value="on" checked[c.allow_explicit.is_some()];
                            " I understand it is not an available update (like --allow-explicit-upgrade)" }
                    }
                    label { input type="checkbox" name="allow_with_warnings" value="on" checked[c.allow_with_warnings.is_some()];
                        " Request even while Degraded, Reconciling or Stalled" }
                    label { input type="checkbox" name="ignore_window" value="on" checked[c.ignore_window.is_some()];
                        " Ignore the maintenance window (recorded as an accepted risk)" }
                    details {
                        summary { "Force past failed preflight checks" }
                        label { "Type the cluster's name (" (name) ") to force " input name="force_name" value=(c.force_name) autocomplete="off"; }
                        p.hint { "Each failed check it goes past is recorded in the history as an accepted risk." }
                    }
                    div.actions {
                        button type="submit" name="action" value="review" disabled[disabled] { "Review" }
                        @if reviewed_ok {
                            button type="submit" name="action" value="confirm" disabled[disabled] { "Confirm upgrade to " (c.target()) }
                        }
                        @if cvsh.spec.desired_update.is_some() && !cvsh.reading().state.is_executing() {
                            button type="submit" name="action" value="cancel" disabled[disabled] { "Cancel the requested upgrade" }
                        }
                    }
                }
            }
        }
    }
}

/// The exposed risks of `version` when it is not recommended for the cluster, comma-separated.
fn not_recommended(status: &acp_api::ClusterVersionShadowStatus, version: &str) -> Option<String> {
    let update = status.conditional_update(&version.parse().ok()?)?;
    (!update.recommended).then(|| {
        update
            .exposed()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    })
}

/// The risks of the updates that are not recommended, and the choices `ac adm upgrade
/// --allow-not-recommended --accept` makes: shown only when there are such updates.
fn risks_choice(status: &acp_api::ClusterVersionShadowStatus, c: &RequestChoice) -> Markup {
    let risky: Vec<&acp_api::risks::ConditionalUpdate> = status
        .conditional_updates
        .iter()
        .filter(|u| !u.recommended)
        .collect();
    html! {
        @if !risky.is_empty() {
            details data-field="risks" open[c.allow_not_recommended.is_some()] {
                summary { "An update that is not recommended" }
                @for u in &risky {
                    p { strong { (u.release.version.as_deref().unwrap_or("?")) } " is exposed to:" }
                    ul { @for r in u.exposed() {
                        li data-risk=(r.name) {
                            strong { (r.name) } " (" (r.exposure.as_str()) ": " (r.evidence) "): " (r.message)
                            @if let Some(url) = r.url.as_deref().filter(|u| u.starts_with("https://")) {
                                " " a href=(url) rel="noreferrer" { "More" }
                            }
                        }
                    } }
                }
                label { input type="checkbox" name="allow_not_recommended" value="on" checked[c.allow_not_recommended.is_some()];
                    " Request it although it is not recommended (like --allow-not-recommended)" }
                label { "Accept risks " input name="accept" value=(c.accept) placeholder="RiskName,OtherRisk" autocomplete="off"; }
                p.hint { "The upgrade starts only once every risk it is exposed to is accepted; each accepted risk is recorded in spec.desiredUpdate.acceptRisks and in the history." }
            }
        }
    }
}

/// The whole cluster page.
pub fn cluster_page(
    cvsh: &ClusterVersionShadow,
    now: Timestamp,
    events: &[Event],
    form: &RequestForm<'_>,
    notice: Option<Markup>,
) -> Markup {
    html! {
        h1 { "Cluster " (cvsh.name_any()) }
        @if let Some(n) = notice { (n) }
        (cluster_live(cvsh, now, events))
        (request_form(form))
    }
}

/// The sign-in page of bearer mode.
pub fn sign_in(message: Option<&str>, csrf: &str) -> Markup {
    html! {
        h1 { "Sign in" }
        @if let Some(m) = message { (alert("error", m)) }
        p { "The console acts only with your own token: every request to the API server carries it, so you see and do exactly what your RBAC allows." }
        form id="sign-in" method="post" action="/sign-in" {
            input type="hidden" name="csrf" value=(csrf);
            label { "Bearer token " input type="password" name="token" autocomplete="off" required; }
            button type="submit" { "Sign in" }
        }
        p.hint { "Create one with `kubectl create token NAME -n NAMESPACE`." }
    }
}

/// The releases page: every ProductManifest, Ready, where it came from, what it offers to whom.
pub fn releases(manifests: &[acp_api::ProductManifest]) -> Markup {
    html! {
        h1 { "Releases" }
        @if manifests.is_empty() { (alert("info", "No ProductManifests. Import one with `ac adm release import-manifest --version=V`.")) }
        div.scroll { table id="releases" {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Version" } th scope="col" { "Ready" } th scope="col" { "Source" }
                th scope="col" { "Kubernetes" } th scope="col" { "Upgrades from" } th scope="col" { "Known risks" } } }
            tbody { @for m in manifests {
                @let status = m.status.clone().unwrap_or_default();
                @let ready = acp_api::conditions::find(&status.conditions, acp_api::conditions::types::READY);
                @let release = status.release.as_ref();
                tr data-release=(m.name_any()) {
                    th scope="row" { (m.name_any()) }
                    td { (m.spec.version.as_deref().or(release.map(|r| r.version.as_str())).unwrap_or("")) }
                    td { @if let Some(c) = ready { (c.status) @if !c.message.is_empty() { " — " (c.message) } } @else { "not evaluated" } }
                    td { @match (&m.spec.image, &status.resolved_image_digest) {
                        (Some(image), Some(digest)) => { "registry " code { (image) } " @ " code { (digest) } }
                        (Some(image), None) => { "registry " code { (image) } }
                        _ => { "built-in" }
                    } }
                    td { (release.and_then(|r| r.kubernetes.version.as_deref()).unwrap_or("")) }
                    td { (release.map(|r| r.upgrade_from.join(", ")).unwrap_or_default()) }
                    td { @if let Some(r) = release { @for risk in &r.risks { a href={ "/risks/" (r.version) } { (risk.name) } " " } } }
                }
            } }
        } }
    }
}

/// One release's known risks across the fleet: the counts, then every cluster × every risk.
pub fn risks(matrix: &acp_api::risk_matrix::Matrix) -> Markup {
    html! {
        h1 { "Known risks of " (matrix.version) }
        @if matrix.risks.is_empty() { (alert("info", "This release declares no known risks.")) }
        div.scroll { table id="risk-counts" {
            thead { tr { th scope="col" { "Risk" } th scope="col" { "Applies" } th scope="col" { "Unknown" }
                th scope="col" { "Does not apply" } th scope="col" { "Not evaluated" } th scope="col" { "Message" } } }
            tbody { @for r in &matrix.risks {
                tr data-risk=(r.name) {
                    th scope="row" { @if let Some(url) = r.url.as_deref().filter(|u| u.starts_with("https://")) { a href=(url) rel="noreferrer" { (r.name) } } @else { (r.name) } }
                    td { (r.applies) } td { (r.unknown) } td { (r.does_not_apply) } td { (r.not_evaluated) } td { (r.message) }
                }
            } }
        } }
        @if !matrix.risks.is_empty() {
            div.scroll { table id="risk-matrix" {
                thead { tr { th scope="col" { "Cluster" } th scope="col" { "Current" }
                    @for r in &matrix.risks { th scope="col" { (r.name) } } } }
                tbody { @for row in &matrix.clusters {
                    tr data-cluster=(row.cluster) {
                        th scope="row" { a href={ "/clusters/" (row.cluster) } { (row.cluster) } }
                        td { (row.current.as_deref().unwrap_or("")) }
                        @for cell in &row.risks { td title=(cell.evidence) { strong { (cell.exposure) } br; small { (cell.evidence) } } }
                    }
                } }
            } }
        }
    }
}

/// The rollouts page.
pub fn runs(runs: &[acp_api::rollout::UpgradeRun]) -> Markup {
    html! {
        h1 { "Rollouts" }
        @if runs.is_empty() { (alert("info", "No UpgradeRuns. Start one with `ac adm upgrade rollout start --to V --strategy NAME`.")) }
        div.scroll { table id="runs" {
            thead { tr { th scope="col" { "Run" } th scope="col" { "Target" } th scope="col" { "Phase" } th scope="col" { "Stage" } th scope="col" { "Clusters" } th scope="col" { "Paused" } } }
            tbody { @for r in runs {
                @let status = r.status.clone().unwrap_or_default();
                tr data-run=(r.name_any()) {
                    th scope="row" { a href={ "/runs/" (r.name_any()) } { (r.name_any()) } }
                    td { (r.spec.target_version) }
                    td data-field="phase" { (status.phase.map_or("Pending", |p| p.as_str())) }
                    td { (status.current_stage.as_deref().unwrap_or("")) }
                    td { (status.clusters.len()) }
                    td { (if r.spec.paused { "yes" } else { "no" }) }
                }
            } }
        } }
    }
}

/// One rollout: stages → batches → clusters, pending gates, and approve / pause / resume.
pub fn run(
    r: &acp_api::rollout::UpgradeRun,
    csrf: &str,
    denied: Option<&str>,
    notice: Option<Markup>,
) -> Markup {
    html! {
        h1 { "Rollout " (r.name_any()) }
        @if let Some(n) = notice { (n) }
        (run_live(r, csrf, denied))
    }
}

/// The part of a rollout's page its live stream replaces: facts, gates, controls and plan.
pub fn run_live(r: &acp_api::rollout::UpgradeRun, csrf: &str, denied: Option<&str>) -> Markup {
    let name = r.name_any();
    let status = r.status.clone().unwrap_or_default();
    let disabled = denied.is_some();
    let state_of = |cluster: &str| status.clusters.iter().find(|c| c.name == cluster);
    html! {
        section id="run-live" data-live={ "/events/runs/" (name) } {
        dl.facts {
            dt { "Target" } dd { (r.spec.target_version) }
            dt { "Phase" } dd data-field="phase" { (status.phase.map_or("Pending", |p| p.as_str())) }
            dt { "Paused" } dd data-field="paused" { (if r.spec.paused { "yes" } else { "no" }) }
            dt { "Approved gates" } dd { (r.spec.approvals.join(", ")) }
        }
        @if let Some(why) = denied { p data-field="rbac" class="alert warn" { (why) } }
        h2 { "Pending gates" }
        @if status.pending_gates.is_empty() { p { "None." } }
        ul { @for g in &status.pending_gates {
            li { (g.name) " (" (format!("{:?}", g.type_)) ")"
                @if g.type_ == acp_api::rollout::strategy::GateType::Approval {
                    form.inline method="post" action={ "/runs/" (name) } {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="gate" value=(g.name);
                        button type="submit" name="action" value="approve" disabled[disabled] { "Approve " (g.name) }
                    }
                }
            }
        } }
        form id="run-controls" method="post" action={ "/runs/" (name) } {
            input type="hidden" name="csrf" value=(csrf);
            @if r.spec.paused {
                button type="submit" name="action" value="resume" disabled[disabled] { "Resume" }
            } @else {
                button type="submit" name="action" value="pause" disabled[disabled] { "Pause" }
            }
        }
        @if let Some(plan) = &status.plan {
            h2 { "Plan" }
            ol.timeline { @for stage in &plan.stages {
                li { strong { (stage.name) }
                    ol { @for group in &stage.groups { @for (i, batch) in group.batches.iter().enumerate() {
                        li { (group.name) " batch " (i + 1) @if batch.canary { " (canary)" } ": "
                            @for c in &batch.clusters {
                                @let entry = state_of(c);
                                span.cluster data-cluster=(c) { a href={ "/clusters/" (c) } { (c) } " "
                                    (entry.map_or("Pending", |e| e.state.as_str()))
                                    @if let Some(p) = entry.and_then(|e| e.progress) { " " (p) "%" }
                                    @if let Some(m) = entry.and_then(|e| e.message.as_deref()) { " — " (m) } }
                                " "
                            }
                        }
                    } } }
                }
            } }
        }
        }
    }
}

#[cfg(test)]
mod tests;
