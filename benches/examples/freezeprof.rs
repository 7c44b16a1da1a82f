//! Freezing a large `Rc` graph three times, for profilers:
//! `target/release/examples/freezeprof N ring|held|tangle`.
//!
//! `ring`: a ring held by its first node only (every other `Rc` is pointed to once);
//! `held`: the same ring with every node also held in a `Vec` (every `Rc` shared);
//! `tangle`: three pointers a node, anywhere, every node held.

#![allow(missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use steadfast::norm::{freeze, Error, Freeze, Freezer, Label};

struct Node {
    value: u32,
    next: RefCell<Vec<Rc<Node>>>,
}

impl Freeze for Node {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Node"), &[&self.value, &self.next])
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let shape = args.next().unwrap_or_else(|| "ring".into());
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
    for (i, node) in nodes.iter().enumerate() {
        let next: Vec<usize> = match shape.as_str() {
            "tangle" => vec![random(), random(), random()],
            _ => vec![(i + 1) % n],
        };
        *node.next.borrow_mut() = next.into_iter().map(|k| nodes[k].clone()).collect();
    }
    if shape == "ring" {
        nodes.truncate(1);
    }
    for _ in 0..3 {
        let t = Instant::now();
        let form = freeze(&nodes[0]).unwrap();
        eprintln!("{shape}: {} nodes in {:?}", form.len(), t.elapsed());
    }
    // Unlinked first: dropping a ring a million long would recurse as deep.
    while let Some(node) = nodes.pop() {
        nodes.append(&mut node.next.borrow_mut());
    }
}
