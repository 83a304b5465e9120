//! The operator's settings in the global cluster (`cvo-config`, `admin-gates`, `admin-acks`, the licence
//! Secret, the MaintenanceWindows clusters name), read at most once per [`TTL`] whatever the number of clusters: every preflight of every cluster
//! reads them, so at thousands of clusters reading them per reconcile was most of the hub's load.
//!
//! A person's edit is seen within the TTL. Failed reads are not kept: the next reconcile asks again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use acp_api::maintenance_window::MaintenanceWindowSpec;

use super::sources::PlatformSource;
use crate::clusters::ClusterError;

/// How long an answer is reused.
pub const TTL: Duration = Duration::from_secs(5);

type ConfigData = Option<BTreeMap<String, String>>;
type SecretData = Option<BTreeMap<String, Vec<u8>>>;
type WindowData = Option<MaintenanceWindowSpec>;

struct Kept<T> {
    at: Instant,
    value: T,
}

/// A [`PlatformSource`] in front of another, answering from what it read less than `ttl` ago.
pub struct CachedPlatform<P> {
    inner: P,
    ttl: Duration,
    config_maps: Mutex<HashMap<String, Kept<ConfigData>>>,
    secrets: Mutex<HashMap<String, Kept<SecretData>>>,
    windows: Mutex<HashMap<String, Kept<WindowData>>>,
    /// When each window was last seen changed: a read begun before then is not kept.
    windows_changed: Mutex<HashMap<String, Instant>>,
}

impl<P: PlatformSource + Sync> CachedPlatform<P> {
    pub fn new(inner: P, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            config_maps: Mutex::default(),
            secrets: Mutex::default(),
            windows: Mutex::default(),
            windows_changed: Mutex::default(),
        }
    }

    /// MaintenanceWindow `name` changed: the next read asks the API server, and a read under way when
    /// this was called is not kept.
    pub fn forget_window(&self, name: &str) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        self.windows_changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Instant::now());
    }
}

fn kept<T: Clone>(map: &Mutex<HashMap<String, Kept<T>>>, name: &str, ttl: Duration) -> Option<T> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.get(name)
        .filter(|k| k.at.elapsed() < ttl)
        .map(|k| k.value.clone())
}

fn keep<T>(map: &Mutex<HashMap<String, Kept<T>>>, name: &str, value: T) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    map.insert(
        name.to_owned(),
        Kept {
            at: Instant::now(),
            value,
        },
    );
}

impl<P: PlatformSource + Sync> PlatformSource for CachedPlatform<P> {
    async fn config_map(&self, name: &str) -> Result<ConfigData, ClusterError> {
        if let Some(value) = kept(&self.config_maps, name, self.ttl) {
            return Ok(value);
        }
        let value = self.inner.config_map(name).await?;
        keep(&self.config_maps, name, value.clone());
        Ok(value)
    }

    async fn secret(&self, name: &str) -> Result<SecretData, ClusterError> {
        if let Some(value) = kept(&self.secrets, name, self.ttl) {
            return Ok(value);
        }
        let value = self.inner.secret(name).await?;
        keep(&self.secrets, name, value.clone());
        Ok(value)
    }

    async fn maintenance_window(&self, name: &str) -> Result<WindowData, ClusterError> {
        if let Some(value) = kept(&self.windows, name, self.ttl) {
            return Ok(value);
        }
        let started = Instant::now();
        let value = self.inner.maintenance_window(name).await?;
        let changed_since = self
            .windows_changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .is_some_and(|at| *at >= started);
        if !changed_since {
            keep(&self.windows, name, value.clone());
        }
        Ok(value)
    }

    fn cluster_api(&self) -> Option<&dyn crate::clusters::cluster_api::ClusterApiObjects> {
        self.inner.cluster_api()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counting {
        reads: AtomicUsize,
        fail: std::sync::atomic::AtomicBool,
    }

    impl PlatformSource for Counting {
        async fn config_map(&self, name: &str) -> Result<ConfigData, ClusterError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(ClusterError::Unreachable {
                    cluster: "global".into(),
                    message: "down".into(),
                });
            }
            Ok(Some(BTreeMap::from([("name".into(), name.into())])))
        }

        async fn secret(&self, _name: &str) -> Result<SecretData, ClusterError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }

        async fn maintenance_window(&self, _name: &str) -> Result<WindowData, ClusterError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(None)
        }
    }

    #[tokio::test]
    async fn settings_are_read_once_per_ttl_for_any_number_of_clusters() {
        let cached = CachedPlatform::new(Counting::default(), Duration::from_secs(3600));
        for _ in 0..1000 {
            let data = cached.config_map("cvo-config").await.unwrap().unwrap();
            assert_eq!(data["name"], "cvo-config");
            assert!(cached.secret("license").await.unwrap().is_none());
            assert!(cached.maintenance_window("weekend").await.unwrap().is_none());
        }
        cached.config_map("admin-acks").await.unwrap();
        assert_eq!(cached.inner.reads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn an_expired_answer_is_read_again_and_a_failure_is_not_kept() {
        let cached = CachedPlatform::new(Counting::default(), Duration::ZERO);
        cached.config_map("cvo-config").await.unwrap();
        cached.config_map("cvo-config").await.unwrap();
        assert_eq!(cached.inner.reads.load(Ordering::SeqCst), 2);

        let cached = CachedPlatform::new(Counting::default(), Duration::from_secs(3600));
        cached.inner.fail.store(true, Ordering::SeqCst);
        assert!(cached.config_map("cvo-config").await.is_err());
        cached.inner.fail.store(false, Ordering::SeqCst);
        assert!(cached.config_map("cvo-config").await.is_ok());
        assert_eq!(cached.inner.reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_changed_window_is_read_again_at_once() {
        let cached = CachedPlatform::new(Counting::default(), Duration::from_secs(3600));
        cached.maintenance_window("weekend").await.unwrap();
        cached.maintenance_window("weekend").await.unwrap();
        assert_eq!(cached.inner.reads.load(Ordering::SeqCst), 1);
        cached.forget_window("weekend");
        cached.maintenance_window("weekend").await.unwrap();
        cached.maintenance_window("weekend").await.unwrap();
        assert_eq!(
            cached.inner.reads.load(Ordering::SeqCst),
            2,
            "read again once after the change, then kept"
        );
    }
}
