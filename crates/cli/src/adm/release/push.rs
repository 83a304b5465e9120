//! `ac adm release push --file BUNDLE.yaml --to REF [--sign-key KEY]`: publish a release bundle to a
//! registry, and sign it the way `cosign sign --key` does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use acp_bundle::signature::{self, SignatureError, SigningKey};
use acp_bundle::{Bundle, BundleError, BundleRef};
use anyhow::Context;
use clap::Args;

use super::registry::{self, RegistryArgs};
use crate::Outcome;
use crate::humanize;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The release bundle: one `kind: ProductRelease` YAML document.
    #[arg(long, value_name = "BUNDLE.yaml")]
    file: PathBuf,

    /// Where to publish: REGISTRY/REPOSITORY (tagged with the bundle's version) or
    /// REGISTRY/REPOSITORY:TAG.
    #[arg(long, value_name = "REF", value_parser = registry::parse_destination)]
    to: String,

    /// Sign the pushed bundle with this private key, in cosign's format (a signature `cosign verify
    /// --key` and the operator's --release-verification-key accept): cosign.key from `cosign
    /// generate-key-pair` (its password in COSIGN_PASSWORD), or a PKCS#8 / SEC1 ECDSA P-256 PEM key.
    #[arg(long, value_name = "KEY")]
    sign_key: Option<PathBuf>,

    /// Deadline of each registry operation (e.g. 30s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = humanize::parse_duration, default_value = "30s")]
    timeout: Duration,

    #[command(flatten)]
    registry: RegistryArgs,
}

pub async fn run(args: PushArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let file = args.file.display();
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read release bundle {file}; check the path given to --file"))?;
    let bundle = Bundle::from_yaml(text).with_context(|| format!("cannot publish {file}"))?;
    // Read the key before pushing: a wrong password must not leave an unsigned bundle behind.
    let key = args.sign_key.as_deref().map(read_signing_key).transpose()?;
    let to = BundleRef::for_push(&args.to, bundle.version()).map_err(BundleError::from)?;
    let client = args.registry.client(args.timeout)?;
    let digest = acp_bundle::push(&client, &bundle, &to)
        .await
        .map_err(|e| registry::explain(e, &client))?;
    let pinned = to.pinned(&digest);
    writeln!(out, "Pushed ACP {} to {pinned}", bundle.version())?;
    if let Some(key) = key {
        let signed = signature::sign(&client, &pinned, &key)
            .await
            .map_err(|e| match e {
                SignatureError::Registry(e) => registry::explain(e, &client),
                other => anyhow::Error::new(other),
            })
            .with_context(|| format!("pushed {pinned}, but could not sign it"))?;
        writeln!(
            out,
            "Signed {digest} with key {} ({}); signature at {}",
            signed.key_fingerprint,
            key.public_key().source(),
            signed.signatures
        )?;
    }
    writeln!(
        out,
        "Next, offer it to the platform: ac adm release import-manifest --image {pinned}"
    )?;
    Ok(Outcome::Success)
}

/// The private key at `path`; a cosign-encrypted one opens with COSIGN_PASSWORD, as `cosign sign` does.
fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let shown = path.display().to_string();
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read signing key {shown}; check the path given to --sign-key"))?
        .len();
    anyhow::ensure!(
        size <= signature::MAX_KEY_FILE_BYTES as u64,
        "{shown} is {size} bytes, too large for a signing key; check the path given to --sign-key"
    );
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read signing key {shown}; check the path given to --sign-key"))?;
    let password = std::env::var_os("COSIGN_PASSWORD").map(|p| p.into_encoded_bytes());
    Ok(SigningKey::from_pem(&shown, &text, password.as_deref())?)
}
