//! global_gate over a fleet of 10,000 workload clusters, the size the operator must handle on
//! every reconcile of the `global` cluster.

use std::hint::black_box;

use acp_policy::{AcpVersion, Catalogue, KubeVersion, Provisioning, WorkloadCluster, global_gate};
use criterion::{Criterion, criterion_group, criterion_main};

fn fleet(size: usize, offenders: usize) -> Vec<WorkloadCluster> {
    (0..size)
        .map(|i| {
            let (minor, provisioning) = match i % 5 {
                4 => (30 + (i % 5) as u32, Provisioning::ThirdParty),
                n => (31 + n as u32, Provisioning::PlatformManaged),
            };
            let minor = if i < offenders { 29 } else { minor };
            WorkloadCluster::new(
                format!("edge-{i:05}"),
                KubeVersion::new(1, minor, 3),
                provisioning,
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let catalogue = Catalogue::builtin();
    let current = AcpVersion::new(4, 2, 5);
    let target = AcpVersion::new(4, 3, 1);
    let ok = fleet(10_000, 0);
    let blocked = fleet(10_000, 1_000);
    assert!(global_gate(&catalogue, &current, &target, &ok).passed());
    assert!(global_gate(&catalogue, &current, &target, &blocked).is_refused());

    c.bench_function("global_gate 10k clusters, all accepted", |b| {
        b.iter(|| global_gate(black_box(&catalogue), &current, &target, black_box(&ok)))
    });
    c.bench_function("global_gate 10k clusters, 1k refused", |b| {
        b.iter(|| global_gate(black_box(&catalogue), &current, &target, black_box(&blocked)))
    });
    let from_41 = AcpVersion::new(4, 1, 5);
    let to_42 = AcpVersion::new(4, 2, 5);
    c.bench_function("global_gate 10k clusters, latest-required rule", |b| {
        b.iter(|| global_gate(black_box(&catalogue), &from_41, &to_42, black_box(&ok)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
