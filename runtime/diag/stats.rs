//! Counters of what the runtime did, behind the `stats` feature: with it off, every
//! counter is a zero-sized type whose methods do nothing, so counting compiles to nothing.
//!
//! Three kinds of counting, by who may be counting at once:
//! - under `&mut Heap` (writes, the barrier, the own path) plain adds ([`Tally`]);
//! - through `&Heap` (computations on a miss, cycles) relaxed atomic adds, off the hit
//!   path;
//! - hits, through `&Heap` on the hit path: a relaxed load and store (no atomic
//!   read-modify-write, which would cost a hit several times its price) on a slot of the
//!   reading thread's own, each slot on its own cache line, so that threads reading one
//!   heap do not contend.

use crate::cell::Fresh;
#[cfg(feature = "stats")]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(feature = "stats")]
use std::sync::Arc;

/// What a counter counts (see [`Stats`] for the meaning of each).
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(feature = "stats"), allow(dead_code))]
pub(crate) enum Counter {
    Computes,
    Recomputes,
    MarkedDirty,
    MarkedCheck,
    Revalidated,
    InvariantChecks,
    InvariantFailures,
    Rollbacks,
    OwnWrites,
    QuietWrites,
    Barriers,
    Transactions,
    Cycles,
    OverlayDirtied,
}

#[cfg(feature = "stats")]
const COUNTERS: usize = Counter::OverlayDirtied as usize + 1;

/// The slots hits are counted in: a thread counts in slot `thread number % HIT_SLOTS`.
#[cfg(feature = "stats")]
const HIT_SLOTS: usize = 32;
#[cfg(feature = "stats")]
const _: () = assert!(HIT_SLOTS.is_power_of_two());

/// One hit slot, alone on its cache line (two lines: some processors fetch lines in
/// pairs).
#[cfg(feature = "stats")]
#[derive(Default)]
#[repr(align(128))]
struct HitSlot(AtomicU64);

/// A heap's counters.
#[cfg(feature = "stats")]
pub(crate) struct Counters {
    hits: Box<[HitSlot; HIT_SLOTS]>,
    /// Runs of `eager` caches of immutable objects, on rayon's pool or by a reader.
    pool: Arc<AtomicU64>,
    shared: [AtomicU64; COUNTERS],
    exclusive: [u64; COUNTERS],
}

/// A heap's counters: none, with the `stats` feature off.
#[cfg(not(feature = "stats"))]
pub(crate) struct Counters;

/// The hit slot of the calling thread.
#[cfg(feature = "stats")]
#[inline(always)]
fn hit_slot() -> usize {
    thread_local! {
        static SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
    }
    let slot = SLOT.with(std::cell::Cell::get);
    if slot != usize::MAX {
        return slot;
    }
    new_hit_slot(&SLOT)
}

/// Gives the calling thread its hit slot, on its first hit.
#[cfg(feature = "stats")]
#[cold]
#[inline(never)]
fn new_hit_slot(key: &'static std::thread::LocalKey<std::cell::Cell<usize>>) -> usize {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let slot = NEXT.fetch_add(1, Ordering::Relaxed) % HIT_SLOTS;
    key.with(|s| s.set(slot));
    slot
}

impl Counters {
    pub(crate) fn new() -> Self {
        #[cfg(feature = "stats")]
        return Counters {
            hits: Box::default(),
            pool: Arc::default(),
            shared: Default::default(),
            exclusive: [0; COUNTERS],
        };
        #[cfg(not(feature = "stats"))]
        Counters
    }

