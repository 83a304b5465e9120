//! Clients for managed clusters, built from kubeconfig Secrets and kept per Secret resourceVersion while
//! they are used.
//!
//! A kubeconfig is used only when its Secret is marked as one and it passes the kubeconfig policy
//! (`acp_api::kubeconfig`): nothing here builds a client from anything else. Every error about a Secret's
//! content is a fixed text naming the Secret, the key and the fields, never a value or a parser's message,
//! because it is copied into status, Events and logs.
//!
//! Kubeconfig Secrets come from a watch of the operator's namespace ([`SecretCache`]) rather than a GET per
//! reconcile; only marked Secrets are watched and cached. A Secret the cache does not hold (not synced yet,
//! just created, missing, unmarked) is read with one GET, so every refusal reads the same either way.
//! A client costs memory for as long as it is kept (its TLS setup and an idle connection): one unused for
//! [`IDLE_CLIENT_TTL`] is dropped and built again from the cached Secret when its cluster is next reached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acp_api::kubeconfig::{self, Policy, Refusal};
use acp_api::names;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client, ResourceExt as _};
use tokio::sync::{Semaphore, mpsc};

use super::{Cluster, ClusterError, RequestLimits};
use crate::metrics::Metrics;

/// A workload cluster's client unused this long is dropped. An upgrading cluster is reached every few
/// seconds and keeps its client; an idle one is re-observed less often than this (every `--resync` at
/// the soonest). Shorter than the first resync because a kept client keeps its pooled connection, and a
/// connection keeps a read buffer as large as the largest answer it read: at 1,000 idle clusters those
/// buffers were 113 MiB of a 184 MiB heap peak (heaptrack, scale benchmark).
pub const IDLE_CLIENT_TTL: Duration = Duration::from_secs(15);

/// Most key names of a Secret listed when the asked key is missing.
const MAX_LISTED_KEYS: usize = 10;

/// Why no client could be built for a cluster. Each says which Secret to fix and how.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(
        "kubeconfig Secret {namespace}/{name} does not exist; create it (e.g. `ac adm cluster register`) \
         or fix spec.kubeconfigSecretRef"
    )]
    SecretMissing { namespace: String, name: String },
    #[error(
        "Secret {namespace}/{name} is not marked as a kubeconfig, so it is not read; {how}",
        how = kubeconfig::how_to_mark(namespace, name)
    )]
    Unmarked { namespace: String, name: String },
    #[error(
        "kubeconfig Secret {namespace}/{name} has no key `{key}` (keys: {available}); \
         set spec.kubeconfigSecretRef.key to the key holding the kubeconfig"
    )]
    KeyMissing {
        namespace: String,
        name: String,
        key: String,
        available: String,
    },
    #[error(
        "kubeconfig in Secret {namespace}/{name} key `{key}` is refused: {refusal}; fix the Secret \
         (`ac adm cluster register` checks a kubeconfig before storing it)"
    )]
    Refused {
        namespace: String,
        name: String,
        key: String,
        refusal: Refusal,
    },
    #[error("kubeconfig in Secret {namespace}/{name} key `{key}` was accepted, but {source}")]
    Unusable {
        namespace: String,
        name: String,
        key: String,
        #[source]
        source: kubeconfig::ClientError,
    },
    #[error("cannot read kubeconfig Secret {namespace}/{name} from the global cluster: {source}")]
    Global {
        namespace: String,
        name: String,
        #[source]
        source: Box<ClusterError>,
    },
}

impl AccessError {
    /// Condition reason for this error.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::SecretMissing { .. } => "KubeconfigSecretMissing",
            Self::Unmarked { .. } => "KubeconfigRefused",
            Self::Refused { refusal, .. } if refusal.is_policy() => "KubeconfigRefused",
            Self::KeyMissing { .. } | Self::Refused { .. } | Self::Unusable { .. } => "KubeconfigInvalid",
            Self::Global { .. } => "GlobalClusterUnreachable",
        }
    }
}

/// Where a cluster's kubeconfig lives.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretKey {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

struct Cached {
    resource_version: String,
    client: Client,
    /// The cluster's request slots: a handle on the cluster holds a clone, so an entry whose slots are held
    /// only here is not in use.
    slots: Arc<Semaphore>,
    used: Instant,
}

