//! Where a release bundle lives: `REGISTRY/REPOSITORY[:TAG][@DIGEST]`.
//!
//! Unlike container tooling, a bundle reference must name its registry host and a tag or digest:
//! silently falling back to Docker Hub or to `latest` would make an upgrade apply something nobody
//! asked for.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use acp_policy::AcpVersion;

/// Longest reference accepted; the registry limits are far below this.
const MAX_LEN: usize = 1024;
/// Longest tag the distribution spec allows.
const MAX_TAG_LEN: usize = 128;

/// A reference that could not be parsed. The message quotes the input and shows the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid release bundle reference {input:?}: {problem}; expected REGISTRY/REPOSITORY:TAG or \
     REGISTRY/REPOSITORY@sha256:DIGEST, e.g. registry.example.com/acp/release:4.3.1"
)]
pub struct RefError {
    pub input: String,
    pub problem: String,
}

/// A release bundle's location in an OCI registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BundleRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl BundleRef {
    /// Parses `REGISTRY/REPOSITORY:TAG`, `REGISTRY/REPOSITORY@sha256:HEX` or both.
    pub fn parse(input: &str) -> Result<BundleRef, RefError> {
        let err = |problem: &str| RefError {
            input: clip(input),
            problem: problem.to_owned(),
        };
        if input.is_empty() {
            return Err(err("it is empty"));
        }
        if input.len() > MAX_LEN {
            return Err(err(&format!("it is longer than {MAX_LEN} characters")));
        }
        if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(&format!("it contains the character {c:?}")));
        }
        if input.contains("://") {
            return Err(err(
                "it has a URL scheme; write the registry host without http:// or https://",
            ));
        }

        let (name_and_tag, digest) = match input.split_once('@') {
            Some((name, digest)) => (name, Some(parse_digest(digest).map_err(|p| err(&p))?)),
            None => (input, None),
        };
        let (name, tag) = split_tag(name_and_tag);
        if let Some(tag) = tag {
            check_tag(tag).map_err(|p| err(&p))?;
        }
        let (registry, repository) = name
            .split_once('/')
            .filter(|(host, _)| looks_like_host(host))
            .ok_or_else(|| {
                err("it does not start with a registry host (a name with a dot or a port, or localhost)")
            })?;
        check_host(registry).map_err(|p| err(&p))?;
        check_repository(repository).map_err(|p| err(&p))?;
        if tag.is_none() && digest.is_none() {
            return Err(err(
                "it names no tag or digest; add :VERSION (e.g. :4.3.1) or @sha256:DIGEST",
            ));
        }
        Ok(BundleRef {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The bundle of `version` in a release repository (`REGISTRY/REPOSITORY`, no tag): the
    /// repository's tag named after the version (`4.3.1`; `+` becomes `_`, as tags cannot hold it).
    pub fn for_version(repository: &str, version: &AcpVersion) -> Result<BundleRef, RefError> {
        let tag = version_tag(version);
        let reference = BundleRef::parse(&format!("{repository}:{tag}")).map_err(|e| RefError {
            input: clip(repository),
            problem: format!("as a release repository, {}", e.problem),
        })?;
        // The parse above refuses a repository holding a tag or digest; this guards against any
        // input it would read differently from how it was written.
        if reference.repository_ref() != repository {
            return Err(RefError {
                input: clip(repository),
                problem: "a release repository has no tag or digest; write REGISTRY/REPOSITORY".into(),
            });
        }
        Ok(reference)
    }

    /// Where to publish a bundle of `version`: `input` as given when it names a tag or digest,
    /// else the repository `input` tagged with the version (`REPO` → `REPO:4.3.1`).
    pub fn for_push(input: &str, version: &AcpVersion) -> Result<BundleRef, RefError> {
        match BundleRef::parse(input) {
            Err(e) if e.problem.starts_with("it names no tag or digest") => {
                BundleRef::for_version(input, version)
            }
            other => other,
        }
    }

    /// The registry host, with its port when one was given (`127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path inside the registry (`acp/release`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `REGISTRY/REPOSITORY`, without tag or digest.
    pub fn repository_ref(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The ACP version the tag names, when it names one (`4.3.1`, `v4.3.1`, `4.3.1_build.2`).
    pub fn tag_version(&self) -> Option<AcpVersion> {
        self.tag
            .as_deref()
            .and_then(|tag| tag.replace('_', "+").parse().ok())
    }

    /// The same bundle pinned to a manifest digest, keeping the tag for readers:
    /// `REGISTRY/REPOSITORY:TAG@DIGEST`. Pulling it fetches exactly that content even after the
    /// tag moves.
    pub fn pinned(&self, digest: &str) -> BundleRef {
        BundleRef {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }

    /// Whether the registry is on this machine (`localhost`, `127.0.0.0/8`, `::1`), where plain
    /// HTTP is allowed without listing it as insecure.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.registry)
    }

    pub(crate) fn to_oci(&self) -> oci_client::Reference {
        let (registry, repository) = (self.registry.clone(), self.repository.clone());
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => {
                oci_client::Reference::with_tag_and_digest(registry, repository, tag.clone(), digest.clone())
            }
            (None, Some(digest)) => oci_client::Reference::with_digest(registry, repository, digest.clone()),
            (Some(tag), None) => oci_client::Reference::with_tag(registry, repository, tag.clone()),
            // parse() refuses references without either; "latest" is never implied.
            (None, None) => oci_client::Reference::with_tag(registry, repository, String::new()),
        }
    }
}

impl FromStr for BundleRef {
    type Err = RefError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        BundleRef::parse(input)
    }
}

