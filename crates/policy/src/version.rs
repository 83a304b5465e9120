//! Version types. Versions are compared as numbers, never as strings.
//!
//! - [`AcpVersion`]: an ACP distribution version (semver), `4.3.1` or `v4.3.1`.
//! - [`AcpMinor`]: an ACP minor line, `4.3`.
//! - [`KubeVersion`]: a Kubernetes version as clusters report it (`v1.34.5`, `v1.33.7-1`,
//!   `v1.32.3-eks-4f3a2b1`, `v1.30.2+k3s1`); only the numeric core is kept.
//! - [`KubeMinor`]: a Kubernetes minor, `1.34`, as used by the support matrix.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A version string that could not be parsed. The message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("invalid ACP version {input:?}: {detail}; expected MAJOR.MINOR.PATCH such as 4.3.1")]
    Acp { input: String, detail: String },
    #[error("invalid ACP minor {input:?}: expected MAJOR.MINOR such as 4.3")]
    AcpMinor { input: String },
    #[error("invalid Kubernetes version {input:?}: expected MAJOR.MINOR.PATCH such as v1.34.5")]
    Kube { input: String },
    #[error("invalid Kubernetes minor {input:?}: expected MAJOR.MINOR such as 1.34")]
    KubeMinor { input: String },
}

/// Longest version string accepted; anything longer is garbage, and refusing it early keeps error
/// messages readable.
const MAX_LEN: usize = 128;

/// An ACP distribution version, e.g. `4.3.1`. Accepts a leading `v`; displays without it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AcpVersion(semver::Version);

impl AcpVersion {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        AcpVersion(semver::Version::new(major, minor, patch))
    }

    pub fn major(&self) -> u64 {
        self.0.major
    }

    pub fn minor(&self) -> u64 {
        self.0.minor
    }

    pub fn patch(&self) -> u64 {
        self.0.patch
    }

    /// The minor line this version belongs to (`4.3` for `4.3.1`).
    pub fn minor_line(&self) -> AcpMinor {
        AcpMinor {
            major: self.0.major,
            minor: self.0.minor,
        }
    }

    /// The underlying semantic version, for matching against upgrade-source ranges.
    pub fn as_semver(&self) -> &semver::Version {
        &self.0
    }
}

impl From<semver::Version> for AcpVersion {
    fn from(v: semver::Version) -> Self {
        AcpVersion(v)
    }
}

impl FromStr for AcpVersion {
    type Err = VersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |detail: String| VersionError::Acp {
            input: clip(input),
            detail,
        };
        if input.len() > MAX_LEN {
            return Err(err(format!("longer than {MAX_LEN} characters")));
        }
        let core = input.strip_prefix('v').unwrap_or(input);
        semver::Version::parse(core)
            .map(AcpVersion)
            .map_err(|e| err(e.to_string()))
    }
}

impl fmt::Display for AcpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An ACP minor line, e.g. `4.3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AcpMinor {
    pub major: u64,
    pub minor: u64,
}

impl AcpMinor {
    pub const fn new(major: u64, minor: u64) -> Self {
        AcpMinor { major, minor }
    }
}

impl FromStr for AcpMinor {
    type Err = VersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || VersionError::AcpMinor { input: clip(input) };
        let core = input.strip_prefix('v').unwrap_or(input);
        let (major, minor) = core.split_once('.').ok_or_else(err)?;
        Ok(AcpMinor {
            major: number(major).ok_or_else(err)?,
            minor: number(minor).ok_or_else(err)?,
        })
    }
}

impl fmt::Display for AcpMinor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A Kubernetes version as a cluster reports it. Distribution suffixes (`-1`, `-eks-4f3a2b1`,
/// `+k3s1`) are accepted and dropped: only major.minor.patch matters to the rules. Displays as
/// `v1.34.5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubeVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        KubeVersion { major, minor, patch }
    }

    pub const fn minor_line(self) -> KubeMinor {
        KubeMinor {
            major: self.major,
            minor: self.minor,
        }
    }

    /// The same version as a semantic version, for matching against third-party ranges.
    pub fn to_semver(self) -> semver::Version {
        semver::Version::new(
            u64::from(self.major),
            u64::from(self.minor),
            u64::from(self.patch),
        )
    }
}

impl FromStr for KubeVersion {
    type Err = VersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || VersionError::Kube { input: clip(input) };
        if input.len() > MAX_LEN {
            return Err(err());
        }
        let core = input.strip_prefix('v').unwrap_or(input);
        // The numeric core ends where a distribution suffix starts.
        let (numbers, suffix) = match core.find(['-', '+']) {
            Some(at) => (&core[..at], Some(&core[at + 1..])),
            None => (core, None),
        };
        if let Some(suffix) = suffix
            && (suffix.is_empty()
                || !suffix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_')))
        {
            return Err(err());
        }
        let mut parts = numbers.split('.');
        let (Some(major), Some(minor), Some(patch), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        Ok(KubeVersion {
            major: number(major).ok_or_else(err)?,
            minor: number(minor).ok_or_else(err)?,
            patch: number(patch).ok_or_else(err)?,
        })
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// A Kubernetes minor, e.g. `1.34`. Accepts a leading `v`; displays without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeMinor {
    pub major: u32,
    pub minor: u32,
}

impl KubeMinor {
    pub const fn new(major: u32, minor: u32) -> Self {
        KubeMinor { major, minor }
    }

    /// The next minor (`1.35` after `1.34`).
    pub const fn next(self) -> KubeMinor {
        KubeMinor {
            major: self.major,
            minor: self.minor.saturating_add(1),
        }
    }

    /// The first patch of this minor (`v1.34.0`).
    pub const fn first_patch(self) -> KubeVersion {
        KubeVersion {
            major: self.major,
            minor: self.minor,
            patch: 0,
        }
    }

    /// How many minors `self` is ahead of `other` (negative when behind); `None` across majors.
    pub fn minors_ahead_of(self, other: KubeMinor) -> Option<i64> {
        (self.major == other.major).then(|| i64::from(self.minor) - i64::from(other.minor))
    }
}

impl FromStr for KubeMinor {
    type Err = VersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || VersionError::KubeMinor { input: clip(input) };
        let core = input.strip_prefix('v').unwrap_or(input);
        let (major, minor) = core.split_once('.').ok_or_else(err)?;
        Ok(KubeMinor {
            major: number(major).ok_or_else(err)?,
            minor: number(minor).ok_or_else(err)?,
        })
    }
}

impl fmt::Display for KubeMinor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A decimal number without sign or leading zeros (as in semver and Kubernetes versions).
fn number<T: FromStr>(s: &str) -> Option<T> {
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = s.len() > 1 && s.starts_with('0');
    if digits && !leading_zero {
        s.parse().ok()
    } else {
        None
    }
}

/// The input as quoted in an error, cut so a megabyte of garbage does not become the message.
fn clip(input: &str) -> String {
    match input.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &input[..at]),
        None => input.to_owned(),
    }
}

