//! The kubeconfig policy: which kubeconfigs the operator and `ac adm cluster register` will use to reach a
//! managed cluster.
//!
//! A kubeconfig held in a Secret is written by whoever may write Secrets in the platform namespace, and the
//! operator reads it with a service account that can change every managed cluster. So a kubeconfig must be
//! self-contained and must not make the operator do anything but open a verified TLS connection with an
//! inline credential: no files are read (`tokenFile` would send the operator's own service-account token to
//! any server), no commands run (`exec`, `auth-provider`), no identity is borrowed (`as`, `as-groups`, ...),
//! no proxy is used and TLS is verified. [`validate`] turns kubeconfig bytes into an [`Accepted`] kubeconfig
//! (only the context `current-context` names, its cluster and its user) or a [`Refusal`] that names the
//! offending fields and never their values: refusals end up in status, Events and logs that far more people
//! can read than the Secret.
//!
//! The raw YAML is read as a generic value, not through kube's `Kubeconfig` type, so that every field is
//! seen, including those kube does not model, and anything not on the accepted list is refused.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::Secret;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Map, Value, json};

use crate::names;

/// Largest kubeconfig accepted, in bytes (256 KiB). A kubeconfig with an embedded CA bundle and client
/// certificate is a few KiB; the bound keeps YAML parsing cheap on hostile input.
pub const MAX_BYTES: usize = 256 * 1024;

/// Secret type Cluster API gives kubeconfig Secrets; such a Secret is taken as meant to be a kubeconfig.
pub const CLUSTER_API_SECRET_TYPE: &str = "cluster.x-k8s.io/secret";

/// Value of the [`names::labels::KUBECONFIG`] label that marks a Secret as a kubeconfig.
pub const MARKER_VALUE: &str = "true";

/// Longest entry name (context, cluster, user) quoted in a refusal; longer names are clipped.
const MAX_NAME_CHARS: usize = 64;

/// How much longer than a call's time limit the socket waits for an answer (see `Accepted::config`).
const SOCKET_GRACE: Duration = Duration::from_secs(1);

/// Refused fields a refusal lists by name; the rest are counted.
const MAX_FINDINGS_SHOWN: usize = 10;

/// Whether a Secret is marked as holding a kubeconfig: Cluster API's Secret type, or our label
/// (`config.alauda.io/kubeconfig: "true"`, set by `ac adm cluster register`). An unmarked Secret is never
/// parsed: pointing a cluster at a Secret must not be a way to have some other Secret's content read.
pub fn is_marked_secret(secret: &Secret) -> bool {
    secret.type_.as_deref() == Some(CLUSTER_API_SECRET_TYPE)
        || secret
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(names::labels::KUBECONFIG))
            .is_some_and(|v| v == MARKER_VALUE)
}

/// What to tell a person whose Secret is not marked.
pub fn how_to_mark(namespace: &str, name: &str) -> String {
    format!(
        "label it as a kubeconfig (`kubectl label secret -n {namespace} {name} {}={MARKER_VALUE}`), or register \
         the cluster with `ac adm cluster register`, which does",
        names::labels::KUBECONFIG
    )
}

/// Opt-ins that loosen the policy; both off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Accept `exec` credential plugins: the kubeconfig's author then runs any command inside the process.
    pub allow_exec: bool,
    /// Accept `insecure-skip-tls-verify: true`: anyone on the network path can then read the credential.
    pub allow_insecure_tls: bool,
}

/// What is wrong with one field. Each has a fixed description: no value from the kubeconfig is ever part of
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// Larger than [`MAX_BYTES`].
    TooLarge,
    /// Not UTF-8 YAML holding a mapping, or YAML that does not parse.
    NotYaml,
    /// A field of the wrong type (a list where a mapping belongs, ...).
    WrongShape,
    /// A field that must be there is not.
    Missing,
    /// `current-context` (or a context's `cluster`/`user`) names no entry in the file.
    NotFound,
    /// Two entries carry the name that was looked up.
    Ambiguous,
    /// Inline data that is not base64 of what it should hold (PEM certificates, a PEM key, a token).
    BadData,
    /// The user has no credential at all.
    NoCredentials,
    /// A field naming a file: the credential must be inline.
    FilePath,
    /// An `exec` credential plugin without [`Policy::allow_exec`].
    Exec,
    /// An `auth-provider` plugin (never accepted).
    AuthProvider,
    /// `insecure-skip-tls-verify: true` without [`Policy::allow_insecure_tls`].
    InsecureTls,
    /// `as`, `as-groups`, `as-uid`, `as-user-extra`.
    Impersonation,
    /// `proxy-url`.
    Proxy,
    /// An `http://` server.
    PlainHttp,
    /// A server that is not an `https://` URL.
    NotHttps,
    /// `username`/`password`.
    BasicAuth,
    /// A field the policy does not know.
    UnknownField,
}

