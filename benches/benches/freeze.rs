//! Freezing large `Rc` graphs (`steadfast::norm::freeze`), in one run against:
//!
//! - the hand-written equivalent: walking the `Rc` graph by hand into a `norm::Graph` (one
//!   node per `Rc`, numbered by address in an `FxHashMap`, labelled by its data, its
//!   pointers as children), then normalizing it and taking the root's form;
//! - normalizing that `norm::Graph` alone, built from the graph's shape without a walk
//!   (the graph `freeze` builds has the same shape: a node's data is drawn into its label,
//!   its pointers into its node, a set of them makes it a set node).
//!
//! Targets (issue 22): a 1,000,000-node `Rc` graph in under 1 s, and within 2× of the
//! `norm::Graph`. The ring is held by its first node only (every other `Rc` is pointed to
//! once), and again with every node also held in a `Vec` (every `Rc` shared, as in the
//! tangles).
//!
//! `cargo bench -p steadfast-benches --bench freeze` (full); CI runs `-- --quick` with
//! `STEADFAST_FREEZE_NODES=100000`.

#![allow(missing_docs)]

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rustc_hash::FxHashMap;
use steadfast::norm::{freeze, Error, Freeze, Freezer, Graph, Label};

/// A node of an `Rc` graph: its data and its pointers, in order or as a set.
struct Node {
    data: u8,
    set: bool,
    next: RefCell<Vec<Rc<Node>>>,
}

impl Freeze for Node {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        let next = self.next.borrow();
        let next = match self.set {
            true => f.set(Label::Set, next.iter())?,
            false => f.seq(Label::Seq, next.iter())?,
        };
        f.node(Label::Struct("Node"), &[&self.data, &Part(next)])
    }
}

/// A node already frozen, as a part.
struct Part(usize);

impl Freeze for Part {
    fn freeze(&self, _: &mut Freezer) -> Result<usize, Error> {
        Ok(self.0)
    }
}

/// A graph's shape: each node's data, whether it is a set, and its pointers.
type Shape = Vec<(u8, bool, Vec<usize>)>;

/// A ring: node i points to i + 1; its data `i % 7` (with 1,000,000 nodes no two are equal,
/// and telling them apart takes the whole ring).
fn ring(n: usize) -> Shape {
    (0..n)
        .map(|i| ((i % 7) as u8, false, vec![(i + 1) % n]))
        .collect()
}

/// A tangle: three pointers anywhere (xorshift), data in `0..4`; every eighth node a copy of
/// the one eight before (so that there are equal nodes to merge), and with `sets`, every
/// other node's pointers a set.
fn tangle(n: usize, sets: bool) -> Shape {
    let mut random = steadfast_benches::xorshift();
    let mut next = move || (random() % n as u64) as usize;
    let mut shape: Shape = Vec::with_capacity(n);
    for i in 0..n {
        if i >= 8 && i % 8 == 0 {
            let (data, set, kids) = shape[i - 8].clone();
            shape.push((data, set, kids.iter().map(|k| (k + 8) % n).collect()));
        } else {
            let data = (next() % 4) as u8;
            shape.push((data, sets && i % 2 == 1, vec![next(), next(), next()]));
        }
    }
    shape
}

fn build(shape: &Shape) -> Vec<Rc<Node>> {
    let nodes: Vec<Rc<Node>> = shape
        .iter()
        .map(|&(data, set, _)| {
            Rc::new(Node {
                data,
                set,
                next: RefCell::default(),
            })
        })
        .collect();
    for (node, (_, _, kids)) in nodes.iter().zip(shape) {
        *node.next.borrow_mut() = kids.iter().map(|&k| nodes[k].clone()).collect();
    }
    nodes
}

/// The hand-written walk: from `root`, each `Rc` numbered by address on first sight, into
/// one node per `Rc` (what a user would write to normalize an `Rc` graph without `freeze`).
fn walk(root: &Rc<Node>) -> Graph<u8> {
    let address = |node: &Rc<Node>| Rc::as_ptr(node) as usize;
    let mut number = FxHashMap::default();
    number.insert(address(root), 0usize);
    let mut order = vec![root.clone()];
    let mut g = Graph::new();
    let mut kids = Vec::new();
    let mut at = 0;
    while let Some(node) = order.get(at).cloned() {
        kids.clear();
        for next in node.next.borrow().iter() {
            let fresh = order.len();
            let kid = *number.entry(address(next)).or_insert(fresh);
            if kid == fresh {
                order.push(next.clone());
            }
            kids.push(kid);
        }
        match node.set {
            true => g.add_set_node(node.data, kids.iter().copied()),
            false => g.add_node(node.data, kids.iter().copied()),
        };
        at += 1;
    }
    g
}

/// The same graph by hand: one node per `Rc`.
fn graph(shape: &Shape) -> Graph<u8> {
    let mut g = Graph::new();
    for (data, set, kids) in shape {
        match set {
            true => g.add_set_node(*data, kids.iter().copied()),
            false => g.add_node(*data, kids.iter().copied()),
        };
    }
    g
}

fn bench(c: &mut Criterion) {
    // CI runs it smaller: `STEADFAST_FREEZE_NODES=100000`.
    let n: usize = std::env::var("STEADFAST_FREEZE_NODES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    for (name, shape, held) in [
        ("ring", ring(n), false),
        ("ring, every node held", ring(n), true),
        ("tangle", tangle(n, false), true),
        ("tangle with sets", tangle(n, true), true),
    ] {
        let mut group = c.benchmark_group(format!("freeze {n} {name}"));
        group.sample_size(10);
        let mut nodes = build(&shape);
        if !held {
            nodes.truncate(1);
        }
        let root = &nodes[0];
        group.bench_function(BenchmarkId::from_parameter("Rc graph, norm::freeze"), |b| {
            b.iter(|| black_box(freeze(root).unwrap().len()))
        });
        group.bench_function(
            BenchmarkId::from_parameter("Rc graph, walked by hand, normalize + canonical"),
            |b| b.iter(|| black_box(walk(root).normalize().unwrap().canonical(0).len())),
        );
        let g = graph(&shape);
        group.bench_function(
            BenchmarkId::from_parameter("norm::Graph, normalize + canonical"),
            |b| b.iter(|| black_box(g.normalize().unwrap().canonical(0).len())),
        );
        group.finish();
        unlink(nodes);
    }
}

/// Frees an `Rc` graph, cycles included, without a drop as deep as the graph.
fn unlink(mut nodes: Vec<Rc<Node>>) {
    while let Some(node) = nodes.pop() {
        nodes.append(&mut node.next.borrow_mut());
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
