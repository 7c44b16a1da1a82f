//! Freezing a large `Rc` graph once, for profilers:
//! `target/release/examples/freezeprof N list|sets`.

#![allow(missing_docs)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use steadfast::norm::{freeze, Error, Freeze, Freezer, Label};

struct Node {
    value: u32,
    next: RefCell<Option<Rc<Node>>>,
}

impl Freeze for Node {
    fn freeze(&self, f: &mut Freezer) -> Result<usize, Error> {
        f.node(Label::Struct("Node"), &[&self.value, &self.next])
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let head = Rc::new(Node {
        value: 0,
        next: RefCell::new(None),
    });
    let mut last = head.clone();
    for i in 1..n {
        let node = Rc::new(Node {
            value: i % 7,
            next: RefCell::new(None),
        });
        *last.next.borrow_mut() = Some(node.clone());
        last = node;
    }
    *last.next.borrow_mut() = Some(head.clone());
    let t = Instant::now();
    let form = freeze(&head).unwrap();
    eprintln!("{} nodes: {:?}", form.len(), t.elapsed());
    // A ring: unlinking one edge leaves a list a million deep, which drops as deep.
    let mut node = head.next.borrow_mut().take();
    while let Some(n) = node {
        node = n.next.borrow_mut().take();
    }
    drop(last);
}
