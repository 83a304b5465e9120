//! Property tests for version parsing and ordering.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use acp_policy::{AcpVersion, KubeMinor, KubeVersion};
use proptest::prelude::*;

proptest! {
    #[test]
    fn kube_version_display_roundtrips(major in 0u32..5, minor in 0u32..1000, patch in 0u32..100_000) {
        let version = KubeVersion::new(major, minor, patch);
        prop_assert_eq!(version.to_string().parse::<KubeVersion>(), Ok(version));
        prop_assert_eq!(version.to_string().trim_start_matches('v').parse::<KubeVersion>(), Ok(version));
    }

    #[test]
    fn kube_version_suffixes_are_dropped(
        minor in 0u32..100, patch in 0u32..100,
        sep in prop::sample::select(vec!['-', '+']), suffix in "[a-z0-9][a-z0-9.+-]{0,20}",
    ) {
        let parsed = format!("v1.{minor}.{patch}{sep}{suffix}").parse::<KubeVersion>();
        prop_assert_eq!(parsed, Ok(KubeVersion::new(1, minor, patch)));
    }

    #[test]
    fn kube_minor_and_acp_roundtrip(major in 0u64..10, minor in 0u64..1000, patch in 0u64..1000) {
        let acp = AcpVersion::new(major, minor, patch);
        prop_assert_eq!(acp.to_string().parse::<AcpVersion>(), Ok(acp.clone()));
        prop_assert_eq!(format!("v{acp}").parse::<AcpVersion>(), Ok(acp));
        let m = KubeMinor::new(major as u32, minor as u32);
        prop_assert_eq!(m.to_string().parse::<KubeMinor>(), Ok(m));
    }

    #[test]
    fn garbage_never_panics_and_errors_quote_the_input(input in "\\PC{0,40}") {
        let quoted = format!("{input:?}");
        if let Err(e) = input.parse::<KubeVersion>() {
            prop_assert!(e.to_string().contains(&quoted));
        }
        if let Err(e) = input.parse::<AcpVersion>() {
            prop_assert!(e.to_string().contains(&quoted));
        }
        let _ = input.parse::<KubeMinor>();
    }

    #[test]
    fn ordering_is_numeric(a in (0u32..3, 0u32..50, 0u32..50), b in (0u32..3, 0u32..50, 0u32..50)) {
        let (x, y) = (KubeVersion::new(a.0, a.1, a.2), KubeVersion::new(b.0, b.1, b.2));
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        prop_assert_eq!(x.minor_line().cmp(&y.minor_line()), (a.0, a.1).cmp(&(b.0, b.1)));
        let (p, q) = (AcpVersion::new(a.0.into(), a.1.into(), a.2.into()), AcpVersion::new(b.0.into(), b.1.into(), b.2.into()));
        prop_assert_eq!(p.cmp(&q), a.cmp(&b));
    }
}
