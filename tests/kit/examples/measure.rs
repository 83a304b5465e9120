//! Measures what a local cluster costs: start-to-ready time and resident memory per component.
//!
//!     cargo run -p acp-testkit --example measure [-- SETTLE_SECONDS]
//!
//! Starts the three-cluster topology at once (time to all ready), then one cluster with only etcd +
//! kube-apiserver, one with every component and one on the Kubernetes 1.30 build, lets each settle, and prints
//! its start time and the VmRSS (from /proc/<pid>/status) of each process.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use acp_testkit::{Cluster, ClusterSpec, TestEnv};

const COMPONENTS: [&str; 5] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
];

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let settle: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    acp_testkit::harness_bin_dir().unwrap();
    let started = Instant::now();
    let env = TestEnv::start([
        ClusterSpec::new("global", "1.34"),
        ClusterSpec::new("workload-1", "1.31").with_workloads(),
        ClusterSpec::new("workload-2", "1.33").with_workloads(),
    ])
    .await
    .unwrap();
    println!(
        "global + two workload clusters (with controllers) started at once: all ready in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    drop(env);
    for (label, spec) in [
        ("apiserver only", ClusterSpec::new("bare", "1.33")),
        (
            "with controllers, scheduler, kwok",
            ClusterSpec::new("full", "1.33").with_workloads(),
        ),
        (
            "Kubernetes 1.30 build, apiserver only",
            ClusterSpec::new("old", "1.30"),
        ),
    ] {
        let started = Instant::now();
        let cluster = match Cluster::start(spec, None).await {
            Ok(c) => c,
            Err(e) => {
                println!("{label}: failed to start: {e}");
                continue;
            }
        };
        let ready = started.elapsed();
        tokio::time::sleep(Duration::from_secs(settle)).await;
        let mut total = 0.0;
        let mut parts = Vec::new();
        for c in COMPONENTS {
            if let Some(mib) = cluster.component_pid(c).and_then(rss_mib) {
                total += mib;
                parts.push(format!("{c} {mib:.0} MiB"));
            }
        }
        println!(
            "{label}: ready in {:.2} s; after {settle} s RSS {total:.0} MiB ({})",
            ready.as_secs_f64(),
            parts.join(", ")
        );
    }
}
