//! Registry credentials, and reading them from a docker `config.json` — the `.dockerconfigjson` key
//! of a `kubernetes.io/dockerconfigjson` Secret (or the older `.dockercfg` layout).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

/// How to authenticate to a registry.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    /// A registry token (`registrytoken` in a docker config), sent as a bearer token.
    Bearer {
        token: String,
    },
}

impl Credentials {
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn is_anonymous(&self) -> bool {
        matches!(self, Credentials::Anonymous)
    }

    pub(crate) fn to_oci(&self) -> oci_client::secrets::RegistryAuth {
        use oci_client::secrets::RegistryAuth;
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::Bearer { token } => RegistryAuth::Bearer(token.clone()),
        }
    }
}

/// Never prints a secret.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Bearer { .. } => f.debug_struct("Bearer").field("token", &"<redacted>").finish(),
        }
    }
}

/// A docker config that could not be read. Messages never contain secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "registry credentials are not a valid docker config.json: {detail}; expected \
         {{\"auths\": {{\"REGISTRY\": {{\"auth\": \"BASE64(USERNAME:PASSWORD)\"}}}}}}, as \
         `kubectl create secret docker-registry` writes it"
    )]
    Json { detail: String },
    #[error(
        "registry credentials for {registry}: the auth field is not base64 of USERNAME:PASSWORD; \
         recreate the pull secret with `kubectl create secret docker-registry`"
    )]
    BadAuthField { registry: String },
    #[error(
        "registry credentials for {registry} hold only an identity token, which needs a credential \
         helper; store a username and password (or a registry token) instead"
    )]
    IdentityTokenOnly { registry: String },
}

/// Credentials per registry, as read from a docker config.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    /// Normalised registry host → credentials.
    auths: BTreeMap<String, Credentials>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.auths.iter()).finish()
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    auths: Option<BTreeMap<String, AuthEntry>>,
    #[serde(flatten)]
    legacy: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    registrytoken: Option<String>,
    identitytoken: Option<String>,
}

impl DockerConfig {
    /// Reads `{"auths": {...}}` (`.dockerconfigjson`) or the bare map of `.dockercfg`.
    pub fn from_json(json: &[u8]) -> Result<DockerConfig, CredentialsError> {
        let json_err = |e: serde_json::Error| CredentialsError::Json {
            // serde_json's messages name the position and the expected type, never the values.
            detail: e.to_string(),
        };
        let file: ConfigFile = serde_json::from_slice(json).map_err(json_err)?;
        let entries: BTreeMap<String, AuthEntry> = match file.auths {
            Some(auths) => auths,
            None => serde_json::from_value(serde_json::Value::Object(file.legacy.into_iter().collect()))
                .map_err(json_err)?,
        };
        let mut auths = BTreeMap::new();
        for (key, entry) in entries {
            let registry = normalise_registry(&key);
            if let Some(credentials) = entry_credentials(&registry, entry)? {
                auths.insert(registry, credentials);
            }
        }
        Ok(DockerConfig { auths })
    }

    /// The credentials stored for `registry` (`host[:port]`), if any.
    pub fn credentials_for(&self, registry: &str) -> Option<&Credentials> {
        self.auths.get(&normalise_registry(registry))
    }

    /// The registries credentials are stored for, as normalised host names.
    pub fn registries(&self) -> impl Iterator<Item = &str> {
        self.auths.keys().map(String::as_str)
    }
}

/// Looks up the credentials for `registry` (`host[:port]`) in the bytes of a `.dockerconfigjson`.
/// `Ok(None)`: the config is valid and holds nothing for that registry (pull anonymously).
pub fn credentials_from_docker_config(
    json: &[u8],
    registry: &str,
) -> Result<Option<Credentials>, CredentialsError> {
    Ok(DockerConfig::from_json(json)?.credentials_for(registry).cloned())
}

/// Where a command-line user's registry logins are: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json` (what `docker login` and `oras login` write). `None` without a home.
pub fn default_docker_config_path() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".docker"),
    };
    Some(dir.join("config.json"))
}

fn entry_credentials(registry: &str, entry: AuthEntry) -> Result<Option<Credentials>, CredentialsError> {
    if let Some(auth) = entry.auth.filter(|a| !a.is_empty()) {
        let bad = || CredentialsError::BadAuthField {
            registry: registry.to_owned(),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (username, password) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials::basic(username, password)));
    }
    if let Some(username) = entry.username.filter(|u| !u.is_empty()) {
        return Ok(Some(Credentials::basic(
            username,
            entry.password.unwrap_or_default(),
        )));
    }
    if let Some(token) = entry.registrytoken.filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::Bearer { token }));
    }
    if entry.identitytoken.is_some_and(|t| !t.is_empty()) {
        return Err(CredentialsError::IdentityTokenOnly {
            registry: registry.to_owned(),
        });
    }
    Ok(None)
}

