//! Normalization of large immutable graphs with many cycles: time by size, to show
//! O(n log n) growth, and the 1,000,000-node figure against its target (under 1 s).
//!
//! `cargo bench -p steadfast-benches --bench norm` (full), `-- --quick` for CI.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use steadfast::norm::Graph;

/// A deterministic pseudo-random graph: `n` nodes, labels in `0..4`, two children each,
/// uniformly anywhere (so the graph is one big tangle of cycles). Every eighth node is
/// instead a copy of the node eight places before it (same label, children shifted by
/// eight), so that many nodes are equal and the refinement has real merging to find.
fn tangle(n: usize) -> Graph<u8> {
    let mut next = steadfast_benches::xorshift();
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

/// What frozen object graphs tend to look like: many small structures allocated together.
/// Rings of 10 nodes (labels from a ring number in `0..64`, so equal rings recur), each node
/// also pointing at a node of a ring nearby, and one node in 64 closing a longer cycle.
fn rings(n: usize) -> Graph<u8> {
    let mut g = Graph::new();
    for i in 0..n {
        let ring = i / 10;
        let start = ring * 10;
        let len = (n - start).min(10);
        let next = start + (i - start + 1) % len;
        let near = (i + 10 * (1 + ring % 3)) % n;
        let label = ((ring % 64) as u8) ^ ((i - start) as u8);
        if i % 64 == 0 {
            g.add_node(label, [next, near, (i + n / 2) % n]);
        } else {
            g.add_node(label, [next, near]);
        }
    }
    g
}

fn normalize(c: &mut Criterion) {
    for (name, make) in [
        ("normalize rings", rings as fn(usize) -> Graph<u8>),
        ("normalize random tangle", tangle),
    ] {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        for n in [10_000, 100_000, 1_000_000] {
            let g = make(n);
            group.bench_with_input(BenchmarkId::from_parameter(n), &g, |b, g| {
                b.iter(|| black_box(g.normalize().unwrap().classes()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, normalize);
criterion_main!(benches);