impl fmt::Display for BundleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// The tag a version is published under.
pub fn version_tag(version: &AcpVersion) -> String {
    version.to_string().replace('+', "_")
}

/// Whether a registry host (with or without port) is a loopback address.
pub(crate) fn is_loopback_host(registry: &str) -> bool {
    let host = strip_port(registry);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The host part of `host[:port]` or `[v6]:port`.
fn strip_port(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split_once(']').map_or(registry, |(host, _)| host);
    }
    registry.rsplit_once(':').map_or(registry, |(host, _)| host)
}

/// `name:tag` → (`name`, `tag`); a colon before the last slash is a registry port, not a tag.
fn split_tag(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once(':') {
        Some((before, tag)) if !tag.contains('/') => (before, Some(tag)),
        _ => (name, None),
    }
}

/// The docker rule: the first component is a registry when it has a dot, a port or is localhost.
fn looks_like_host(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[')
}

fn check_host(host: &str) -> Result<(), String> {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("registry host {host:?} has an unclosed ["))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("registry host {host:?} is not an IPv6 address"));
        }
        match after {
            "" => (None, None),
            p => (None, Some(p.strip_prefix(':').unwrap_or(p))),
        }
    } else {
        match host.split_once(':') {
            Some((name, port)) => (Some(name), Some(port)),
            None => (Some(host), None),
        }
    };
    if let Some(name) = name {
        let valid_label = |l: &str| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !name.split('.').all(valid_label) {
            return Err(format!("registry host {host:?} is not a valid host name"));
        }
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err(format!("registry port {port:?} is not a port number (1-65535)"));
    }
    Ok(())
}

/// Repository path components: lowercase letters and digits, joined by `.`, `_`, `__` or dashes.
fn check_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("the repository path after the registry host is empty".into());
    }
    if repository.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "repository {repository:?} has upper-case letters; registries accept lower case only"
        ));
    }
    for component in repository.split('/') {
        let valid = !component.is_empty()
            && component.starts_with(|c: char| c.is_ascii_alphanumeric())
            && component.ends_with(|c: char| c.is_ascii_alphanumeric())
            && component
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
            && !component.contains("..")
            && !component.contains("___");
        if !valid {
            return Err(format!(
                "repository path component {component:?} is not valid (lower-case letters, digits, and . _ - between them)"
            ));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let valid = !tag.is_empty()
        && tag.len() <= MAX_TAG_LEN
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} is not valid (letters, digits, . _ -, at most {MAX_TAG_LEN} characters)"
        ))
    }
}

/// `sha256:` + 64 lower-case hex digits (or `sha512:` + 128).
fn parse_digest(digest: &str) -> Result<String, String> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("digest {digest:?} has no algorithm; write sha256:HEX"))?;
    let expected_len = match algorithm {
        "sha256" => 64,
        "sha512" => 128,
        other => return Err(format!("digest algorithm {other:?} is not supported; use sha256")),
    };
    if hex.len() != expected_len
        || !hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(format!(
            "digest {digest:?} is not {expected_len} lower-case hex digits after {algorithm}:"
        ));
    }
    Ok(digest.to_owned())
}

