//! `kubectl-ac`: `ac` under the name kubectl looks for on PATH, so `kubectl ac adm upgrade` works.

fn main() -> std::process::ExitCode {
    acp_cli::main()
}
