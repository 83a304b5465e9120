//! `ac adm release`: make releases available (`import-manifest --version=V | --image=REF`), list
//! them, and publish (`push`), inspect (`show`) and check the signatures of (`verify`) release bundles in
//! a registry.

use std::io::Write;
use std::time::{Duration, Instant};

use acp_api::conditions::{self, types};
use acp_api::k8s::Timestamp;
use acp_api::{ProductManifest, ProductManifestSpec};
use acp_bundle::BundleRef;
use acp_policy::AcpVersion;
use clap::{ArgGroup, Args, Subcommand};
use kube::api::PostParams;
use kube::{Api, ResourceExt};

use crate::Outcome;
use crate::connect::{Connection, ConnectionArgs};
use crate::errors::{Kind, Request};
use crate::humanize;
use crate::output::{self, Cell, Format, Style, Table};

pub mod push;
pub mod registry;
pub mod risks;
pub mod show;
pub mod verify;

/// How often `--wait` reads the ProductManifest.
const WAIT_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    command: ReleaseCommand,
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Create ProductManifest `v<VERSION>` so clusters can be offered VERSION once it is Ready.
    ImportManifest(ImportArgs),
    /// List ProductManifests and whether each is Ready.
    List(ListArgs),
    /// Publish a release bundle (a ProductRelease YAML file) to an OCI registry.
    Push(push::PushArgs),
    /// Show a release bundle published in an OCI registry.
    Show(show::ShowArgs),
    /// Every registered cluster against the known risks of a release: Applies, DoesNotApply or Unknown,
    /// with the evidence, and a count per risk.
    Risks(risks::RisksArgs),
    /// Check that a release bundle in a registry is signed (cosign's format) by one of the given keys.
    Verify(verify::VerifyArgs),
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("release").required(true).args(["acp_version", "image"])))]
pub struct ImportArgs {
    /// Platform version of the release, e.g. 4.3.1.
    // The id differs from the flag: `version` is clap's own --version.
    #[arg(long = "version", id = "acp_version", value_name = "VERSION")]
    version: Option<AcpVersion>,

    /// A release bundle in a registry (as `ac adm release push` prints it); the ProductManifest is
    /// named after the version it holds and pins its digest.
    #[arg(long, value_name = "REF", value_parser = BundleRef::parse, conflicts_with = "acp_version")]
    image: Option<BundleRef>,

    /// Wait until the ProductManifest is Ready.
    #[arg(long)]
    wait: bool,

    /// With --wait: how long to wait (e.g. 90s, 10m).
    #[arg(long, value_name = "DURATION", value_parser = humanize::parse_duration, default_value = "10m", requires = "wait")]
    timeout: Duration,

    #[command(flatten)]
    connection: ConnectionArgs,

    /// With --image: how to reach the registry.
    #[command(flatten)]
    registry: registry::RegistryArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    connection: ConnectionArgs,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    output: Format,
}

pub async fn run(args: ReleaseArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    match args.command {
        ReleaseCommand::ImportManifest(args) => import_manifest(args, out).await,
        ReleaseCommand::List(args) => list(args, out).await,
        ReleaseCommand::Push(args) => push::run(args, out).await,
        ReleaseCommand::Show(args) => show::run(args, out).await,
        ReleaseCommand::Risks(args) => risks::run(args, out).await,
        ReleaseCommand::Verify(args) => verify::run(args, out).await,
    }
}

fn request<'a>(conn: &'a Connection, verb: &'static str, name: &'a str) -> Request<'a> {
    Request {
        server: &conn.server,
        verb,
        kind: Kind::ProductManifest,
        name,
        namespace: None,
    }
}

/// What to do about an existing ProductManifest of the same name.
#[derive(Debug, PartialEq, Eq)]
pub enum Existing {
    /// It names the same release: nothing to change.
    Same,
    /// It names something else: refuse, with this message.
    Conflict(String),
}

/// What `import-manifest` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// `--version`: `spec.version`.
    Version(AcpVersion),
    /// `--image`: `spec.image`, pinned to the digest pulled (`pinned`), for the bundle given as
    /// `given` (which may name only a tag).
    Image { pinned: BundleRef, given: BundleRef },
}

impl Wanted {
    /// What the refusal says was asked for.
    fn describe(&self) -> String {
        match self {
            Wanted::Version(version) => version.to_string(),
            Wanted::Image { pinned, .. } => format!("spec.image {pinned}"),
        }
    }

    /// Whether an existing ProductManifest already holds this.
    fn is_held_by(&self, existing: &ProductManifest) -> bool {
        match self {
            Wanted::Version(version) => existing
                .version()
                .and_then(|v| v.parse::<AcpVersion>().ok())
                .is_some_and(|v| &v == version),
            // The pinned image, or the very reference given: both name this bundle.
            Wanted::Image { pinned, given } => existing
                .spec
                .image
                .as_deref()
                .and_then(|image| BundleRef::parse(image).ok())
                .is_some_and(|image| &image == pinned || &image == given),
        }
    }

