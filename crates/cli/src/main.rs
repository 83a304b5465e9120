//! `ac`: the ACP command line. Everything lives in the library so `kubectl-ac` is the same program.

fn main() -> std::process::ExitCode {
    acp_cli::main()
}
