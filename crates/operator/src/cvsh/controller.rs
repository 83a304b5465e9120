//! The ClusterVersionShadow reconcile: sequences observe → plan → preflight → execute → record and
//! writes the result as one status.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acp_api::conditions::Clock;
use acp_api::cvsh::{CheckState, Preflight, Release, Tier};
use acp_api::{ClusterVersionShadow, ClusterVersionShadowStatus, ProductManifest};
use acp_policy::{AcpVersion, Catalogue, KubeVersion, available_updates, prune_history};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, Recorder};
use kube::runtime::reflector::Store;
use kube::{Api, Resource, ResourceExt};

use super::fleet::Fleet;
use super::pinning::{self, Stop};
use super::plan::{self, Mode};
use super::preflight::sources::{NoCluster, Platform};
use super::preflight::{self, Inputs, Settings};
use super::record::{self, Situation};
use super::stages::{self, Execution, PlanInputs};
use crate::clusters::access::SecretKey;
use crate::clusters::observe::{self, Observation};
use crate::clusters::{AccessError, Cluster, ClusterAccess};
use crate::metrics::{ControllerName, Metrics};
use crate::releases::{self, Releases};
use crate::status;
use acp_api::cvsh::PreflightSummary as Summary;

/// Everything a reconcile needs, shared by all reconciles.
pub struct Context {
    pub client: kube::Client,
    /// Namespace of the cvsh objects, their kubeconfig Secrets and the operator's ConfigMaps.
    pub namespace: String,
    pub access: ClusterAccess,
    pub releases: Arc<Releases>,
    pub manifests: Store<ProductManifest>,
    pub shadows: Store<ClusterVersionShadow>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub clock: Arc<dyn Clock>,
    pub install_version: Option<AcpVersion>,
    pub max_concurrent: usize,
    pub stall_after: Duration,
    pub resync: Duration,
    /// Workload clusters this process started executing, before the cache shows it.
    pub slots: Mutex<BTreeSet<String>>,
    /// Upgrade notifications to a webhook (disabled without --notification-secret).
    pub notifier: crate::notify::Notifier,
    /// Clusters this process started upgrading, with the identity each is pinned to, before the cache
    /// shows it.
    pub upgrading: Mutex<BTreeMap<String, String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot write the status of ClusterVersionShadow {name}: {source}")]
    WriteStatus {
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::WriteStatus { .. } => "write_status",
        }
    }
}

pub fn error_policy(shadow: Arc<ClusterVersionShadow>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(cluster = %shadow.name_any(), error = %error, "reconcile failed");
    ctx.metrics
        .reconcile_failed(ControllerName::ClusterVersion, error.metric_label());
    Action::requeue(Duration::from_secs(5))
}

impl Context {
    async fn cluster(&self, shadow: &ClusterVersionShadow) -> Result<Cluster, AccessError> {
        let name = shadow.name_any();
        let secret = shadow.kubeconfig_secret_ref().map(|r| SecretKey {
            namespace: shadow.namespace().unwrap_or_else(|| self.namespace.clone()),
            name: r.name.clone(),
            key: r.key.clone(),
        });
        self.access.cluster(&name, secret.as_ref()).await
    }

    fn platform(&self) -> Platform {
        Platform {
            cluster: self.access.global("global"),
            namespace: self.namespace.clone(),
        }
    }

    /// Other workload clusters executing now: the cache plus this process's reservations.
    fn upgrading_elsewhere(&self, name: &str, fleet: &Fleet) -> Vec<String> {
        match self.slots.lock() {
            Ok(slots) => busy_elsewhere(name, fleet, &slots),
            Err(_) => busy_elsewhere(name, fleet, &BTreeSet::new()),
        }
    }

