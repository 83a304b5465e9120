//! `ac console`: the web console on this machine, acting with the person's kubeconfig, or in bearer mode
//! (the in-cluster Deployment) with only each caller's bearer token.

use std::io::Write;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::Outcome;
use crate::connect::{self, ConnectionArgs};

/// How long one response of the API server may take; longer than a watch request lasts, so the
/// console's live pages are not cut off.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Whose credentials the console uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Auth {
    /// The kubeconfig's credentials (`--kubeconfig`, `--context`): for one person on their own machine.
    Kubeconfig,
    /// Only each caller's bearer token (an `Authorization: Bearer` header or the sign-in page); the server
    /// and CA come from the kubeconfig or, in a pod, the in-cluster config, whose credentials are dropped.
    Bearer,
}

/// Serve the web console: the fleet, each cluster, releases and rollouts, live in a browser.
#[derive(Debug, Clone, Args)]
pub struct ConsoleArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,

    /// Port to listen on (0: any free port; the URL printed says which).
    #[arg(long, default_value_t = 8443)]
    pub port: u16,

    /// Address to listen on. Anyone who reaches it acts with the kubeconfig's credentials unless
    /// `--auth bearer`, so keep the default unless that is what you want.
    #[arg(long, default_value = "127.0.0.1")]
    pub address: IpAddr,

    /// Open the console in the default browser.
    #[arg(long)]
    pub open: bool,

    /// Whose credentials requests to the API server carry.
    #[arg(long, value_enum, default_value_t = Auth::Kubeconfig)]
    pub auth: Auth,
}

pub async fn run(args: ConsoleArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let kubeconfig = args.connection.kubeconfig.as_deref();
    let context = args.connection.context.as_deref();
    let mode = match args.auth {
        Auth::Kubeconfig => {
            let (mut config, which) = connect::config(kubeconfig, context).await?;
            config.read_timeout = Some(READ_TIMEOUT);
            let client = kube::Client::try_from(config)
                .with_context(|| format!("cannot build a client from {which}"))?;
            acp_console::Mode::Kubeconfig(client)
        }
        Auth::Bearer => {
            let mut config = if kubeconfig.is_some() || context.is_some() {
                connect::config(kubeconfig, context).await?.0
            } else {
                kube::Config::infer()
                    .await
                    .context("cannot find the API server: run in a pod, or pass --kubeconfig FILE")?
            };
            config.read_timeout = Some(READ_TIMEOUT);
            acp_console::Mode::bearer(config)
        }
    };
    let listener = tokio::net::TcpListener::bind((args.address, args.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{}; pick another --port",
                args.address, args.port
            )
        })?;
    let bound = listener
        .local_addr()
        .context("cannot read the address the console listens on")?;
    let url = format!("http://{bound}/");
    writeln!(out, "Console: {url}")?;
    out.flush()?;
    if args.open {
        open_browser(&url);
    }
    let config = acp_console::Config {
        mode,
        namespace: args.connection.namespace.clone(),
    };
    acp_console::serve(config, listener)
        .await
        .context("the console stopped")?;
    Ok(Outcome::Success)
}

/// Best effort: a machine without a desktop still has the printed URL.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
