//! Measures what the operator's client for one managed cluster costs in resident memory.
//!
//!     export ACP_HARNESS_BIN=/work/main/target/harness/bin
//!     cargo run -p acp-e2e --example client_memory [-- CLIENTS]
//!
//! Starts one API server (etcd + kube-apiserver) and builds CLIENTS (default 1,000) clients from its
//! kubeconfig the way the operator does (`Accepted::client`), then makes one call through each (which
//! leaves an idle connection in each client's pool), printing the VmRSS growth per client after each step.
//! Then it drops them all and does the same again: what the second round adds shows whether memory of
//! dropped clients is reused (the allocator keeps it mapped, so RSS never shrinks).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use acp_testkit::{ClusterSpec, TestEnv};

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn per_client(label: &str, before: u64, after: u64, clients: usize) {
    let kib = after.saturating_sub(before) as f64 / clients as f64;
    println!("{label:<52} {kib:>6.1} KiB per client (RSS {before} -> {after} KiB)");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clients: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse().expect("CLIENTS is a number"))
        .unwrap_or(1000);
    let env = TestEnv::start([ClusterSpec::new("a", "1.34")
        .controller_manager(false)
        .scheduler(false)])
    .await
    .expect("an API server starts (is ACP_HARNESS_BIN set?)");
    let yaml = env.cluster("a").kubeconfig_yaml().to_owned();
    println!("kubeconfig: {} bytes", yaml.len());
    let accepted = acp_api::kubeconfig::validate(yaml.as_bytes(), Default::default()).unwrap();
    let timeout = Duration::from_secs(10);

    for round in ["first round", "after dropping the first"] {
        let start = rss_kib();
        let built: Vec<kube::Client> = (0..clients).map(|_| accepted.client(timeout).unwrap()).collect();
        per_client(&format!("{round}: built"), start, rss_kib(), clients);
        for client in &built {
            client.apiserver_version().await.unwrap();
        }
        per_client(
            &format!("{round}: built + one call (idle connection)"),
            start,
            rss_kib(),
            clients,
        );
        drop(built);
        // Connections close on their own tasks once their client is gone.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