    /// Counts a hit (through `&Heap`, on the hit path).
    #[inline(always)]
    pub(crate) fn hit(&self) {
        #[cfg(feature = "stats")]
        {
            // Masked: a slot number is below `HIT_SLOTS`, a power of two (no bounds check).
            let slot = &self.hits[hit_slot() & (HIT_SLOTS - 1)].0;
            // Not `fetch_add`: only this thread (and, past `HIT_SLOTS` threads, the few
            // sharing its slot) writes this slot.
            slot.store(slot.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    /// Counts one event through `&Heap` (off the hit path).
    #[inline(always)]
    pub(crate) fn shared(&self, counter: Counter) {
        #[cfg(feature = "stats")]
        self.shared[counter as usize].fetch_add(1, Ordering::Relaxed);
        #[cfg(not(feature = "stats"))]
        let _ = counter;
    }

    /// Counting of an immutable object's `eager` runs, wherever they run.
    pub(crate) fn pool(&self) -> PoolTally {
        PoolTally {
            #[cfg(feature = "stats")]
            runs: Arc::clone(&self.pool),
        }
    }

    /// Counting under `&mut Heap`.
    #[inline(always)]
    pub(crate) fn tally(&mut self) -> Tally<'_> {
        Tally {
            #[cfg(feature = "stats")]
            counts: &mut self.exclusive,
            _heap: std::marker::PhantomData,
        }
    }

    /// Every counter as it stands.
    #[cfg(feature = "stats")]
    pub(crate) fn snapshot(&self) -> Stats {
        let n = |c: Counter| {
            self.exclusive[c as usize] + self.shared[c as usize].load(Ordering::Relaxed)
        };
        Stats {
            hits: self.hits.iter().map(|s| s.0.load(Ordering::Relaxed)).sum(),
            computes: n(Counter::Computes) + self.pool.load(Ordering::Relaxed),
            recomputes: n(Counter::Recomputes),
            marked_dirty: n(Counter::MarkedDirty),
            marked_check: n(Counter::MarkedCheck),
            revalidated: n(Counter::Revalidated),
            invariant_checks: n(Counter::InvariantChecks),
            invariant_failures: n(Counter::InvariantFailures),
            rollbacks: n(Counter::Rollbacks),
            own_writes: n(Counter::OwnWrites),
            quiet_writes: n(Counter::QuietWrites),
            barriers: n(Counter::Barriers),
            transactions: n(Counter::Transactions),
            cycles: n(Counter::Cycles),
            overlay_dirtied: n(Counter::OverlayDirtied),
        }
    }
}

/// Counts the runs of an immutable object's `eager` caches, which workers of rayon's pool
/// make without the heap (nothing without the `stats` feature).
#[derive(Debug)]
pub(crate) struct PoolTally {
    #[cfg(feature = "stats")]
    runs: Arc<AtomicU64>,
}

impl PoolTally {
    /// Counts one run.
    #[inline(always)]
    pub(crate) fn ran(&self) {
        #[cfg(feature = "stats")]
        self.runs.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counting under `&mut Heap`, passed down to where the work happens: a zero-sized value
/// with the `stats` feature off, so that passing it costs nothing.
pub(crate) struct Tally<'a> {
    #[cfg(feature = "stats")]
    counts: &'a mut [u64; COUNTERS],
    _heap: std::marker::PhantomData<&'a mut ()>,
}

impl Tally<'_> {
    /// Counts `n` events.
    #[inline(always)]
    pub(crate) fn add(&mut self, counter: Counter, n: u64) {
        #[cfg(feature = "stats")]
        {
            self.counts[counter as usize] += n;
        }
        #[cfg(not(feature = "stats"))]
        let _ = (counter, n);
    }

    /// Counts one run of a cache's function by a write, and its verdict if it is an
    /// invariant.
    #[inline(always)]
    pub(crate) fn recomputed(&mut self, invariant: impl FnOnce() -> bool, failed: bool) {
        #[cfg(feature = "stats")]
        {
            self.add(Counter::Recomputes, 1);
            if invariant() {
                self.add(Counter::InvariantChecks, 1);
                self.add(Counter::InvariantFailures, u64::from(failed));
            }
        }
        #[cfg(not(feature = "stats"))]
        let _ = (invariant, failed);
    }

    /// Counts a recheck of a cache of its own fields by a write, as
    /// [`recomputed`](Tally::recomputed) (a panic counts as a run that did not fail).
    #[inline(always)]
    pub(crate) fn rechecked(
        &mut self,
        invariant: impl FnOnce() -> bool,
        outcome: &Option<std::thread::Result<Fresh>>,
    ) {
        if let Some(outcome) = outcome {
            let failed = outcome.as_ref().is_ok_and(|f| f.failed);
            self.recomputed(invariant, failed);
        }
    }

    /// A shorter-lived tally, for a call that takes one by value.
    #[inline(always)]
    pub(crate) fn reborrow(&mut self) -> Tally<'_> {
        Tally {
            #[cfg(feature = "stats")]
            counts: self.counts,
            _heap: std::marker::PhantomData,
        }
    }
}

/// What a heap did since it was made: reads, computations, invalidations, checks and
/// writes, counted as they happen (`Heap::stats`; the `stats` feature). Take two and
/// subtract ([`since`](Stats::since)) to see what an operation did.
///
/// ```
/// use steadfast::{cached, capsule, Heap};
///
/// #[capsule]
/// struct Point { x: f64, label: String }
///
/// #[cached]
/// impl Point {
///     #[cache(lazy_read)]
///     fn doubled(x: &f64) -> f64 { 2.0 * x }
/// }
///
/// let mut heap = Heap::new();
/// let p = heap.capsule(Point { x: 1.0, label: "p".into() })?;
/// assert_eq!(*Point::doubled(&heap, &p)?, 2.0);
/// let before = heap.stats();
/// Point::set_x(&mut heap, &p, 3.0)?;
/// assert_eq!(*Point::doubled(&heap, &p)?, 6.0);
/// let d = heap.stats().since(&before);
/// // Settled on the point alone; the cache, read since it was computed, was recomputed
/// // by the write, so the read after it was a hit.
/// assert_eq!((d.own_writes, d.barriers, d.recomputes, d.hits), (1, 0, 1, 1));
/// # Ok::<(), steadfast::Error>(())
/// ```
#[cfg(feature = "stats")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// Reads of a cached value that found it valid: through the heap, a view, a generated
    /// getter or a computation's [`Ctx`](crate::Ctx). Counted without atomic
    /// read-modify-writes, in a slot per reading thread: exact unless more than 32 threads
    /// read one heap at once (then a few may be lost).
    pub hits: u64,
    /// Runs of a cache's function on a read that found no valid value (a miss), including
    /// `eager` caches run on rayon's pool.
    pub computes: u64,
    /// Runs of a cache's function by a write: a `now`/`eager` cache (an invariant's
    /// recheck) or a cache read since it was computed, brought up to date by the write
    /// that invalidated it, so that the next read is a hit.
    pub recomputes: u64,
    /// Cells a write made invalid, to be recomputed (on their next read, or by the write
    /// itself: see [`recomputes`](Stats::recomputes)).
    pub marked_dirty: u64,
    /// Cells a write marked to check: a cache they read may have changed; they recompute
    /// only if one did.
    pub marked_check: u64,
    /// Cells to check that were found unchanged (their inputs compared equal) and made
    /// valid again without running their function: early cutoff.
    pub revalidated: u64,
    /// Runs of an invariant's function (on a write, at creation, or on a read).
    pub invariant_checks: u64,
    /// Of those, the ones that returned an `Err`.
    pub invariant_failures: u64,
    /// Operations refused and undone: by a failing invariant, a panic or a cycle (a write,
    /// a mutator, a box, a transaction, a creation or a removal).
    pub rollbacks: u64,
    /// Writes settled on their object alone (the own path: nothing outside the object
    /// read what they wrote), including refused ones.
    pub own_writes: u64,
    /// Writes settled on their object and its tracking nodes, with no other object's cell
    /// reached (the quiet path), including refused ones.
    pub quiet_writes: u64,
    /// Operations settled by the full barrier (journal, marking, settling; a transaction
    /// counts once), including refused ones.
    pub barriers: u64,
    /// Transactions run (see [`Heap::transaction`](crate::Heap::transaction)), including
    /// refused ones.
    pub transactions: u64,
    /// Cycles found ([`Error::Cycle`](crate::Error::Cycle) returned by a read or a write).
    pub cycles: u64,
    /// Overlay cells dirtied by base writes pushed into their overlays (see
    /// [`Heap::overlay`](crate::Heap::overlay)): an overlay that read nothing a write
    /// changed adds nothing here.
    pub overlay_dirtied: u64,
}

