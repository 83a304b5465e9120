//! Gather: everything one reconcile knows, read once at its start — the cluster (or why it cannot be
//! reached), what it answered, the fleet, the catalogue, the cluster's current version and what the spec
//! asks for — and preflight for the version the reconcile considers.

use std::collections::BTreeMap;
use std::sync::Arc;

use acp_api::cvsh::Tier;
use acp_api::{ClusterVersionShadow, ClusterVersionShadowStatus};
use acp_policy::{AcpVersion, Catalogue, KubeVersion, available_updates};
use kube::ResourceExt;

use super::controller::Context;
use super::fleet::Fleet;
use super::phase::{self, Evaluated};
use super::pinning;
use super::plan::{self, Current, Request};
use super::preflight::sources::{NoCluster, PlatformSource};
use super::preflight::{self, Settings};
use super::risks;
use super::slots::Claim;
use crate::clusters::access::SecretKey;
use crate::clusters::observe::{self, Observation};
use crate::clusters::{AccessError, Cluster};
use crate::releases;

/// The facts of one reconcile of one cluster.
pub struct Facts {
    pub name: String,
    /// The tier the operator grants this cluster (see `roles`), not merely `spec.tier`.
    pub tier: Tier,
    /// Why the claimed tier was refused (a `TierRefused` reason and message).
    pub tier_refused: Option<(&'static str, String)>,
    /// Other ClusterVersionShadows reaching the same cluster (a `DuplicateCluster` message).
    pub duplicate: Option<String>,
    /// Where the cluster's kubeconfig comes from, for messages (`None`: the operator's own client).
    pub kubeconfig: Option<String>,
    pub cluster: Result<Cluster, AccessError>,
    pub observation: Observation,
    pub fleet: Arc<Fleet>,
    pub catalogue: Arc<Catalogue>,
    /// Where each release came from: its bundle digest, or `builtin`.
    pub origins: Arc<BTreeMap<AcpVersion, String>>,
    pub current: Current,
    /// Updates from the current version, newest first.
    pub available: Vec<AcpVersion>,
    pub request: Request,
    /// The known risks of each available update and of the requested version, evaluated on the cluster
    /// (releases declaring none left out; nothing while an upgrade runs).
    pub risks: Vec<risks::ReleaseRisks>,
}

impl Facts {
    /// The Kubernetes version the cluster reported this reconcile.
    pub fn kubernetes(&self) -> Option<KubeVersion> {
        self.observation.kubernetes_version
    }