    /// The spec a new ProductManifest gets.
    fn spec(&self) -> ProductManifestSpec {
        match self {
            Wanted::Version(version) => ProductManifestSpec {
                version: Some(version.to_string()),
                image: None,
            },
            Wanted::Image { pinned, .. } => ProductManifestSpec {
                version: None,
                image: Some(pinned.to_string()),
            },
        }
    }
}

/// Compares an existing ProductManifest with the version being imported. Pure.
pub fn compare_existing(existing: &ProductManifest, version: &AcpVersion) -> Existing {
    compare(existing, &Wanted::Version(version.clone()))
}

/// Compares an existing ProductManifest with what is being imported. Pure.
pub fn compare(existing: &ProductManifest, wanted: &Wanted) -> Existing {
    if wanted.is_held_by(existing) {
        return Existing::Same;
    }
    let name = existing.name_any();
    let holds = match (existing.spec.version.as_deref(), existing.spec.image.as_deref()) {
        (Some(v), _) => format!("spec.version {v}"),
        (None, Some(image)) => format!("spec.image {image}"),
        (None, None) => "neither a version nor an image".to_owned(),
    };
    Existing::Conflict(format!(
        "ProductManifest {name} already exists with {holds}, not {}; it was left unchanged. \
         If it is wrong, delete it (`kubectl delete pdman {name}`) and import again",
        wanted.describe()
    ))
}

/// The release asked for and its version: `--version` as given, `--image` read from the bundle.
async fn wanted(args: &ImportArgs, out: &mut dyn Write) -> anyhow::Result<(Wanted, AcpVersion)> {
    match (&args.version, &args.image) {
        (Some(version), _) => Ok((Wanted::Version(version.clone()), version.clone())),
        (None, Some(image)) => {
            let client = args.registry.client(acp_bundle::DEFAULT_TIMEOUT)?;
            let bundle = acp_bundle::pull(&client, image)
                .await
                .map_err(|e| registry::explain(e, &client))?;
            writeln!(
                out,
                "Release bundle {} holds ACP {}.",
                bundle.reference, bundle.release.version
            )?;
            let wanted = Wanted::Image {
                pinned: bundle.reference,
                given: image.clone(),
            };
            Ok((wanted, bundle.release.version))
        }
        // clap requires exactly one of them.
        (None, None) => anyhow::bail!("give --version VERSION or --image REF"),
    }
}

async fn import_manifest(args: ImportArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    // Read the bundle before writing anything: a bundle that cannot be pulled is not offered.
    let (wanted, version) = wanted(&args, out).await?;
    let api: Api<ProductManifest> = Api::all(conn.client.clone());
    let version = version.to_string();
    let name = ProductManifest::name_for_version(&version);

    let existing = api
        .get_opt(&name)
        .await
        .map_err(|e| request(&conn, "read", &name).explain(e))?;
    let manifest = match existing {
        Some(existing) => match compare(&existing, &wanted) {
            Existing::Same => {
                writeln!(
                    out,
                    "ProductManifest {name} for {version} already exists; nothing changed."
                )?;
                existing
            }
            Existing::Conflict(message) => anyhow::bail!(message),
        },
        None => {
            let manifest = ProductManifest::new(&name, wanted.spec());
            match api.create(&PostParams::default(), &manifest).await {
                Ok(created) => {
                    writeln!(out, "Created ProductManifest {name} for {version}.")?;
                    created
                }
                // Someone created it between the read and the create: judge what they created.
                Err(e) if matches!(&e, kube::Error::Api(s) if s.code == 409) => {
                    let existing = api
                        .get(&name)
                        .await
                        .map_err(|e| request(&conn, "read", &name).explain(e))?;
                    if let Existing::Conflict(message) = compare(&existing, &wanted) {
                        anyhow::bail!(message);
                    }
                    writeln!(
                        out,
                        "ProductManifest {name} for {version} already exists; nothing changed."
                    )?;
                    existing
                }
                Err(e) => return Err(request(&conn, "create", &name).explain(e)),
            }
        }
    };

    if !args.wait {
        if !manifest.is_ready() {
            writeln!(
                out,
                "acp-cvo resolves it next; `ac adm release list` shows when it is Ready (or pass --wait)."
            )?;
        }
        return Ok(Outcome::Success);
    }
    wait_ready(&conn, &api, &name, args.timeout, out).await
}

