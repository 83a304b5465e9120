//! Wiring: both controllers (ProductManifest and ClusterVersionShadow) over one shared release catalogue,
//! run until shutdown. Only the leader runs this.

use std::sync::Arc;

use anyhow::Context as _;

use crate::{Config, clusters, cvsh, http, metrics, notify, releases, rollouts, shutdown};

/// The client release bundles are pulled with, from the registry flags.
fn registry_client(config: &Config) -> anyhow::Result<acp_bundle::BundleClient> {
    let mut options = acp_bundle::ClientOptions {
        insecure_registries: config.insecure_registries.clone(),
        ..acp_bundle::ClientOptions::default()
    };
    for path in &config.registry_ca_files {
        let pem = std::fs::read(path).with_context(|| {
            format!(
                "cannot read registry CA file {}; fix --registry-ca-file",
                path.display()
            )
        })?;
        options.extra_root_certificates.push(pem);
    }
    let client = acp_bundle::BundleClient::new(options);
    let Some(path) = &config.registry_auth_file else {
        return Ok(client);
    };
    let json = std::fs::read(path).with_context(|| {
        format!(
            "cannot read registry credentials {}; fix --registry-auth-file",
            path.display()
        )
    })?;
    let docker = acp_bundle::DockerConfig::from_json(&json).with_context(|| {
        format!(
            "{} is not a docker config JSON; fix --registry-auth-file",
            path.display()
        )
    })?;
    Ok(client.with_docker_config(docker))
}

/// The global cluster always has a shadow. ACP's installer creates it; a plain `helm install` must work
/// without that step. It is created empty and only when absent, so an existing object is never touched.
async fn ensure_global_shadow(api: &kube::Api<acp_api::ClusterVersionShadow>, namespace: &str) {
    use acp_api::names::{FIELD_MANAGER, GLOBAL_CLUSTER};
    let global = acp_api::ClusterVersionShadow::new(GLOBAL_CLUSTER, Default::default());
    let params = kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..Default::default()
    };
    match api.create(&params, &global).await {
        Ok(_) => tracing::info!(
            namespace,
            "created ClusterVersionShadow {GLOBAL_CLUSTER} for the global cluster"
        ),
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        // Not fatal: the controllers still serve every shadow that exists, and pick this one up once it does.
        Err(err) => tracing::warn!(
            namespace,
            error = %err,
            "cannot create ClusterVersionShadow {GLOBAL_CLUSTER}: create it from deploy/samples/cvsh-global.yaml \
             (and check that the namespace exists and acp-cvo may create ClusterVersionShadows)"
        ),
    }
}

/// The Events recorder of both controllers: reporter `acp-cvo`, instance this replica.
fn recorder(client: &kube::Client, config: &Config) -> kube::runtime::events::Recorder {
    kube::runtime::events::Recorder::new(
        client.clone(),
        kube::runtime::events::Reporter {
            controller: acp_api::names::FIELD_MANAGER.into(),
            instance: Some(config.identity()),
        },
    )
}

/// Aborts a task when dropped, so a task started by the controllers ends with them (losing the Lease
/// drops the controllers without running their shutdown).
pub struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The notifier the reconciles publish to and the delivery task behind it, when a webhook is configured.
fn notifications(
    config: &Config,
    client: &kube::Client,
    metrics: &metrics::Metrics,
    shutdown: &shutdown::Shutdown,
) -> anyhow::Result<(notify::Notifier, Option<AbortOnDrop>)> {
    let Some(name) = config.notification_secret.as_ref().filter(|n| !n.is_empty()) else {
        return Ok((notify::Notifier::disabled(), None));
    };
    let retry = notify::deliver::Retry::default();
    let http = notify::deliver::client(&retry)?;
    let queue = notify::Queue::new(notify::QUEUE_CAPACITY, metrics.clone());
    let secret = notify::deliver::WebhookSecret {
        api: kube::Api::namespaced(client.clone(), &config.namespace),
        namespace: config.namespace.clone(),
        name: name.clone(),
    };
    let task = tokio::spawn(notify::deliver::run(
        queue.clone(),
        http,
        secret,
        retry,
        metrics.clone(),
        shutdown.clone(),
    ));
    Ok((notify::Notifier::new(queue), Some(AbortOnDrop(task))))
}

