//! `ac adm cluster register NAME --kubeconfig FILE` and `ac adm cluster list`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use acp_api::cvsh::{ClusterVersionShadowSpec, KubeconfigSecretRef, Provisioning, Reachability, State, Tier};
use acp_api::{
    ClusterVersionShadow, ProductManifest, acp_version, catalogue, kubeconfig, names, ssa, versions,
};
use acp_policy::{AcpVersion, KubeVersion, Verdict, import_gate};
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

use crate::Outcome;
use crate::adm::objects;
use crate::connect::{self, Connection};
use crate::errors::{Kind, Request};
use crate::output::{self, Cell, Format, Style, Table};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Register a workload cluster: its kubeconfig Secret and its ClusterVersionShadow.
    Register(RegisterArgs),
    /// List every managed cluster with its tier, versions and state.
    List(ListArgs),
}

/// How the registered cluster was provisioned (`spec.provisioning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProvisioningArg {
    /// Created and upgraded by the platform.
    #[value(name = "PlatformManaged")]
    PlatformManaged,
    /// Imported: the platform never changes its Kubernetes version.
    #[value(name = "ThirdParty")]
    ThirdParty,
}

impl From<ProvisioningArg> for Provisioning {
    fn from(value: ProvisioningArg) -> Self {
        match value {
            ProvisioningArg::PlatformManaged => Provisioning::PlatformManaged,
            ProvisioningArg::ThirdParty => Provisioning::ThirdParty,
        }
    }
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Name of the cluster (and of its ClusterVersionShadow).
    #[arg(value_parser = parse_cluster_name)]
    name: String,

    /// Kubeconfig of the cluster being registered. Its current context, cluster and user are stored in
    /// Secret `<NAME>-kubeconfig` for acp-cvo, minified and flattened. Refused (as acp-cvo refuses them):
    /// files (tokenFile, client-certificate, client-key, certificate-authority), exec and auth-provider
    /// plugins, insecure-skip-tls-verify, impersonation, proxy-url, http:// servers, username/password.
    /// `kubectl config view --flatten --minify` embeds certificates and keys.
    #[arg(long, value_name = "FILE")]
    kubeconfig: PathBuf,

    /// Who provisioned the cluster.
    #[arg(long, value_enum, default_value = "PlatformManaged")]
    provisioning: ProvisioningArg,

    /// ACP version the cluster runs, recorded in its ConfigMap cpaas-system/acp-version when absent.
    // The id differs from the flag: `version` is clap's own --version.
    #[arg(long = "version", id = "acp_version", value_name = "VERSION")]
    version: Option<AcpVersion>,

    /// Kubeconfig of the global cluster (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    global_kubeconfig: Option<PathBuf>,

    /// Context of the global cluster's kubeconfig (default: its current context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,

    /// Namespace of the ClusterVersionShadow objects.
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = names::NAMESPACE)]
    namespace: String,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connection: connect::ConnectionArgs,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(args: ClusterArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match args.command {
        ClusterCommand::Register(args) => register(args, out).await,
        ClusterCommand::List(args) => list(args, out).await,
    }
}

/// A DNS-1123 label: what an object name and a Secret name prefix may be.
fn parse_cluster_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 53
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{name:?} is not a valid cluster name: use at most 53 lower-case letters, digits and '-', \
             starting and ending with a letter or digit"
        ))
    }
}

/// Name of the Secret holding a cluster's kubeconfig (Cluster API's convention).
pub fn kubeconfig_secret_name(cluster: &str) -> String {
    format!("{cluster}-kubeconfig")
}

/// How long registering waits for the cluster being registered to answer.
const WORKLOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The kubeconfig file, read with the policy's size bound (so a wrong path to a huge file fails fast).
fn read_kubeconfig(path: &Path, cluster: &str) -> anyhow::Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| {
        format!(
            "cannot read the kubeconfig of cluster {cluster} from {}; check the path given to --kubeconfig",
            path.display()
        )
    })?;
    let mut bytes = Vec::new();
    file.take(u64::try_from(kubeconfig::MAX_BYTES).unwrap_or(u64::MAX) + 1)
        .read_to_end(&mut bytes)
        .with_context(|| {
            format!(
                "cannot read the kubeconfig of cluster {cluster} from {}; check the path given to --kubeconfig",
                path.display()
            )
        })?;
    Ok(bytes)
}

