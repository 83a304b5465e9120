//! Child processes that belong to a test: each runs in its own process group, logs to a file, and is killed
//! (with everything it started) when the handle is dropped — also when the test panics.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// Environment variable the harness binaries read to exit when the test process is gone.
pub(crate) const PARENT_PID_ENV: &str = "ACP_HARNESS_PARENT_PID";

/// Lines of log printed when a process is dropped while its test panics.
const PANIC_LOG_LINES: usize = 40;

/// What to run: program, arguments, environment and working directory.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    current_dir: Option<PathBuf>,
}

impl ProcessSpec {
    /// A process running `program`; its name (used in messages) is the program's file name.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        let program = program.into();
        let name = program.file_name().map_or_else(
            || program.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        ProcessSpec {
            name,
            program,
            args: Vec::new(),
            env: Vec::new(),
            current_dir: None,
        }
    }

    /// Names the process in messages and log headers.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable (the rest of the test's environment is inherited).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Sets the working directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// The process's name.
    pub fn process_name(&self) -> &str {
        &self.name
    }

    /// The program's arguments.
    pub fn arguments(&self) -> &[OsString] {
        &self.args
    }

    fn command_line(&self) -> String {
        let mut line = self.program.display().to_string();
        for a in &self.args {
            line.push(' ');
            line.push_str(&a.to_string_lossy());
        }
        line
    }
}

/// A running (or stopped) child process owned by a test.
///
/// - It runs in its own process group; [`kill`](Self::kill), [`terminate`](Self::terminate) and `Drop`
///   signal the whole group, so whatever it started goes too, and nothing else is touched.
/// - Its stdout and stderr go to a log file ([`log_path`](Self::log_path)); restarts append to it.
/// - Dropped while the test panics, it prints the tail of its log to stderr, which the test harness shows
///   with the failure.
#[derive(Debug)]
pub struct ChildProcess {
    spec: Mutex<ProcessSpec>,
    log_path: PathBuf,
    child: Mutex<Option<Child>>,
}

impl ChildProcess {
    /// Starts `spec` with output appended to `log_path` (its directory is created).
    pub fn spawn(spec: ProcessSpec, log_path: impl Into<PathBuf>) -> Result<Self> {
        let log_path = log_path.into();
        let child = start(&spec, &log_path)?;
        Ok(ChildProcess {
            spec: Mutex::new(spec),
            log_path,
            child: Mutex::new(Some(child)),
        })
    }

    /// The process's name.
    pub fn name(&self) -> String {
        lock(&self.spec).name.clone()
    }

    /// Process id while running.
    pub fn pid(&self) -> Option<u32> {
        let mut guard = lock(&self.child);
        let child = guard.as_mut()?;
        match child.try_wait() {
            Ok(None) => Some(child.id()),
            _ => None,
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        self.pid().is_some()
    }

    /// The exit status once the process has ended (`None` while running or never reaped).
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let mut guard = lock(&self.child);
        guard.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Sends SIGKILL to the process group and reaps the process. Does nothing if it already ended.
    pub fn kill(&self) {
        let mut guard = lock(&self.child);
        if let Some(child) = guard.as_mut() {
            kill_group(child, Signal::SIGKILL);
            let _ = child.wait();
        }
    }

    /// Sends SIGTERM to the process group and waits up to `grace` for the process to end, then SIGKILLs the
    /// group. Returns the exit status.
    pub async fn terminate(&self, grace: Duration) -> Option<ExitStatus> {
        {
            let mut guard = lock(&self.child);
            let child = guard.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            kill_group(child, Signal::SIGTERM);
        }
        let start = Instant::now();
        while start.elapsed() < grace {
            if let Some(status) = self.exit_status() {
                // Children of the process may outlive it; the group goes with it.
                self.kill();
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill();
        self.exit_status()
    }

    /// Kills the process if it runs and starts it again with the same spec, appending to the same log.
    pub fn restart(&self) -> Result<()> {
        let spec = lock(&self.spec).clone();
        self.restart_with(spec)
    }

    /// Kills the process if it runs and starts `spec` in its place, appending to the same log.
    pub fn restart_with(&self, spec: ProcessSpec) -> Result<()> {
        self.kill();
        let child = start(&spec, &self.log_path)?;
        *lock(&self.child) = Some(child);
        *lock(&self.spec) = spec;
        Ok(())
    }

    /// The spec the process was last started with.
    pub fn spec(&self) -> ProcessSpec {
        lock(&self.spec).clone()
    }

    /// Path of the log file holding stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The whole log so far (lossy UTF-8).
    pub fn logs(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.logs(), lines)
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let name = lock(&self.spec).name.clone();
            eprintln!(
                "----- last {PANIC_LOG_LINES} lines of {name} ({}) -----\n{}\n----- end of {name} -----",
                self.log_path.display(),
                self.log_tail(PANIC_LOG_LINES)
            );
        }
    }
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the data usable: it is only process bookkeeping.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn kill_group(child: &Child, signal: Signal) {
    // The child leads its own group (process_group(0)), so its pid is the group id.
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    let _ = killpg(Pid::from_raw(pid), signal);
}

fn start(spec: &ProcessSpec, log_path: &Path) -> Result<Child> {
    if let Some(dir) = log_path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("create log directory {}", dir.display()), e))?;
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| Error::io(format!("open log file {}", log_path.display()), e))?;
    let since_epoch = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let _ = writeln!(
        log,
        "===== starting {} at unix time {since_epoch}: {}",
        spec.name,
        spec.command_line()
    );
    let stderr: File = log
        .try_clone()
        .map_err(|e| Error::io(format!("reopen log file {}", log_path.display()), e))?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env(PARENT_PID_ENV, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .process_group(0);
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    if let Some(dir) = &spec.current_dir {
        cmd.current_dir(dir);
    }
    cmd.spawn()
        .map_err(|e| Error::io(format!("start {} ({})", spec.name, spec.program.display()), e))
}