impl Problem {
    /// True for what the policy refuses on purpose (reason `KubeconfigRefused`); false for text that is
    /// simply not a usable kubeconfig (reason `KubeconfigInvalid`).
    pub fn is_policy(self) -> bool {
        matches!(
            self,
            Self::FilePath
                | Self::Exec
                | Self::AuthProvider
                | Self::InsecureTls
                | Self::Impersonation
                | Self::Proxy
                | Self::PlainHttp
                | Self::BasicAuth
                | Self::UnknownField
        )
    }

    fn describe(self) -> &'static str {
        match self {
            Self::TooLarge => "is larger than the 256 KiB a kubeconfig may have",
            Self::NotYaml => "is not a YAML kubeconfig",
            Self::WrongShape => "does not have the type a kubeconfig gives it",
            Self::Missing => "is missing",
            Self::NotFound => "names no entry of the kubeconfig",
            Self::Ambiguous => "names more than one entry of the kubeconfig",
            Self::BadData => "is not base64 of the PEM data (or token) it must hold",
            Self::NoCredentials => {
                "holds no credential; give it `token`, or `client-certificate-data` and `client-key-data`"
            }
            Self::FilePath => {
                "refers to a file, which is never read; embed the data instead (`token`, \
                 `client-certificate-data`/`client-key-data`, `certificate-authority-data`, as \
                 `kubectl config view --minify --flatten` writes them)"
            }
            Self::Exec => {
                "runs a credential plugin command, which is refused unless acp-cvo is started with \
                 --allow-kubeconfig-exec; use a token or a client certificate"
            }
            Self::AuthProvider => {
                "is an auth-provider plugin, which is never used; use a token or a client certificate"
            }
            Self::InsecureTls => {
                "turns TLS verification off, which is refused unless acp-cvo is started with \
                 --allow-insecure-kubeconfig-tls; give the cluster's CA in `certificate-authority-data`"
            }
            Self::Impersonation => {
                "impersonates another identity, which is refused; give the identity's own credential"
            }
            Self::Proxy => "sends traffic through a proxy, which is refused; reach the API server directly",
            Self::PlainHttp => {
                "is an http:// address, which would send the credential in clear; use https://"
            }
            Self::NotHttps => "is not an https:// URL",
            Self::BasicAuth => {
                "is basic authentication, which Kubernetes API servers no longer accept and which would send a \
                 password to the server; use a token or a client certificate"
            }
            Self::UnknownField => "is not a field acp-cvo accepts in a kubeconfig; remove it",
        }
    }
}

/// One refused field: its path in the kubeconfig, such as `users[edge-admin].user.tokenFile`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub field: String,
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "it {}", self.problem.describe())
        } else {
            write!(f, "`{}` {}", self.field, self.problem.describe())
        }
    }
}

/// Why a kubeconfig was not accepted: every field found wrong (at least one). Its text names fields and
/// entry names, never a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    findings: Vec<Finding>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, finding) in self.findings.iter().take(MAX_FINDINGS_SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{finding}")?;
        }
        if self.findings.len() > MAX_FINDINGS_SHOWN {
            write!(f, "; and {} more", self.findings.len() - MAX_FINDINGS_SHOWN)?;
        }
        Ok(())
    }
}

impl Refusal {
    fn one(field: impl Into<String>, problem: Problem) -> Self {
        Self {
            findings: vec![Finding {
                field: field.into(),
                problem,
            }],
        }
    }

    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// True when some field is refused by policy rather than malformed.
    pub fn is_policy(&self) -> bool {
        self.findings.iter().any(|f| f.problem.is_policy())
    }

    /// The refused fields' paths.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.findings.iter().map(|f| f.field.as_str())
    }
}

/// A kubeconfig that passed the policy: one context, its cluster and its user, every credential inline.
#[derive(Clone)]
pub struct Accepted {
    context: String,
    server: String,
    namespace: Option<String>,
    /// The minified kubeconfig: what [`Accepted::to_yaml`] writes and [`Accepted::config`] reads.
    document: Value,
    /// The CA certificates of `certificate-authority-data`, DER.
    roots: Vec<Vec<u8>>,
    insecure: bool,
}

// Credentials stay out of Debug output.
impl fmt::Debug for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accepted")
            .field("context", &self.context)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// Applies the policy to kubeconfig bytes (as read from a Secret or a file).