async fn register(args: RegisterArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let name = &args.name;
    if name == names::GLOBAL_CLUSTER {
        anyhow::bail!(
            "`global` is the cluster acp-cvo runs in; it is registered when acp-cvo is installed. \
             Pick another name for the cluster to register"
        );
    }
    // The same policy the operator applies, so what is stored is what acp-cvo will use.
    let bytes = read_kubeconfig(&args.kubeconfig, name)?;
    let accepted = kubeconfig::validate(&bytes, kubeconfig::Policy::default()).map_err(|refusal| {
        anyhow::anyhow!(
            "the kubeconfig {} of cluster {name} is refused: {refusal}",
            args.kubeconfig.display()
        )
    })?;

    // 1. The cluster itself: reachable, and running a Kubernetes the platform can manage.
    let workload_server = accepted.server().to_owned();
    let workload = accepted.client(WORKLOAD_TIMEOUT).map_err(|e| {
        anyhow::anyhow!(
            "the kubeconfig {} of cluster {name}: {e}",
            args.kubeconfig.display()
        )
    })?;
    let info = workload.apiserver_version().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot read /version of cluster {name} at {workload_server}: {e}; check that the cluster runs and \
             that {} reaches it",
            args.kubeconfig.display()
        )
    })?;
    let kube_version: KubeVersion = info.git_version.parse().with_context(|| {
        format!(
            "cluster {name} reports Kubernetes {:?}, which is not a version acp-cvo can judge",
            info.git_version
        )
    })?;

    let conn = Connection::open(&connect::ConnectionArgs {
        kubeconfig: args.global_kubeconfig.clone(),
        context: args.context.clone(),
        namespace: args.namespace.clone(),
    })
    .await?;
    let clusters = objects::list_cvsh(&conn).await?;
    if !clusters.iter().any(|c| c.name_any() == names::GLOBAL_CLUSTER) {
        anyhow::bail!(
            "no ClusterVersionShadow `global` in namespace {} on {}: the global cluster is not set up. Install \
             acp-cvo there (kubectl apply -k deploy/), or point --global-kubeconfig/--context at the global cluster",
            conn.namespace,
            conn.server
        );
    }
    let manifests = objects::list_manifests(&conn).await?;
    let (platform, verdict) = import_verdict(&clusters, &manifests, kube_version)?;
    if verdict.is_refused() {
        anyhow::bail!(
            "cluster {name} cannot be registered under ACP {platform} ({}): {}",
            verdict.reason(),
            verdict.message()
        );
    }
    if verdict.has_warnings() {
        eprintln!("warning: {}", verdict.message());
    }

    // 2. Its distribution version, recorded in the cluster when absent.
    if let Some(version) = &args.version {
        record_version(&workload, &workload_server, name, version).await?;
    }

    // 3. The kubeconfig Secret and the ClusterVersionShadow in the global cluster.
    let secret_name = kubeconfig_secret_name(name);
    let apply = PatchParams::apply(names::CLI_FIELD_MANAGER).force();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(secret_name.clone()),
            namespace: Some(conn.namespace.clone()),
            labels: Some(BTreeMap::from([
                (names::labels::CLUSTER.to_owned(), name.clone()),
                (
                    names::labels::KUBECONFIG.to_owned(),
                    kubeconfig::MARKER_VALUE.to_owned(),
                ),
            ])),
            ..Default::default()
        },
        type_: Some("Opaque".to_owned()),
        data: Some(BTreeMap::from([(
            names::DEFAULT_KUBECONFIG_SECRET_KEY.to_owned(),
            ByteString(accepted.to_yaml().into_bytes()),
        )])),
        ..Default::default()
    };
    let mut secret_body = serde_json::to_value(&secret).context("cannot serialise the Secret")?;
    secret_body["apiVersion"] = "v1".into();
    secret_body["kind"] = "Secret".into();
    Api::<Secret>::namespaced(conn.client.clone(), &conn.namespace)
        .patch(&secret_name, &apply, &Patch::Apply(&secret_body))
        .await
        .map_err(|e| {
            Request {
                server: &conn.server,
                verb: "write",
                kind: Kind::Secret,
                name: &secret_name,
                namespace: Some(&conn.namespace),
            }
            .explain(e)
        })?;

    let provisioning: Provisioning = args.provisioning.into();
    let spec = ClusterVersionShadowSpec {
        kubeconfig_secret_ref: Some(KubeconfigSecretRef::new(&secret_name)),
        tier: Some(Tier::Workload),
        provisioning: Some(provisioning),
        ..Default::default()
    };
    let mut body =
        ssa::spec_body::<ClusterVersionShadow>(&spec).context("cannot serialise the ClusterVersionShadow")?;
    body["metadata"] = serde_json::json!({"name": name, "namespace": conn.namespace});
    Api::<ClusterVersionShadow>::namespaced(conn.client.clone(), &conn.namespace)
        .patch(name, &apply, &Patch::Apply(&body))
        .await
        .map_err(|e| {
            Request {
                server: &conn.server,
                verb: "write",
                kind: Kind::ClusterVersionShadow,
                name,
                namespace: Some(&conn.namespace),
            }
            .explain(e)
        })?;

    writeln!(
        out,
        "Registered cluster {name} (Workload, {provisioning:?}, Kubernetes {}): Secret {ns}/{secret_name} and \
         ClusterVersionShadow {ns}/{name}.\nacp-cvo observes it next; see it with `ac adm cluster list`.",
        info.git_version,
        ns = conn.namespace,
    )?;
    Ok(Outcome::Success)
}