/// Docker config keys are written many ways: `https://registry.example.com/v1/`,
/// `registry.example.com`, `index.docker.io`. Compare hosts only, Docker Hub's names as one.
fn normalise_registry(key: &str) -> String {
    let without_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = without_scheme
        .split_once('/')
        .map_or(without_scheme, |(host, _)| host)
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn finds_basic_credentials_by_registry_host() {
        let json = format!(
            r#"{{"auths": {{
                "registry.example.com": {{"auth": "{}"}},
                "https://mirror.example.com:5000/v1/": {{"username": "bob", "password": "p:w"}},
                "127.0.0.1:5000": {{"auth": "{}", "email": "ops@example.com"}}
            }}}}"#,
            b64("alice:s3cret:with-colon"),
            b64("ci:token")
        );
        let find = |registry| credentials_from_docker_config(json.as_bytes(), registry).unwrap();
        assert_eq!(
            find("registry.example.com"),
            Some(Credentials::basic("alice", "s3cret:with-colon"))
        );
        assert_eq!(
            find("REGISTRY.example.com"),
            Some(Credentials::basic("alice", "s3cret:with-colon"))
        );
        assert_eq!(
            find("mirror.example.com:5000"),
            Some(Credentials::basic("bob", "p:w"))
        );
        assert_eq!(find("127.0.0.1:5000"), Some(Credentials::basic("ci", "token")));
        // a different port is a different registry
        assert_eq!(find("mirror.example.com"), None);
        assert_eq!(find("other.example.com"), None);
    }

    #[test]
    fn docker_hub_names_are_one_registry() {
        let json = format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{}"}}}}}}"#,
            b64("u:p")
        );
        for registry in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(
                credentials_from_docker_config(json.as_bytes(), registry).unwrap(),
                Some(Credentials::basic("u", "p")),
                "{registry}"
            );
        }
    }

    #[test]
    fn reads_the_legacy_dockercfg_layout_and_tokens() {
        let json = format!(
            r#"{{"registry.example.com": {{"auth": "{}"}}, "tokens.example.com": {{"registrytoken": "abc"}}}}"#,
            b64("u:p")
        );
        let config = DockerConfig::from_json(json.as_bytes()).unwrap();
        assert_eq!(
            config.credentials_for("registry.example.com"),
            Some(&Credentials::basic("u", "p"))
        );
        assert_eq!(
            config.credentials_for("tokens.example.com"),
            Some(&Credentials::Bearer { token: "abc".into() })
        );
    }

    #[test]
    fn broken_configs_say_what_to_fix_without_leaking_secrets() {
        let not_json = credentials_from_docker_config(b"{not json", "r.example.com").unwrap_err();
        assert!(matches!(not_json, CredentialsError::Json { .. }), "{not_json}");
        assert!(
            not_json
                .to_string()
                .contains("kubectl create secret docker-registry")
        );

        let no_colon = format!(
            r#"{{"auths": {{"r.example.com": {{"auth": "{}"}}}}}}"#,
            b64("secretvalue")
        );
        let e = credentials_from_docker_config(no_colon.as_bytes(), "r.example.com").unwrap_err();
        assert_eq!(
            e,
            CredentialsError::BadAuthField {
                registry: "r.example.com".into()
            }
        );
        assert!(!e.to_string().contains("secretvalue"));

        let not_base64 = r#"{"auths": {"r.example.com": {"auth": "%%%"}}}"#;
        assert!(matches!(
            credentials_from_docker_config(not_base64.as_bytes(), "r.example.com"),
            Err(CredentialsError::BadAuthField { .. })
        ));

        let identity = r#"{"auths": {"r.example.com": {"identitytoken": "xyz"}}}"#;
        assert!(matches!(
            credentials_from_docker_config(identity.as_bytes(), "r.example.com"),
            Err(CredentialsError::IdentityTokenOnly { .. })
        ));
    }

    #[test]
    fn empty_entries_mean_anonymous() {
        let json = r#"{"auths": {"r.example.com": {"auth": ""}}}"#;
        assert_eq!(
            credentials_from_docker_config(json.as_bytes(), "r.example.com").unwrap(),
            None
        );
        assert_eq!(
            credentials_from_docker_config(br#"{"auths": {}}"#, "r.example.com").unwrap(),
            None
        );
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let json = format!(
            r#"{{"auths": {{"r.example.com": {{"auth": "{}"}}}}}}"#,
            b64("alice:hunter2")
        );
        let config = DockerConfig::from_json(json.as_bytes()).unwrap();
        let shown = format!(
            "{config:?} {:?}",
            Credentials::Bearer {
                token: "tok3n".into()
            }
        );
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("hunter2") && !shown.contains("tok3n"), "{shown}");
    }
}
