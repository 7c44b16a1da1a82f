//! G6 eager caches: computed on rayon's pool right after an immutable object is made,
//! without making its creator wait; a read waits for the worker or does the work itself;
//! a panic is a typed error at the read.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use steadfast::{cached, imm, Error, Heap};

/// Each test has its own type and counters: the harness runs tests at once.
macro_rules! gated {
    ($name:ident, $runs:ident, $gate:ident) => {
        static $runs: AtomicUsize = AtomicUsize::new(0);
        static $gate: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

        #[imm]
        struct $name {
            n: u64,
        }

        #[cached]
        impl $name {
            #[cache(eager)]
            fn slow(&self) -> u64 {
                $runs.fetch_add(1, Ordering::SeqCst);
                let (open, changed) = &$gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = changed.wait(open).unwrap();
                }
                self.n * 10
            }
        }
    };
}

fn open(gate: &(Mutex<bool>, Condvar)) {
    *gate.0.lock().unwrap() = true;
    gate.1.notify_all();
}

gated!(Held, HELD_RUNS, HELD_GATE);

#[test]
fn creation_does_not_wait_and_a_read_gets_the_one_computation() {
    let mut heap = Heap::new();
    // The computation cannot finish until the gate opens, yet creation returns.
    let h = heap.imm(Held { n: 4 }).unwrap();
    std::thread::scope(|s| {
        let heap = &heap;
        let readers: Vec<_> = (0..3)
            .map(|_| s.spawn(move || *Held::slow(heap, &h).unwrap()))
            .collect();
        open(&HELD_GATE);
        for r in readers {
            assert_eq!(r.join().unwrap(), 40);
        }
    });
    assert_eq!(HELD_RUNS.load(Ordering::SeqCst), 1);
}

static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[imm]
struct Shared {
    n: u64,
}

#[cached]
impl Shared {
    #[cache(eager)]
    fn triple(&self) -> u64 {
        SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
        self.n * 3
    }
}

#[test]
fn equal_objects_compute_their_eager_caches_once() {
    let mut heap = Heap::new();
    let all: Vec<_> = (0..10)
        .map(|_| heap.imm(Shared { n: 5 }).unwrap())
        .collect();
    for h in &all {
        assert_eq!(*Shared::triple(&heap, h).unwrap(), 15);
    }
    assert_eq!(SHARED_RUNS.load(Ordering::SeqCst), 1);
}

gated!(Pooled, POOLED_RUNS, POOLED_GATE);

#[test]
fn a_read_from_the_only_worker_does_the_work_itself() {
    // One worker: the eager task is queued behind the task that reads it. Waiting for
    // it would deadlock; the reader claims it and computes.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    open(&POOLED_GATE);
    let value = pool.install(|| {
        let mut heap = Heap::new();
        let h = heap.imm(Pooled { n: 2 }).unwrap();
        *Pooled::slow(&heap, &h).unwrap()
    });
    assert_eq!(value, 20);
}

#[imm]
struct Fragile {
    n: u64,
}

#[cached]
impl Fragile {
    #[cache(eager)]
    fn checked(&self) -> u64 {
        if self.n == 0 {
            panic!("zero has no inverse");
        }
        100 / self.n
    }

    #[cache(lazy)]
    fn plain(&self) -> u64 {
        self.n
    }
}

#[test]
fn a_panicking_eager_cache_is_a_typed_error_at_every_read() {
    let mut heap = Heap::new();
    let h = heap.imm(Fragile { n: 0 }).unwrap();
    for _ in 0..2 {
        let err = Fragile::checked(&heap, &h).unwrap_err();
        match &err {
            Error::Panicked { cache, message } => {
                assert_eq!(cache.cache, "checked");
                assert_eq!(message, "zero has no inverse");
            }
            e => panic!("expected a panic error, got {e}"),
        }
        assert!(err.to_string().contains("checked"), "{err}");
    }
    // The rest of the object and the heap are fine.
    assert_eq!(*Fragile::plain(&heap, &h).unwrap(), 0);
    let ok = heap.imm(Fragile { n: 4 }).unwrap();
    assert_eq!(*Fragile::checked(&heap, &ok).unwrap(), 25);
    assert_eq!(heap.remove(&h).unwrap().n, 0);
}

gated!(Doomed, DOOMED_RUNS, DOOMED_GATE);

#[test]
fn removing_an_object_waits_for_its_running_eager_cache() {
    let mut heap = Heap::new();
    let h = heap.imm(Doomed { n: 1 }).unwrap();
    // Wait until a worker runs it, then let it finish while `remove` waits.
    while DOOMED_RUNS.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    let opener = std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        open(&DOOMED_GATE);
    });
    assert_eq!(heap.remove(&h).unwrap().n, 1);
    opener.join().unwrap();
}

#[steadfast::mutable]
#[derive(Clone)]
struct Dial {
    v: i64,
}

#[cached]
impl Dial {}

/// A handle an immutable object's cache can reach without holding it (an immutable object
/// cannot hold a `mut` handle): the one way its cells can be invalidated.
static DIAL: std::sync::OnceLock<steadfast::Mutable<Dial>> = std::sync::OnceLock::new();

/// An immutable object with an eager cache its workers compute (so its storage is shared
/// with them) and a lazy cache that reads a mutable object.
#[imm]
struct Gauge {
    n: u64,
}

#[cached]
impl Gauge {
    #[cache(eager)]
    fn doubled(&self) -> u64 {
        self.n * 2
    }

    #[cache(lazy_read)]
    fn reading(ctx: &steadfast::Ctx<'_, Self>) -> i64 {
        let dial = DIAL.get().expect("set before the object is read");
        ctx.field_of(dial, &Dial::V).map_or(-1, |v| *v)
    }
}

#[test]
fn a_write_invalidates_a_cache_of_an_object_shared_with_the_workers() {
    let mut heap = Heap::new();
    let dial = heap.mutable(Dial { v: 1 }).unwrap();
    DIAL.set(dial.clone()).unwrap();
    let g = heap.imm(Gauge { n: 5 }).unwrap();
    assert_eq!(*Gauge::doubled(&heap, &g).unwrap(), 10);
    assert_eq!(*Gauge::reading(&heap, &g).unwrap(), 1);
    // The barrier marks the immutable object's cell: it first waits for the workers to let
    // go of the object's storage.
    Dial::set_v(&mut heap, &dial, 7).unwrap();
    assert_eq!(*Gauge::reading(&heap, &g).unwrap(), 7);
    assert_eq!(*Gauge::doubled(&heap, &g).unwrap(), 10);
    Dial::set_v(&mut heap, &dial, 8).unwrap();
    assert_eq!(*Gauge::reading(&heap, &g).unwrap(), 8);
    // Removing what it read invalidates it too.
    heap.remove(&dial).unwrap();
    assert_eq!(*Gauge::reading(&heap, &g).unwrap(), -1);
    assert_eq!(heap.remove(&g).unwrap().n, 5);
}