    /// Reserves the cluster's identity for the upgrade of `name` and, for a workload cluster, a
    /// concurrent-upgrade slot. Checking and reserving happen under one lock, so two reconciles of
    /// ClusterVersionShadows reaching one cluster cannot both start.
    fn reserve(
        &self,
        name: &str,
        tier: Tier,
        identity: Option<&str>,
        unknown: Option<&observe::IdentityUnknown>,
        fleet: &Fleet,
        target: &AcpVersion,
    ) -> Reservation {
        let Ok(mut upgrading) = self.upgrading.lock() else {
            return Reservation::NoSlot;
        };
        let mut busy: Vec<&str> = identity
            .map(|id| fleet.upgrading_on(id, name))
            .unwrap_or_default();
        busy.extend(
            upgrading
                .iter()
                .filter(|(other, id)| other.as_str() != name && Some(id.as_str()) == identity)
                .map(|(other, _)| other.as_str()),
        );
        if let Err(stop) = pinning::may_start(name, identity, unknown, &busy, target) {
            return Reservation::Held(stop);
        }
        if !self.reserve_slot(name, tier, fleet) {
            return Reservation::NoSlot;
        }
        if let Some(identity) = identity {
            upgrading.insert(name.to_string(), identity.to_string());
        }
        Reservation::Reserved
    }

    /// Reserves a concurrent-upgrade slot for a workload cluster; false when all are taken. Counting and
    /// reserving happen under one lock, so two reconciles cannot take the last slot together.
    fn reserve_slot(&self, name: &str, tier: Tier, fleet: &Fleet) -> bool {
        if tier != Tier::Workload {
            return true;
        }
        let Ok(mut slots) = self.slots.lock() else {
            return false;
        };
        if busy_elsewhere(name, fleet, &slots).len() >= self.max_concurrent {
            return false;
        }
        slots.insert(name.to_string());
        true
    }

    /// Drops per-cluster state of clusters whose ClusterVersionShadow was deleted.
    fn forget_deleted(&self, shadows: &[Arc<ClusterVersionShadow>]) {
        let exists = |name: &str| shadows.iter().any(|s| s.name_any() == name);
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|name| exists(name));
        }
        if let Ok(mut upgrading) = self.upgrading.lock() {
            upgrading.retain(|name, _| exists(name));
        }
        self.metrics.retain_clusters(exists);
    }

    fn release_slot(&self, name: &str) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(name);
        }
        if let Ok(mut upgrading) = self.upgrading.lock() {
            upgrading.remove(name);
        }
    }
}

/// Whether an upgrade whose preflight passed may start now.
enum Reservation {
    Reserved,
    /// Every concurrent-upgrade slot is taken.
    NoSlot,
    Held(Stop),
}

/// Workload clusters other than `name` that run stages: seen executing in the cache, or reserved here.
fn busy_elsewhere(name: &str, fleet: &Fleet, reserved: &BTreeSet<String>) -> Vec<String> {
    let mut busy: BTreeSet<String> = fleet
        .executing_workloads(name)
        .into_iter()
        .map(String::from)
        .collect();
    busy.extend(reserved.iter().filter(|s| *s != name).cloned());
    busy.into_iter().collect()
}

/// What follows preflight: record a situation, or execute (resume or start) an upgrade.
enum Next {
    Record(Situation),
    Execute {
        target: AcpVersion,
        note: Option<String>,
    },
}

/// What one reconcile of one cluster works with.
struct Pass<'a> {
    ctx: &'a Context,
    shadow: &'a ClusterVersionShadow,
    name: String,
    /// The tier the operator grants this cluster (see `roles`), not merely `spec.tier`.
    tier: Tier,
    /// Where the cluster's kubeconfig comes from, for messages (`None`: the operator's own client).
    kubeconfig: Option<String>,
    cluster: Option<Cluster>,
    access_error: Option<AccessError>,
    observation: Observation,
    fleet: Fleet,
}