pub fn validate(bytes: &[u8], policy: Policy) -> Result<Accepted, Refusal> {
    if bytes.len() > MAX_BYTES {
        return Err(Refusal::one("", Problem::TooLarge));
    }
    let not_yaml = || Refusal::one("", Problem::NotYaml);
    let text = std::str::from_utf8(bytes).map_err(|_| not_yaml())?;
    // The parser's error text can quote the input: it is dropped.
    let root: Value = serde_saphyr::from_str(text).map_err(|_| not_yaml())?;
    let root = root.as_object().ok_or_else(not_yaml)?;

    let current = match root.get("current-context") {
        None | Some(Value::Null) => return Err(Refusal::one("current-context", Problem::Missing)),
        Some(Value::String(s)) if s.is_empty() => {
            return Err(Refusal::one("current-context", Problem::Missing));
        }
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(Refusal::one("current-context", Problem::WrongShape)),
    };
    let (context_name, context) = entry(root, "contexts", "context", current, "current-context")?;
    let context_path = format!("contexts[{}].context", label(context_name));
    let cluster_name = string_field(context, &context_path, "cluster")?
        .ok_or_else(|| Refusal::one(format!("{context_path}.cluster"), Problem::Missing))?;
    let user_name = string_field(context, &context_path, "user")?
        .ok_or_else(|| Refusal::one(format!("{context_path}.user"), Problem::Missing))?;
    let namespace = string_field(context, &context_path, "namespace")?.map(str::to_owned);
    let (_, cluster) = entry(
        root,
        "clusters",
        "cluster",
        cluster_name,
        &format!("{context_path}.cluster"),
    )?;
    let (_, user) = entry(root, "users", "user", user_name, &format!("{context_path}.user"))?;

    let cluster_path = format!("clusters[{}].cluster", label(cluster_name));
    let user_path = format!("users[{}].user", label(user_name));
    let mut findings = Vec::new();
    let user = check_user(user, &user_path, policy, &mut findings);
    let cluster = check_cluster(cluster, &cluster_path, policy, &mut findings);
    let Some(cluster) = cluster.filter(|_| findings.is_empty()) else {
        return Err(Refusal { findings });
    };

    let mut context_body = Map::new();
    context_body.insert("cluster".into(), cluster_name.into());
    context_body.insert("user".into(), user_name.into());
    if let Some(ns) = &namespace {
        context_body.insert("namespace".into(), ns.clone().into());
    }
    let document = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster.body}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": context_name, "context": context_body}],
        "current-context": context_name,
    });
    Ok(Accepted {
        context: context_name.to_owned(),
        server: cluster.server,
        namespace,
        document,
        roots: cluster.roots,
        insecure: cluster.insecure,
    })
}

/// What is wrong with building a client from an accepted kubeconfig (a fixed message).
#[derive(Debug, thiserror::Error)]
#[error(
    "no client can be made from it: its certificates or credentials are not usable, or its credential plugin \
     failed; fix them"
)]
pub struct ClientError;

impl Accepted {
    /// Name of the selected context.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Whether TLS verification is off (accepted only under [`Policy::allow_insecure_tls`]).
    pub fn is_insecure(&self) -> bool {
        self.insecure
    }

    /// The kubeconfig as `kubectl config view --minify --flatten` would write it: the selected context, its
    /// cluster and its user, everything inline.
    pub fn to_yaml(&self) -> String {
        // JSON is YAML too: the fallback is never expected, but keeps the output usable.
        serde_saphyr::to_string(&self.document)
            .unwrap_or_else(|_| serde_json::to_string_pretty(&self.document).unwrap_or_default())
    }

    /// A client configuration built from this kubeconfig alone: no file and no environment variable is
    /// read (kube's own loader would read `HTTPS_PROXY`), and every request ends within `timeout`.
    pub fn config(&self, timeout: Duration) -> Result<kube::Config, ClientError> {
        let kubeconfig: kube::config::Kubeconfig =
            serde_json::from_value(self.document.clone()).map_err(|_| ClientError)?;
        let cluster = kubeconfig
            .clusters
            .first()
            .and_then(|c| c.cluster.clone())
            .ok_or(ClientError)?;
        let mut auth_info = kubeconfig
            .auth_infos
            .first()
            .and_then(|u| u.auth_info.clone())
            .ok_or(ClientError)?;
        if let Some(exec) = auth_info.exec.as_mut() {
            // No terminal here: the plugin gets no stdin, and its stderr is captured instead of going to
            // this process's own log.
            exec.interactive_mode = Some(kube::config::ExecInteractiveMode::Never);
            if exec.provide_cluster_info {
                exec.cluster = Some((&cluster).try_into().map_err(|_| ClientError)?);
            }
        }
        let mut config = kube::Config::new(self.server.parse().map_err(|_| ClientError)?);
        config.default_namespace = self.namespace.clone().unwrap_or_else(|| "default".into());
        config.root_cert = (!self.roots.is_empty()).then(|| self.roots.clone());
        config.accept_invalid_certs = self.insecure;
        config.tls_server_name = cluster.tls_server_name;
        config.disable_compression = cluster.disable_compression.unwrap_or(false);
        config.auth_info = auth_info;
        config.proxy_url = None;
        config.connect_timeout = Some(timeout);
        // A second's grace past `timeout` on the socket: a caller that bounds each call by `timeout` (the
        // operator's `Cluster::call`) then reports "no answer within Ns" itself, instead of the transport's
        // "client error (SendRequest)"; a caller that does not is still bounded.
        let socket = timeout.saturating_add(SOCKET_GRACE);
        config.read_timeout = Some(socket);
        config.write_timeout = Some(socket);
        Ok(config)
    }

    /// A client for the cluster (needs a tokio runtime, as every kube client does).
    pub fn client(&self, timeout: Duration) -> Result<kube::Client, ClientError> {
        kube::Client::try_from(self.config(timeout)?).map_err(|_| ClientError)
    }
}

