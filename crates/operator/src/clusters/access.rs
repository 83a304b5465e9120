//! Clients for managed clusters, built from kubeconfig Secrets and cached per Secret resourceVersion.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

use super::{Cluster, ClusterError};

/// Why no client could be built for a cluster. Each says which Secret to fix.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(
        "kubeconfig Secret {namespace}/{name} does not exist; create it (e.g. `ac adm cluster register`) \
         or fix spec.kubeconfigSecretRef"
    )]
    SecretMissing { namespace: String, name: String },
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
    #[error("kubeconfig in Secret {namespace}/{name} key `{key}` is not usable: {message}; replace it")]
    Malformed {
        namespace: String,
        name: String,
        key: String,
        message: String,
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
            Self::KeyMissing { .. } | Self::Malformed { .. } => "KubeconfigInvalid",
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
    clients: Mutex<HashMap<SecretKey, Cached>>,
}

impl ClusterAccess {
    pub fn new(global: Client, timeout: Duration) -> Self {
        Self {
            global,
            timeout,
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

        let yaml = kubeconfig_text(&secret, key)?;
        let client = self.build_client(&yaml, key).await?;
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

    async fn build_client(&self, yaml: &str, key: &SecretKey) -> Result<Client, AccessError> {
        let malformed = |message: String| AccessError::Malformed {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            key: key.key.clone(),
            message,
        };
        let kubeconfig = Kubeconfig::from_yaml(yaml).map_err(|e| malformed(e.to_string()))?;
        let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| malformed(e.to_string()))?;
        config.connect_timeout = Some(self.timeout);
        config.read_timeout = Some(self.timeout);
        config.write_timeout = Some(self.timeout);
        Client::try_from(config).map_err(|e| malformed(e.to_string()))
    }
}

fn kubeconfig_text(secret: &Secret, key: &SecretKey) -> Result<String, AccessError> {
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
        return Err(AccessError::KeyMissing {
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            key: key.key.clone(),
            available: if keys.is_empty() {
                "none".into()
            } else {
                keys.join(", ")
            },
        });
    };
    String::from_utf8(bytes).map_err(|_| AccessError::Malformed {
        namespace: key.namespace.clone(),
        name: key.name.clone(),
        key: key.key.clone(),
        message: "it is not UTF-8 text".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn a_missing_key_names_the_keys_that_exist() {
        let err = kubeconfig_text(&secret(&[("kubeconfig", b"x"), ("ca.crt", b"y")]), &key()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no key `value`"), "{text}");
        assert!(text.contains("ca.crt, kubeconfig"), "{text}");
        assert_eq!(err.reason(), "KubeconfigInvalid");
    }

    #[test]
    fn binary_data_is_rejected_with_the_secret_named() {
        let err = kubeconfig_text(&secret(&[("value", &[0xff, 0xfe])]), &key()).unwrap_err();
        assert!(err.to_string().contains("cpaas-system/east-kubeconfig"));
    }

    #[test]
    fn the_kubeconfig_text_is_returned() {
        assert_eq!(
            kubeconfig_text(&secret(&[("value", b"apiVersion: v1")]), &key()).unwrap(),
            "apiVersion: v1"
        );
    }
}
