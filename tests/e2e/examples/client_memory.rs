//! Measures what the operator's client for one managed cluster costs in resident memory.
//!
//!     export ACP_HARNESS_BIN=/work/main/target/harness/bin
//!     cargo run -p acp-e2e --example client_memory [-- CLIENTS]
//!
//! Starts one API server (etcd + kube-apiserver), builds CLIENTS (default 1,000) clients from its
//! kubeconfig the way the operator does, then makes one call through each (which leaves an idle
//! connection in each client's pool), and prints the VmRSS growth per client after each step.
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
    println!("{label:<48} {:>8.1} KiB per client (RSS {before} -> {after} KiB)", kib);
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
    let accepted = acp_api::kubeconfig::validate(yaml.as_bytes(), Default::default()).unwrap();
    let timeout = Duration::from_secs(10);

    for label in ["kube::Client::try_from"] {
        let start = rss_kib();
        let built: Vec<kube::Client> = (0..clients)
            .map(|_| accepted.client(timeout).unwrap())
            .collect();
        let after_build = rss_kib();
        per_client(&format!("{label}: built"), start, after_build, clients);
        for client in &built {
            client.apiserver_version().await.unwrap();
        }
        let after_call = rss_kib();
        per_client(
            &format!("{label}: + one call each (idle connection)"),
            start,
            after_call,
            clients,
        );
        drop(built);
        tokio::time::sleep(Duration::from_secs(1)).await;
        println!("{label}: after dropping them RSS {} KiB", rss_kib());
    }
}