/// A name from the kubeconfig as it may appear in a refusal: printable, short.
fn label(name: &str) -> String {
    let mut out: String = name
        .chars()
        .take(MAX_NAME_CHARS)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._@:/".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect();
    if name.chars().count() > MAX_NAME_CHARS {
        out.push('…');
    }
    out
}

/// The one entry of list `list` whose `name` is `name`, returning its name and its `inner` mapping.
/// `referrer` is the field that named it, for refusals.
fn entry<'a>(
    root: &'a Map<String, Value>,
    list: &str,
    inner: &str,
    name: &'a str,
    referrer: &str,
) -> Result<(&'a str, &'a Map<String, Value>), Refusal> {
    let items = match root.get(list) {
        None | Some(Value::Null) => return Err(Refusal::one(referrer, Problem::NotFound)),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Refusal::one(list, Problem::WrongShape)),
    };
    let mut found = items
        .iter()
        .filter(|item| item.get("name").and_then(Value::as_str) == Some(name));
    let Some(item) = found.next() else {
        return Err(Refusal::one(referrer, Problem::NotFound));
    };
    if found.next().is_some() {
        return Err(Refusal::one(referrer, Problem::Ambiguous));
    }
    let path = format!("{list}[{}].{inner}", label(name));
    match item.get(inner) {
        Some(Value::Object(body)) => Ok((name, body)),
        None | Some(Value::Null) => Err(Refusal::one(path, Problem::Missing)),
        Some(_) => Err(Refusal::one(path, Problem::WrongShape)),
    }
}

/// An optional string field; empty counts as absent, as client-go does.
fn string_field<'a>(body: &'a Map<String, Value>, path: &str, key: &str) -> Result<Option<&'a str>, Refusal> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Refusal::one(format!("{path}.{key}"), Problem::WrongShape)),
    }
}

/// True when a field is present with a value client-go would act on (not null, not empty).
fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

struct CheckedCluster {
    body: Map<String, Value>,
    server: String,
    roots: Vec<Vec<u8>>,
    insecure: bool,
}

fn check_cluster(
    cluster: &Map<String, Value>,
    path: &str,
    policy: Policy,
    findings: &mut Vec<Finding>,
) -> Option<CheckedCluster> {
    let mut refuse = |key: &str, problem| {
        findings.push(Finding {
            // An unknown key is the author's text: quoted like an entry name, short and printable.
            field: format!("{path}.{}", label(key)),
            problem,
        });
    };
    let mut body = Map::new();
    let mut server = None;
    let mut roots = Vec::new();
    let mut insecure = false;
    for (key, value) in cluster {
        if !is_set(value) {
            continue;
        }
        match key.as_str() {
            "server" => match value.as_str() {
                Some(url) => match server_problem(url) {
                    None => {
                        server = Some(url.to_owned());
                        body.insert(key.clone(), value.clone());
                    }
                    Some(problem) => refuse(key, problem),
                },
                None => refuse(key, Problem::WrongShape),
            },
            "certificate-authority-data" => match value.as_str().and_then(pem_certificates) {
                Some(certs) => {
                    roots = certs;
                    body.insert(key.clone(), value.clone());
                }
                None => refuse(key, Problem::BadData),
            },
            "insecure-skip-tls-verify" => match value.as_bool() {
                Some(false) => {}
                Some(true) if policy.allow_insecure_tls => {
                    insecure = true;
                    body.insert(key.clone(), value.clone());
                }
                Some(true) => refuse(key, Problem::InsecureTls),
                None => refuse(key, Problem::WrongShape),
            },
            "tls-server-name" => match value.as_str() {
                Some(_) => {
                    body.insert(key.clone(), value.clone());
                }
                None => refuse(key, Problem::WrongShape),
            },
            "disable-compression" => match value.as_bool() {
                Some(_) => {
                    body.insert(key.clone(), value.clone());
                }
                None => refuse(key, Problem::WrongShape),
            },
            // Informational for tools; never affects the connection. Dropped.
            "extensions" => {}
            "certificate-authority" => refuse(key, Problem::FilePath),
            "proxy-url" => refuse(key, Problem::Proxy),
            _ => refuse(key, Problem::UnknownField),
        }
    }
    if server.is_none() && !cluster.get("server").is_some_and(is_set) {
        refuse("server", Problem::Missing);
    }
    Some(CheckedCluster {
        body,
        server: server?,
        roots,
        insecure,
    })
}

fn server_problem(url: &str) -> Option<Problem> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") {
        return Some(Problem::PlainHttp);
    }
    if !lower.starts_with("https://") {
        return Some(Problem::NotHttps);
    }
    // Host present and the whole URL parses as kube will parse it.
    let valid = url.len() > "https://".len() && url.parse::<http::Uri>().is_ok_and(|u| u.host().is_some());
    (!valid).then_some(Problem::NotHttps)
}

