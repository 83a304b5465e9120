//! Writes the CRDs of `config.alauda.io/v1` into directories, one file per CRD.
//!
//! Usage: `crdgen [DIR...]`. Without arguments it writes `deploy/crds` and, when the Helm chart is
//! there, `charts/acp-cvo/crds` (both must hold the same files). `scripts/check-generated.sh` runs it
//! into a temporary directory and compares.

use std::path::{Path, PathBuf};

use anyhow::Context;

const DEFAULT_DIR: &str = "deploy/crds";
const CHART_DIR: &str = "charts/acp-cvo/crds";

fn main() -> anyhow::Result<()> {
    let mut dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs
        .iter()
        .any(|d| d.as_os_str() == "-h" || d.as_os_str() == "--help")
    {
        println!("usage: crdgen [DIR...]  (default: {DEFAULT_DIR}, and {CHART_DIR} when it exists)");
        return Ok(());
    }
    if dirs.is_empty() {
        dirs.push(PathBuf::from(DEFAULT_DIR));
        if Path::new(CHART_DIR).is_dir() {
            dirs.push(PathBuf::from(CHART_DIR));
        }
    }
    let files = acp_api::crd::rendered().context("cannot render the CRDs")?;
    for dir in &dirs {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
        for (name, yaml) in &files {
            let path = dir.join(name);
            std::fs::write(&path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}
