//! A real OCI registry (Debian's `docker-registry`, the CNCF distribution registry) on loopback,
//! one process per test, removed when the handle drops.
//!
//! Without the binary the tests skip loudly on a developer machine and fail in CI (`CI` set):
//! `apt-get install -y docker-registry`.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a registry may take to answer `GET /v2/` after it is started.
const START_DEADLINE: Duration = Duration::from_secs(30);
const BINARY: &str = "docker-registry";

pub struct Registry {
    child: Child,
    host: String,
    dir: tempfile::TempDir,
    tls: bool,
}

#[derive(Default)]
struct Options {
    basic_auth: Option<(String, String)>,
    /// Certificate and key, PEM.
    tls: Option<(String, String)>,
}

impl Registry {
    /// An anonymous registry, or `None` when the test must be skipped.
    pub fn start() -> Option<Registry> {
        Registry::launch(Options::default())
    }

    /// A registry that demands HTTP basic authentication with these credentials.
    pub fn start_with_basic_auth(username: &str, password: &str) -> Option<Registry> {
        Registry::launch(Options {
            basic_auth: Some((username.to_owned(), password.to_owned())),
            ..Options::default()
        })
    }

    /// A registry serving HTTPS with this certificate and key (PEM).
    pub fn start_with_tls(certificate: &str, key: &str) -> Option<Registry> {
        Registry::launch(Options {
            tls: Some((certificate.to_owned(), key.to_owned())),
            ..Options::default()
        })
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        &self.host
    }

    fn launch(options: Options) -> Option<Registry> {
        let binary = find_binary()?;
        let mut last_failure = String::new();
        // A free port can be taken between choosing it and the registry binding it; retry then.
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = write_config(dir.path(), &host, &options);
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new(&binary)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut registry = Registry {
                child,
                host,
                dir,
                tls: options.tls.is_some(),
            };
            match registry.wait_until_serving() {
                Ok(()) => return Some(registry),
                Err(failure) => last_failure = failure,
            }
        }
        panic!("the test registry did not start: {last_failure}");
    }

    fn wait_until_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("{BINARY} exited with {status}:\n{}", self.log()));
            }
            // 200 when anonymous, 401 with htpasswd: either way it serves the API.
            if self.tls {
                // An HTTPS listener accepting connections is as far as a plain socket can tell.
                if TcpStream::connect(&self.host).is_ok() {
                    return Ok(());
                }
            } else if let Some(status) = http_status(&self.host, "/v2/")
                && (status == 200 || status == 401)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer on http://{}/v2/ within {START_DEADLINE:?}:\n{}",
                    self.host,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The registry binary, or `None` (after saying so loudly) when it is absent outside CI.
fn find_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(BINARY))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin").join(BINARY)])
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        let message = format!(
            "{BINARY} is not installed, so the registry tests cannot run; install it with \
             `apt-get install -y docker-registry` (scripts/install-prereqs.sh does)"
        );
        if ci {
            panic!("{message}");
        }
        // Straight to stderr: the test harness captures eprintln!, and a skip must be seen.
        let _ = writeln!(std::io::stderr(), "\n!!!!! SKIPPED: {message} !!!!!\n");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, host: &str, options: &Options) -> PathBuf {
    let storage = dir.join("data");
    std::fs::create_dir_all(&storage).unwrap();
    let tls_section = match &options.tls {
        Some((certificate, key)) => {
            std::fs::write(dir.join("tls.crt"), certificate).unwrap();
            std::fs::write(dir.join("tls.key"), key).unwrap();
            format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.join("tls.crt").display(),
                dir.join("tls.key").display()
            )
        }
        None => String::new(),
    };
    let auth_section = match &options.basic_auth {
        Some((username, password)) => {
            let hash = bcrypt::hash(password, 4).unwrap();
            let htpasswd = dir.join("htpasswd");
            std::fs::write(&htpasswd, format!("{username}:{hash}\n")).unwrap();
            format!(
                "auth:\n  htpasswd:\n    realm: acp-test\n    path: {}\n",
                htpasswd.display()
            )
        }
        None => String::new(),
    };
    let config = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {host}\n  secret: acp-test-only\n{tls_section}\
         {auth_section}",
        storage.display()
    );
    let path = dir.join("config.yml");
    std::fs::write(&path, config).unwrap();
    path
}

/// The status of a plain `GET`, or `None` while nothing answers.
fn http_status(host: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