/// Keeps error messages readable when the input is garbage.
fn clip(input: &str) -> String {
    const SHOWN: usize = 200;
    match input.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &input[..cut]),
        None => input.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_tag_digest_and_both() {
        let r = BundleRef::parse("registry.example.com/acp/release:4.3.1").unwrap();
        assert_eq!(r.registry(), "registry.example.com");
        assert_eq!(r.repository(), "acp/release");
        assert_eq!(r.tag(), Some("4.3.1"));
        assert_eq!(r.digest(), None);
        assert_eq!(r.tag_version(), Some(AcpVersion::new(4, 3, 1)));

        let r = BundleRef::parse(&format!("127.0.0.1:5000/acp/release@{DIGEST}")).unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(DIGEST));
        assert_eq!(r.tag_version(), None);

        let both = format!("localhost:5000/release:4.3.1@{DIGEST}");
        let r = BundleRef::parse(&both).unwrap();
        assert_eq!((r.tag(), r.digest()), (Some("4.3.1"), Some(DIGEST)));
        assert_eq!(r.to_string(), both);
    }

    #[test]
    fn display_round_trips() {
        for input in [
            "registry.example.com/acp/release:4.3.1",
            "registry.example.com:443/a/b/c:v4.3.1",
            "[::1]:5000/acp/release:latest",
            "localhost/acp/release:stable",
        ] {
            assert_eq!(BundleRef::parse(input).unwrap().to_string(), input);
        }
    }

    #[test]
    fn refuses_references_that_would_guess() {
        let cases = [
            ("acp/release:4.3.1", "does not start with a registry host"),
            ("release:4.3.1", "does not start with a registry host"),
            ("registry.example.com/acp/release", "names no tag or digest"),
            ("registry.example.com:5000/acp/release", "names no tag or digest"),
            ("https://registry.example.com/acp/release:4.3.1", "URL scheme"),
            ("registry.example.com/ACP/release:4.3.1", "upper-case"),
            ("registry.example.com/acp//release:4.3.1", "path component \"\""),
            ("registry.example.com/acp/release:", "tag \"\""),
            ("registry.example.com/acp/release:-x", "tag \"-x\""),
            ("registry.example.com/acp/release@sha256:abc", "64 lower-case hex"),
            (
                "registry.example.com/acp/release@md5:abc",
                "\"md5\" is not supported",
            ),
            ("registry.example.com:0/acp/release:1", "not a port number"),
            ("registry.example.com:http/acp/release:1", "not a port number"),
            ("reg_istry.example.com/acp/release:1", "not a valid host name"),
            ("registry.example.com/acp/release :1", "character ' '"),
            ("", "it is empty"),
        ];
        for (input, expected) in cases {
            let e = BundleRef::parse(input).unwrap_err();
            let message = e.to_string();
            assert!(message.contains(expected), "{input:?}: {message}");
            assert!(
                message.contains(&format!("{input:?}")),
                "error quotes the input: {message}"
            );
            assert!(
                message.contains("e.g. registry.example.com/acp/release:4.3.1"),
                "{message}"
            );
        }
    }

    #[test]
    fn long_garbage_is_clipped_in_the_message() {
        let input = format!("registry.example.com/{}:1", "a".repeat(2000));
        let message = BundleRef::parse(&input).unwrap_err().to_string();
        assert!(message.len() < 600, "{message}");
    }

    #[test]
    fn version_references_use_the_version_as_tag() {
        let v: AcpVersion = "4.3.1".parse().unwrap();
        let r = BundleRef::for_version("registry.example.com/acp/release", &v).unwrap();
        assert_eq!(r.to_string(), "registry.example.com/acp/release:4.3.1");
        assert_eq!(r.tag_version(), Some(v));

        let build: AcpVersion = "4.3.1+build.7".parse().unwrap();
        let r = BundleRef::for_version("127.0.0.1:5000/acp/release", &build).unwrap();
        assert_eq!(r.tag(), Some("4.3.1_build.7"));
        assert_eq!(r.tag_version(), Some(build));
    }

    #[test]
    fn release_repositories_carry_no_tag() {
        let v = AcpVersion::new(4, 3, 1);
        for repo in [
            "registry.example.com/acp/release:4.3.0",
            &format!("registry.example.com/acp/release@{DIGEST}"),
            "acp/release",
        ] {
            let e = BundleRef::for_version(repo, &v).unwrap_err();
            assert_eq!(e.input, repo);
            assert!(e.problem.contains("release repository"), "{e}");
        }
        // a port is not a tag
        assert!(BundleRef::for_version("localhost:5000/acp/release", &v).is_ok());
    }

    #[test]
    fn a_push_to_a_repository_uses_the_version_as_tag() {
        let v = AcpVersion::new(4, 3, 1);
        let to = |input| BundleRef::for_push(input, &v).map(|r| r.to_string());
        assert_eq!(
            to("registry.example.com/acp/release").unwrap(),
            "registry.example.com/acp/release:4.3.1"
        );
        assert_eq!(
            to("localhost:5000/acp/release").unwrap(),
            "localhost:5000/acp/release:4.3.1"
        );
        assert_eq!(
            to("registry.example.com/acp/release:rc").unwrap(),
            "registry.example.com/acp/release:rc"
        );
        assert!(
            to("acp/release")
                .unwrap_err()
                .to_string()
                .contains("registry host")
        );
    }

    #[test]
    fn non_version_tags_name_no_version() {
        let r = BundleRef::parse("registry.example.com/acp/release:stable").unwrap();
        assert_eq!(r.tag_version(), None);
        let r = BundleRef::parse("registry.example.com/acp/release:v4.3.1").unwrap();
        assert_eq!(r.tag_version(), Some(AcpVersion::new(4, 3, 1)));
    }

    #[test]
    fn pinning_keeps_the_tag() {
        let r = BundleRef::parse("registry.example.com/acp/release:4.3.1").unwrap();
        let pinned = r.pinned(DIGEST);
        assert_eq!(
            pinned.to_string(),
            format!("registry.example.com/acp/release:4.3.1@{DIGEST}")
        );
        assert_eq!(BundleRef::parse(&pinned.to_string()).unwrap(), pinned);
    }

    #[test]
    fn loopback_registries_are_recognised() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.3.4.5",
            "[::1]:5000",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "registry.example.com",
            "10.0.0.1:5000",
            "[fd00::1]:5000",
            "localhost.example.com",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }
}
