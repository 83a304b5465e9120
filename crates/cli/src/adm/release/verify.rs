//! `ac adm release verify REF --key cosign.pub [--key …]`: whether a published release bundle carries a
//! signature (cosign's key-based format) by one of the keys — the check the operator makes with
//! `--release-verification-key` before it offers a release.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use acp_bundle::BundleRef;
use acp_bundle::signature::{self, PublicKey, SignatureError};
use anyhow::Context;
use clap::Args;

use super::registry::{self, RegistryArgs};
use crate::Outcome;
use crate::humanize;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The bundle: REGISTRY/REPOSITORY:TAG or REGISTRY/REPOSITORY@sha256:DIGEST.
    #[arg(value_name = "REF", value_parser = BundleRef::parse)]
    reference: BundleRef,

    /// A trusted public key (PEM, as cosign.pub); repeatable, and a file may hold several keys. The
    /// bundle verifies when one of them signed it.
    #[arg(long = "key", value_name = "FILE", required = true)]
    keys: Vec<PathBuf>,

    /// Deadline of each registry operation (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = humanize::parse_duration, default_value = "30s")]
    timeout: Duration,

    #[command(flatten)]
    registry: RegistryArgs,
}

pub async fn run(args: VerifyArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut keys = Vec::new();
    for path in &args.keys {
        keys.extend(read_public_keys(path)?);
    }
    let client = args.registry.client(args.timeout)?;
    let bundle = acp_bundle::pull(&client, &args.reference)
        .await
        .map_err(|e| registry::explain(e, &client))?;
    let verified = signature::verify(&client, &bundle, &keys)
        .await
        .map_err(|e| match e {
            SignatureError::Registry(e) => registry::explain(e, &client),
            other => anyhow::Error::new(other),
        })?;
    writeln!(
        out,
        "Verified ACP {} at {}",
        bundle.release.version, bundle.reference
    )?;
    writeln!(out, "  digest     {}", verified.digest)?;
    writeln!(
        out,
        "  key        {} ({})",
        verified.key_fingerprint, verified.key_source
    )?;
    writeln!(out, "  signature  {}", verified.signatures)?;
    Ok(Outcome::Success)
}

fn read_public_keys(path: &Path) -> anyhow::Result<Vec<PublicKey>> {
    let shown = path.display().to_string();
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read public key {shown}; check the path given to --key"))?
        .len();
    anyhow::ensure!(
        size <= signature::MAX_KEY_FILE_BYTES as u64,
        "{shown} is {size} bytes, too large for a public key; check the path given to --key"
    );
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read public key {shown}; check the path given to --key"))?;
    Ok(PublicKey::from_pem(&shown, &text)?)
}