#[derive(Default)]
struct Clients {
    by_secret: HashMap<SecretKey, Cached>,
    swept: Option<Instant>,
}

impl Clients {
    /// Drops the clients of clusters no handle uses and none asked for within `ttl`; at most once per
    /// quarter `ttl`, so a reconcile does not walk thousands of entries each time. True when it ran.
    fn sweep(&mut self, now: Instant, ttl: Duration) -> bool {
        if self.swept.is_some_and(|at| now.duration_since(at) < ttl / 4) {
            return false;
        }
        self.swept = Some(now);
        self.by_secret
            .retain(|_, c| now.duration_since(c.used) < ttl || Arc::strong_count(&c.slots) > 1);
        true
    }
}

/// Hands out a [`Cluster`] for each managed cluster.
pub struct ClusterAccess {
    global: Client,
    timeout: Duration,
    policy: Policy,
    secrets: Option<SecretCache>,
    limits: RequestLimits,
    idle_ttl: Duration,
    metrics: Option<Metrics>,
    clients: Mutex<Clients>,
    /// Names of watched kubeconfig Secrets as they change, until taken by [`ClusterAccess::secret_changes`].
    changes: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
}

impl ClusterAccess {
    /// Without a Secret cache (every kubeconfig is read with a GET) and without request limits.
    pub fn new(global: Client, timeout: Duration, policy: Policy) -> Self {
        Self {
            global,
            timeout,
            policy,
            secrets: None,
            limits: RequestLimits::unlimited(),
            idle_ttl: IDLE_CLIENT_TTL,
            metrics: None,
            clients: Mutex::default(),
            changes: Mutex::default(),
        }
    }

    /// The names of kubeconfig Secrets in `--namespace` as they are changed or deleted, so the clusters
    /// reached through them are looked at at once rather than at their next resync. Handed out once.
    pub fn secret_changes(&self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.changes.lock().ok()?.take()
    }

    /// What the operator runs with: kubeconfig Secrets watched in `--namespace` (the watch ends when this
    /// is dropped), the request limits of the flags, outbound metrics. Needs a tokio runtime.
    pub fn for_operator(config: &crate::Config, global: Client, metrics: &Metrics) -> Self {
        let (changed, changes) = mpsc::unbounded_channel();
        Self {
            secrets: Some(SecretCache::watch(global.clone(), &config.namespace, changed)),
            changes: Mutex::new(Some(changes)),
            limits: RequestLimits::new(
                usize::from(config.max_requests_per_cluster),
                usize::from(config.max_requests_total),
                Some(metrics.outbound().clone()),
            ),
            metrics: Some(metrics.clone()),
            ..Self::new(global, config.request_timeout(), config.kubeconfig_policy())
        }
    }

    /// The global cluster, through the operator's own client.
    pub fn global(&self, name: &str) -> Cluster {
        Cluster::new(name, self.global.clone(), self.timeout).with_limits(self.limits.global())
    }

    /// The cluster `name`, reached through its kubeconfig Secret, or the global cluster without one.
    pub async fn cluster(&self, name: &str, secret: Option<&SecretKey>) -> Result<Cluster, AccessError> {
        let Some(secret) = secret else {
            return Ok(self.global(name));
        };
        let (client, slots) = self.client_from_secret(name, secret).await?;
        Ok(Cluster::new(name, client, self.timeout).with_limits(self.limits.workload(slots)))
    }

    /// Kubeconfig Secret `key`: from the watch when it holds it, else with one GET (whose answer says
    /// whether the Secret is missing or unmarked).
    async fn secret(&self, cluster: &str, key: &SecretKey) -> Result<Arc<Secret>, AccessError> {
        if let Some(secret) = self.secrets.as_ref().and_then(|cache| cache.get(key)) {
            return Ok(secret);
        }
        let secrets: Api<Secret> = Api::namespaced(self.global.clone(), &key.namespace);
        let global = self.global(cluster);
        global
            .get_opt(
                &format!("get Secret {}/{}", key.namespace, key.name),
                secrets.get(&key.name),
            )
            .await
            .map_err(|source| AccessError::Global {
                namespace: key.namespace.clone(),
                name: key.name.clone(),
                source: Box::new(source),
            })?
            .map(Arc::new)
            .ok_or_else(|| AccessError::SecretMissing {
                namespace: key.namespace.clone(),
                name: key.name.clone(),
            })
    }