/// Polls until the ProductManifest is Ready, with a progress line on stderr.
async fn wait_ready(
    conn: &Connection,
    api: &Api<ProductManifest>,
    name: &str,
    timeout: Duration,
    out: &mut dyn Write,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let terminal = output::stderr_is_terminal();
    if !terminal {
        eprintln!(
            "Waiting up to {} for ProductManifest {name} to be Ready...",
            humanize::duration(timeout)
        );
    }
    loop {
        let manifest = api
            .get(name)
            .await
            .map_err(|e| request(conn, "read", name).explain(e))?;
        let ready = conditions::find(manifest.conditions(), types::READY);
        if manifest.is_ready() {
            if terminal {
                eprint!("\r\x1b[2K");
            }
            writeln!(
                out,
                "ProductManifest {name} is Ready: clusters that can reach {} are offered it.",
                release_version(&manifest).unwrap_or(name)
            )?;
            return Ok(Outcome::Success);
        }
        let why = ready
            .map(|c| format!("{}: {}", c.reason, c.message))
            .unwrap_or_else(|| "not resolved by acp-cvo yet".to_owned());
        if started.elapsed() >= timeout {
            if terminal {
                eprintln!();
            }
            anyhow::bail!(
                "ProductManifest {name} is not Ready after {} ({why}); check that acp-cvo runs \
                 (`kubectl -n cpaas-system get deploy acp-cvo`) and its logs",
                humanize::duration(timeout)
            );
        }
        if terminal {
            eprint!(
                "\r\x1b[2KWaiting for ProductManifest {name} to be Ready ({}): {why}",
                humanize::duration(started.elapsed())
            );
        }
        tokio::time::sleep(WAIT_INTERVAL).await;
    }
}

async fn list(args: ListArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let conn = Connection::open(&args.connection).await?;
    let mut items = crate::adm::objects::list_manifests(&conn).await?;
    sort_newest_first(&mut items);
    if args.output.is_human() {
        let text = render_list(
            &items,
            Timestamp::now(),
            args.output == Format::Wide,
            output::colour_enabled(),
        );
        out.write_all(text.as_bytes())?;
    } else {
        output::write_machine(out, args.output, &output::list_of(&items)?)?;
    }
    Ok(Outcome::Success)
}

/// The version a ProductManifest offers: `spec.version`, else (by image) the version of the release
/// acp-cvo resolved.
fn release_version(manifest: &ProductManifest) -> Option<&str> {
    manifest
        .version()
        .or_else(|| manifest.release().map(|r| r.version.as_str()))
}

/// Newest version first; manifests by an image not resolved yet (or with an unreadable version)
/// last, by name.
pub fn sort_newest_first(items: &mut [ProductManifest]) {
    items.sort_by(|a, b| {
        let va = release_version(a).and_then(|v| v.parse::<AcpVersion>().ok());
        let vb = release_version(b).and_then(|v| v.parse::<AcpVersion>().ok());
        match (va, vb) {
            (Some(a), Some(b)) => b.cmp(&a),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.name_any().cmp(&b.name_any()),
        }
    });
}

/// NAME, VERSION, READY, KUBERNETES, AGE, MESSAGE (wide: IMAGE, DIGEST too). Pure.
pub fn render_list(items: &[ProductManifest], now: Timestamp, wide: bool, colour: bool) -> String {
    if items.is_empty() {
        return "No ProductManifests. Import one with `ac adm release import-manifest --version=V`.\n"
            .to_owned();
    }
    let headers: &[&str] = if wide {
        &[
            "NAME",
            "VERSION",
            "READY",
            "KUBERNETES",
            "AGE",
            "IMAGE",
            "DIGEST",
            "MESSAGE",
        ]
    } else {
        &["NAME", "VERSION", "READY", "KUBERNETES", "AGE", "MESSAGE"]
    };
    let mut table = Table::new(headers);
    for m in items {
        let ready = conditions::find(m.conditions(), types::READY);
        let (state, style) = match ready.map(|c| c.status.as_str()) {
            Some("True") => ("True", Style::Good),
            Some("False") => ("False", Style::Bad),
            _ => ("Unknown", Style::Warn),
        };
        let kubernetes = m
            .release()
            .and_then(|r| r.kubernetes.version.clone())
            .unwrap_or_else(|| "-".into());
        let age = m
            .metadata
            .creation_timestamp
            .as_ref()
            .map_or_else(|| "-".to_owned(), |t| humanize::age(now, t));
        let message = ready
            .map(|c| c.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                if ready.is_none() {
                    "not resolved yet".into()
                } else {
                    String::new()
                }
            });
        let mut row: Vec<Cell> = vec![
            m.name_any().into(),
            release_version(m).unwrap_or("-").into(),
            Cell::styled(state, style),
            kubernetes.into(),
            age.into(),
        ];
        if wide {
            let status = m.status.as_ref();
            row.push(m.spec.image.clone().unwrap_or_else(|| "-".into()).into());
            row.push(
                status
                    .and_then(|s| s.resolved_image_digest.clone())
                    .unwrap_or_else(|| "-".into())
                    .into(),
            );
        }
        row.push(message.into());
        table.row(row);
    }
    table.to_text(colour)
}