/// The two controllers, run until `shutdown`; they finish in-flight reconciles before returning.
pub async fn run(
    config: Config,
    client: kube::Client,
    metrics: metrics::Metrics,
    health: Arc<http::Health>,
    shutdown: shutdown::Shutdown,
) -> anyhow::Result<()> {
    use acp_api::{ClusterVersionShadow, ProductManifest};
    use futures::StreamExt;
    use kube::runtime::controller::Controller;
    use kube::runtime::watcher;

    let install_version = config
        .install_version
        .as_deref()
        .map(str::parse::<acp_policy::AcpVersion>)
        .transpose()
        .context("--install-version is not an ACP version; pass e.g. --install-version 4.3.1")?;
    if install_version.is_none() {
        tracing::warn!(
            "no --install-version: the global cluster's version is read from its acp-version ConfigMap"
        );
    }
    if config.allow_kubeconfig_exec {
        tracing::warn!(
            "--allow-kubeconfig-exec is on: kubeconfig Secrets may run credential plugin commands in the operator"
        );
    }
    if config.allow_insecure_kubeconfig_tls {
        tracing::warn!(
            "--allow-insecure-kubeconfig-tls is on: kubeconfig Secrets may turn TLS verification off"
        );
    }
    let registry = registry_client(&config)?;
    let shadows_api: kube::Api<ClusterVersionShadow> =
        kube::Api::namespaced(client.clone(), &config.namespace);
    let manifests_api: kube::Api<ProductManifest> = kube::Api::all(client.clone());
    for (what, check) in [
        (
            "ClusterVersionShadow",
            shadows_api
                .list(&kube::api::ListParams::default().limit(1))
                .await
                .err(),
        ),
        (
            "ProductManifest",
            manifests_api
                .list(&kube::api::ListParams::default().limit(1))
                .await
                .err(),
        ),
        (
            "UpgradeRun",
            kube::Api::<acp_api::rollout::UpgradeRun>::namespaced(client.clone(), &config.namespace)
                .list(&kube::api::ListParams::default().limit(1))
                .await
                .err(),
        ),
    ] {
        if let Some(err) = check {
            anyhow::bail!(
                "cannot list {what} objects ({err}); install the CRDs from deploy/crds and check RBAC"
            );
        }
    }

    ensure_global_shadow(&shadows_api, &config.namespace).await;

    let trust = releases::trust::ReleaseTrust::load(&config.release_verification_keys)?;
    if trust.keys().is_empty() {
        tracing::warn!(
            "release signature verification is off: no --release-verification-key, so bundles from registries \
             are applied without checking who published them; each such ProductManifest reports \
             SignatureVerified=False (VerificationDisabled)"
        );
    } else {
        for key in trust.keys() {
            tracing::info!(
                key = key.fingerprint(),
                file = key.source(),
                "release bundles must be signed by this key (or another listed)"
            );
        }
    }
    let releases = Arc::new(
        releases::Releases::new(
            releases::builtin::catalogue(),
            config.release_repository.clone(),
            registry,
        )
        .with_trust(trust)
        .with_content_policy(acp_bundle::ContentPolicy {
            allow_privileged: config.allow_privileged_release_content,
        }),
    );
    let clock: Arc<dyn acp_api::conditions::Clock> = Arc::new(acp_api::conditions::SystemClock);

    // Each release reconcile runs on an up-to-date ProductManifest cache and then re-queues every
    // cluster, so offered updates follow imported releases at once.
    let (trigger_tx, trigger_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let release_controller = Controller::new(manifests_api, watcher::Config::default());
    let manifests = release_controller.store();
    let release_ctx = Arc::new(releases::controller::Context {
        client: client.clone(),
        releases: releases.clone(),
        metrics: metrics.clone(),
        clock: clock.clone(),
        resolved: trigger_tx,
        announced: releases::controller::Announced::default(),
    });
    // A version claimed by a second ProductManifest refuses the first one too: look at all of them again.
    let duplicates = futures::stream::unfold(releases.duplicates_changed(), |mut rx| async move {
        rx.changed().await.ok().map(|()| ((), rx))
    });
    let release_controller = release_controller
        .reconcile_all_on(duplicates)
        .graceful_shutdown_on(shutdown.clone().wait())
        .run(
            releases::controller::reconcile,
            releases::controller::error_policy,
            release_ctx,
        )
        .for_each(|_| futures::future::ready(()));

    // Only the leader runs this function, so only the leader sends; the task ends with it.
    let (notifier, _delivery) = notifications(&config, &client, &metrics, &shutdown)?;

    let (shadows, shadows_writer) = kube::runtime::reflector::store();
    let retrigger =
        futures::stream::unfold(
            trigger_rx,
            |mut rx| async move { rx.recv().await.map(|()| ((), rx)) },
        );
    let access = clusters::ClusterAccess::for_operator(&config, client.clone(), &metrics);
    let platform = cvsh::preflight::platform_cache::CachedPlatform::new(
        cvsh::preflight::sources::Platform {
            cluster: access.global(acp_api::names::GLOBAL_CLUSTER),
            namespace: config.namespace.clone(),
        },
        cvsh::preflight::platform_cache::TTL,
    );
    let cvsh_ctx = Arc::new(cvsh::controller::Context {
        client: client.clone(),
        namespace: config.namespace.clone(),
        access,
        platform,
        releases,
        manifests: manifests.clone(),
        shadows: shadows.clone(),
        fleet: cvsh::fleet::FleetView::default(),
        metrics: metrics.clone(),
        recorder: recorder(&client, &config),
        clock,
        install_version,
        stall_after: config.stall_after(),
        insight_after: config.insight_after(),
        resync: config.resync(),
        slots: cvsh::slots::Slots::new(config.max_concurrent_upgrades),
        notifier: notifier.clone(),
    });
    let rollout_controller = rollout_controller(&config, &client, &metrics, &shadows, &cvsh_ctx, &shutdown);
    let shadow_controller = cvsh::scheduler::run(
        cvsh_ctx,
        shadows_api,
        shadows_writer,
        retrigger,
        window_changes(client, &config.namespace),
        shutdown.clone().wait(),
        cvsh::scheduler::Settings {
            workers: config.reconcile_workers(),
            cadence: cvsh::cadence::Cadence {
                first: config.resync(),
                max: config.resync_max(),
            },
        },
    );

    let ready = {
        let (manifests, shadows, health) = (manifests.clone(), shadows.clone(), health.clone());
        async move {
            let synced =
                futures::future::join(manifests.wait_until_ready(), shadows.wait_until_ready()).await;
            if synced.0.is_ok() && synced.1.is_ok() {
                tracing::info!("caches synced; controllers running");
                health.set(http::Role::Leader);
            }
        }
    };
    tokio::join!(release_controller, shadow_controller, rollout_controller, ready);
    Ok(())
}

/// The names of MaintenanceWindows as they are created, changed or deleted (all of them again after a
/// watch restart, which only wakes their clusters once more).
fn window_changes(
    client: kube::Client,
    namespace: &str,
) -> impl futures::Stream<Item = String> + Send + use<> {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};

    let windows: kube::Api<acp_api::maintenance_window::MaintenanceWindow> =
        kube::Api::namespaced(client, namespace);
    watcher(windows, watcher::Config::default())
        .default_backoff()
        .touched_objects()
        .filter_map(|window| async move {
            match window {
                Ok(window) => Some(kube::ResourceExt::name_any(&window)),
                Err(err) => {
                    tracing::warn!(error = %err, "watching MaintenanceWindows failed; retrying");
                    None
                }
            }
        })
}

