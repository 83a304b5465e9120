//! Plan: which version the cluster runs, and what its spec asks for (read during gather).

use acp_api::ClusterVersionShadowStatus;
use acp_api::cvsh::{ClusterVersionShadowSpec, Tier};
use acp_policy::AcpVersion;

/// The cluster's current platform version and, on first sight, where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Current {
    pub version: Option<AcpVersion>,
    /// Set when no completed upgrade is recorded yet and the version was learnt now: it becomes the first
    /// history entry.
    pub bootstrap: Option<Bootstrap>,
    /// Why the version is unknown, when it is.
    pub problem: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    pub version: AcpVersion,
    /// Where the version was read, for the event.
    pub source: &'static str,
}

/// The current version: the last completed upgrade; else, on first sight, the install version (the
/// object named `global`, granted the Global tier) or the version recorded in the cluster's own
/// `cpaas-system/acp-version` ConfigMap (every other cluster, a standby included: the operator's flag
/// describes the cluster it was installed in, and no other object may borrow it).
pub fn current(
    status: &ClusterVersionShadowStatus,
    name: &str,
    tier: Tier,
    install_version: Option<&AcpVersion>,
    recorded: Option<&str>,
) -> Current {
    if let Some(entry) = status.last_completed() {
        return match entry.acp_version() {
            Ok(version) => Current {
                version: Some(version),
                bootstrap: None,
                problem: None,
            },
            Err(err) => Current {
                version: None,
                bootstrap: None,
                problem: Some(format!(
                    "the last completed history entry has no usable version ({err})"
                )),
            },
        };
    }
    if tier == Tier::Global
        && name == acp_api::names::GLOBAL_CLUSTER
        && let Some(version) = install_version
    {
        let bootstrap = Bootstrap {
            version: version.clone(),
            source: "the operator's --install-version",
        };
        return Current {
            version: Some(version.clone()),
            bootstrap: Some(bootstrap),
            problem: None,
        };
    }
    match recorded.map(str::parse::<AcpVersion>) {
        Some(Ok(version)) => Current {
            version: Some(version.clone()),
            bootstrap: Some(Bootstrap { version, source: "ConfigMap cpaas-system/acp-version in the cluster" }),
            problem: None,
        },
        Some(Err(err)) => Current {
            version: None,
            bootstrap: None,
            problem: Some(format!(
                "ConfigMap cpaas-system/acp-version in the cluster does not hold a version ({err}); fix it with \
                 `ac adm cluster register --version <V>`"
            )),
        },
        None => Current {
            version: None,
            bootstrap: None,
            problem: Some(
                "the platform version of this cluster is unknown: it has no ConfigMap cpaas-system/acp-version; \
                 record it with `ac adm cluster register <name> --version <V>`; until then the cluster is observed but \
                 never upgraded"
                    .into(),
            ),
        },
    }
}

/// What `spec.desiredUpdate` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    None,
    /// A version; `image` is set when the request named a release image that resolved to it.
    Version {
        target: AcpVersion,
        force: bool,
        image: Option<String>,
    },
    /// Not a version; the text says what was wrong.
    Invalid(String),
    /// A release image no Ready ProductManifest resolves (yet).
    Image(String),
}

/// Reads `spec.desiredUpdate`; `version_of_image` maps a release image to the version its Ready
/// ProductManifest resolved to.
pub fn request(
    spec: &ClusterVersionShadowSpec,
    version_of_image: impl Fn(&str) -> Option<AcpVersion>,
) -> Request {
    let Some(desired) = &spec.desired_update else {
        return Request::None;
    };
    match (&desired.version, &desired.image) {
        (Some(_), _) => match desired.acp_version() {
            Ok(target) => Request::Version {
                target,
                force: desired.force,
                image: None,
            },
            Err(err) => Request::Invalid(err.to_string()),
        },
        (None, Some(image)) => match version_of_image(image) {
            Some(target) => Request::Version {
                target,
                force: desired.force,
                image: Some(image.clone()),
            },
            None => Request::Image(image.clone()),
        },
        (None, None) => Request::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cvsh::fixtures::{self, v};
    use acp_api::cvsh::{DesiredUpdate, HistoryEntry, HistoryState};

    fn entry(version: &str, state: HistoryState) -> HistoryEntry {
        fixtures::entry(version, state, None)
    }

    #[test]
    fn the_current_version_comes_from_history_then_install_then_the_cluster() {
        let mut status = ClusterVersionShadowStatus::default();
        let install = v("4.2.3");
        let global = current(&status, "global", Tier::Global, Some(&install), Some("4.1.0"));
        assert_eq!(global.version, Some(install.clone()));
        assert!(global.bootstrap.unwrap().source.contains("--install-version"));

        // Only the object named `global` takes the install version: a standby, a workload cluster, or
        // an object that (somehow) holds the Global tier under another name reads its own cluster.
        for (name, tier) in [
            ("edge", Tier::Workload),
            ("global-dr", Tier::GlobalStandby),
            ("forged", Tier::Global),
        ] {
            let read = current(&status, name, tier, Some(&install), Some("4.1.0"));
            assert_eq!(read.version, Some(v("4.1.0")), "{name}");
            assert!(read.bootstrap.unwrap().source.contains("acp-version"), "{name}");
        }

        let unknown = current(&status, "edge", Tier::Workload, Some(&install), None);
        assert_eq!(unknown.version, None);
        assert!(unknown.problem.unwrap().contains("ac adm cluster register"));
        let standby = current(&status, "global-dr", Tier::GlobalStandby, Some(&install), None);
        assert_eq!(standby.version, None, "a standby never borrows --install-version");

        let garbage = current(&status, "edge", Tier::Workload, None, Some("latest"));
        assert!(garbage.problem.unwrap().contains("does not hold a version"));

        status.history = vec![
            entry("4.3.1", HistoryState::Partial),
            entry("4.2.5", HistoryState::Completed),
        ];
        let known = current(&status, "global", Tier::Global, Some(&install), None);
        assert_eq!((known.version, known.bootstrap), (Some(v("4.2.5")), None));
    }

    #[test]
    fn requests_are_classified() {
        let imported = "registry.example/acp/release:4.3.1";
        let ask = |desired: Option<DesiredUpdate>| {
            let spec = ClusterVersionShadowSpec {
                desired_update: desired,
                ..Default::default()
            };
            let version_of_image = |image: &str| (image == imported).then(|| v("4.3.1"));
            request(&spec, version_of_image)
        };
        let version = |target: &str, force: bool, image: Option<&str>| Request::Version {
            target: v(target),
            force,
            image: image.map(String::from),
        };
        assert_eq!(ask(None), Request::None);
        assert_eq!(
            ask(Some(DesiredUpdate::version("v4.3.1"))),
            version("4.3.1", false, None)
        );
        assert_eq!(
            ask(Some(DesiredUpdate::version("4.1.0"))),
            version("4.1.0", false, None)
        );
        assert!(matches!(
            ask(Some(DesiredUpdate::version("4.x"))),
            Request::Invalid(_)
        ));
        let by_image = |image: &str| DesiredUpdate {
            image: Some(image.into()),
            ..Default::default()
        };
        assert_eq!(
            ask(Some(by_image(imported))),
            version("4.3.1", false, Some(imported))
        );
        assert_eq!(
            ask(Some(by_image("registry.example/acp/release:9.9.9"))),
            Request::Image("registry.example/acp/release:9.9.9".into())
        );
        let forced = DesiredUpdate {
            force: true,
            ..DesiredUpdate::version("4.3.1")
        };
        assert_eq!(ask(Some(forced)), version("4.3.1", true, None));
    }
}
