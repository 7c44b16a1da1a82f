//! Model checks of the cache cell protocol under `--cfg loom`: once semantics, waiter
//! wake-up, and a panic during the computation (the cell is not poisoned).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_cell`.
#![cfg(loom)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use loom::sync::Arc;
use loom::thread;
use steadfast::{AnyCache, Cache, CacheCell, Field, FieldMask, Heap, Object};

/// Counters live in the object, not in statics: the test harness runs both models at once, and
/// shared statics would let one model's injected panic leak into the other.
#[derive(Default)]
struct Probe {
    runs: std::sync::Arc<AtomicUsize>,
    panics_left: std::sync::Arc<AtomicUsize>,
}

struct Cell2 {
    n: u64,
    probe: Probe,
}

impl Cell2 {
    fn new(n: u64, panics: usize) -> Self {
        let probe = Probe::default();
        probe.panics_left.store(panics, Ordering::SeqCst);
        Cell2 { n, probe }
    }
    const N: Field<Cell2, u64> = Field::new(0, |c| &c.n, |c| &mut c.n);
    const DOUBLE: Cache<Cell2, u64> = Cache::lazy_read::<0>("double", |c| {
        let probe = &c.all().probe;
        probe.runs.fetch_add(1, Ordering::SeqCst);
        if probe
            .panics_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("first computation panics");
        }
        c.field(&Cell2::N) * 2
    });
}

impl Object for Cell2 {
    const FIELDS: &'static [&'static str] = &["n"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Cell2::DOUBLE];
    type Cells = (CacheCell<u64>,);
    type Saved = u64;
    fn save(&self, _: FieldMask) -> Option<u64> {
        Some(self.n)
    }
    fn restore(&mut self, n: u64) {
        self.n = n;
    }
}

#[test]
fn concurrent_first_reads_compute_once_and_all_see_the_value() {
    static ITER: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        ITER.fetch_add(1, Ordering::SeqCst);
        let mut heap = Heap::new();
        let cell = Cell2::new(21, 0);
        let runs = cell.probe.runs.clone();
        let c = heap.alloc(cell).unwrap();
        let heap = Arc::new(heap);
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (heap, c) = (heap.clone(), c.clone());
                thread::spawn(move || *heap.cache(&c, &Cell2::DOUBLE).unwrap())
            })
            .collect();
        assert_eq!(*heap.cache(&c, &Cell2::DOUBLE).unwrap(), 42);
        for r in readers {
            assert_eq!(r.join().unwrap(), 42);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1, "computed exactly once");
    });
    eprintln!("explored {} interleavings", ITER.load(Ordering::SeqCst));
}

#[test]
fn a_panicking_computation_wakes_waiters_and_a_later_read_recomputes() {
    loom::model(|| {
        let mut heap = Heap::new();
        let cell = Cell2::new(5, 1);
        let runs = cell.probe.runs.clone();
        let c = heap.alloc(cell).unwrap();
        let heap = Arc::new(heap);
        let other = {
            let (heap, c) = (heap.clone(), c.clone());
            thread::spawn(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    *heap.cache(&c, &Cell2::DOUBLE).unwrap()
                }))
                .ok()
            })
        };
        let mine = catch_unwind(AssertUnwindSafe(|| {
            *heap.cache(&c, &Cell2::DOUBLE).unwrap()
        }))
        .ok();
        let theirs = other.join().unwrap();
        // Exactly one of the two reads saw the panic; the other computed the value.
        assert_eq!([mine, theirs].iter().filter(|r| r.is_none()).count(), 1);
        assert!([mine, theirs].contains(&Some(10)));
        assert_eq!(*heap.cache(&c, &Cell2::DOUBLE).unwrap(), 10);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    });
}
