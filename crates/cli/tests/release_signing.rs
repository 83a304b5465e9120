//! `ac adm release push --sign-key` and `ac adm release verify` as a user runs them, against a real
//! registry (Debian's `docker-registry`), and interoperating with the real `cosign` both ways: a bundle
//! `cosign sign --key` signed verifies with `ac`, and one `ac` signed verifies with `cosign verify --key`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../../bundle/tests/support/mod.rs"]
mod support;

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use acp_bundle::signature::SigningKey;
use support::Registry;

/// The cosign password of the keys these tests generate.
const PASSWORD: &str = "acp-test";

fn sample() -> String {
    repo()
        .join("deploy/samples/release-4.4.0.yaml")
        .display()
        .to_string()
}

/// Pushes the sample to `REGISTRY/REPOSITORY`, with `extra` flags and `envs`; the pinned reference.
fn push(registry: &Registry, repository: &str, extra: &[&str], envs: &[(&str, &str)]) -> (String, String) {
    let to = format!("{}/{repository}", registry.host());
    let sample = sample();
    let mut args = vec!["adm", "release", "push", "--file", &sample, "--to", &to];
    args.extend(extra);
    let out = ac_with(&args, envs);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let pinned = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("Pushed ACP 4.4.0 to "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_owned();
    (pinned, text)
}

/// A PKCS#8 key pair in `dir`: (`release.key`, `release.pub`, its fingerprint).
fn own_key(dir: &Path, name: &str) -> (PathBuf, PathBuf, String) {
    let key = SigningKey::generate(name);
    let (private, public) = (dir.join(format!("{name}.key")), dir.join(format!("{name}.pub")));
    std::fs::write(&private, key.to_pkcs8_pem()).unwrap();
    std::fs::write(&public, key.public_key().to_pem()).unwrap();
    (private, public, key.public_key().fingerprint().to_owned())
}

#[test]
fn a_bundle_pushed_with_a_sign_key_verifies_with_its_public_key_only() {
    let Some(registry) = Registry::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (key, public, fingerprint) = own_key(dir.path(), "release");
    let (_, stranger, _) = own_key(dir.path(), "stranger");

    let (pinned, text) = push(
        &registry,
        "acp/release",
        &["--sign-key", key.to_str().unwrap()],
        &[],
    );
    let digest = pinned.split('@').nth(1).unwrap();
    let sig_tag = format!("{}-{}.sig", "sha256", digest.trim_start_matches("sha256:"));
    assert!(
        text.contains(&format!(
            "Signed {digest} with key {fingerprint} ({}); signature at {}/acp/release:{sig_tag}\n",
            key.display(),
            registry.host()
        )),
        "{text}"
    );

    let out = ac(&[
        "adm",
        "release",
        "verify",
        &pinned,
        "--key",
        public.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    assert_eq!(
        stdout(&out),
        format!(
            "Verified ACP 4.4.0 at {pinned}\n  digest     {digest}\n  key        {fingerprint} ({})\n  \
             signature  {}/acp/release:{sig_tag}\n",
            public.display(),
            registry.host()
        )
    );

    // By tag, with the right key among others.
    let tagged = format!("{}/acp/release:4.4.0", registry.host());
    let out = ac(&[
        "adm",
        "release",
        "verify",
        &tagged,
        "--key",
        stranger.to_str().unwrap(),
        "--key",
        public.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);

    let out = ac(&[
        "adm",
        "release",
        "verify",
        &pinned,
        "--key",
        stranger.to_str().unwrap(),
    ]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: release bundle {pinned} has no valid signature")),
        "{err}"
    );
    assert!(err.contains("1 made with a key that is not trusted"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn an_unsigned_bundle_fails_verification_and_says_how_to_sign_it() {
    let Some(registry) = Registry::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, public, _) = own_key(dir.path(), "release");
    let (pinned, _) = push(&registry, "acp/release", &[], &[]);
    let out = ac(&[
        "adm",
        "release",
        "verify",
        &pinned,
        "--key",
        public.to_str().unwrap(),
    ]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("release bundle {pinned} is not signed")),
        "{err}"
    );
    assert!(err.contains("ac adm release push --sign-key KEY"), "{err}");
}

#[test]
fn key_problems_are_named_before_anything_is_pushed() {
    let Some(registry) = Registry::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_, public, _) = own_key(dir.path(), "release");
    let to = format!("{}/acp/release", registry.host());
    let sample = sample();

    // A public key given as the signing key: refused, and the bundle was not pushed.
    let out = ac(&[
        "adm",
        "release",
        "push",
        "--file",
        &sample,
        "--to",
        &to,
        "--sign-key",
        public.to_str().unwrap(),
    ]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(&format!("error: {} holds a PUBLIC KEY block", public.display())),
        "{}",
        stderr(&out)
    );
    let out = ac(&["adm", "release", "show", &format!("{to}:4.4.0")]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));

    // verify needs a key.
    let out = ac(&["adm", "release", "verify", &format!("{to}:4.4.0")]);
    assert_exit(&out, 2);
    let missing = dir.path().join("absent.pub");
    let out = ac(&[
        "adm",
        "release",
        "verify",
        &format!("{to}:4.4.0"),
        "--key",
        missing.to_str().unwrap(),
    ]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(&format!("cannot read public key {}", missing.display())),
        "{}",
        stderr(&out)
    );
}

// --- interoperability with the real cosign ---

/// target/tools/cosign (`bash scripts/tools.sh cosign`), or `None` after saying so loudly; in CI its
/// absence fails the test.
fn cosign() -> Option<PathBuf> {
    let path = repo().join("target/tools/cosign");
    if path.is_file() {
        return Some(path);
    }
    let message = format!(
        "{} is missing, so the cosign interoperability test cannot run; build it with `bash scripts/tools.sh cosign`",
        path.display()
    );
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("{message}");
    }
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "\n!!!!! SKIPPED: {message} !!!!!\n");
    None
}

fn run_cosign(cosign: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(cosign)
        .args(args)
        .current_dir(dir)
        .env("COSIGN_PASSWORD", PASSWORD)
        // No sigstore trust root, transparency log or home-directory state: keys only.
        .env("HOME", dir)
        .env("TUF_ROOT", dir.join("tuf"))
        .env("DOCKER_CONFIG", dir)
        .output()
        .unwrap()
}

#[track_caller]
fn assert_cosign_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cosign_and_ac_verify_each_others_signatures() {
    let Some(cosign) = cosign() else { return };
    let Some(registry) = Registry::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = run_cosign(&cosign, dir.path(), &["generate-key-pair"]);
    assert_cosign_ok(&out, "cosign generate-key-pair");
    let (key, public) = (dir.path().join("cosign.key"), dir.path().join("cosign.pub"));

    // cosign signs what ac pushed; ac verifies it.
    let (by_cosign, _) = push(&registry, "acp/release", &[], &[]);
    let out = run_cosign(
        &cosign,
        dir.path(),
        &[
            "sign",
            "--key",
            key.to_str().unwrap(),
            "--tlog-upload=false",
            "--yes",
            &by_cosign,
        ],
    );
    assert_cosign_ok(&out, "cosign sign");
    let out = ac(&[
        "adm",
        "release",
        "verify",
        &by_cosign,
        "--key",
        public.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with(&format!("Verified ACP 4.4.0 at {by_cosign}\n")),
        "{}",
        stdout(&out)
    );

    // ac signs with cosign's own encrypted key (password from COSIGN_PASSWORD); cosign verifies it.
    let (by_ac, _) = push(
        &registry,
        "acp/signed",
        &["--sign-key", key.to_str().unwrap()],
        &[("COSIGN_PASSWORD", PASSWORD)],
    );
    let out = run_cosign(
        &cosign,
        dir.path(),
        &[
            "verify",
            "--key",
            public.to_str().unwrap(),
            "--insecure-ignore-tlog=true",
            &by_ac,
        ],
    );
    assert_cosign_ok(&out, "cosign verify");
    let payloads: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = by_ac.split('@').nth(1).unwrap();
    assert_eq!(payloads[0]["critical"]["image"]["docker-manifest-digest"], digest);

    // And cosign refuses what nobody signed, so the check above is a real one.
    let (unsigned, _) = push(&registry, "acp/unsigned", &[], &[]);
    let out = run_cosign(
        &cosign,
        dir.path(),
        &[
            "verify",
            "--key",
            public.to_str().unwrap(),
            "--insecure-ignore-tlog=true",
            &unsigned,
        ],
    );
    assert!(!out.status.success(), "cosign verified an unsigned bundle");
}
