//! Any text as a release description: loading returns Ok or an error, never panics.
#![no_main]

use acp_policy::Catalogue;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = Catalogue::from_yaml(input);
});
