//! Freezing a large `Rc` graph three times, for profilers:
//! `target/release/examples/freezeprof N ring|held|tangle [hand|graph] [seq]`.
//!
//! With `hand`, each freeze follows the hand-written equivalent (walking the graph
//! breadth-first into a `norm::Graph`, then normalizing it and taking the root's form); with
//! `graph`, it follows normalizing the same graph built as a `norm::Graph` (one node per `Rc`,
//! as the freeze bench's baseline) and taking the root's form; each timed in the same process:
//! on a noisy machine, a fairer comparison than two runs.
//!
//! `ring`: a ring held by its first node only (every other `Rc` is pointed to once);
//! `held`: the same ring with every node also held in a `Vec` (every `Rc` shared);
//! `tangle`: three pointers a node, anywhere, every node held.
//!
//! With `seq`, a node freezes its pointers through `Freezer::seq` (an iterator), as the
//! `freeze` bench's node does, not as a `Vec` part.

#![allow(missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rustc_hash::FxHashMap;
use steadfast::norm::{freeze, Error, Freeze, Freezer, Graph, Label};

struct Node {
    value: u32,
    next: RefCell<Vec<Rc<Node>>>,
}

/// Whether a node freezes its pointers through `Freezer::seq`.
static SEQ: AtomicBool = AtomicBool::new(false);

impl Freeze for Node {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        if SEQ.load(Ordering::Relaxed) {
            let next = self.next.borrow();
            let next = f.seq(Label::Seq, next.iter())?;
            return f.node(Label::Struct("Node"), &[&self.value, &Part(next)]);
        }
        f.node(Label::Struct("Node"), &[&self.value, &self.next])
    }
}

/// A node already frozen, as a part.
struct Part(usize);

impl Freeze for Part {
    fn freeze(&self, _: &mut Freezer) -> Result<usize, Error> {
        Ok(self.0)
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "seq") {
        args.remove(at);
        SEQ.store(true, Ordering::Relaxed);
    }
    let mut args = args.into_iter();
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let shape = args.next().unwrap_or_else(|| "ring".into());
    let against = args.next();
    let by_hand = against.as_deref() == Some("hand");
    let by_graph = against.as_deref() == Some("graph");
    let mut xorshift = steadfast_benches::xorshift();
    let mut random = move || (xorshift() % n as u64) as usize;
    let mut nodes: Vec<Rc<Node>> = (0..n)
        .map(|i| {
            Rc::new(Node {
                value: (i % 7) as u32,
                next: RefCell::default(),
            })
        })
        .collect();
    let mut graph = Graph::new();
    for (i, node) in nodes.iter().enumerate() {
        let next: Vec<usize> = match shape.as_str() {
            "tangle" => vec![random(), random(), random()],
            _ => vec![(i + 1) % n],
        };
        graph.add_node(node.value, next.iter().copied());
        *node.next.borrow_mut() = next.into_iter().map(|k| nodes[k].clone()).collect();
    }
    if shape == "ring" {
        nodes.truncate(1);
    }
    for _ in 0..3 {
        if by_hand {
            let t = Instant::now();
            let graph = walk(&nodes[0]);
            let walked = t.elapsed();
            let form = graph.normalize().unwrap().canonical(0);
            eprintln!(
                "by hand: {} nodes in {:?} (walk {walked:?})",
                form.len(),
                t.elapsed()
            );
        }
        if by_graph {
            let t = Instant::now();
            let form = graph.normalize().unwrap().canonical(0);
            eprintln!("norm::Graph: {} nodes in {:?}", form.len(), t.elapsed());
        }
        let t = Instant::now();
        let form = freeze(&nodes[0]).unwrap();
        eprintln!("{shape}: {} nodes in {:?}", form.len(), t.elapsed());
    }
    // Unlinked first: dropping a ring a million long would recurse as deep.
    while let Some(node) = nodes.pop() {
        nodes.append(&mut node.next.borrow_mut());
    }
}

/// The hand-written walk: each `Rc` numbered by address on first sight, breadth-first.
fn walk(root: &Rc<Node>) -> Graph<u32> {
    let address = |node: &Rc<Node>| Rc::as_ptr(node) as usize;
    let mut number = FxHashMap::default();
    number.insert(address(root), 0usize);
    let mut order = vec![root.clone()];
    let mut graph = Graph::new();
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
        graph.add_node(node.value, kids.iter().copied());
        at += 1;
    }
    graph
}
