//! The registry flags of `push`, `show` and `import-manifest --image`, the client they build, and
//! registry errors with the flag that fixes them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use acp_bundle::{BundleClient, BundleError, BundleRef, ClientOptions, DockerConfig, RefError};
use acp_policy::AcpVersion;
use anyhow::Context;
use clap::Args;

/// How to reach registries and log in to them.
#[derive(Debug, Clone, Default, Args)]
pub struct RegistryArgs {
    /// Registry reached over plain HTTP instead of HTTPS (HOST or HOST:PORT, as in the reference);
    /// repeatable. Registries on this machine (localhost, 127.0.0.1) always are.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]", value_parser = parse_registry_host)]
    pub insecure_registries: Vec<String>,

    /// Registry logins: a docker config.json as `docker login` writes it (default:
    /// $DOCKER_CONFIG/config.json, else ~/.docker/config.json, when it exists).
    #[arg(long, value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
}

impl RegistryArgs {
    /// A client with these options and the logins of the registry config, if any.
    pub fn client(&self, timeout: Duration) -> anyhow::Result<BundleClient> {
        let client = BundleClient::new(ClientOptions {
            insecure_registries: self.insecure_registries.clone(),
            timeout,
            ..ClientOptions::default()
        });
        Ok(match self.docker_config()? {
            Some(config) => client.with_docker_config(config),
            None => client,
        })
    }

    /// The logins to present: `--registry-config` (which must be readable and valid), else the
    /// default docker config when it exists (ignored, with a warning, when it cannot be used: a
    /// login for some other registry must not stop a push to this one).
    fn docker_config(&self) -> anyhow::Result<Option<DockerConfig>> {
        if let Some(path) = &self.registry_config {
            let bytes = std::fs::read(path).with_context(|| {
                format!(
                    "cannot read registry config {}; check the path given to --registry-config",
                    path.display()
                )
            })?;
            let config = DockerConfig::from_json(&bytes)
                .with_context(|| format!("registry config {} is not usable", path.display()))?;
            return Ok(Some(config));
        }
        let Some(path) = acp_bundle::default_docker_config_path().filter(|p| p.is_file()) else {
            return Ok(None);
        };
        match read_default(&path) {
            Ok(config) => Ok(Some(config)),
            Err(problem) => {
                eprintln!(
                    "warning: ignoring the registry logins in {}: {problem}; registries are accessed \
                     anonymously (pass --registry-config FILE to use other logins)",
                    path.display()
                );
                Ok(None)
            }
        }
    }
}

fn read_default(path: &Path) -> Result<DockerConfig, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    DockerConfig::from_json(&bytes).map_err(|e| e.to_string())
}

/// `--insecure-registry`: a registry host as it appears in references, without scheme or path.
pub fn parse_registry_host(input: &str) -> Result<String, String> {
    let bad = |problem: &str| {
        Err(format!(
            "invalid registry {input:?}: {problem}; expected HOST or HOST:PORT, e.g. registry.internal:5000"
        ))
    };
    if input.is_empty() {
        return bad("it is empty");
    }
    if input.contains("://") {
        return bad("write it without http:// or https://");
    }
    if input.contains('/') {
        return bad("a registry has no path; give only the host and port");
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it contains white space");
    }
    Ok(input.to_owned())
}

/// `push --to`: `REGISTRY/REPOSITORY` (the bundle's version becomes the tag) or
/// `REGISTRY/REPOSITORY:TAG`. A digest is refused: it is what the push produces, not where it goes.
pub fn parse_destination(input: &str) -> Result<String, RefError> {
    // The version is known only once the file is read; any version checks the repository's form.
    let reference = BundleRef::for_push(input, &AcpVersion::new(0, 0, 0))?;
    if reference.digest().is_some() {
        return Err(RefError {
            input: input.to_owned(),
            problem: "a push names a repository or a tag, never a digest (the registry computes it)"
                .to_owned(),
        });
    }
    Ok(input.to_owned())
}

/// A registry failure as the command line reports it: the library's message (which names the
/// bundle and the next step), plus the `ac` flag that is the next step where there is one.
pub fn explain(err: BundleError, client: &BundleClient) -> anyhow::Error {
    let hint = match &err {
        BundleError::Unauthorized { registry, .. } => Some(format!(
            "with ac, pass --registry-config FILE holding a login for {registry} (`docker login \
             {registry}` writes ~/.docker/config.json, which is used by default)"
        )),
        BundleError::Unreachable { registry, .. } if !client.options().uses_plain_http(registry) => Some(
            format!("with ac, a registry serving plain HTTP is listed with --insecure-registry {registry}"),
        ),
        _ => None,
    };
    match hint {
        // The library error's text first: it says what failed.
        Some(hint) => anyhow::anyhow!("{err}; {hint}"),
        None => anyhow::Error::new(err),
    }
}
