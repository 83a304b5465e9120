//! Clients for managed clusters, built from kubeconfig Secrets and cached per Secret resourceVersion.
//!
//! A kubeconfig is used only when its Secret is marked as one and it passes the kubeconfig policy
//! (`acp_api::kubeconfig`): nothing here builds a client from anything else. Every error about a Secret's
//! content is a fixed text naming the Secret, the key and the fields, never a value or a parser's message,
//! because it is copied into status, Events and logs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use acp_api::kubeconfig::{self, Policy, Refusal};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use super::{Cluster, ClusterError};

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
}

/// Hands out a [`Cluster`] for each managed cluster.
pub struct ClusterAccess {
    global: Client,
    timeout: Duration,
    policy: Policy,
    clients: Mutex<HashMap<SecretKey, Cached>>,
}

impl ClusterAccess {
    pub fn new(global: Client, timeout: Duration, policy: Policy) -> Self {
        Self {
            global,
            timeout,
            policy,
            clients: Mutex::default(),
        }
    }

    /// The global cluster, through the operator's own client.
    pub fn global(&self, name: &str) -> Cluster {
        Cluster::new(name, self.global.clone(), self.timeout)
    }

    /// The cluster `name`, reached through its kubeconfig Secret, or the global cluster without one.
    pub async fn cluster(&self, name: &str, secret: Option<&SecretKey>) -> Result<Cluster, AccessError> {
        let Some(secret) = secret else {
            return Ok(self.global(name));
        };
        let client = self.client_from_secret(name, secret).await?;
        Ok(Cluster::new(name, client, self.timeout))
    }

    async fn client_from_secret(&self, cluster: &str, key: &SecretKey) -> Result<Client, AccessError> {
        let secrets: Api<Secret> = Api::namespaced(self.global.clone(), &key.namespace);
        let global = self.global(cluster);
        let secret = global
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
            .ok_or_else(|| AccessError::SecretMissing {
                namespace: key.namespace.clone(),
                name: key.name.clone(),
            })?;
        let resource_version = secret.metadata.resource_version.clone().unwrap_or_default();
        if let Ok(clients) = self.clients.lock()
            && let Some(cached) = clients.get(key)
            && cached.resource_version == resource_version
        {
            return Ok(cached.client.clone());
        }

        let client = client_for(&secret, key, self.policy, self.timeout)?;
        tracing::debug!(cluster, secret = %key.name, %resource_version, "built a client from the kubeconfig Secret");
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(
                key.clone(),
                Cached {
                    resource_version,
                    client: client.clone(),
                },
            );
        }
        Ok(client)
    }
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