fn check_user(
    user: &Map<String, Value>,
    path: &str,
    policy: Policy,
    findings: &mut Vec<Finding>,
) -> Map<String, Value> {
    let before = findings.len();
    let mut refuse = |key: &str, problem| {
        findings.push(Finding {
            // An unknown key is the author's text: quoted like an entry name, short and printable.
            field: format!("{path}.{}", label(key)),
            problem,
        });
    };
    let mut body = Map::new();
    for (key, value) in user {
        if !is_set(value) {
            continue;
        }
        match key.as_str() {
            "token" => match value.as_str() {
                Some(token) if is_bearer_token(token) => {
                    body.insert(key.clone(), value.clone());
                }
                _ => refuse(key, Problem::BadData),
            },
            "client-certificate-data" => match value.as_str().and_then(pem_certificates) {
                Some(_) => {
                    body.insert(key.clone(), value.clone());
                }
                None => refuse(key, Problem::BadData),
            },
            "client-key-data" => match value.as_str().filter(|v| is_pem_key(v)) {
                Some(_) => {
                    body.insert(key.clone(), value.clone());
                }
                None => refuse(key, Problem::BadData),
            },
            "exec" if policy.allow_exec => match value {
                Value::Object(_) => {
                    body.insert(key.clone(), value.clone());
                }
                _ => refuse(key, Problem::WrongShape),
            },
            "exec" => refuse(key, Problem::Exec),
            "auth-provider" => refuse(key, Problem::AuthProvider),
            "tokenFile" | "client-certificate" | "client-key" => refuse(key, Problem::FilePath),
            "as" | "as-groups" | "as-uid" | "as-user-extra" => refuse(key, Problem::Impersonation),
            "username" | "password" => refuse(key, Problem::BasicAuth),
            "extensions" => {}
            _ => refuse(key, Problem::UnknownField),
        }
    }
    let has = |key: &str| body.contains_key(key);
    let refused = |key: &str| user.get(key).is_some_and(is_set);
    match (has("client-certificate-data"), has("client-key-data")) {
        (true, false) if !refused("client-key-data") => refuse("client-key-data", Problem::Missing),
        (false, true) if !refused("client-certificate-data") => {
            refuse("client-certificate-data", Problem::Missing)
        }
        _ => {}
    }
    let credential = has("token") || has("exec") || has("client-certificate-data");
    // A user whose credential was refused already has a finding; one with none at all gets this.
    if !credential && findings.len() == before {
        findings.push(Finding {
            field: path.to_owned(),
            problem: Problem::NoCredentials,
        });
    }
    body
}

/// Base64 of one or more PEM certificates, as DER.
fn pem_certificates(data: &str) -> Option<Vec<Vec<u8>>> {
    let pem = STANDARD.decode(data.trim()).ok()?;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .ok()?;
    (!certs.is_empty()).then_some(certs)
}

/// Base64 of a PEM private key (PKCS#8, PKCS#1 or SEC1).
fn is_pem_key(data: &str) -> bool {
    STANDARD
        .decode(data.trim())
        .ok()
        .is_some_and(|pem| PrivateKeyDer::from_pem_slice(&pem).is_ok())
}