    async fn client_from_secret(
        &self,
        cluster: &str,
        key: &SecretKey,
    ) -> Result<(Client, Arc<Semaphore>), AccessError> {
        let secret = self.secret(cluster, key).await?;
        let resource_version = secret.metadata.resource_version.clone().unwrap_or_default();
        let now = Instant::now();
        let mut slots = None;
        if let Ok(mut clients) = self.clients.lock() {
            self.sweep(&mut clients, now);
            if let Some(cached) = clients.by_secret.get_mut(key) {
                if cached.resource_version == resource_version {
                    cached.used = now;
                    return Ok((cached.client.clone(), cached.slots.clone()));
                }
                // A changed Secret: a new client, the same slots (calls through the old one may still run).
                slots = Some(cached.slots.clone());
            }
        }

        let client = client_for(&secret, key, self.policy, self.timeout)?;
        tracing::debug!(cluster, secret = %key.name, %resource_version, "built a client from the kubeconfig Secret");
        let slots = slots.unwrap_or_else(|| self.limits.cluster_slots());
        if let Ok(mut clients) = self.clients.lock() {
            clients.by_secret.insert(
                key.clone(),
                Cached {
                    resource_version,
                    client: client.clone(),
                    slots: slots.clone(),
                    used: now,
                },
            );
            if let Some(metrics) = &self.metrics {
                metrics.outbound().cached_clients(clients.by_secret.len());
            }
        }
        Ok((client, slots))
    }

    fn sweep(&self, clients: &mut Clients, now: Instant) {
        if clients.sweep(now, self.idle_ttl)
            && let Some(metrics) = &self.metrics
        {
            metrics.outbound().cached_clients(clients.by_secret.len());
        }
    }
}

/// The marked Secrets of one namespace, fed by two watches (one per way a Secret is marked: the Cluster
/// API type, the kubeconfig label), each object reduced to what building a client reads.
struct SecretCache {
    namespace: String,
    labelled: Store<Secret>,
    typed: Store<Secret>,
    synced: Arc<AtomicBool>,
    _watch: Option<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SecretCache {
    fn watch(client: Client, namespace: &str, changed: mpsc::UnboundedSender<String>) -> Self {
        let api: Api<Secret> = Api::namespaced(client, namespace);
        let (labelled, labelled_writer) = reflector::store();
        let (typed, typed_writer) = reflector::store();
        let by_label = watcher::Config::default().labels(&format!(
            "{}={}",
            names::labels::KUBECONFIG,
            kubeconfig::MARKER_VALUE
        ));
        let by_type =
            watcher::Config::default().fields(&format!("type={}", kubeconfig::CLUSTER_API_SECRET_TYPE));
        let synced = Arc::new(AtomicBool::new(false));
        // Each watch says whether it is current: listed completely and not failing since. The cache answers
        // only while both are; a watch that fails sends every read back to a GET until it listed again.
        let current = [Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false))];
        let feed = |config, writer, mine: usize| {
            let changed = changed.clone();
            let (current, synced) = (current.clone(), synced.clone());
            watcher(api.clone(), config)
                .default_backoff()
                .modify(strip)
                .reflect(writer)
                .for_each(move |event| {
                    match &event {
                        Ok(watcher::Event::Apply(secret) | watcher::Event::Delete(secret)) => {
                            // Nobody listens only while the controllers shut down.
                            let _ = changed.send(secret.name_any());
                        }
                        Ok(watcher::Event::InitDone) => current[mine].store(true, Ordering::Release),
                        Ok(_) => {}
                        Err(err) => {
                            current[mine].store(false, Ordering::Release);
                            tracing::warn!(
                                error = %err,
                                "cannot watch kubeconfig Secrets; each is read with a GET meanwhile (check that \
                                 acp-cvo may list and watch Secrets in its namespace)"
                            );
                        }
                    }
                    let both = current.iter().all(|c| c.load(Ordering::Acquire));
                    if synced.swap(both, Ordering::AcqRel) != both {
                        tracing::debug!(current = both, "kubeconfig Secret cache");
                    }
                    futures::future::ready(())
                })
        };
        let watches =
            futures::future::join(feed(by_label, labelled_writer, 0), feed(by_type, typed_writer, 1));
        let task = tokio::spawn(async move {
            watches.await;
        });
        Self {
            namespace: namespace.to_owned(),
            labelled,
            typed,
            synced,
            _watch: Some(AbortOnDrop(task)),
        }
    }

    /// A cache that has listed `secrets` (stripped as the watch strips them), or nothing yet.
    #[cfg(test)]
    fn listed(namespace: &str, secrets: Option<Vec<Secret>>) -> Self {
        let mut labelled = reflector::store::Writer::default();
        let mut typed = reflector::store::Writer::default();
        let synced = secrets.is_some();
        for writer in [&mut labelled, &mut typed] {
            writer.apply_watcher_event(&watcher::Event::Init);
        }
        for mut secret in secrets.unwrap_or_default() {
            strip(&mut secret);
            let writer = if secret.type_.as_deref() == Some(kubeconfig::CLUSTER_API_SECRET_TYPE) {
                &mut typed
            } else {
                &mut labelled
            };
            writer.apply_watcher_event(&watcher::Event::InitApply(secret));
        }
        for writer in [&mut labelled, &mut typed] {
            writer.apply_watcher_event(&watcher::Event::InitDone);
        }
        Self {
            namespace: namespace.to_owned(),
            labelled: labelled.as_reader(),
            typed: typed.as_reader(),
            synced: Arc::new(AtomicBool::new(synced)),
            _watch: None,
        }
    }

    /// The Secret, if the watch holds it. `None` before both watches listed once, for another namespace and
    /// for a Secret neither watch holds: the caller then reads it with a GET.
    fn get(&self, key: &SecretKey) -> Option<Arc<Secret>> {
        if key.namespace != self.namespace || !self.synced.load(Ordering::Acquire) {
            return None;
        }
        let at = ObjectRef::new(&key.name).within(&key.namespace);
        self.typed.get(&at).or_else(|| self.labelled.get(&at))
    }
}