/// Serialize as the display string and deserialize through `FromStr`, so YAML and JSON carry
/// versions as plain strings and a bad one fails with the parser's message.
macro_rules! serde_as_string {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;
                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($ty), " string"))
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        v.parse().map_err(E::custom)
                    }
                    // YAML reads an unquoted `1.34` as a number; accept it as the text it was.
                    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<$ty, E> {
                        Err(E::custom(format!(
                            "{v} was read as a number; quote the version (\"{v}\") so that trailing zeros \
                             such as in \"1.30\" are kept"
                        )))
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<$ty, E> {
                        Err(E::custom(format!("{v} is a number, not a version; write it as a quoted string")))
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<$ty, E> {
                        Err(E::custom(format!("{v} is a number, not a version; write it as a quoted string")))
                    }
                }
                d.deserialize_str(Visitor)
            }
        }
    )*};
}

serde_as_string!(AcpVersion, AcpMinor, KubeVersion, KubeMinor);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kube_versions_from_distributions_keep_the_numeric_core() {
        for (input, expected) in [
            ("v1.34.5", KubeVersion::new(1, 34, 5)),
            ("1.34.5", KubeVersion::new(1, 34, 5)),
            ("v1.33.7-1", KubeVersion::new(1, 33, 7)),
            ("v1.32.3-eks-4f3a2b1", KubeVersion::new(1, 32, 3)),
            ("v1.30.2+k3s1", KubeVersion::new(1, 30, 2)),
            ("v1.29.10-gke.1000000", KubeVersion::new(1, 29, 10)),
            ("v1.31.0-rc.1+abc", KubeVersion::new(1, 31, 0)),
        ] {
            assert_eq!(input.parse::<KubeVersion>(), Ok(expected), "{input}");
        }
    }

    #[test]
    fn garbage_is_refused_with_the_input_quoted() {
        for input in [
            "",
            "v",
            "1",
            "1.34",
            "1.34.",
            "1.34.x",
            "v1.34.5-",
            "v1.34.5+",
            "1.34.5.1",
            "01.34.5",
            "1.-34.5",
            " 1.34.5",
            "1.34.5 ",
            "vv1.34.5",
            "1.34.5-ü",
            "latest",
        ] {
            let err = input.parse::<KubeVersion>().expect_err(input).to_string();
            assert!(err.contains(&format!("{input:?}")), "{err}");
        }
        for input in ["", "4.3", "v", "4.3.1.2", "four", "4.3.01"] {
            let err = input.parse::<AcpVersion>().expect_err(input).to_string();
            assert!(err.contains(&format!("{input:?}")), "{err}");
        }
        for input in ["", "1", "1.34.5", "1.x", "1."] {
            let err = input.parse::<KubeMinor>().expect_err(input).to_string();
            assert!(err.contains(&format!("{input:?}")), "{err}");
        }
    }

    #[test]
    fn huge_input_is_clipped_in_the_message() {
        let input = "9".repeat(10_000);
        let err = input.parse::<KubeVersion>().unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn acp_versions_accept_a_leading_v_and_order_numerically() {
        let a: AcpVersion = "v4.3.1".parse().unwrap();
        assert_eq!(a, AcpVersion::new(4, 3, 1));
        assert_eq!(a.to_string(), "4.3.1");
        assert!("4.0.10".parse::<AcpVersion>().unwrap() > "4.0.9".parse().unwrap());
        assert!("4.3.0-rc.1".parse::<AcpVersion>().unwrap() < AcpVersion::new(4, 3, 0));
        assert_eq!(a.minor_line(), AcpMinor::new(4, 3));
    }

    #[test]
    fn kube_minors_order_numerically_not_lexically() {
        let a: KubeMinor = "1.9".parse().unwrap();
        let b: KubeMinor = "v1.10".parse().unwrap();
        assert!(a < b);
        assert_eq!(b.to_string(), "1.10");
        assert_eq!(
            KubeMinor::new(1, 34).minors_ahead_of(KubeMinor::new(1, 31)),
            Some(3)
        );
    }

    #[test]
    fn serde_uses_strings() {
        let v: KubeVersion = serde_json::from_str("\"v1.30.2+k3s1\"").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"v1.30.2\"");
        let m: Vec<KubeMinor> = serde_json::from_str(r#"["1.31","1.30"]"#).unwrap();
        assert_eq!(m, [KubeMinor::new(1, 31), KubeMinor::new(1, 30)]);
        let err = serde_json::from_str::<AcpVersion>("\"4.x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"4.x\""), "{err}");
    }
}
