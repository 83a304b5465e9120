//! Writes the CRDs of `config.alauda.io/v1` into a directory, one file per CRD.
//!
//! Usage: `crdgen [DIR]` (default `deploy/crds`). `scripts/check-generated.sh` runs it into a temporary
//! directory and compares.

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let dir = args
        .next()
        .map_or_else(|| PathBuf::from("deploy/crds"), PathBuf::from);
    if args.next().is_some() {
        anyhow::bail!("usage: crdgen [DIR] (writes one YAML file per CRD into DIR, default deploy/crds)");
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    for (name, yaml) in acp_api::crd::rendered().context("cannot render the CRDs")? {
        let path = dir.join(name);
        std::fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
