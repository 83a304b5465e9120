//! The `ac` binary without a cluster: argument handling, exit codes, completions, the kubectl plugin name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("NO_COLOR", "1")
        // Never fall back to a real kubeconfig of the machine running the tests.
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap()
}

fn ac(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_ac"), args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn conflicting_or_incomplete_flags_are_usage_errors() {
    for args in [
        &["adm", "upgrade", "--to", "4.3.1", "--to-latest"][..],
        &["adm", "upgrade", "--to-latest", "--clear"],
        &["adm", "upgrade", "--force"],
        &["adm", "upgrade", "--allow-explicit-upgrade", "--to-latest"],
        &["adm", "upgrade", "--force", "--clear"],
        &["adm", "upgrade", "--allow-upgrade-with-warnings", "--clear"],
        &["adm", "upgrade", "-o", "csv"],
        &["adm", "upgrade", "status", "--timeout", "5m"],
        &["adm", "upgrade", "status", "--watch", "--timeout", "soon"],
        &["adm", "release", "import-manifest"],
        &["adm", "cluster", "register", "edge-1"],
    ] {
        let out = ac(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    }
    let out = ac(&["adm", "upgrade", "--to", "four"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("expected MAJOR.MINOR.PATCH such as 4.3.1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_missing_kubeconfig_says_which_file_and_what_to_do() {
    let out = ac(&["adm", "upgrade", "--kubeconfig", "/nonexistent/admin.conf"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: cannot read kubeconfig /nonexistent/admin.conf; check the path given to --kubeconfig"
        ),
        "{stderr}"
    );
    let out = ac(&["adm", "cluster", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("pass --kubeconfig FILE or set KUBECONFIG"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn completion_scripts_cover_the_commands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ac(&["completion", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        for word in [
            "import-manifest",
            "register",
            "to-latest",
            "allow-upgrade-with-warnings",
        ] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = ac(&["completion", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn as_a_kubectl_plugin_it_calls_itself_kubectl_ac() {
    let out = run(env!("CARGO_BIN_EXE_kubectl-ac"), &["adm", "upgrade", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("Usage: kubectl ac adm upgrade"),
        "{}",
        text(&out.stdout)
    );
    let out = run(env!("CARGO_BIN_EXE_kubectl-ac"), &["completion", "bash"]);
    assert!(
        text(&out.stdout).contains("kubectl-ac"),
        "the script completes the plugin's own name"
    );
}