#[cfg(feature = "stats")]
impl Stats {
    /// What happened between `earlier` and `self`: each counter's difference (zero where
    /// `earlier` is not earlier).
    #[must_use]
    pub fn since(&self, earlier: &Stats) -> Stats {
        Stats {
            hits: self.hits.saturating_sub(earlier.hits),
            computes: self.computes.saturating_sub(earlier.computes),
            recomputes: self.recomputes.saturating_sub(earlier.recomputes),
            marked_dirty: self.marked_dirty.saturating_sub(earlier.marked_dirty),
            marked_check: self.marked_check.saturating_sub(earlier.marked_check),
            revalidated: self.revalidated.saturating_sub(earlier.revalidated),
            invariant_checks: self
                .invariant_checks
                .saturating_sub(earlier.invariant_checks),
            invariant_failures: self
                .invariant_failures
                .saturating_sub(earlier.invariant_failures),
            rollbacks: self.rollbacks.saturating_sub(earlier.rollbacks),
            own_writes: self.own_writes.saturating_sub(earlier.own_writes),
            quiet_writes: self.quiet_writes.saturating_sub(earlier.quiet_writes),
            barriers: self.barriers.saturating_sub(earlier.barriers),
            transactions: self.transactions.saturating_sub(earlier.transactions),
            cycles: self.cycles.saturating_sub(earlier.cycles),
            overlay_dirtied: self.overlay_dirtied.saturating_sub(earlier.overlay_dirtied),
        }
    }
}

#[cfg(feature = "stats")]
impl std::fmt::Display for Stats {
    /// One `name: count` pair per counter that is not zero, comma-separated (`no activity`
    /// if all are).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = [
            ("hits", self.hits),
            ("computes", self.computes),
            ("recomputes", self.recomputes),
            ("marked dirty", self.marked_dirty),
            ("marked check", self.marked_check),
            ("revalidated", self.revalidated),
            ("invariant checks", self.invariant_checks),
            ("invariant failures", self.invariant_failures),
            ("rollbacks", self.rollbacks),
            ("own writes", self.own_writes),
            ("quiet writes", self.quiet_writes),
            ("barriers", self.barriers),
            ("transactions", self.transactions),
            ("cycles", self.cycles),
            ("overlay cells dirtied", self.overlay_dirtied),
        ];
        let mut first = true;
        for (name, n) in all.into_iter().filter(|&(_, n)| n != 0) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{name}: {n}")?;
        }
        if first {
            f.write_str("no activity")?;
        }
        Ok(())
    }
}
