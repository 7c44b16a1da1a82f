//! Normalization of large immutable graphs with many cycles: time by size, to show
//! O(n log n) growth, and the 1,000,000-node figure against its target (under 1 s).
//!
//! `cargo bench --bench norm` (full) or `cargo bench --bench norm -- --quick` (CI).

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use steadfast::norm::Graph;

/// A deterministic pseudo-random graph: `n` nodes, labels in `0..4`, two children each,
/// uniformly anywhere (so the graph is one big tangle of cycles). Every eighth node is
/// instead a copy of the node eight places before it (same label, children shifted by
/// eight), so that many nodes are equal and the refinement has real merging to find.
fn tangle(n: usize) -> Graph<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut nodes: Vec<(u8, [usize; 2])> = Vec::with_capacity(n);
    for i in 0..n {
        if i >= 8 && i % 8 == 0 {
            let (label, [a, b]) = nodes[i - 8];
            nodes.push((label, [(a + 8) % n, (b + 8) % n]));
        } else {
            let r = next();
            nodes.push((
                (r % 4) as u8,
                [(next() % n as u64) as usize, (next() % n as u64) as usize],
            ));
        }
    }
    let mut g = Graph::new();
    for (label, children) in nodes {
        g.add_node(label, children);
    }
    g
}

fn normalize(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize");
    group.sample_size(10);
    for n in [10_000, 100_000, 1_000_000] {
        let g = tangle(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &g, |b, g| {
            b.iter(|| black_box(g.normalize().unwrap().classes()))
        });
    }
    group.finish();
}

criterion_group!(benches, normalize);
criterion_main!(benches);