/// What the cache keeps of a Secret: name, namespace, resourceVersion, type, the marker label and the data.
/// Never managedFields or annotations (`last-applied-configuration` would hold the data a second time).
fn strip(secret: &mut Secret) {
    let meta = &mut secret.metadata;
    meta.managed_fields = None;
    meta.annotations = None;
    meta.owner_references = None;
    meta.finalizers = None;
    meta.generate_name = None;
    if let Some(labels) = meta.labels.as_mut() {
        labels.retain(|k, _| k == names::labels::KUBECONFIG);
    }
    secret.string_data = None;
}

/// The client a Secret's kubeconfig gives, if the Secret is marked and the kubeconfig passes `policy`.
fn client_for(
    secret: &Secret,
    key: &SecretKey,
    policy: Policy,
    timeout: Duration,
) -> Result<Client, AccessError> {
    let accepted = accepted_kubeconfig(secret, key, policy)?;
    accepted.client(timeout).map_err(|source| AccessError::Unusable {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        key: key.key.clone(),
        source,
    })
}

/// The kubeconfig in `secret`, checked: the marker first (an unmarked Secret is not parsed), then the key,
/// then the policy.
fn accepted_kubeconfig(
    secret: &Secret,
    key: &SecretKey,
    policy: Policy,
) -> Result<kubeconfig::Accepted, AccessError> {
    if !kubeconfig::is_marked_secret(secret) {
        return Err(AccessError::Unmarked {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
        });
    }
    let bytes = kubeconfig_bytes(secret, key)?;
    kubeconfig::validate(&bytes, policy).map_err(|refusal| AccessError::Refused {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        key: key.key.clone(),
        refusal,
    })
}

