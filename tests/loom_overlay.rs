//! Model checks of reads through an overlay under `--cfg loom`: concurrent first reads of a
//! cell the overlay computes (one computation in it, every reader sees its value), and a base
//! read racing an overlay read of the same cache (each sees its own value: the base
//! computation that finds the cell reads what the overlay wrote marks it before publishing).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_overlay`.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::sync::Arc;
use loom::thread;
use steadfast::{AnyCache, Cache, CacheCell, Field, FieldMask, Heap, Mutable, Object};

#[derive(Clone)]
struct Leaf {
    n: u64,
}

impl Leaf {
    const N: Field<Leaf, u64> = Field::new(0, |l| &l.n, |l| &mut l.n);
}

impl steadfast::Aliasable for Leaf {}

impl Object for Leaf {
    const FIELDS: &'static [&'static str] = &["n"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[];
    type Cells = ();
    type Saved = u64;
    fn save(&self, _: FieldMask) -> Option<u64> {
        Some(self.n)
    }
    fn restore(&mut self, n: u64) {
        self.n = n;
    }
    fn fork(&self) -> Option<Self> {
        Some(self.clone())
    }
}

/// Reads its leaf's field; counts its computations.
struct Top {
    leaf: Mutable<Leaf>,
    runs: std::sync::Arc<AtomicUsize>,
}

impl Top {
    const TOTAL: Cache<Top, u64> = Cache::lazy_read::<0>("total", |c| {
        let top = c.all();
        top.runs.fetch_add(1, Ordering::SeqCst);
        *c.field_of(&top.leaf, &Leaf::N).unwrap_or(&0) + 1
    });
}

impl steadfast::Aliasable for Top {}

impl Object for Top {
    const FIELDS: &'static [&'static str] = &["leaf", "runs"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Top::TOTAL];
    type Cells = (CacheCell<u64>,);
    type Saved = ();
    fn save(&self, _: FieldMask) -> Option<()> {
        Some(())
    }
    fn restore(&mut self, (): ()) {}
}

/// A heap with a leaf written in an overlay, and a top that reads it.
fn setup() -> (
    Heap,
    Mutable<Top>,
    steadfast::Overlay,
    std::sync::Arc<AtomicUsize>,
) {
    let mut heap = Heap::new();
    let leaf = heap.mutable(Leaf { n: 1 }).unwrap();
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    let top = heap
        .mutable(Top {
            leaf: leaf.clone(),
            runs: runs.clone(),
        })
        .unwrap();
    let ov = heap.overlay();
    heap.layer_mut(&ov)
        .unwrap()
        .set(&leaf, &Leaf::N, 10)
        .unwrap();
    (heap, top, ov, runs)
}

#[test]
fn concurrent_first_reads_through_an_overlay_compute_once() {
    loom::model(|| {
        let (heap, top, ov, runs) = setup();
        let heap = Arc::new(heap);
        let other = {
            let (heap, top) = (heap.clone(), top.clone());
            thread::spawn(move || *heap.layer(&ov).unwrap().cached(&top, &Top::TOTAL).unwrap())
        };
        let mine = *heap.layer(&ov).unwrap().cached(&top, &Top::TOTAL).unwrap();
        assert_eq!((mine, other.join().unwrap()), (11, 11));
        // Not computed in the base before: the first read computes it there, finds it reads
        // what the overlay wrote, and computes it in the overlay, once.
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "once in the base, once in the overlay"
        );
    });
}

#[test]
fn a_base_read_racing_an_overlay_read_gives_each_its_own_value() {
    loom::model(|| {
        let (heap, top, ov, runs) = setup();
        let heap = Arc::new(heap);
        let base = {
            let (heap, top) = (heap.clone(), top.clone());
            thread::spawn(move || *heap.cached(&top, &Top::TOTAL).unwrap())
        };
        let layered = *heap.layer(&ov).unwrap().cached(&top, &Top::TOTAL).unwrap();
        assert_eq!((base.join().unwrap(), layered), (2, 11));
        assert_eq!(*heap.cached(&top, &Top::TOTAL).unwrap(), 2);
        assert_eq!(
            *heap.layer(&ov).unwrap().cached(&top, &Top::TOTAL).unwrap(),
            11
        );
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "once in the base, once in the overlay"
        );
    });
}
