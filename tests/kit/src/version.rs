//! Kubernetes version strings as the kit accepts them.

use crate::error::{Error, Result};

/// The patch a cluster given only a minor (`1.34`) reports: the Kubernetes patch the built-in ACP releases
/// record for that minor (`crates/policy/data/releases.yaml`), because an upgrade's Kubernetes stage waits
/// for the release's exact patch, and a suite that starts or restarts a cluster "at 1.34" means the 1.34 the
/// platform ships. Minors no release records report `.0`.
const RELEASE_PATCHES: [(&str, &str); 4] = [("31", "14"), ("32", "11"), ("33", "7"), ("34", "5")];

/// Normalises `1.31`, `v1.31`, `1.31.9` or `v1.31.9` to `v1.31.9` (a missing patch is the release patch of
/// [`RELEASE_PATCHES`], else `.0`).
pub(crate) fn normalize(version: &str) -> Result<String> {
    let bad = || {
        Error::Usage(format!(
            "Kubernetes version {version:?} is not of the form v1.31 or v1.31.9"
        ))
    };
    let trimmed = version.strip_prefix('v').unwrap_or(version);
    let parts: Vec<&str> = trimmed.split('.').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    let released = || {
        RELEASE_PATCHES
            .iter()
            .find(|(minor, _)| parts[0] == "1" && *minor == parts[1])
            .map_or("0", |(_, patch)| *patch)
    };
    let patch = parts.get(2).copied().unwrap_or_else(released);
    Ok(format!("v{}.{}.{patch}", parts[0], parts[1]))
}

/// The minor of a normalised version (`v1.31.9` → 31); the major must be 1.
pub(crate) fn minor(normalized: &str) -> Result<u64> {
    let mut parts = normalized.trim_start_matches('v').split('.');
    match (parts.next(), parts.next().and_then(|m| m.parse().ok())) {
        (Some("1"), Some(minor)) => Ok(minor),
        _ => Err(Error::Usage(format!(
            "Kubernetes version {normalized} is not a 1.x release"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn accepts_the_usual_spellings() {
        assert_eq!(normalize("1.31").unwrap(), "v1.31.14");
        assert_eq!(normalize("v1.34").unwrap(), "v1.34.5");
        assert_eq!(normalize("1.30").unwrap(), "v1.30.0");
        assert_eq!(normalize("1.31.9").unwrap(), "v1.31.9");
        assert_eq!(normalize("v1.34.2").unwrap(), "v1.34.2");
    }

    #[test]
    fn minor_of_a_release() {
        assert_eq!(super::minor("v1.30.14").unwrap(), 30);
        assert!(super::minor("v2.1.0").is_err());
    }

    #[test]
    fn rejects_what_is_not_a_version() {
        for bad in ["", "1", "v1.x", "1.31.9.1", "latest", "1..2"] {
            assert!(normalize(bad).is_err(), "{bad} should be rejected");
        }
    }
}