fn kubeconfig_bytes(secret: &Secret, key: &SecretKey) -> Result<Vec<u8>, AccessError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|data| data.get(&key.key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|data| data.get(&key.key))
                .map(|s| s.clone().into_bytes())
        });
    let Some(bytes) = bytes else {
        let mut keys: Vec<&str> = secret
            .data
            .iter()
            .flat_map(|d| d.keys())
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let more = keys.len().saturating_sub(MAX_LISTED_KEYS);
        keys.truncate(MAX_LISTED_KEYS);
        let mut available = if keys.is_empty() {
            "none".to_owned()
        } else {
            keys.join(", ")
        };
        if more > 0 {
            available.push_str(&format!(" and {more} more"));
        }
        return Err(AccessError::KeyMissing {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            key: key.key.clone(),
            available,
        });
    };
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp_api::names;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn key() -> SecretKey {
        SecretKey {
            namespace: "cpaas-system".into(),
            name: "east-kubeconfig".into(),
            key: "value".into(),
        }
    }

    fn secret(entries: &[(&str, &[u8])]) -> Secret {
        let mut secret = unmarked(entries);
        secret.metadata.labels = Some(BTreeMap::from([(
            names::labels::KUBECONFIG.to_owned(),
            "true".to_owned(),
        )]));
        secret
    }

    fn unmarked(entries: &[(&str, &[u8])]) -> Secret {
        Secret {
            data: Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    const KUBECONFIG: &[u8] = b"apiVersion: v1
clusters:
- name: east
  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}
users:
- name: east-admin
  user: {token: abc123}
contexts:
- name: east
  context: {cluster: east, user: east-admin}
current-context: east
";

    fn named(mut secret: Secret, name: &str, resource_version: &str) -> Secret {
        secret.metadata.name = Some(name.into());
        secret.metadata.namespace = Some("cpaas-system".into());
        secret.metadata.resource_version = Some(resource_version.into());
        secret
    }

    /// A hub that answers every request 404 and counts them.
    fn hub(requests: Arc<std::sync::atomic::AtomicUsize>) -> Client {
        let server = tower::service_fn(move |_request: http::Request<kube::client::Body>| {
            requests.fetch_add(1, Ordering::SeqCst);
            async {
                let status = serde_json::json!({
                    "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                    "message": "secrets not found", "code": 404,
                });
                let response = http::Response::builder()
                    .status(404)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(status.to_string().into_bytes()))
                    .unwrap();
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        Client::new(server, "default")
    }

    fn access(requests: &Arc<std::sync::atomic::AtomicUsize>, cache: SecretCache) -> ClusterAccess {
        let policy = Policy {
            allow_insecure_tls: true,
            ..Policy::default()
        };
        ClusterAccess {
            secrets: Some(cache),
            ..ClusterAccess::new(hub(requests.clone()), Duration::from_secs(5), policy)
        }
    }

    #[tokio::test]
    async fn a_watched_secret_is_not_read_again_and_a_missing_one_reads_as_before() {
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let marked = named(secret(&[("value", KUBECONFIG)]), "east-kubeconfig", "7");
        let access = access(&requests, SecretCache::listed("cpaas-system", Some(vec![marked])));
        for _ in 0..3 {
            access.cluster("east", Some(&key())).await.unwrap();
        }
        assert_eq!(requests.load(Ordering::SeqCst), 0, "no GET for a watched Secret");

        let gone = SecretKey {
            name: "west-kubeconfig".into(),
            ..key()
        };
        let err = access.cluster("west", Some(&gone)).await.err().unwrap();
        assert_eq!(
            requests.load(Ordering::SeqCst),
            1,
            "one GET for a Secret the watch lacks"
        );
        assert_eq!(
            err.to_string(),
            "kubeconfig Secret cpaas-system/west-kubeconfig does not exist; create it (e.g. `ac adm cluster \
             register`) or fix spec.kubeconfigSecretRef"
        );
    }

    #[tokio::test]
    async fn until_the_watch_has_listed_every_secret_is_read_with_a_get() {
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let access = access(&requests, SecretCache::listed("cpaas-system", None));
        let err = access.cluster("east", Some(&key())).await.err().unwrap();
        assert!(matches!(err, AccessError::SecretMissing { .. }), "{err}");
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_cache_keeps_only_what_a_client_is_built_from() {
        let mut secret = named(secret(&[("value", KUBECONFIG)]), "east-kubeconfig", "7");
        secret.metadata.annotations = Some(BTreeMap::from([(
            "kubectl.kubernetes.io/last-applied-configuration".to_owned(),
            "{\"data\":{\"value\":\"...\"}}".to_owned(),
        )]));
        secret.metadata.managed_fields = Some(vec![Default::default()]);
        secret
            .metadata
            .labels
            .get_or_insert_default()
            .insert("team".into(), "a".into());
        strip(&mut secret);
        assert_eq!(secret.metadata.annotations, None);
        assert_eq!(secret.metadata.managed_fields, None);
        assert_eq!(
            secret.metadata.labels,
            Some(BTreeMap::from([(
                names::labels::KUBECONFIG.to_owned(),
                "true".to_owned()
            )]))
        );
        assert!(kubeconfig::is_marked_secret(&secret));
        assert_eq!(secret.metadata.resource_version.as_deref(), Some("7"));
        assert!(
            accepted_kubeconfig(
                &secret,
                &key(),
                Policy {
                    allow_insecure_tls: true,
                    ..Policy::default()
                }
            )
            .is_ok()
        );
    }

    #[tokio::test]
    async fn an_idle_client_is_dropped_and_one_in_use_is_kept() {
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let secrets = ["east", "west"].map(|name| {
            named(
                secret(&[("value", KUBECONFIG)]),
                &format!("{name}-kubeconfig"),
                "7",
            )
        });
        let access = access(
            &requests,
            SecretCache::listed("cpaas-system", Some(secrets.to_vec())),
        );
        let west = SecretKey {
            name: "west-kubeconfig".into(),
            ..key()
        };
        let _in_use = access.cluster("east", Some(&key())).await.unwrap();
        drop(access.cluster("west", Some(&west)).await.unwrap());
        let later = Instant::now() + IDLE_CLIENT_TTL * 2;
        let mut clients = access.clients.lock().unwrap();
        assert_eq!(clients.by_secret.len(), 2);
        clients.sweep(later, IDLE_CLIENT_TTL);
        let kept: Vec<&str> = clients.by_secret.keys().map(|k| k.name.as_str()).collect();
        assert_eq!(kept, ["east-kubeconfig"]);
    }

    fn refused(secret: &Secret) -> AccessError {
        accepted_kubeconfig(secret, &key(), Policy::default()).unwrap_err()
    }

    #[test]
    fn a_missing_key_names_the_keys_that_exist() {
        let err = refused(&secret(&[("kubeconfig", b"x"), ("ca.crt", b"y")]));
        let text = err.to_string();
        assert!(text.contains("no key `value`"), "{text}");
        assert!(text.contains("ca.crt, kubeconfig"), "{text}");
        assert_eq!(err.reason(), "KubeconfigInvalid");
    }

    #[test]
    fn an_unmarked_secret_is_refused_before_its_content_is_read() {
        let err = refused(&unmarked(&[("value", b"hunter2-password")]));
        assert_eq!(err.reason(), "KubeconfigRefused");
        let text = err.to_string();
        assert!(text.contains("cpaas-system/east-kubeconfig"), "{text}");
        assert!(text.contains("config.alauda.io/kubeconfig=true"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        // Not even the key is looked at.
        let err = refused(&unmarked(&[]));
        assert!(matches!(err, AccessError::Unmarked { .. }), "{err}");
    }

    #[test]
    fn content_that_is_no_kubeconfig_is_invalid_and_never_quoted() {
        for value in [
            &[0xff, 0xfe][..],
            b"hunter2-password",
            b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAAS\n-----END PRIVATE KEY-----\n",
            b"this is not a kubeconfig: [",
        ] {
            let err = refused(&secret(&[("value", value)]));
            assert_eq!(err.reason(), "KubeconfigInvalid");
            let text = err.to_string();
            assert_eq!(
                text,
                "kubeconfig in Secret cpaas-system/east-kubeconfig key `value` is refused: it is not a YAML \
                 kubeconfig; fix the Secret (`ac adm cluster register` checks a kubeconfig before storing it)"
            );
        }
    }

    #[test]
    fn a_policy_refusal_names_secret_key_and_field() {
        let kubeconfig = b"apiVersion: v1
clusters:
- name: east
  cluster: {server: 'https://10.0.0.1:6443', insecure-skip-tls-verify: true}
users:
- name: east-admin
  user: {tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token}
contexts:
- name: east
  context: {cluster: east, user: east-admin}
current-context: east
";
        let err = refused(&secret(&[("value", kubeconfig)]));
        assert_eq!(err.reason(), "KubeconfigRefused");
        let text = err.to_string();
        assert!(
            text.contains("cpaas-system/east-kubeconfig key `value`"),
            "{text}"
        );
        assert!(text.contains("users[east-admin].user.tokenFile"), "{text}");
        assert!(
            text.contains("clusters[east].cluster.insecure-skip-tls-verify"),
            "{text}"
        );
        assert!(!text.contains("/var/run/secrets"), "{text}");
    }
}
