//! Immutable objects: a `lazy` hit against a hand-written `OnceLock` read, two expensive
//! `eager` caches computed on rayon's pool against computing them one after the other, and
//! freezing a graph of mutable objects (normalization included), its edges in order or in
//! sets of handles. `STEADFAST_FREEZE_OBJECTS` sets the graph's size (default 100,000).
//!
//! `cargo bench -p steadfast-benches --bench imm` (full), `-- --quick` for CI.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::OnceLock;

use std::collections::HashSet;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use steadfast::{cached, capsule, imm, mutable, Heap, Mutable};

#[imm]
struct Circle {
    radius: f64,
}

#[cached]
impl Circle {
    #[cache(lazy)]
    fn area(&self) -> f64 {
        std::f64::consts::PI * self.radius * self.radius
    }
}

/// The hand-written equivalent: the value next to a `OnceLock`.
struct HandCircle {
    radius: f64,
    area: OnceLock<f64>,
}

impl HandCircle {
    #[inline]
    fn area(&self) -> f64 {
        *self
            .area
            .get_or_init(|| std::f64::consts::PI * self.radius * self.radius)
    }
}

fn lazy_hit(c: &mut Criterion) {
    let mut g = c.benchmark_group("imm/lazy_hit");
    let hand = HandCircle {
        radius: 2.0,
        area: OnceLock::new(),
    };
    hand.area();
    g.bench_function("hand OnceLock::get_or_init", |b| {
        b.iter(|| black_box(&hand).area())
    });
    g.bench_function("hand OnceLock::get", |b| {
        b.iter(|| *black_box(&hand).area.get().unwrap())
    });
    let mut heap = Heap::new();
    let circle = heap.imm(Circle { radius: 2.0 }).unwrap();
    let view = heap.view(&circle).unwrap();
    view.cached(&Circle::AREA).unwrap();
    g.bench_function("steadfast view", |b| {
        b.iter(|| *black_box(&view).cached(&Circle::AREA).unwrap())
    });
    g.bench_function("steadfast heap.cached", |b| {
        b.iter(|| *heap.cached(black_box(&circle), &Circle::AREA).unwrap())
    });
    // An equal object shares the representative's cache: its own cell stays empty, so
    // through the heap each read goes to the representative; a view resolves it once.
    let mut heap2 = Heap::new();
    let first = heap2.imm(Circle { radius: 2.0 }).unwrap();
    let second = heap2.imm(Circle { radius: 2.0 }).unwrap();
    heap2.cached(&first, &Circle::AREA).unwrap();
    let shared = heap2.view(&second).unwrap();
    g.bench_function("steadfast view of an equal object", |b| {
        b.iter(|| *black_box(&shared).cached(&Circle::AREA).unwrap())
    });
    g.bench_function("steadfast heap.cached of an equal object", |b| {
        b.iter(|| *heap2.cached(black_box(&second), &Circle::AREA).unwrap())
    });
    g.finish();
}

/// About a millisecond of work that the optimizer cannot skip.
fn grind(seed: u64, salt: u64) -> u64 {
    let mut x = seed ^ salt;
    for _ in 0..400_000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x ^= x >> 29;
    }
    x
}

#[imm]
struct Job {
    seed: u64,
}

#[cached]
impl Job {
    #[cache(eager)]
    fn left(&self) -> u64 {
        grind(self.seed, 1)
    }

    #[cache(eager)]
    fn right(&self) -> u64 {
        grind(self.seed, 2)
    }
}

fn eager(c: &mut Criterion) {
    let mut g = c.benchmark_group("imm/eager_two_caches");
    g.sample_size(20);
    let mut seed = 0u64;
    g.bench_function("sequential", |b| {
        b.iter(|| {
            seed += 1;
            black_box(grind(seed, 1)) ^ black_box(grind(seed, 2))
        })
    });
    // Create (both caches start on the pool), then read both: the creator does not wait,
    // and the reads wait for the workers or do the work themselves.
    g.bench_function("steadfast eager on rayon", |b| {
        b.iter(|| {
            seed += 1;
            let mut heap = Heap::new();
            let job = heap.imm(Job { seed }).unwrap();
            *Job::left(&heap, &job).unwrap() ^ *Job::right(&heap, &job).unwrap()
        })
    });
    g.finish();
}

/// A node of the frozen graph, its edges in order.
#[mutable]
struct Node {
    label: u8,
    next: Vec<Mutable<Node>>,
}

#[cached]
impl Node {}

/// A node of the frozen graph, its edges in a set of handles.
#[mutable]
struct SetNode {
    label: u8,
    next: HashSet<Mutable<SetNode>>,
}

#[cached]
impl SetNode {}

#[capsule]
struct Owner {
    nodes: Vec<Mutable<Node>>,
}

#[cached]
impl Owner {}

#[capsule]
struct SetOwner {
    nodes: Vec<Mutable<SetNode>>,
}

#[cached]
impl SetOwner {}

/// Rings of 10 nodes (labels from the ring number modulo 64, so equal rings recur), each
/// node also pointing at a node of the next ring: two edges, given to `link` with the node.
fn graph<T: steadfast::Object>(
    n: usize,
    mut make: impl FnMut(&mut Heap, u8) -> Mutable<T>,
    mut link: impl FnMut(&mut Heap, &Mutable<T>, [Mutable<T>; 2]),
) -> (Heap, Vec<Mutable<T>>) {
    let mut heap = Heap::new();
    let nodes: Vec<Mutable<T>> = (0..n)
        .map(|i| make(&mut heap, ((i / 10) % 64) as u8 ^ (i % 10) as u8))
        .collect();
    for i in 0..n {
        let ring = i / 10 * 10;
        let next = nodes[ring + (i - ring + 1) % 10.min(n - ring)].clone();
        let near = nodes[(i + 10) % n].clone();
        link(&mut heap, &nodes[i], [next, near]);
    }
    (heap, nodes)
}

fn freeze(c: &mut Criterion) {
    let n: usize = std::env::var("STEADFAST_FREEZE_OBJECTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut g = c.benchmark_group(format!("imm/freeze_{n}"));
    g.sample_size(10);
    g.bench_function("edges in order", |b| {
        b.iter_batched(
            || {
                graph(
                    n,
                    |heap, label| {
                        heap.mutable(Node {
                            label,
                            next: Vec::new(),
                        })
                        .unwrap()
                    },
                    |heap, node, edges| Node::set_next(heap, node, edges.into()).unwrap(),
                )
            },
            |(mut heap, nodes)| {
                let owner = heap.capsule(Owner { nodes }).unwrap();
                black_box(heap.freeze(owner).unwrap());
                heap
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("edges in sets", |b| {
        b.iter_batched(
            || {
                graph(
                    n,
                    |heap, label| {
                        let node = SetNode {
                            label,
                            next: HashSet::new(),
                        };
                        heap.mutable(node).unwrap()
                    },
                    |heap, node, edges| SetNode::set_next(heap, node, edges.into()).unwrap(),
                )
            },
            |(mut heap, nodes)| {
                let owner = heap.capsule(SetOwner { nodes }).unwrap();
                black_box(heap.freeze(owner).unwrap());
                heap
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, lazy_hit, eager, freeze);
criterion_main!(benches);
