//! Sets of handles in immutable objects: a `BTreeSet` of handles is compared as a multiset of
//! the objects it names, so two documents tagged alike, whose equal tags were made in other
//! orders, are one class and share their cached method; a document with one more (equal) tag
//! is not, as its `len` differs.
//!
//! `cargo run --example tags`

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use steadfast::{cached, imm, Error, Heap, Imm};

#[imm]
struct Tag {
    name: &'static str,
}

#[cached]
impl Tag {}

/// How often `summary` ran.
static RUNS: AtomicUsize = AtomicUsize::new(0);

#[imm]
struct Document {
    tags: BTreeSet<Imm<Tag>>,
}

#[cached]
impl Document {
    #[cache(lazy)]
    fn summary(&self) -> usize {
        RUNS.fetch_add(1, Ordering::Relaxed);
        self.tags.len()
    }
}

fn main() -> Result<(), Error> {
    let mut heap = Heap::new();
    let tag = |heap: &mut Heap, name| heap.imm(Tag { name });
    let (rust, graphs) = (tag(&mut heap, "rust")?, tag(&mut heap, "graphs")?);
    // Equal tags made in the other order: the second set lists its handles the other way.
    let (graphs2, rust2) = (tag(&mut heap, "graphs")?, tag(&mut heap, "rust")?);
    let a = heap.imm(Document {
        tags: [rust, graphs].into(),
    })?;
    let b = heap.imm(Document {
        tags: [graphs2, rust2].into(),
    })?;
    // Two distinct "rust" tags are two members.
    let c = heap.imm(Document {
        tags: [rust, rust2, graphs].into(),
    })?;
    assert_eq!(heap.class_of(&a)?, heap.class_of(&b)?);
    assert_eq!(heap.stable_hash(&a)?, heap.stable_hash(&b)?);
    assert_ne!(heap.class_of(&a)?, heap.class_of(&c)?);
    let sizes = [
        *Document::summary(&heap, &a)?,
        *Document::summary(&heap, &b)?,
        *Document::summary(&heap, &c)?,
    ];
    assert_eq!(sizes, [2, 2, 3]);
    // `a` and `b` share one computation.
    assert_eq!(RUNS.load(Ordering::Relaxed), 2);
    println!(
        "tag counts {sizes:?}, computed {} times",
        RUNS.load(Ordering::Relaxed)
    );
    Ok(())
}
