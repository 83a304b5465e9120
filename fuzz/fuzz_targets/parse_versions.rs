//! Any string: the version parsers return Ok or an error quoting the input, never panic, and
//! whatever they accept displays as text they accept again, unchanged.
#![no_main]

use acp_policy::{AcpMinor, AcpVersion, KubeMinor, KubeVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(v) = input.parse::<KubeVersion>() {
        assert_eq!(v.to_string().parse::<KubeVersion>(), Ok(v));
    }
    if let Ok(v) = input.parse::<KubeMinor>() {
        assert_eq!(v.to_string().parse::<KubeMinor>(), Ok(v));
    }
    if let Ok(v) = input.parse::<AcpVersion>() {
        assert_eq!(v.to_string().parse::<AcpVersion>(), Ok(v));
    }
    if let Ok(v) = input.parse::<AcpMinor>() {
        assert_eq!(v.to_string().parse::<AcpMinor>(), Ok(v));
    }
});