    /// Why the cluster could not be reached, if it could not (a Degraded reason and message).
    pub fn access_problem(&self) -> Option<(&'static str, String)> {
        if let Err(err) = &self.cluster {
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

    /// What the cluster answered, for a running upgrade's pins.
    pub fn seen(&self) -> pinning::Now<'_> {
        pinning::Now {
            cluster: &self.name,
            kubeconfig: self.kubeconfig.as_deref(),
            reachable: self.observation.reachable,
            error: self.observation.error.as_deref(),
            identity: self.observation.identity.as_deref(),
            identity_unknown: self.observation.identity_unknown.as_ref(),
            release_digest: None,
        }
    }

    /// What reserving a start of the upgrade to `target` needs.
    pub fn claim<'a>(&'a self, target: &'a AcpVersion) -> Claim<'a> {
        Claim {
            name: &self.name,
            tier: self.tier,
            identity: self.observation.identity.as_deref(),
            identity_unknown: self.observation.identity_unknown.as_ref(),
            target,
        }
    }
}

/// Reads the facts of `shadow`: calls its cluster once, reads the caches.
pub async fn facts(
    ctx: &Context,
    shadow: &ClusterVersionShadow,
    previous: &ClusterVersionShadowStatus,
) -> Facts {
    let name = shadow.name_any();
    let namespace = shadow.namespace().unwrap_or_else(|| ctx.namespace.clone());
    let secret = shadow.kubeconfig_secret_ref().map(|r| SecretKey {
        namespace: namespace.clone(),
        name: r.name.clone(),
        key: r.key.clone(),
    });
    let cluster = ctx.access.cluster(&name, secret.as_ref()).await;
    let observation = match &cluster {
        Ok(cluster) => observe::observe(cluster).await,
        Err(err) => Observation {
            error: Some(err.to_string()),
            ..Observation::default()
        },
    };

    let fleet = ctx.fleet.get(&ctx.shadows);
    let role = fleet.role(shadow);
    // The last known identity: a cluster that does not answer for a while is still a duplicate.
    let identity = observation
        .identity
        .clone()
        .or_else(|| previous.observed.as_ref()?.cluster_identity.clone());
    let duplicate = identity.as_deref().and_then(|identity| {
        let others = pinning::duplicates(&name, Some(identity), &fleet.peers());
        (!others.is_empty()).then(|| pinning::duplicate_message(&name, identity, &others))
    });

    ctx.releases.forget_missing(&ctx.manifests);
    let (catalogue, origins) = ctx.releases.catalogue_with_origins();
    let current = plan::current(
        previous,
        &name,
        role.tier,
        ctx.install_version.as_ref(),
        observation.recorded_version.as_deref(),
    );
    let ready = releases::ready_versions(&ctx.manifests);
    let available = current
        .version
        .as_ref()
        .map(|c| available_updates(&catalogue, c, &ready))
        .unwrap_or_default();
    let request = plan::request(&shadow.spec, |image| {
        releases::version_of_image(&ctx.manifests, image)
    });
    let risks = if previous.running_upgrade().is_some() {
        Vec::new()
    } else {
        let mut versions: Vec<&AcpVersion> = available.iter().collect();
        if let Request::Version { target, .. } = &request
            && !versions.contains(&target)
            && current.version.as_ref() != Some(target)
        {
            versions.push(target);
        }
        let releases: Vec<&acp_policy::ProductRelease> =
            versions.iter().filter_map(|v| catalogue.release(v)).collect();
        let from = current.version.as_ref();
        match &cluster {
            Ok(c) => risks::evaluate(&name, c, &observation, from, &releases).await,
            Err(_) => risks::evaluate(&name, &NoCluster, &observation, from, &releases).await,
        }
    };
    Facts {
        kubeconfig: shadow
            .kubeconfig_secret_ref()
            .map(|r| format!("Secret {namespace}/{} key {}", r.name, r.key)),
        name,
        tier: role.tier,
        tier_refused: role.refused.map(|r| (r.reason, r.message)),
        duplicate,
        cluster,
        observation,
        fleet,
        catalogue,
        origins,
        current,
        available,
        request,
        risks,
    }
}

/// Preflight for the version this reconcile considers (see [`phase::preflight_target`]), if any.
pub async fn preflight(
    ctx: &Context,
    shadow: &ClusterVersionShadow,
    facts: &Facts,
    previous: &ClusterVersionShadowStatus,
) -> Option<Evaluated> {
    let current = facts.current.version.as_ref();
    let target = phase::preflight_target(previous, &facts.request, current, facts.available.first())?;
    let platform = &ctx.platform;
    let settings = match platform.config_map(acp_api::names::cvo_config::NAME).await {
        Ok(data) => Settings::from_data(data.as_ref()),
        Err(err) => Settings {
            problems: vec![format!("cannot read ConfigMap cvo-config: {err}")],
            ..Settings::default()
        },
    };
    if let Some(problems) = settings.problems_text() {
        tracing::warn!(cluster = %facts.name, "{problems}");
    }
    let inputs = preflight::Inputs {
        cluster: &facts.name,
        tier: facts.tier,
        provisioning: shadow.provisioning(),
        driver: shadow.kubernetes_driver(),
        current,
        target: &target,
        catalogue: &facts.catalogue,
        observation: &facts.observation,
        fleet: &facts.fleet,
        upgrading_elsewhere: ctx.slots.upgrading_elsewhere(&facts.name, &facts.fleet),
        max_concurrent: ctx.slots.max_concurrent(),
        maintenance_window: shadow
            .labels()
            .get(acp_api::names::labels::MAINTENANCE_WINDOW)
            .map(String::as_str),
        ignore_maintenance_window: shadow
            .spec
            .desired_update
            .as_ref()
            .is_some_and(|d| d.ignore_maintenance_window),
        now: ctx.clock.now(),
        risks: facts.risks.iter().find(|r| r.version == target),
        accept_risks: match (&facts.request, &shadow.spec.desired_update) {
            (Request::Version { target: asked, .. }, Some(desired)) if *asked == target => {
                &desired.accept_risks
            }
            _ => &[],
        },
        cluster_api: shadow.cluster_api_ref(),
    };
    let kept = previous.preflight.as_ref();
    let checks = match &facts.cluster {
        Ok(cluster) => preflight::evaluate(&inputs, cluster, platform, &settings, kept).await,
        Err(_) => preflight::evaluate(&inputs, &NoCluster, platform, &settings, kept).await,
    };
    let accepted = preflight::checks::conditional_update_risks_accepted::accepted_lines(
        inputs.risks,
        inputs.accept_risks,
    );
    Some(Evaluated::new(target, checks).with_accepted_risks(accepted))
}