/// Judges a cluster running `kube` for registration under the global tier of `clusters`, against the
/// releases acp-cvo knows (built in, plus what the Ready ProductManifests resolved): the platform version
/// judged against, and the verdict. Pure.
pub fn import_verdict(
    clusters: &[ClusterVersionShadow],
    manifests: &[ProductManifest],
    kube: KubeVersion,
) -> anyhow::Result<(AcpVersion, Verdict)> {
    let tier = versions::global_tier_of(clusters)?.ok_or_else(|| {
        anyhow::anyhow!(
            "the global tier's platform version is not known yet (ClusterVersionShadow global, or its standby, \
             has no status.current.version), so the Kubernetes range it manages is unknown; make sure acp-cvo \
             runs and retry"
        )
    })?;
    let known = catalogue::from_manifests(manifests);
    let verdict = import_gate(&known.catalogue, &tier.primary, kube);
    Ok((tier.primary, verdict))
}

/// Writes ConfigMap cpaas-system/acp-version in the registered cluster unless one exists.
async fn record_version(
    client: &kube::Client,
    server: &str,
    cluster: &str,
    version: &AcpVersion,
) -> anyhow::Result<()> {
    let ns = names::NAMESPACE;
    let cm_name = names::acp_version_config_map::NAME;
    let explain = |kind, name: &'static str, verb, e| {
        Request {
            server,
            verb,
            kind,
            name,
            namespace: (kind == Kind::ConfigMap).then_some(ns),
        }
        .message(&e)
    };
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces
        .create(&PostParams::default(), &acp_version::namespace())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => anyhow::bail!(
            "in cluster {cluster}: {}",
            explain(Kind::Namespace, ns, "create", e)
        ),
    }
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    match config_maps
        .create(&PostParams::default(), &acp_version::config_map(version))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing = config_maps.get(cm_name).await.map_err(|e| {
                anyhow::anyhow!(
                    "in cluster {cluster}: {}",
                    explain(Kind::ConfigMap, cm_name, "read", e)
                )
            })?;
            let recorded = acp_version::recorded(&existing);
            let same = recorded
                .and_then(|v| v.parse::<AcpVersion>().ok())
                .is_some_and(|v| &v == version);
            if !same {
                eprintln!(
                    "warning: cluster {cluster} already records ACP version {} in {ns}/{cm_name}; it was kept and \
                     --version {version} was not written",
                    recorded.unwrap_or("(empty)")
                );
            }
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "in cluster {cluster}: {}",
            explain(Kind::ConfigMap, cm_name, "create", e)
        )),
    }
}

