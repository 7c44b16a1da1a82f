//! Model checks of the eager hand-off under `--cfg loom`: the worker (a loom thread in
//! place of rayon's pool) and readers race to claim the computation; whoever claims it
//! computes it once, the others wait for it, and a panic reaches every reader as an error;
//! a removal calls off what is queued and waits for what runs, without spinning.
//!
//! The normalization table needs no model: it is changed only through `&mut Heap`
//! (creating, freezing or removing objects), so it has no concurrent inserts; reads of
//! shared caches go through the cell protocol checked in `loom_cell.rs` and here.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_eager`.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering};

use loom::sync::Arc;
use loom::thread;
use steadfast::{AnyCache, Cache, CacheCell, Error, FieldMask, Heap, Kind, Object};

/// Counts its computations in the object, not a static: the models run at once.
struct Job {
    n: u64,
    runs: std::sync::Arc<AtomicUsize>,
}

impl Job {
    const SQUARE: Cache<Job, u64> =
        Cache::on_fields::<0>("square", Kind::Eager, FieldMask::ALL, |j| {
            j.runs.fetch_add(1, Ordering::SeqCst);
            if j.n == 0 {
                panic!("no zero jobs");
            }
            j.n * j.n
        });
}

impl Object for Job {
    const FIELDS: &'static [&'static str] = &["n", "runs"];
    const CACHES: &'static [&'static dyn AnyCache<Self>] = &[&Job::SQUARE];
    type Cells = (CacheCell<u64>,);
    type Saved = ();
    fn save(&self, _: FieldMask) -> Option<()> {
        None
    }
    fn restore(&mut self, _: ()) {}
}

fn job(n: u64) -> (Job, std::sync::Arc<AtomicUsize>) {
    let runs = std::sync::Arc::new(AtomicUsize::new(0));
    (
        Job {
            n,
            runs: runs.clone(),
        },
        runs,
    )
}

#[test]
fn the_worker_and_readers_compute_once_and_all_see_the_value() {
    static ITER: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        ITER.fetch_add(1, Ordering::SeqCst);
        let mut heap = Heap::new();
        let (j, runs) = job(7);
        let h = heap.imm(j).unwrap();
        let heap = Arc::new(heap);
        let reader = {
            let heap = heap.clone();
            thread::spawn(move || *heap.cached(&h, &Job::SQUARE).unwrap())
        };
        assert_eq!(*heap.cached(&h, &Job::SQUARE).unwrap(), 49);
        assert_eq!(reader.join().unwrap(), 49);
        assert_eq!(runs.load(Ordering::SeqCst), 1, "computed exactly once");
    });
    let explored = ITER.load(Ordering::SeqCst);
    eprintln!("explored {explored} interleavings");
    assert!(explored > 1, "the worker and the readers interleave");
}

#[test]
fn a_panic_reaches_the_reader_as_an_error_whoever_ran_it() {
    loom::model(|| {
        let mut heap = Heap::new();
        let (j, runs) = job(0);
        let h = heap.imm(j).unwrap();
        let err = heap.cached(&h, &Job::SQUARE).unwrap_err();
        assert!(matches!(err, Error::Panicked { .. }), "{err}");
        assert_eq!(runs.load(Ordering::SeqCst), 1, "never retried");
    });
}

#[test]
fn removing_an_object_with_eager_runs_waits_for_them_without_spinning() {
    static ITER: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        ITER.fetch_add(1, Ordering::SeqCst);
        let mut heap = Heap::new();
        let (j, runs) = job(3);
        let job = heap.imm(j).unwrap();
        // The worker (a loom thread) may be queued, running or done: removal calls off a
        // queued run, waits for a running one, and takes the object at once after. (The
        // yield lets loom schedule the worker before the removal, too.) What loom checks
        // here is the runs' protocol; that the worker lets go of the object before it marks
        // its run ended holds by program order: the object's `Arc` is std's, which loom does
        // not see, so a worker that let go after would not be caught here.
        thread::yield_now();
        let job = heap.remove(&job).unwrap();
        assert_eq!(job.n, 3);
        assert!(runs.load(Ordering::SeqCst) <= 1);
    });
    eprintln!(
        "eager removal: explored {} interleavings",
        ITER.load(Ordering::SeqCst)
    );
}