/// A token that fits in an `Authorization: Bearer` header.
fn is_bearer_token(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;
    use std::sync::OnceLock;

    /// Distinctive values: none may ever appear in a refusal.
    const TOKEN: &str = "tok-SECRET-7f3a9c1e5b";
    const SECRET_MARK: &str = "SECRET";

    struct Pem {
        ca: String,
        cert: String,
        key: String,
    }

    fn pem() -> &'static Pem {
        static PEM: OnceLock<Pem> = OnceLock::new();
        PEM.get_or_init(|| {
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = rcgen::CertificateParams::new(vec!["edge".into()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            Pem {
                ca: STANDARD.encode(cert.pem()),
                cert: STANDARD.encode(cert.pem()),
                key: STANDARD.encode(key.serialize_pem()),
            }
        })
    }

    /// A good kubeconfig with a second, unused context, as kubeconfigs of people often have.
    fn base() -> Value {
        let pem = pem();
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "preferences": {},
            "clusters": [
                {"name": "edge", "cluster": {"server": "https://10.0.0.1:6443", "certificate-authority-data": pem.ca}},
                {"name": "other", "cluster": {"server": "http://SECRET-other:8080", "insecure-skip-tls-verify": true}},
            ],
            "users": [
                {"name": "edge-admin", "user": {"client-certificate-data": pem.cert, "client-key-data": pem.key}},
                {"name": "other-admin", "user": {"tokenFile": "/SECRET/other", "exec": {"command": "SECRET-cmd"}}},
            ],
            "contexts": [
                {"name": "edge", "context": {"cluster": "edge", "user": "edge-admin", "namespace": "cpaas-system"}},
                {"name": "other", "context": {"cluster": "other", "user": "other-admin"}},
            ],
            "current-context": "edge",
        })
    }

    fn with(change: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut doc = base();
        change(&mut doc);
        serde_saphyr::to_string(&doc).unwrap().into_bytes()
    }

    fn user(doc: &mut Value) -> &mut Map<String, Value> {
        doc["users"][0]["user"].as_object_mut().unwrap()
    }

    fn cluster(doc: &mut Value) -> &mut Map<String, Value> {
        doc["clusters"][0]["cluster"].as_object_mut().unwrap()
    }

    fn refused(bytes: &[u8], policy: Policy) -> Refusal {
        let refusal = validate(bytes, policy).unwrap_err();
        let text = refusal.to_string();
        assert!(
            !text.contains(SECRET_MARK) && !text.contains(TOKEN) && !text.contains(&pem().key[..40]),
            "a refusal echoes a value: {text}"
        );
        refusal
    }

    type Change = fn(&mut Value);

    /// Each case's kubeconfig is refused naming the field (and the refusal counts as the kubeconfig
    /// policy's, or as a malformed kubeconfig, as `policy` says); the field's value is never shown.
    fn assert_refused_naming(cases: &[(&str, Change, &str)], policy: bool) {
        for (what, change, field) in cases {
            let refusal = refused(&with(change), Policy::default());
            assert!(
                refusal.fields().any(|f| f == *field),
                "{what}: expected {field}, got {refusal}"
            );
            assert_eq!(refusal.is_policy(), policy, "{what}: {refusal}");
            assert!(refusal.to_string().contains(field), "{what}: {refusal}");
            assert!(!refusal.to_string().contains("SECRET"), "{what}: {refusal}");
        }
    }

    #[test]
    fn what_the_policy_refuses_is_named_and_its_value_never_shown() {
        let cases: &[(&str, Change, &str)] = &[
            (
                "tokenFile",
                |d| {
                    user(d).insert("tokenFile".into(), "/var/run/secrets/SECRET/token".into());
                },
                "users[edge-admin].user.tokenFile",
            ),
            (
                "client-certificate",
                |d| {
                    user(d).insert("client-certificate".into(), "/SECRET/client.crt".into());
                },
                "users[edge-admin].user.client-certificate",
            ),
            (
                "client-key",
                |d| {
                    user(d).insert("client-key".into(), "/SECRET/client.key".into());
                },
                "users[edge-admin].user.client-key",
            ),
            (
                "certificate-authority",
                |d| {
                    cluster(d).insert("certificate-authority".into(), "/SECRET/ca.crt".into());
                },
                "clusters[edge].cluster.certificate-authority",
            ),
            (
                "exec",
                |d| {
                    user(d).insert("exec".into(), json!({"apiVersion": "client.authentication.k8s.io/v1", "command": "/bin/SECRET-plugin", "args": ["SECRET"]}));
                },
                "users[edge-admin].user.exec",
            ),
            (
                "auth-provider",
                |d| {
                    user(d).insert(
                        "auth-provider".into(),
                        json!({"name": "gcp", "config": {"cmd-path": "/SECRET"}}),
                    );
                },
                "users[edge-admin].user.auth-provider",
            ),
            (
                "insecure-skip-tls-verify",
                |d| {
                    cluster(d).insert("insecure-skip-tls-verify".into(), true.into());
                },
                "clusters[edge].cluster.insecure-skip-tls-verify",
            ),
            (
                "as",
                |d| {
                    user(d).insert("as".into(), "SECRET-admin".into());
                },
                "users[edge-admin].user.as",
            ),
            (
                "as-groups",
                |d| {
                    user(d).insert("as-groups".into(), json!(["system:SECRET"]));
                },
                "users[edge-admin].user.as-groups",
            ),
            (
                "as-uid",
                |d| {
                    user(d).insert("as-uid".into(), "SECRET-uid".into());
                },
                "users[edge-admin].user.as-uid",
            ),
            (
                "as-user-extra",
                |d| {
                    user(d).insert("as-user-extra".into(), json!({"scopes": ["SECRET"]}));
                },
                "users[edge-admin].user.as-user-extra",
            ),
            (
                "proxy-url",
                |d| {
                    cluster(d).insert("proxy-url".into(), "https://SECRET-proxy:3128".into());
                },
                "clusters[edge].cluster.proxy-url",
            ),
            (
                "http server",
                |d| {
                    cluster(d).insert("server".into(), "http://SECRET-host:6443".into());
                },
                "clusters[edge].cluster.server",
            ),
            (
                "username",
                |d| {
                    user(d).insert("username".into(), "SECRET-user".into());
                },
                "users[edge-admin].user.username",
            ),
            (
                "password",
                |d| {
                    user(d).insert("password".into(), "SECRET-pass".into());
                },
                "users[edge-admin].user.password",
            ),
            (
                "an unknown field",
                |d| {
                    user(d).insert("token-from-vault".into(), "SECRET".into());
                },
                "users[edge-admin].user.token-from-vault",
            ),
        ];
        assert_refused_naming(cases, true);
    }

    #[test]
    fn malformed_entries_are_named() {
        let cases: &[(&str, Change, &str)] = &[
            (
                "no scheme",
                |d| {
                    cluster(d).insert("server".into(), "SECRET-host:6443".into());
                },
                "clusters[edge].cluster.server",
            ),
            (
                "a token that is not a header value",
                |d| {
                    user(d).insert("token".into(), "SECRET\nInjected: header".into());
                },
                "users[edge-admin].user.token",
            ),
            (
                "a key that is not PEM",
                |d| {
                    user(d).insert(
                        "client-key-data".into(),
                        STANDARD.encode("SECRET-not-a-key").into(),
                    );
                },
                "users[edge-admin].user.client-key-data",
            ),
            (
                "a CA that is not base64",
                |d| {
                    cluster(d).insert("certificate-authority-data".into(), "SECRET!!".into());
                },
                "clusters[edge].cluster.certificate-authority-data",
            ),
            (
                "a certificate without its key",
                |d| {
                    user(d).remove("client-key-data");
                },
                "users[edge-admin].user.client-key-data",
            ),
            (
                "no credential",
                |d| {
                    user(d).clear();
                },
                "users[edge-admin].user",
            ),
            (
                "no current-context",
                |d| {
                    d.as_object_mut().unwrap().remove("current-context");
                },
                "current-context",
            ),
            (
                "an unknown current-context",
                |d| {
                    d["current-context"] = "SECRET-ctx".into();
                },
                "current-context",
            ),
            (
                "a context naming no user entry",
                |d| {
                    d["contexts"][0]["context"]["user"] = "SECRET-user".into();
                },
                "contexts[edge].context.user",
            ),
            (
                "a context without a user",
                |d| {
                    d["contexts"][0]["context"]
                        .as_object_mut()
                        .unwrap()
                        .remove("user");
                },
                "contexts[edge].context.user",
            ),
            (
                "a cluster without a server",
                |d| {
                    cluster(d).remove("server");
                },
                "clusters[edge].cluster.server",
            ),
        ];
        assert_refused_naming(cases, false);
    }

    #[test]
    fn every_refused_field_is_listed_at_once() {
        let bytes = with(|d| {
            user(d).insert("tokenFile".into(), "/SECRET".into());
            cluster(d).insert("insecure-skip-tls-verify".into(), true.into());
        });
        let refusal = refused(&bytes, Policy::default());
        let fields: Vec<&str> = refusal.fields().collect();
        assert_eq!(
            fields,
            [
                "users[edge-admin].user.tokenFile",
                "clusters[edge].cluster.insecure-skip-tls-verify"
            ]
        );
    }

    #[test]
    fn text_that_is_not_a_kubeconfig_gets_a_fixed_message() {
        let private_key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCSECRETKEYBYTES\n-----END PRIVATE KEY-----\n";
        for input in [
            "hunter2-SECRET-password".as_bytes(),
            private_key.as_bytes(),
            b"SECRET: [unclosed",
            b"- SECRET\n- list",
            &[0xff, 0xfe, b'S'],
            b"",
        ] {
            let refusal = refused(input, Policy::default());
            assert_eq!(refusal.to_string(), "it is not a YAML kubeconfig", "{input:?}");
            assert!(!refusal.is_policy());
        }
        let huge = vec![b'#'; MAX_BYTES + 1];
        assert_eq!(
            refused(&huge, Policy::default()).findings()[0].problem,
            Problem::TooLarge
        );
    }

    #[test]
    fn names_in_refusals_are_clipped_and_printable() {
        let long = format!("{}\u{1b}[31m", "n".repeat(100));
        let bytes = with(|d| {
            d["users"][0]["name"] = long.clone().into();
            d["contexts"][0]["context"]["user"] = long.clone().into();
            user(d).insert("tokenFile".into(), "/x".into());
        });
        let text = validate(&bytes, Policy::default()).unwrap_err().to_string();
        assert!(
            text.contains(&format!("users[{}…].user.tokenFile", "n".repeat(64))),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn unknown_keys_are_quoted_printable_and_counted_past_ten() {
        let bytes = with(|d| {
            let u = user(d);
            u.insert("evil\nkey\u{1b}[31m".into(), "x".into());
            for i in 0..30 {
                u.insert(format!("unknown-{i:02}"), "x".into());
            }
        });
        let text = validate(&bytes, Policy::default()).unwrap_err().to_string();
        assert!(text.contains("evil?key?"), "{text}");
        assert!(!text.contains('\n') && !text.contains('\u{1b}'), "{text}");
        assert!(text.ends_with("and 21 more"), "{text}");
    }

    #[test]
    fn accepted_shapes() {
        let token = with(|d| {
            let u = user(d);
            u.clear();
            u.insert("token".into(), TOKEN.into());
        });
        let no_ca_token = with(|d| {
            cluster(d).remove("certificate-authority-data");
            let u = user(d);
            u.clear();
            u.insert("token".into(), TOKEN.into());
        });
        let extras = with(|d| {
            let c = cluster(d);
            c.insert("tls-server-name".into(), "kubernetes".into());
            c.insert("extensions".into(), json!([{"name": "x", "extension": {}}]));
            c.insert("insecure-skip-tls-verify".into(), false.into());
            user(d).insert("tokenFile".into(), "".into());
        });
        for (what, bytes) in [
            ("client certificate", with(|_| {})),
            ("token", token),
            ("token without CA (system roots)", no_ca_token),
            ("harmless extras", extras),
        ] {
            let accepted = validate(&bytes, Policy::default()).unwrap_or_else(|r| panic!("{what}: {r}"));
            assert_eq!(accepted.context(), "edge");
            assert_eq!(accepted.server(), "https://10.0.0.1:6443");
            assert!(!format!("{accepted:?}").contains(TOKEN));
        }
    }

    #[test]
    fn the_accepted_kubeconfig_is_minified_and_flattened() {
        let accepted = validate(&with(|_| {}), Policy::default()).unwrap();
        let yaml = accepted.to_yaml();
        assert!(!yaml.contains("other"), "{yaml}");
        assert!(!yaml.contains(SECRET_MARK), "{yaml}");
        let parsed = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
        assert_eq!(parsed.current_context.as_deref(), Some("edge"));
        assert_eq!(parsed.contexts.len(), 1);
        assert_eq!(parsed.clusters.len(), 1);
        assert_eq!(parsed.auth_infos.len(), 1);
        assert_eq!(
            parsed.contexts[0].context.as_ref().unwrap().namespace.as_deref(),
            Some("cpaas-system")
        );
        // What is written validates again, unchanged.
        let again = validate(yaml.as_bytes(), Policy::default()).unwrap();
        assert_eq!(again.to_yaml(), yaml);
    }

    #[tokio::test]
    async fn the_accepted_kubeconfig_gives_a_client_without_files_or_environment() {
        let accepted = validate(&with(|_| {}), Policy::default()).unwrap();
        let config = accepted.config(Duration::from_secs(3)).unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://10.0.0.1:6443/");
        assert_eq!(config.default_namespace, "cpaas-system");
        assert_eq!(config.root_cert.as_ref().map(Vec::len), Some(1));
        assert!(!config.accept_invalid_certs);
        assert!(config.proxy_url.is_none());
        assert!(config.auth_info.token_file.is_none());
        assert_eq!(config.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(config.read_timeout, Some(Duration::from_secs(4)));
        accepted.client(Duration::from_secs(3)).unwrap();
    }

    #[test]
    fn opt_ins_accept_exec_and_insecure_tls_only_when_asked() {
        let exec = with(|d| {
            let u = user(d);
            u.clear();
            u.insert(
                "exec".into(),
                json!({"apiVersion": "client.authentication.k8s.io/v1", "command": "aws", "args": ["eks", "get-token"]}),
            );
        });
        let insecure = with(|d| {
            cluster(d).insert("insecure-skip-tls-verify".into(), true.into());
        });
        assert!(validate(&exec, Policy::default()).is_err());
        assert!(validate(&insecure, Policy::default()).is_err());
        let accepted = validate(
            &exec,
            Policy {
                allow_exec: true,
                ..Policy::default()
            },
        )
        .unwrap();
        assert!(accepted.to_yaml().contains("get-token"));
        let config = accepted.config(Duration::from_secs(1)).unwrap();
        assert!(
            matches!(
                config.auth_info.exec.unwrap().interactive_mode,
                Some(kube::config::ExecInteractiveMode::Never)
            ),
            "a plugin never gets the process's stdin or stderr"
        );
        // Allowing exec does not allow the other dangers.
        assert!(
            validate(
                &insecure,
                Policy {
                    allow_exec: true,
                    ..Policy::default()
                }
            )
            .is_err()
        );
        let accepted = validate(
            &insecure,
            Policy {
                allow_insecure_tls: true,
                ..Policy::default()
            },
        )
        .unwrap();
        assert!(accepted.is_insecure());
        assert!(
            accepted
                .config(Duration::from_secs(1))
                .unwrap()
                .accept_invalid_certs
        );
        // auth-provider stays refused whatever is allowed.
        let provider = with(|d| {
            user(d).insert("auth-provider".into(), json!({"name": "oidc"}));
        });
        let everything = Policy {
            allow_exec: true,
            allow_insecure_tls: true,
        };
        assert!(validate(&provider, everything).is_err());
    }

    #[test]
    fn a_secret_is_marked_by_the_cluster_api_type_or_our_label() {
        let secret = |type_: Option<&str>, label: Option<&str>| Secret {
            type_: type_.map(String::from),
            metadata: ObjectMeta {
                labels: label.map(|v| BTreeMap::from([(names::labels::KUBECONFIG.to_owned(), v.to_owned())])),
                ..ObjectMeta::default()
            },
            ..Secret::default()
        };
        assert!(is_marked_secret(&secret(Some(CLUSTER_API_SECRET_TYPE), None)));
        assert!(is_marked_secret(&secret(Some("Opaque"), Some("true"))));
        assert!(!is_marked_secret(&secret(Some("Opaque"), None)));
        assert!(!is_marked_secret(&secret(None, Some("yes"))));
        assert!(!is_marked_secret(&secret(
            Some("kubernetes.io/service-account-token"),
            None
        )));
        assert!(how_to_mark("cpaas-system", "edge-kubeconfig").contains(
            "kubectl label secret -n cpaas-system edge-kubeconfig config.alauda.io/kubeconfig=true"
        ));
    }
}
