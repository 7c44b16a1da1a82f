//! What a walk of an `Rc` graph costs before any of `freeze`'s own work: a walk by hand,
//! and the same walk writing the tables `norm::Freezer` writes for each value, timed in one
//! process: `target/release/examples/walkcost [N]` (a tangle of N nodes, three pointers each,
//! every node held, as in `freezeprof N tangle`).
//!
//! - `by hand`: each `Rc` numbered by address on first sight, its clone queued, its value and
//!   its children's numbers written out (4 words a node);
//! - `with the freezer's tables`: the same walk, writing what the freezer writes — a 12-byte
//!   node for the struct and one for its `Vec`, their parts copied flat from a stack of parts
//!   being walked, a pointer number per value and its node once walked, a queue entry of
//!   (pointer, line) beside the queue of clones.
//!
//! The difference is the cost of the freezer's bookkeeping alone; `freezeprof N tangle hand`
//! gives the rest of `freeze`'s walk against the walk by hand.

#![allow(missing_docs)]

use std::cell::RefCell;
use std::collections::hash_map::Entry;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Instant;

use rustc_hash::FxHashMap;

struct Node {
    value: u32,
    next: RefCell<Vec<Rc<Node>>>,
}

fn address(node: &Rc<Node>) -> usize {
    Rc::as_ptr(node) as usize
}

/// The walk by hand: how many words it wrote.
fn by_hand(root: &Rc<Node>) -> usize {
    let mut number: FxHashMap<usize, u32> = FxHashMap::default();
    number.insert(address(root), 0);
    let mut line = VecDeque::from([root.clone()]);
    let mut out: Vec<u32> = Vec::new();
    while let Some(node) = line.pop_front() {
        out.push(node.value);
        for next in node.next.borrow().iter() {
            let fresh = u32::try_from(number.len()).expect("fewer than 2^32 nodes");
            match number.entry(address(next)) {
                Entry::Occupied(seen) => out.push(*seen.get()),
                Entry::Vacant(entry) => {
                    entry.insert(fresh);
                    out.push(fresh);
                    line.push_back(next.clone());
                }
            }
        }
    }
    out.len()
}

/// A node as the freezer keeps it: its label and its parts, `parts[start..][..len]`.
struct Made {
    label: u32,
    start: u32,
    len: u32,
}

/// The same walk, writing the freezer's tables: how many nodes and parts it wrote.
fn with_tables(root: &Rc<Node>) -> usize {
    const POINTER: u32 = 1 << 31;
    let mut number: FxHashMap<usize, u32> = FxHashMap::default();
    number.insert(address(root), 0);
    let mut line = VecDeque::from([root.clone()]);
    let mut waiting: VecDeque<(u32, u32)> = VecDeque::from([(0, 0)]);
    let mut pointees: Vec<u32> = vec![u32::MAX];
    let (mut nodes, mut parts, mut walking) = (Vec::<Made>::new(), Vec::new(), Vec::new());
    let close = |nodes: &mut Vec<Made>, parts: &mut Vec<u32>, walking: &mut Vec<u32>, from| {
        let node = nodes.len() - 1;
        let start = parts.len();
        parts.extend_from_slice(&walking[from..]);
        walking.truncate(from);
        nodes[node].start = u32::try_from(start).expect("fewer than 2^32 parts");
        nodes[node].len = u32::try_from(parts.len() - start).expect("fewer than 2^32 parts");
        u32::try_from(node).expect("fewer than 2^32 nodes")
    };
    while let Some((pointer, _line)) = waiting.pop_front() {
        let node = line.pop_front().expect("a queue entry has its clone");
        let from = walking.len();
        // The struct: its value a leaf, its `Vec` a node of pointers.
        walking.push(node.value);
        nodes.push(Made {
            label: 2,
            start: 0,
            len: 0,
        });
        let seq_from = walking.len();
        for next in node.next.borrow().iter() {
            let fresh = u32::try_from(pointees.len()).expect("fewer than 2^31 pointers");
            match number.entry(address(next)) {
                Entry::Occupied(seen) => walking.push(POINTER | *seen.get()),
                Entry::Vacant(entry) => {
                    entry.insert(fresh);
                    pointees.push(u32::MAX);
                    line.push_back(next.clone());
                    waiting.push_back((fresh, 0));
                    walking.push(POINTER | fresh);
                }
            }
        }
        let seq = close(&mut nodes, &mut parts, &mut walking, seq_from);
        walking.push(seq);
        nodes.push(Made {
            label: 11,
            start: 0,
            len: 0,
        });
        let made = close(&mut nodes, &mut parts, &mut walking, from);
        pointees[pointer as usize] = made;
    }
    std::hint::black_box(nodes.iter().map(|m| m.label).max());
    nodes.len() + parts.len()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
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
    for node in &nodes {
        *node.next.borrow_mut() = [random(), random(), random()]
            .into_iter()
            .map(|k| nodes[k].clone())
            .collect();
    }
    for _ in 0..3 {
        let t = Instant::now();
        let words = by_hand(&nodes[0]);
        eprint!("by hand: {words} words in {:?}; ", t.elapsed());
        let t = Instant::now();
        let written = with_tables(&nodes[0]);
        eprintln!(
            "with the freezer's tables: {written} nodes and parts in {:?}",
            t.elapsed()
        );
    }
    // Unlinked first: the graph is full of cycles.
    while let Some(node) = nodes.pop() {
        nodes.append(&mut node.next.borrow_mut());
    }
}