async fn list(args: ListArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let mut clusters = objects::list_cvsh(&conn).await?;
    sort_clusters(&mut clusters);
    if args.output.is_human() {
        let text = render_list(&clusters, args.output == Format::Wide, output::colour_enabled());
        out.write_all(text.as_bytes())?;
    } else {
        output::write_machine(out, args.output, &output::list_of(&clusters)?)?;
    }
    Ok(Outcome::Success)
}

/// Global tier first (primary, then standby), then workload clusters by name.
pub fn sort_clusters(clusters: &mut [ClusterVersionShadow]) {
    let rank = |c: &ClusterVersionShadow| match c.tier() {
        Tier::Global => 0,
        Tier::GlobalStandby => 1,
        Tier::Workload => 2,
    };
    clusters.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
}

/// A few words for a cluster's state (the reading the operator's metric and `ac adm upgrade status`
/// give too), and how to paint it. Pure.
pub fn cluster_state(cvsh: &ClusterVersionShadow) -> (String, Style) {
    let reading = cvsh.reading();
    let (mut text, mut style) = match &reading.state {
        State::Unknown => ("Unknown".to_owned(), Style::Warn),
        State::Idle => ("Idle".to_owned(), Style::Good),
        State::Requested { target } => (format!("Requested {target}"), Style::Warn),
        State::Blocked { target } => (format!("Blocked {target}"), Style::Bad),
        State::Paused { target } => (format!("Paused {target}"), Style::Warn),
        State::Executing { target, progress } if reading.degraded => (
            format!("Upgrading to {target} ({}%), degraded", progress.percent()),
            Style::Bad,
        ),
        State::Executing { target, progress } => (
            format!("Upgrading to {target} ({}%)", progress.percent()),
            Style::Warn,
        ),
        State::Stalled { .. } => ("Stalled".to_owned(), Style::Bad),
    };
    match reading.reachability {
        Reachability::Unreachable => {
            text.push_str(" (unreachable)");
            style = Style::Bad;
        }
        Reachability::NotObserved if cvsh.status.is_none() => text.push_str(" (not observed yet)"),
        Reachability::NotObserved | Reachability::Reachable => {}
    }
    (text, style)
}

/// NAME, TIER, PROVISIONING, CURRENT, DESIRED (what the running or requested upgrade works towards),
/// KUBERNETES, STATE (wide: NODES, MESSAGE). Pure.
pub fn render_list(clusters: &[ClusterVersionShadow], wide: bool, colour: bool) -> String {
    if clusters.is_empty() {
        return "No clusters. Install acp-cvo in the global cluster, then register workload clusters with \
                `ac adm cluster register NAME --kubeconfig FILE`.\n"
            .to_owned();
    }
    let headers: &[&str] = if wide {
        &[
            "NAME",
            "TIER",
            "PROVISIONING",
            "CURRENT",
            "DESIRED",
            "KUBERNETES",
            "STATE",
            "NODES",
            "MESSAGE",
        ]
    } else {
        &[
            "NAME",
            "TIER",
            "PROVISIONING",
            "CURRENT",
            "DESIRED",
            "KUBERNETES",
            "STATE",
        ]
    };
    let mut table = Table::new(headers);
    for c in clusters {
        let status = c.status.as_ref();
        let observed = status.and_then(|s| s.observed.as_ref());
        let reading = c.reading();
        let desired = reading.state.target().unwrap_or("-");
        let (state, style) = cluster_state(c);
        let mut row: Vec<Cell> = vec![
            c.name_any().into(),
            format!("{:?}", c.tier()).into(),
            format!("{:?}", c.provisioning()).into(),
            status.and_then(|s| s.current_version()).unwrap_or("-").into(),
            desired.into(),
            observed
                .and_then(|o| o.kubernetes_version.clone())
                .unwrap_or_else(|| "-".into())
                .into(),
            Cell::styled(state, style),
        ];
        if wide {
            let nodes = observed
                .and_then(|o| o.nodes.as_ref())
                .map_or_else(|| "-".to_owned(), |n| format!("{}/{}", n.ready, n.total));
            let message = observed.and_then(|o| o.message.clone()).unwrap_or_default();
            row.push(nodes.into());
            row.push(message.into());
        }
        table.row(row);
    }
    table.to_text(colour)
}
