//! Model checks, under `--cfg loom`, of the flags that reads set on shared objects and the
//! barrier reads later: a cell's `seen` flag (set by a hit, so that a write recomputes the
//! cache at once) and an object's `loud` fields (added by a read from another object, so
//! that a write to them goes through the barrier rather than the object's own path). A
//! lost update of either is a stale cache (`loud`) or a needless miss (`seen`).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_flags`.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::sync::Arc;
use loom::thread;
use steadfast::{AnyCache, Cache, CacheCell, Field, FieldMask, Heap, Mutable, Object};

/// Two fields that other objects read.
#[derive(Clone)]
struct Target {
    a: u64,
    b: u64,
}

impl Target {
    const A: Field<Target, u64> = Field::new(0, |t| &t.a, |t| &mut t.a);
    const B: Field<Target, u64> = Field::new(1, |t| &t.b, |t| &mut t.b);
}

impl steadfast::Aliasable for Target {}

impl Object for Target {
    const FIELDS: &'static [&'static str] = &["a", "b"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[];
    type Cells = ();
    type Saved = Target;
    fn save(&self, _: FieldMask) -> Option<Target> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Target) {
        *self = saved;
    }
}

/// Reads one field of the target (`a` if `which` is 0, else `b`), and counts its runs.
struct Reader {
    target: Mutable<Target>,
    which: u8,
    runs: std::sync::Arc<AtomicUsize>,
}

impl Reader {
    const SEEN: Cache<Reader, u64> = Cache::lazy_read::<0>("seen", |c| {
        let r = c.all();
        r.runs.fetch_add(1, Ordering::SeqCst);
        let field = if r.which == 0 { &Target::A } else { &Target::B };
        *c.field_of(&r.target, field).unwrap()
    });
}

impl steadfast::Aliasable for Reader {}

impl Object for Reader {
    const FIELDS: &'static [&'static str] = &["target", "which", "runs"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Reader::SEEN];
    type Cells = (CacheCell<u64>,);
    type Saved = ();
    fn save(&self, _: FieldMask) -> Option<()> {
        None
    }
    fn restore(&mut self, _: ()) {}
}

/// A cache of its own field only (written on the object's own path).
#[derive(Clone)]
struct Counter {
    n: u64,
    runs: std::sync::Arc<AtomicUsize>,
}

impl Counter {
    const N: Field<Counter, u64> = Field::new(0, |c| &c.n, |c| &mut c.n);
    const DOUBLE: Cache<Counter, u64> = Cache::on_fields::<0>(
        "double",
        steadfast::Kind::LazyRead,
        Counter::N.mask(),
        |c| {
            c.runs.fetch_add(1, Ordering::SeqCst);
            c.n * 2
        },
    );
}

impl steadfast::Aliasable for Counter {}

impl Object for Counter {
    const FIELDS: &'static [&'static str] = &["n", "runs"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Counter::DOUBLE];
    type Cells = (CacheCell<u64>,);
    type Saved = Counter;
    fn save(&self, _: FieldMask) -> Option<Counter> {
        Some(self.clone())
    }
    fn restore(&mut self, saved: Counter) {
        *self = saved;
    }
}

#[test]
fn loud_fields_added_by_concurrent_readers_are_all_kept() {
    static ITER: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        ITER.fetch_add(1, Ordering::SeqCst);
        let mut heap = Heap::new();
        let target = heap.mutable(Target { a: 1, b: 2 }).unwrap();
        let readers: Vec<Mutable<Reader>> = (0..2)
            .map(|which| {
                heap.mutable(Reader {
                    target: target.clone(),
                    which,
                    runs: Default::default(),
                })
                .unwrap()
            })
            .collect();
        let heap = Arc::new(heap);
        // Each thread's first read makes its field loud on the shared target.
        let threads: Vec<_> = readers
            .iter()
            .map(|r| {
                let (heap, r) = (heap.clone(), r.clone());
                thread::spawn(move || *heap.cached(&r, &Reader::SEEN).unwrap())
            })
            .collect();
        let seen: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(seen, [1, 2]);
        let Ok(mut heap) = Arc::try_unwrap(heap) else {
            panic!("the threads are done")
        };
        // Both writes must reach their reader: a lost loud bit would let a write take the
        // own path and leave the reader stale.
        heap.set(&target, &Target::A, 10).unwrap();
        heap.set(&target, &Target::B, 20).unwrap();
        assert_eq!(*heap.cached(&readers[0], &Reader::SEEN).unwrap(), 10);
        assert_eq!(*heap.cached(&readers[1], &Reader::SEEN).unwrap(), 20);
    });
    eprintln!(
        "loud fields: explored {} interleavings",
        ITER.load(Ordering::SeqCst)
    );
}

#[test]
fn a_hit_on_another_thread_marks_the_cell_seen_for_the_next_write() {
    static ITER: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        ITER.fetch_add(1, Ordering::SeqCst);
        let mut heap = Heap::new();
        let runs = std::sync::Arc::new(AtomicUsize::new(0));
        let c = heap
            .mutable(Counter {
                n: 1,
                runs: runs.clone(),
            })
            .unwrap();
        let heap = Arc::new(heap);
        // Two readers race: one computes, the other hits (or waits); either marks it seen.
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (heap, c) = (heap.clone(), c.clone());
                thread::spawn(move || *heap.cached(&c, &Counter::DOUBLE).unwrap())
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 2);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "computed once");
        let Ok(mut heap) = Arc::try_unwrap(heap) else {
            panic!("the threads are done")
        };
        // Seen since computed: the write recomputes it at once, and the read is a hit.
        heap.set(&c, &Counter::N, 5).unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2, "recomputed by the write");
        assert_eq!(*heap.cached(&c, &Counter::DOUBLE).unwrap(), 10);
        assert_eq!(runs.load(Ordering::SeqCst), 2, "then a hit");
    });
    eprintln!(
        "seen flag: explored {} interleavings",
        ITER.load(Ordering::SeqCst)
    );
}