/// The rollout controller over UpgradeRuns. It reads clusters from the cvsh cache of the
/// cluster-version controller and runs again whenever that cache changes (debounced: a burst of status
/// writes is one step per run).
fn rollout_controller(
    config: &Config,
    client: &kube::Client,
    metrics: &metrics::Metrics,
    shadows: &kube::runtime::reflector::Store<acp_api::ClusterVersionShadow>,
    cvsh_ctx: &cvsh::controller::Context,
    shutdown: &shutdown::Shutdown,
) -> impl std::future::Future<Output = ()> + use<> {
    use futures::StreamExt;
    use kube::runtime::controller::Controller;
    use kube::runtime::watcher;

    let runs: kube::Api<acp_api::rollout::UpgradeRun> =
        kube::Api::namespaced(client.clone(), &config.namespace);
    let ctx = Arc::new(rollouts::controller::Context {
        client: client.clone(),
        namespace: config.namespace.clone(),
        shadows: shadows.clone(),
        metrics: metrics.clone(),
        recorder: recorder(client, config),
        clock: Arc::new(acp_api::conditions::SystemClock),
        written: rollouts::requests::Written::default(),
    });
    // At most one wake-up a second however busy the fleet (the watch channel coalesces a burst). A
    // debounce would keep postponing the runs' steps while the cache never stays still for a second.
    let cache_changes = futures::stream::unfold(cvsh_ctx.fleet.subscribe(), |mut rx| async move {
        let changed = rx.changed().await.ok();
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        changed.map(|()| ((), rx))
    });
    Controller::new(runs, watcher::Config::default())
        .reconcile_all_on(cache_changes)
        .graceful_shutdown_on(shutdown.clone().wait())
        .run(
            rollouts::controller::reconcile,
            rollouts::controller::error_policy,
            ctx,
        )
        .for_each(|_| futures::future::ready(()))
}