#[tracing::instrument(skip(shadow, ctx), fields(cluster = %shadow.name_any()))]
pub async fn reconcile(shadow: Arc<ClusterVersionShadow>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile_started(ControllerName::ClusterVersion);
    let name = shadow.name_any();
    let now = ctx.clock.time();
    let old = shadow.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let generation = shadow.metadata.generation;

    // Observe.
    let (cluster, access_error) = match ctx.cluster(&shadow).await {
        Ok(cluster) => (Some(cluster), None),
        Err(err) => (None, Some(err)),
    };
    let observation = match (&cluster, &access_error) {
        (Some(cluster), _) => observe::observe(cluster).await,
        (None, Some(err)) => Observation {
            error: Some(err.to_string()),
            ..Observation::default()
        },
        (None, None) => Observation::default(),
    };
    status.observed = Some(record::observed(&observation, old.observed.as_ref(), now.clone()));

    // Plan.
    let shadows = ctx.shadows.state();
    ctx.forget_deleted(&shadows);
    let fleet = Fleet::from_shadows(&shadows);
    let role = fleet.role(&shadow);
    let tier = role.tier;
    // The last known identity: a cluster that does not answer for a while is still a duplicate.
    let known_identity = status.observed.as_ref().and_then(|o| o.cluster_identity.clone());
    let duplicate = known_identity.as_deref().and_then(|identity| {
        let others = pinning::duplicates(&name, Some(identity), &fleet.peers());
        (!others.is_empty()).then(|| pinning::duplicate_message(&name, identity, &others))
    });
    ctx.releases.forget_missing(&ctx.manifests);
    let catalogue = ctx.releases.catalogue();
    let current = plan::current(
        &status,
        &name,
        tier,
        ctx.install_version.as_ref(),
        observation.recorded_version.as_deref(),
    );
    if let Some(bootstrap) = &current.bootstrap {
        tracing::info!(version = %bootstrap.version, source = bootstrap.source, "current version recorded");
        status
            .history
            .insert(0, record::bootstrap_entry(&bootstrap.version, now.clone()));
    }
    // The image the current version was reached by, when it was requested by image.
    let current_image = status
        .last_completed()
        .map(|e| e.image.clone())
        .filter(|i| !i.is_empty());
    status.current = current
        .version
        .as_ref()
        .map(|v| release_of(v, current_image.as_deref()));
    let ready = releases::ready_versions(&ctx.manifests);
    status.available_updates = current
        .version
        .as_ref()
        .map(|c| {
            available_updates(&catalogue, c, &ready)
                .iter()
                .map(|v| Release::version(v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let request = plan::request(&shadow.spec, |image| {
        releases::version_of_image(&ctx.manifests, image)
    });
    let mode = plan::mode(&status, &request, current.version.as_ref());

    let pass = Pass {
        ctx: &ctx,
        shadow: &shadow,
        name: name.clone(),
        tier,
        kubeconfig: shadow.kubeconfig_secret_ref().map(|r| {
            format!(
                "Secret {}/{} key {}",
                shadow.namespace().unwrap_or_else(|| ctx.namespace.clone()),
                r.name,
                r.key
            )
        }),
        cluster,
        access_error,
        observation,
        fleet,
    };
    let mut base = (*shadow).clone();

    // Preflight, and the start of execution.
    let next = match pass.next(mode, &request, &current, &mut status, &mut base).await {
        Ok(next) => next,
        Err(err) => return write_failed(&name, err),
    };

    // Execute.
    let situation = match next {
        Next::Record(situation) => situation,
        Next::Execute { target, note } => {
            pass.execute(&mut status, &target, current.version.as_ref(), note)
                .await
        }
    };

    // Record.
    let access = pass.access_problem();
    record::set_conditions(
        &mut status,
        &name,
        &situation,
        &access,
        generation,
        ctx.stall_after,
        ctx.clock.as_ref(),
    );
    record::set_registration_conditions(
        &mut status,
        role.refused.map(|r| (r.reason, r.message)),
        duplicate,
        generation,
        ctx.clock.as_ref(),
    );
    status.history = prune_history(std::mem::take(&mut status.history));
    status.observed_generation = generation;
    status.clip_to_bounds();
    pass.publish_metrics(&status, &catalogue);

    let written = base.status.clone().unwrap_or_default();
    if record::needs_write(&written, &status, ctx.resync) {
        let api: Api<ClusterVersionShadow> =
            Api::namespaced(ctx.client.clone(), &base.namespace().unwrap_or_default());
        if let Err(err) = write_status(&api, &base, &mut status).await {
            return write_failed(&name, err);
        }
    }
    publish_transitions(&ctx, &shadow, tier, &old, &status).await;
    Ok(requeue(&situation, &pass.observation, ctx.resync))
}

/// Every status this controller writes passes here: clipped to the documented bounds
/// (`acp_api::cvsh::bounds`), so no text from a cluster, a bundle or a spec can push the object past
/// what the API server stores, then applied fenced on the object's resourceVersion.
async fn write_status(
    api: &Api<ClusterVersionShadow>,
    base: &ClusterVersionShadow,
    status: &mut ClusterVersionShadowStatus,
) -> Result<ClusterVersionShadow, kube::Error> {
    status.clip_to_bounds();
    status::apply(api, base, status).await
}

/// A release by version, with the image it was requested by, if any.
fn release_of(version: &AcpVersion, image: Option<&str>) -> Release {
    Release {
        version: Some(version.to_string()),
        image: image.map(String::from),
    }
}

fn write_failed(name: &str, err: kube::Error) -> Result<Action, Error> {
    if status::is_conflict(&err) {
        // Computed from an outdated object: run again on the fresh one.
        tracing::debug!(cluster = name, "status changed meanwhile; reconciling again");
        return Ok(Action::requeue(Duration::from_millis(300)));
    }
    Err(Error::WriteStatus {
        name: name.to_string(),
        source: err,
    })
}

fn requeue(situation: &Situation, observation: &Observation, resync: Duration) -> Action {
    let after = match situation {
        Situation::Executing { advance, .. } if advance.blocked.is_some() => Duration::from_secs(5),
        Situation::Executing { .. } => Duration::from_secs(2),
        Situation::Completed { .. } => Duration::from_secs(1),
        Situation::Blocked { .. } => Duration::from_secs(5),
        _ if !observation.reachable => Duration::from_secs(10).min(resync),
        _ => resync,
    };
    Action::requeue(after)
}

async fn publish_transitions(
    ctx: &Context,
    shadow: &ClusterVersionShadow,
    tier: Tier,
    old: &ClusterVersionShadowStatus,
    new: &ClusterVersionShadowStatus,
) {
    let reference = shadow.object_ref(&());
    let transitions = record::transitions(old, new);
    ctx.notifier
        .publish(shadow, tier, old, new, &transitions, &ctx.clock.time());
    for transition in transitions {
        tracing::info!(reason = transition.reason, note = %transition.note, "transition");
        let event = Event {
            type_: transition.type_,
            reason: transition.reason.to_string(),
            note: Some(transition.note.chars().take(1000).collect()),
            action: "Reconcile".to_string(),
            secondary: None,
        };
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %err, "cannot publish an Event; the status still records the transition");
        }
    }
}

impl Pass<'_> {
    /// The cluster's series on /metrics, from the status this reconcile projected.
    fn publish_metrics(&self, status: &ClusterVersionShadowStatus, catalogue: &Catalogue) {
        let state = acp_api::cvsh::Reading::of(&self.shadow.spec, Some(status)).metric_label();
        let metrics = &self.ctx.metrics;
        metrics.cluster_state(&self.name, state);
        let facts = super::facts::cluster_facts(self.tier, state, status, &self.fleet, catalogue);
        metrics.cluster_facts(&self.name, facts);
        metrics.unsigned_releases(&super::facts::unsigned_releases(&self.ctx.manifests.state()));
    }

    /// This reconcile's step for `mode`: preflight and hold, or start (the Partial entry and the planned
    /// stages written before anything is applied), or carry on executing. An error is the failed write of
    /// the start.
    async fn next(
        &self,
        mode: Mode,
        request: &plan::Request,
        current: &plan::Current,
        status: &mut ClusterVersionShadowStatus,
        base: &mut ClusterVersionShadow,
    ) -> Result<Next, kube::Error> {
        Ok(match mode {
            Mode::Executing { target } => {
                let note = match request {
                    plan::Request::Version { target: asked, .. } if *asked != target => Some(format!(
                        "spec.desiredUpdate now asks for {asked}: it is considered once the upgrade to {target} completes"
                    )),
                    plan::Request::None => Some(format!(
                        "spec.desiredUpdate was cleared after the upgrade started: a started upgrade cannot be \
                         cancelled, so the upgrade to {target} finishes"
                    )),
                    _ => None,
                };
                Next::Execute { target, note }
            }
            Mode::Requested { target, force, image } => {
                status.desired = Some(release_of(&target, image.as_deref()));
                let summary = self
                    .preflight_into(status, current.version.as_ref(), &target)
                    .await;
                if self.shadow.is_paused() {
                    Next::Record(Situation::Paused { target })
                } else if summary.may_start(force) {
                    let identity = self.observation.identity.as_deref();
                    let unknown = self.observation.identity_unknown.as_ref();
                    match self
                        .ctx
                        .reserve(&self.name, self.tier, identity, unknown, &self.fleet, &target)
                    {
                        Reservation::Reserved => {
                            let risks = if force { summary.failed_lines() } else { Vec::new() };
                            let started = self.start(
                                status,
                                base,
                                &target,
                                image.as_deref(),
                                current.version.as_ref(),
                                &risks,
                            );
                            if let Err(err) = started.await {
                                self.ctx.release_slot(&self.name);
                                return Err(err);
                            }
                            Next::Execute { target, note: None }
                        }
                        Reservation::NoSlot => Next::Record(Situation::Blocked { target, summary }),
                        Reservation::Held(stop) => Next::Record(Situation::Held {
                            target,
                            reason: stop.reason,
                            message: stop.message,
                        }),
                    }
                } else {
                    Next::Record(Situation::Blocked { target, summary })
                }
            }
            Mode::Idle => {
                status.desired = match request {
                    plan::Request::Version { target, image, .. } => {
                        Some(release_of(target, image.as_deref()))
                    }
                    _ => None,
                };
                // Without a request, preflight answers "could the newest available update start now?".
                let newest = status
                    .available_updates
                    .first()
                    .and_then(|r| r.version.as_deref()?.parse().ok());
                let newest = match newest {
                    Some(newest) => {
                        let summary = self
                            .preflight_into(status, current.version.as_ref(), &newest)
                            .await;
                        Some((newest, summary))
                    }
                    None => {
                        status.preflight = None;
                        None
                    }
                };
                Next::Record(Situation::Idle {
                    current: current.version.clone(),
                    problem: current.problem.clone(),
                    newest,
                })
            }
            Mode::Rejected { reason, message } => {
                status.desired = None;
                Next::Record(Situation::Rejected { reason, message })
            }
        })
    }

    /// What the running upgrade's pins are compared with: this reconcile's observation and the release
    /// the operator holds for `target`.
    fn now<'a>(&'a self, origins: &'a BTreeMap<AcpVersion, String>, target: &AcpVersion) -> pinning::Now<'a> {
        pinning::Now {
            cluster: &self.name,
            kubeconfig: self.kubeconfig.as_deref(),
            reachable: self.observation.reachable,
            identity: self.observation.identity.as_deref(),
            identity_unknown: self.observation.identity_unknown.as_ref(),
            release_digest: origins.get(target).map(String::as_str),
        }
    }

    fn observed_kubernetes(&self) -> Option<KubeVersion> {
        self.observation
            .kubernetes_version
            .as_deref()
            .and_then(|v| v.parse().ok())
    }

    fn access_problem(&self) -> record::AccessProblem {
        if let Some(err) = &self.access_error {
            return Some((err.reason(), err.to_string()));
        }
        if !self.observation.reachable {
            let why = self
                .observation
                .error
                .clone()
                .unwrap_or_else(|| "no answer".into());
            return Some(("ClusterUnreachable", format!("{why}; the operator keeps trying")));
        }
        None
    }

    async fn preflight(
        &self,
        status: &ClusterVersionShadowStatus,
        current: Option<&AcpVersion>,
        target: &AcpVersion,
    ) -> Vec<acp_api::cvsh::PreflightCheck> {
        let catalogue = self.ctx.releases.catalogue();
        let platform = self.ctx.platform();
        let settings =
            match preflight::sources::PlatformSource::config_map(&platform, acp_api::names::cvo_config::NAME)
                .await
            {
                Ok(data) => Settings::from_data(data.as_ref()),
                Err(err) => Settings {
                    problems: vec![format!("cannot read ConfigMap cvo-config: {err}")],
                    ..Settings::default()
                },
            };
        if let Some(problems) = settings.problems_text() {
            tracing::warn!(cluster = %self.name, "{problems}");
        }
        let inputs = Inputs {
            cluster: &self.name,
            tier: self.tier,
            provisioning: self.shadow.provisioning(),
            driver: self.shadow.kubernetes_driver(),
            current,
            target,
            catalogue: &catalogue,
            observation: &self.observation,
            status,
            fleet: &self.fleet,
            upgrading_elsewhere: self.ctx.upgrading_elsewhere(&self.name, &self.fleet),
            max_concurrent: self.ctx.max_concurrent,
            now: self.ctx.clock.now(),
        };
        let previous = status.preflight.as_ref();
        match &self.cluster {
            Some(cluster) => preflight::evaluate(&inputs, cluster, &platform, &settings, previous).await,
            None => preflight::evaluate(&inputs, &NoCluster, &platform, &settings, previous).await,
        }
    }

    /// Runs preflight for `target` into `status.preflight`, counting checks that newly fail.
    async fn preflight_into(
        &self,
        status: &mut ClusterVersionShadowStatus,
        current: Option<&AcpVersion>,
        target: &AcpVersion,
    ) -> Summary {
        let checks = self.preflight(status, current, target).await;
        let failed_before: Vec<&str> = status
            .preflight
            .iter()
            .filter(|p| p.target_version.as_deref() == Some(target.to_string().as_str()))
            .flat_map(|p| &p.checks)
            .filter(|c| c.state == CheckState::Failed)
            .map(|c| c.name.as_str())
            .collect();
        for check in checks.iter().filter(|c| c.state == CheckState::Failed) {
            if !failed_before.contains(&check.name.as_str()) {
                self.ctx.metrics.preflight_failed(&check.name);
            }
        }
        let summary = Summary::of(&checks);
        status.preflight = Some(Preflight {
            observed_at: Some(self.ctx.clock.time()),
            target_version: Some(target.to_string()),
            checks,
        });
        summary
    }

    /// Writes the start of execution (Partial history entry, planned stages) before anything is applied,
    /// so a restarted operator knows the upgrade began.
    async fn start(
        &self,
        status: &mut ClusterVersionShadowStatus,
        base: &mut ClusterVersionShadow,
        target: &AcpVersion,
        image: Option<&str>,
        current: Option<&AcpVersion>,
        risks: &[String],
    ) -> Result<(), kube::Error> {
        let (catalogue, origins) = self.ctx.releases.catalogue_with_origins();
        let Some(target_release) = catalogue.release(target) else {
            // may_start needs VersionUpgradePath to pass, which needs the release.
            return Ok(());
        };
        let now = self.ctx.clock.time();
        let pins = record::Pins {
            release_digest: origins.get(target).cloned(),
            cluster_identity: self.observation.identity.clone(),
        };
        status
            .history
            .insert(0, record::started_entry(target, image, risks, pins, now));
        status.stages = stages::plan(&PlanInputs {
            current: current.and_then(|c| catalogue.release(c)),
            target: target_release,
            kubernetes: self.observed_kubernetes(),
            driver: self.shadow.kubernetes_driver(),
        });
        status.desired = Some(release_of(target, image));
        let situation = Situation::Executing {
            target: target.clone(),
            advance: stages::Advance::default(),
            note: None,
        };
        let access = self.access_problem();
        record::set_conditions(
            status,
            &self.name,
            &situation,
            &access,
            self.shadow.metadata.generation,
            self.ctx.stall_after,
            self.ctx.clock.as_ref(),
        );
        let ready = acp_api::conditions::ConditionUpdate::new(
            acp_api::conditions::types::PREFLIGHT_READY,
            true,
            if risks.is_empty() {
                "ChecksPassed"
            } else {
                "RisksAccepted"
            },
            if risks.is_empty() {
                format!("every check passed for {target}")
            } else {
                format!("force accepted failed checks for {target}: {}", risks.join("; "))
            },
        )
        .observed_generation(self.shadow.metadata.generation);
        acp_api::conditions::set(&mut status.conditions, ready, self.ctx.clock.as_ref());
        let api: Api<ClusterVersionShadow> =
            Api::namespaced(self.ctx.client.clone(), &base.namespace().unwrap_or_default());
        *base = write_status(&api, base, status).await?;
        tracing::info!(%target, "upgrade started");
        Ok(())
    }

    async fn execute(
        &self,
        status: &mut ClusterVersionShadowStatus,
        target: &AcpVersion,
        current: Option<&AcpVersion>,
        note: Option<String>,
    ) -> Situation {
        let (catalogue, origins) = self.ctx.releases.catalogue_with_origins();
        if let Some(running) = status.running_upgrade()
            && let Err(stop) = pinning::check(running, target, &self.now(&origins, target))
        {
            tracing::warn!(%target, reason = stop.reason, "the running upgrade takes no step");
            let advance = stages::Advance {
                blocked: Some(stages::Blocked {
                    reason: stop.reason,
                    message: stop.message,
                }),
                ..stages::Advance::default()
            };
            return Situation::Executing {
                target: target.clone(),
                advance,
                note,
            };
        }
        let Some(target_release) = catalogue.release(target) else {
            let advance = stages::Advance {
                blocked: Some(stages::Blocked {
                    reason: "ReleaseNotLoaded",
                    message: format!(
                        "the release {target} being applied is not loaded: its ProductManifest is resolved again \
                         after a restart, or was deleted (import it again to continue)"
                    ),
                }),
                ..stages::Advance::default()
            };
            return Situation::Executing {
                target: target.clone(),
                advance,
                note,
            };
        };
        // The release the upgrade started from: the newest Completed entry below the running one.
        let from = status
            .history
            .iter()
            .skip(1)
            .find(|e| e.state == acp_api::cvsh::HistoryState::Completed);
        let from = from
            .and_then(|e| e.acp_version().ok())
            .or_else(|| current.cloned());
        let exec = Execution {
            cluster: self.cluster.as_ref(),
            access_error: self.access_error.as_ref().map(ToString::to_string),
            current: from.as_ref().and_then(|c| catalogue.release(c)),
            target: target_release,
            kubernetes: self.observed_kubernetes(),
            driver: self.shadow.kubernetes_driver(),
            paused: self.shadow.is_paused(),
            now: self.ctx.clock.now(),
        };
        let advance = stages::advance(&mut status.stages, &exec).await;
        if !advance.finished {
            return Situation::Executing {
                target: target.clone(),
                advance,
                note,
            };
        }
        let now = self.ctx.clock.time();
        let image = status
            .history
            .first()
            .map(|e| e.image.clone())
            .filter(|i| !i.is_empty());
        if let Some(entry) = status.history.first_mut() {
            entry.state = acp_api::cvsh::HistoryState::Completed;
            entry.completion_time = Some(now);
            if let Some(took) = entry.duration() {
                self.ctx.metrics.upgrade_completed(took);
            }
        }
        status.current = Some(release_of(target, image.as_deref()));
        status.desired = Some(release_of(target, image.as_deref()));
        status.available_updates.retain(|u| {
            u.version
                .as_deref()
                .and_then(|v| v.parse::<AcpVersion>().ok())
                .is_some_and(|v| v > *target)
        });
        self.ctx.release_slot(&self.name);
        tracing::info!(%target, "upgrade completed");
        Situation::Completed {
            target: target.clone(),
        }
    }
}
