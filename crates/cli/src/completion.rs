//! `ac completion bash|zsh|fish|…`: shell completion scripts generated from the command definitions.

use std::io::Write;

use clap::Args;
use clap_complete::Shell;

use crate::Outcome;

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to complete for. bash: `source <(ac completion bash)`; zsh: `ac completion zsh >
    /// "${fpath[1]}/_ac"`; fish: `ac completion fish > ~/.config/fish/completions/ac.fish`.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: &CompletionArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let mut command = crate::command();
    // Completion scripts are keyed by the executable's file name.
    let name = if crate::invoked_as_plugin() {
        "kubectl-ac"
    } else {
        "ac"
    };
    clap_complete::generate(args.shell, &mut command, name, out);
    Ok(Outcome::Success)
}
