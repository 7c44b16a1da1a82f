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

impl steadfast::Aliasable for Cell2 {}

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
        let c = heap.mutable(cell).unwrap();
        let heap = Arc::new(heap);
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (heap, c) = (heap.clone(), c.clone());
                thread::spawn(move || *heap.cached(&c, &Cell2::DOUBLE).unwrap())
            })
            .collect();
        assert_eq!(*heap.cached(&c, &Cell2::DOUBLE).unwrap(), 42);
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
        let c = heap.mutable(cell).unwrap();
        let heap = Arc::new(heap);
        let other = {
            let (heap, c) = (heap.clone(), c.clone());
            thread::spawn(move || {
                catch_unwind(AssertUnwindSafe(|| {
                    *heap.cached(&c, &Cell2::DOUBLE).unwrap()
                }))
                .ok()
            })
        };
        let mine = catch_unwind(AssertUnwindSafe(|| {
            *heap.cached(&c, &Cell2::DOUBLE).unwrap()
        }))
        .ok();
        let theirs = other.join().unwrap();
        // Exactly one of the two reads saw the panic; the other computed the value.
        assert_eq!([mine, theirs].iter().filter(|r| r.is_none()).count(), 1);
        assert!([mine, theirs].contains(&Some(10)));
        assert_eq!(*heap.cached(&c, &Cell2::DOUBLE).unwrap(), 10);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    });
}

/// An object with a cache of its own field (`half`), and a watcher whose cache reads that
/// cache through the heap: the shape that keeps stale values (a cache other cells read, and
/// a cache whose input may turn out unchanged).
struct Halved {
    n: u64,
    runs: std::sync::Arc<AtomicUsize>,
}

impl Halved {
    const N: Field<Halved, u64> = Field::new(0, |h| &h.n, |h| &mut h.n);
    const HALF: Cache<Halved, u64> = Cache::lazy_read::<0>("half", |c| {
        c.all().runs.fetch_add(1, Ordering::SeqCst);
        c.field(&Halved::N) / 2
    });
}

impl steadfast::Aliasable for Halved {}

impl Object for Halved {
    const FIELDS: &'static [&'static str] = &["n"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Halved::HALF];
    type Cells = (CacheCell<u64>,);
    type Saved = u64;
    fn save(&self, _: FieldMask) -> Option<u64> {
        Some(self.n)
    }
    fn restore(&mut self, n: u64) {
        self.n = n;
    }
}

struct Watch {
    of: steadfast::Mutable<Halved>,
    runs: std::sync::Arc<AtomicUsize>,
}

impl Watch {
    const OF: Field<Watch, steadfast::Mutable<Halved>> = Field::new(0, |w| &w.of, |w| &mut w.of);
    const SEEN: Cache<Watch, u64> = Cache::lazy_read::<0>("seen", |c| {
        c.all().runs.fetch_add(1, Ordering::SeqCst);
        *c.cached(c.field(&Watch::OF), &Halved::HALF).unwrap() + 100
    });
}

impl steadfast::Aliasable for Watch {}

impl Object for Watch {
    const FIELDS: &'static [&'static str] = &["of"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Watch::SEEN];
    type Cells = (CacheCell<u64>,);
    type Saved = steadfast::Mutable<Halved>;
    fn save(&self, _: FieldMask) -> Option<steadfast::Mutable<Halved>> {
        Some(self.of.clone())
    }
    fn restore(&mut self, of: steadfast::Mutable<Halved>) {
        self.of = of;
    }
}

/// A dependent invalidated with its old value kept aside (to check: its input may turn out
/// unchanged), then read concurrently: the input is unchanged, and the dependent's stale
/// value becomes valid again without recomputing, whichever thread gets there first.
#[test]
fn concurrent_reads_revalidate_a_stale_value_once() {
    loom::model(|| {
        let mut heap = Heap::new();
        let half_runs = std::sync::Arc::new(AtomicUsize::new(0));
        let seen_runs = std::sync::Arc::new(AtomicUsize::new(0));
        let h = heap
            .mutable(Halved {
                n: 4,
                runs: half_runs.clone(),
            })
            .unwrap();
        let w = heap
            .mutable(Watch {
                of: h.clone(),
                runs: seen_runs.clone(),
            })
            .unwrap();
        assert_eq!(*heap.cached(&w, &Watch::SEEN).unwrap(), 102);
        // Read since computed: the barrier recomputes both, leaving them unread.
        heap.set(&h, &Halved::N, 6).unwrap();
        // `half` was read by `seen`'s recomputation: the barrier recomputes it (3, unchanged);
        // `seen` was not read since: left to check, its value (103) kept aside.
        heap.set(&h, &Halved::N, 7).unwrap();
        let (half_before, seen_before) = (
            half_runs.load(Ordering::SeqCst),
            seen_runs.load(Ordering::SeqCst),
        );
        let heap = Arc::new(heap);
        let other = {
            let (heap, w) = (heap.clone(), w.clone());
            thread::spawn(move || *heap.cached(&w, &Watch::SEEN).unwrap())
        };
        assert_eq!(*heap.cached(&w, &Watch::SEEN).unwrap(), 103);
        assert_eq!(other.join().unwrap(), 103);
        assert_eq!(*heap.cached(&h, &Halved::HALF).unwrap(), 3);
        assert_eq!(half_runs.load(Ordering::SeqCst), half_before);
        assert_eq!(
            seen_runs.load(Ordering::SeqCst),
            seen_before,
            "revalidated, not recomputed"
        );
    });
}
